"""Role resolution: which roles in the store a question names, through aliases and typos."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

from assistant.models import RoleInfo
from assistant.text import STOPWORDS, edit_distance, fold, stem, tokens
from assistant.vocabulary import RoleVocabulary, vocabulary

_TOKEN = re.compile(r"[a-z0-9]+")
_ALIAS_WORDS = 6


def _roles() -> RoleVocabulary:
    return vocabulary().roles


def words_of(text: str) -> list[str]:
    """A text's words as role resolution and question planning count them."""
    return _TOKEN.findall(fold(text))


@dataclass(frozen=True)
class _Token:
    """A canonical token and the words of the text it stands for (`start` up to `end`)."""

    text: str
    start: int
    end: int


def _canonical(text: str) -> list[_Token]:
    """Canonical tokens of a text, with the words each stands for.

    Phrases are collapsed ("site reliability engineering" is `sre`), abbreviations spelled
    out, little words dropped, plurals stemmed.
    """
    roles = _roles()
    words = words_of(text)
    tokens: list[_Token] = []
    at = 0
    while at < len(words):
        for phrase, canonical in _phrases():
            if words[at : at + len(phrase)] == phrase:
                raws, span = canonical.split(), len(phrase)
                break
        else:
            raws, span = roles.words.get(words[at], words[at]).split(), 1
        tokens.extend(_Token(stem(r), at, at + span) for r in raws if r not in roles.ignored)
        at += span
    return tokens


def role_tokens(text: str) -> list[str]:
    """Canonical tokens of a role title or a question, for matching one against the other."""
    return list(_role_tokens(text))


@lru_cache(maxsize=65536)
def _role_tokens(text: str) -> tuple[str, ...]:
    # Kept: every snapshot of the index reads the tokens of every title again.
    return tuple(token.text for token in _canonical(text))


def role_key(title: str) -> str:
    """What two spellings of one role title share: its canonical tokens, in order.

    "Director of SRE" and "Director of Site Reliability Engineering" have the same key.
    """
    return " ".join(role_tokens(title))


@cache
def _phrases() -> list[tuple[list[str], str]]:
    """The spelled-out phrases as folded words, longest first (so the longest one wins)."""
    found = [(words_of(p), c) for p, c in _roles().phrases.items()]
    return sorted(found, key=lambda pair: -len(pair[0]))


def role_words(roles: Iterable[RoleInfo]) -> set[str]:
    """Every word of the roles' titles, canonical and as written (`sre` and `site`, ...)."""
    return {t for r in roles for t in (*role_tokens(r.role), *tokens(r.role))}


