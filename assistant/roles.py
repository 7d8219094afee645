"""Role resolution: which roles in the store a question names, through aliases and typos."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.models import RoleInfo
from assistant.text import edit_distance, fold, stem, tokens

# Spelled-out forms collapse to one canonical token, so "SRE" and "Site Reliability
# Engineering", "VP" and "Vice President" compare equal.
_PHRASES: tuple[tuple[str, str], ...] = (
    ("site reliability engineering", "sre"),
    ("site reliability engineer", "sre"),
    ("site reliability", "sre"),
    ("vice president", "vp"),
    ("machine learning", "ml"),
    ("artificial intelligence", "ai"),
    ("developer experience", "devex"),
    ("dev ex", "devex"),
    ("dev ops", "devops"),
    ("build and release", "build release"),
)
_WORDS = {
    "dx": "devex",
    "eng": "engineering",
    "engg": "engineering",
    "mgr": "manager",
    "dir": "director",
    "infra": "infrastructure",
    "ops": "operations",
    "sres": "sre",
    "swe": "software engineering",
    "fe": "frontend",
    "front": "front",
}
# Swapped letters in the little words of titles; longer words are corrected by edit distance.
_LITTLE_TYPOS = {"adn": "and", "nad": "and", "fo": "of", "teh": "the", "hte": "the"}
_IGNORED = frozenset({"of", "and", "the", "a", "an", "for", "s", "role", "blueprint", "our", "my"})
# Words that mark a phrase as naming a job, for telling "unknown role" from "no role at all".
ROLE_NOUNS = frozenset(
    """director head manager vp chief officer lead engineer architect scientist analyst
    president cto cio ciso cfo ceo coo cpo cdo designer recruiter owner principal svp evp
    administrator admin developer consultant specialist coordinator""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")


def role_tokens(text: str) -> list[str]:
    """Canonical tokens of a role title or a question, for matching one against the other."""
    folded = " " + " ".join(_TOKEN.findall(fold(text).replace("front-end", "frontend"))) + " "
    for phrase, canonical in _PHRASES:
        folded = folded.replace(f" {phrase} ", f" {canonical} ")
    result: list[str] = []
    for raw in folded.split():
        for token in _WORDS.get(raw, raw).split():
            if token not in _IGNORED:
                result.append(stem(token))
    return result


def role_words(roles: Iterable[RoleInfo]) -> set[str]:
    """Every word of the roles' titles, canonical and as written (`sre` and `site`, ...)."""
    return {t for r in roles for t in (*role_tokens(r.role), *tokens(r.role))}


@dataclass(frozen=True)
class RoleMatch:
    """A role named in a question, where, and how surely."""

    role: RoleInfo
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Resolution:
    """The roles a question names, and role-like phrases that name no role in the store."""

    roles: list[RoleInfo]
    unknown: list[str]
    suggestions: list[str]


class RoleResolver:
    """Finds the catalogue's roles in free text."""

    def __init__(self, catalogue: list[RoleInfo]) -> None:
        self._roles = catalogue
        self._titles = [(role, role_tokens(role.role)) for role in catalogue]
        self._vocabulary = {t for _, title in self._titles for t in title}

    def resolve(self, text: str) -> Resolution:
        """Roles named in `text` (most specific match wins), or the unknown role it names."""
        question = [c for t in role_tokens(text) if (c := self._correct(t)) not in _IGNORED]
        literal = fold(text)
        matches = [
            m
            for role, title in self._titles
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
            return Resolution([m.role for m in chosen], [], [])
        unknown = _role_phrase(text)
        if unknown is None:
            return Resolution([], [], [])
        # A shortened title ("the VP", "Head of Data") that only one role can mean is that role.
        wanted = set(role_tokens(unknown))
        covering = [role for role, title in self._titles if wanted and wanted <= set(title)]
        if len(covering) == 1:
            return Resolution(covering, [], [])
        return Resolution([], [unknown], self.suggest(unknown))

    def suggest(self, phrase: str, limit: int = 3) -> list[str]:
        """The catalogue's roles closest to a phrase that names none of them."""
        wanted = set(role_tokens(phrase))
        scored = []
        for role, title in self._titles:
            shared = wanted & set(title)
            if shared:
                # Shared specific words (data, cloud, sre) count more than a shared rank word.
                weight = sum(0.5 if t in ROLE_NOUNS else 1.0 for t in shared)
                scored.append((weight / len(set(title) | wanted), role.role))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [name for _, name in scored[:limit]]

    def find(self, name: str) -> RoleInfo | None:
        """A role by id or by (aliased) title, for an explicit `--role`."""
        for role in self._roles:
            if name in {role.id, role.role}:
                return role
        resolution = self.resolve(name)
        return resolution.roles[0] if len(resolution.roles) == 1 else None

    def _correct(self, token: str) -> str:
        """A small typo fixed against the titles' words (`enginering` -> `engineering`)."""
        if token in _LITTLE_TYPOS:
            return _LITTLE_TYPOS[token]
        if token in self._vocabulary or len(token) < 5 or token.isdigit():
            return token
        limit = 1 if len(token) < 9 else 2
        best = min(self._vocabulary, key=lambda v: edit_distance(token, v, limit), default=token)
        return best if edit_distance(token, best, limit) <= limit else token

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


_RANKS = r"vp|svp|evp|vice president|director|head|manager|chief|lead|cto|cio|ciso|cfo|ceo|coo|cpo"
_RANK_OF = re.compile(
    rf"\b((?:(?:senior|global|principal|chief|associate|group)\s+)*(?:{_RANKS})\s+of\s+"
    r"[a-z][a-z&/-]*(?:\s+(?:and\s+)?[a-z][a-z&/-]*)?)"
)
_NOUN_LAST = re.compile(
    r"\b((?:[a-z][a-z&/-]*\s+){0,2}(?:director|manager|officer|engineer|architect|scientist"
    rf"|analyst|designer|recruiter|developer|{_RANKS}))\b"
)
_PHRASE_STOP = re.compile(
    r"^(?:(?:what|which|who|how|does|do|is|are|the|a|an|our|my|of|for|about|should|would|me"
    r"|tell|new|good|great|to|as|and|or|with|from|kpis?|skills?|tools?|use|uses|know|will|we"
    r"|can|could|if|when|del|de|la|el|los|las|le|les|du|des|der|die|das|den|dem|un|une)\s+)+"
)
_PHRASE_TAIL = re.compile(
    r"\s+(?:own|owns|do|does|need|needs|have|has|track|measure|report|is|are|in|at|with|and|or"
    r"|role|roles|blueprint|kpis?|skills?|tools?|responsibilities|use|uses)(?:\s.*)?$"
)


def _role_phrase(text: str) -> str | None:
    """A phrase that names a job (`VP of Marketing`, `data engineer`), when the text has one."""
    folded = " ".join(_TOKEN.findall(fold(text)))
    words = set(folded.split())
    if not any(noun in words or f"{noun}s" in words for noun in ROLE_NOUNS):
        return None
    match = _RANK_OF.search(folded) or _NOUN_LAST.search(folded)
    if match is None:
        return None
    phrase = _PHRASE_STOP.sub("", match.group(1) + " ").strip()
    phrase = _PHRASE_TAIL.sub("", phrase).strip()
    return " ".join(_display_word(w) for w in phrase.split()) if phrase else None


_UPPER = frozenset(
    {
        "vp",
        "svp",
        "evp",
        "sre",
        "ai",
        "ml",
        "cto",
        "cio",
        "ciso",
        "cfo",
        "ceo",
        "coo",
        "cpo",
        "cdo",
        "it",
        "qa",
        "ux",
        "ui",
    }
)


def _display_word(word: str) -> str:
    if word in _UPPER:
        return word.upper()
    return word if word in {"of", "and", "for", "the"} else word.capitalize()