@dataclass(frozen=True)
class RoleMatch:
    """A role named in a question, where (in canonical tokens and in words), and how surely."""

    role: RoleInfo
    start: int
    end: int
    score: float
    words: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Resolution:
    """The roles a question names, and role-like phrases that name no role in the store."""

    roles: list[RoleInfo]
    unknown: list[str]
    suggestions: list[str]
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Where the question names roles, as (first word, word after the last) of `words_of`."""
    ambiguous: bool = False
    """The unknown phrase is a shortened title several roles fit (the suggestions)."""


def declared_aliases(text: str) -> list[str]:
    """The other titles a blueprint gives its role ("Also known as: Head of CX Operations").

    What follows a marker (roles.toml's `alias_markers`) up to the end of its sentence is cut
    at commas, semicolons and "or"; the pieces that name a job (a job noun in at most six
    words) are aliases.
    """
    roles = _roles()
    folded = fold(text)
    # Words keep the capitals the blueprint wrote them with ("CDM", "DevEx").
    written = {
        fold(w): w
        for w in re.findall(r"[^\W_]+", text)
        if not w.islower() and fold(w) not in _LINKING_WORDS
    }
    found: list[str] = []
    for marker in roles.alias_markers:
        for hit in re.finditer(rf"(?<![a-z0-9]){re.escape(marker)}(?![a-z0-9])", folded):
            rest = re.split(r"[.;!?\n(]", folded[hit.end() :].lstrip(" :"), maxsplit=1)[0]
            for piece in re.split(r",|\bor\b|\band\b(?= [a-z]+ of\b)", rest):
                words = [w for w in words_of(piece) if w not in {"a", "an", "the"}]
                if 0 < len(words) <= _ALIAS_WORDS and any(stem(w) in roles.nouns for w in words):
                    found.append(" ".join(written.get(w) or _display_word(w) for w in words))
    return list(dict.fromkeys(found))


class RoleResolver:
    """Finds the catalogue's roles in free text, by their titles and the aliases they declare.

    Titles are indexed by their tokens, so a question is compared only with the titles all of
    whose tokens it holds (the others cannot match), and a phrase only with the titles that
    share a token with it: a catalogue of a thousand roles costs what a few dozen would.
    """

    def __init__(self, catalogue: list[RoleInfo]) -> None:
        self._roles = catalogue
        self._titles = [(role, role_tokens(role.role)) for role in catalogue]
        self._titles += [(role, role_tokens(a)) for role in catalogue for a in role.aliases]
        self._by_id = {role.id: role for role in catalogue}
        self._vocabulary = {t for _, title in self._titles for t in title}
        # The titles' words as written, to fix a typo before phrases are read ("developer
        # experiance" is still the DevEx phrase).
        self._spelled = {
            w
            for role in catalogue
            for title in (role.role, *role.aliases)
            for w in words_of(title)
            if len(w) >= _TYPO_LENGTH
        }
        self._fixes: dict[str, str] = {}
        # token -> the positions of the titles that have it, in catalogue order.
        self._postings: dict[str, list[int]] = {}
        for position, (_, title) in enumerate(self._titles):
            for token in dict.fromkeys(title):
                self._postings.setdefault(token, []).append(position)
        self._by_name: dict[str, RoleInfo] = {}
        for role in catalogue:
            self._by_name.setdefault(role.id, role)
            self._by_name.setdefault(role.role, role)

    def resolve(self, text: str) -> Resolution:
        """Roles named in `text` (most specific match wins), or the unknown role it names."""
        ignored = _roles().ignored
        text = self._spell(text)
        located = [
            _Token(c, t.start, t.end)
            for t in _canonical(text)
            if (c := self._correct(t.text)) not in ignored
        ]
        question = [t.text for t in located]
        literal = fold(text)
        matches = [
            replace(m, words=(located[m.start].start, located[m.end - 1].end))
            for role, title in self._within(question)
            # Naming the title exactly beats reaching it through an alias.
            if (m := self._match(role, title, question, fold(role.role) in literal))
        ]
        chosen: list[RoleMatch] = []
        for match in sorted(matches, key=lambda m: (-m.score, m.start - m.end)):
            if any(_overlaps(match, kept) and match.score < kept.score for kept in chosen):
                continue
            if any(_inside(match, kept) for kept in chosen):
                continue
            chosen.append(match)
        chosen.sort(key=lambda m: m.start)
        if chosen:
            return Resolution([m.role for m in chosen], [], [], [m.words for m in chosen])
        found = _role_phrase(text)
        if found is None:
            return Resolution([], [], [])
        unknown, span = found
        # A shortened title ("the VP", "Head of Data") that only one role can mean is that role.
        wanted = set(role_tokens(unknown))
        covering = list(
            {role.id: role for role, title in self._sharing(wanted) if wanted <= set(title)}
        )
        if len(covering) == 1:
            return Resolution([self._by_id[covering[0]]], [], [], [span])
        if covering:
            fits = sorted(self._by_id[i].role for i in covering)
            return Resolution([], [unknown], fits, [span], ambiguous=True)
        return Resolution([], [unknown], self.suggest(unknown), [span])

    def suggest(self, phrase: str, limit: int = 3) -> list[str]:
        """The catalogue's roles closest to a phrase that names none of them."""
        wanted = set(role_tokens(phrase))
        scored = []
        for role, title in self._sharing(wanted):
            shared = wanted & set(title)
            if shared:
                # Shared specific words (data, cloud, sre) count more than a shared rank word.
                weight = sum(0.5 if t in _roles().nouns else 1.0 for t in shared)
                scored.append((weight / len(set(title) | wanted), role.role))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return list(dict.fromkeys(name for _, name in scored))[:limit]

    def find(self, name: str) -> RoleInfo | None:
        """A role by id or by (aliased) title, for an explicit `--role`."""
        if name in self._by_name:
            return self._by_name[name]
        resolution = self.resolve(name)
        return resolution.roles[0] if len(resolution.roles) == 1 else None

    def _within(self, question: list[str]) -> list[tuple[RoleInfo, list[str]]]:
        """The titles all of whose tokens the question holds, in catalogue order."""
        held: dict[int, int] = {}
        for token in set(question):
            for position in self._postings.get(token, ()):
                held[position] = held.get(position, 0) + 1
        return [self._titles[p] for p in sorted(held) if held[p] == len(set(self._titles[p][1]))]

    def _sharing(self, tokens: set[str]) -> list[tuple[RoleInfo, list[str]]]:
        """The titles that have at least one of `tokens`, in catalogue order."""
        positions = {p for token in tokens for p in self._postings.get(token, ())}
        return [self._titles[p] for p in sorted(positions)]

    def _spell(self, text: str) -> str:
        """The text's words, those a typo or two away from a title's word spelled as it is."""
        words = words_of(text)
        fixed = []
        for word in words:
            if word not in self._fixes:  # a question's words recur: look each up once
                if len(self._fixes) >= _FIXES_KEPT:
                    self._fixes.clear()
                self._fixes[word] = self._nearest(word, self._spelled)
            fixed.append(self._fixes[word])
        return text if fixed == words else " ".join(fixed)

    @staticmethod
    def _nearest(word: str, known: set[str]) -> str:
        if word in known or len(word) < _TYPO_LENGTH or word.isdigit():
            return word
        limit = 1 if len(word) < 9 else 2
        best = min(known, key=lambda v: edit_distance(word, v, limit), default=word)
        return best if edit_distance(word, best, limit) <= limit else word

    def _correct(self, token: str) -> str:
        """A small typo fixed against the titles' words (`enginering` -> `engineering`)."""
        typos = _roles().typos
        if token in typos:
            return typos[token]
        return self._nearest(token, self._vocabulary)

    @staticmethod
    def _match(
        role: RoleInfo, title: list[str], question: list[str], literal: bool
    ) -> RoleMatch | None:
        size = len(title)
        if not size:
            return None
        for start in range(len(question) - size + 1):
            if question[start : start + size] == title:
                return RoleMatch(role, start, start + size, 2.0 * size + literal)
        # The same words in another order: "SRE director" for "Director of SRE".
        for start in range(len(question) - size + 1):
            if sorted(question[start : start + size]) == sorted(title):
                return RoleMatch(role, start, start + size, 2.0 * size - 1)
        return None


def _overlaps(a: RoleMatch, b: RoleMatch) -> bool:
    return a.start < b.end and b.start < a.end


def _inside(a: RoleMatch, b: RoleMatch) -> bool:
    return b.start <= a.start and a.end <= b.end and (a.end - a.start) < (b.end - b.start)


def _role_phrase(text: str) -> tuple[str, tuple[int, int]] | None:
    """A phrase that names a job (`VP of Marketing`, `data engineer`) and its words' span.

    Around the first job noun: a rank followed by `of` takes the words after it ("VP of
    Marketing and Sales"), any other noun the words before it ("data engineer"), up to the
    first word that is not part of a title (question words, section words, request words).
    """
    roles = _roles()
    words = words_of(text)
    at = next((i for i, w in enumerate(words) if stem(w) in roles.nouns), None)
    if at is None:
        return None
    boundary = _boundary_words()
    start, end = at, at + 1
    if end < len(words) and words[end] == "of" and words[at] in roles.ranks:
        end += 1
        while end < len(words) and end - at < 6 and words[end] not in boundary:
            end += 1
        while end > at + 2 and words[end - 1] in {"and", "of"}:
            end -= 1
        if end == at + 2:
            end -= 1  # "director of" with nothing after it
    else:
        # "Chief Data Officer": the title runs on to the last job noun of its words.
        ahead = at + 1
        while ahead < len(words) and ahead - at < 4 and words[ahead] not in boundary:
            ahead += 1
        end = 1 + max(i for i in range(at, ahead) if stem(words[i]) in roles.nouns)
        while start > 0 and at - start < 2 and words[start - 1] not in boundary:
            start -= 1
    while start > 0 and words[start - 1] in roles.qualifiers:
        start -= 1
    phrase = words[start:end]
    return (" ".join(_display_word(w) for w in phrase), (start, end)) if phrase else None


@cache
def _boundary_words() -> frozenset[str]:
    """Words that end a role phrase: stopwords, request words and one-word section cues."""
    vocab = vocabulary()
    # One-word cues only: "ai" of the cue "ai impact" is also the AI of "VP of Data and AI".
    cue_words = {
        cue for section in vocab.sections for cue in section.cues if len(words_of(cue)) == 1
    }
    keep = {"and", "of"}
    return frozenset((STOPWORDS | vocab.questions.request | cue_words) - keep - vocab.roles.nouns)


_LINKING_WORDS = frozenset({"of", "and", "for", "the"})
# Shorter words are too close to each other to fix ("lead" and "head").
_TYPO_LENGTH = 5
# How many words' typo fixes a resolver remembers.
_FIXES_KEPT = 20_000


def _display_word(word: str) -> str:
    if word in _roles().acronyms:
        return word.upper()
    return word if word in _LINKING_WORDS else word.capitalize()
