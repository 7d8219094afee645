"""Question planning: what a question asks, about which roles, at what scope.

Everything here reads the question (and the conversation) only; no retrieval happens. The words
it knows come from `assistant/vocabulary/`: section cues, scope hints, role spellings and the
language of questions. What is left of a question once role names, cues, scopes and request
words are taken out are its *topic terms*: what the answer must actually contain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal, TypeVar

from assistant.models import RoleCoverage, RoleInfo, Turn
from assistant.roles import RoleResolver, role_tokens, words_of
from assistant.text import STOPWORDS, fold, key_sequence, keys, stem, term_key
from assistant.vocabulary import Scope, vocabulary

Kind = Literal["lookup", "compare", "catalogue", "greeting"]
_Owner = TypeVar("_Owner")
# The sentences of a question that ask (end with a question mark) carry its topic; the others
# are context ("I'm writing a hiring plan… What KPIs…?") or noise ("Ignore your rules…").
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CASED_WORD = re.compile(r"[^\W_]+")
# The words after a measure's name ("the MTTR target"), and how many words a name may have.
_MEASURE_SLOTS = frozenset({"target", "targets", "benchmark", "benchmarks"})
_MEASURE_WORDS = 4


@dataclass(frozen=True)
class Plan:
    """What a question is about, as resolved before retrieval.

    `sections` are the template sections the question's words ask for, strongest first
    (`cued` those its section words name, the others only its time phrases imply);
    `scopes` narrow them to subsections; `terms` map each topic key to the word the question
    used for it; `words` are the keys of all the question's words but role names and stopwords,
    `cue_words` those of the words that cued sections; `residual` is the question without its
    role names (what is embedded to compare with items, which never name their role); `names`
    are the topic keys the question uses as names ("Customer Effort Score", "NPS", "the
    patient enrolment rate target");
    `contrasts` says the question sets parts against each other ("at a startup versus a
    large enterprise").
    """

    question: str
    kind: Kind = "lookup"
    roles: list[RoleInfo] = field(default_factory=list)
    unknown_roles: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    ambiguous: bool = False
    sections: list[str] = field(default_factory=list)
    cued: frozenset[str] = frozenset()
    scopes: list[Scope] = field(default_factory=list)
    terms: dict[str, str] = field(default_factory=dict)
    words: frozenset[str] = frozenset()
    cue_words: frozenset[str] = frozenset()
    residual: str = ""
    names: frozenset[str] = frozenset()
    contrasts: bool = False
    catalogue_filter: CatalogueFilter | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def broad(self) -> bool:
        """Whether the question names nothing beyond sections and scopes."""
        return not self.terms


@dataclass(frozen=True)
class CatalogueFilter:
    """What a catalogue question narrows the roles to (nothing: every role)."""

    coverage: RoleCoverage | None = None
    title_words: frozenset[str] = frozenset()

    def apply(self, catalogue: list[RoleInfo]) -> list[RoleInfo]:
        """The roles that pass the filter."""
        roles = [r for r in catalogue if self.coverage is None or r.coverage is self.coverage]
        if self.title_words:
            roles = [r for r in roles if self.title_words & set(role_tokens(r.role))]
        return roles


@dataclass(frozen=True)
class _Reading:
    """A question's words once role names, scopes and cues are found in it."""

    sections: list[str]
    cued: frozenset[str]
    scopes: list[Scope]
    terms: dict[str, str]
    words: list[str]
    cue_words: frozenset[str]


class Planner:
    """Plans questions against one catalogue of roles."""

    def __init__(self, catalogue: list[RoleInfo], resolver: RoleResolver) -> None:
        self._catalogue = catalogue
        self._resolver = resolver
        self._title_vocabulary = {t for r in catalogue for t in role_tokens(r.role)}

    def plan(
        self, question: str, history: Sequence[Turn] = (), explicit_role: str | None = None
    ) -> Plan:
        """The plan of a standalone question in its conversation."""
        if _is_greeting(question):
            return Plan(question, kind="greeting")
        roles, unknown, suggestions, ambiguous = self._roles(question, explicit_role)
        reading = read_question(_asking(question), self._resolver)
        plan = Plan(
            question,
            roles=roles,
            unknown_roles=unknown,
            suggestions=suggestions,
            ambiguous=ambiguous,
            sections=reading.sections,
            cued=reading.cued,
            scopes=reading.scopes,
            terms=reading.terms,
            words=frozenset(term_key(w) for w in reading.words if w not in STOPWORDS),
            cue_words=reading.cue_words,
            residual=" ".join(reading.words) or question,
            names=frozenset(k for k in reading.terms if k in _names_in(question)),
            contrasts=len(roles) <= 1
            and bool(set(reading.words) & vocabulary().questions.contrast),
        )
        if not roles and all(self._is_title_filter(u) for u in unknown):
            catalogue = self._catalogue_filter(reading, unknown)
            if catalogue is not None:
                return replace(plan, kind="catalogue", sections=[], catalogue_filter=catalogue)
        if history:
            plan = self._follow_up(plan, reading, history)
        if len(plan.roles) >= 2 and _compares(reading.words, question):
            plan = replace(plan, kind="compare")
        if plan.roles and not plan.sections and not plan.terms:
            # "What does a X do?", "Tell me about X": what the role is.
            plan = replace(plan, sections=["summary"], cued=frozenset({"summary"}))
        return plan

    def _roles(
        self, question: str, explicit_role: str | None
    ) -> tuple[list[RoleInfo], list[str], list[str], bool]:
        if explicit_role:
            found = self._resolver.find(explicit_role)
            if found is None:
                return [], [explicit_role], self._resolver.suggest(explicit_role), False
            return [found], [], [], False
        resolution = self._resolver.resolve(question)
        return resolution.roles, resolution.unknown, resolution.suggestions, resolution.ambiguous

    def _is_title_filter(self, phrase: str) -> bool:
        """Whether an unknown role phrase is only words of known titles ("director level")."""
        words = role_tokens(phrase)
        return bool(words) and set(words) <= self._title_vocabulary

    def _catalogue_filter(self, reading: _Reading, phrases: list[str]) -> CatalogueFilter | None:
        """The filter of a request to list the roles, or None when the question is another."""
        words = vocabulary().questions.catalogue
        nouns = {tuple(key_sequence(n)) for n in words.nouns}
        keys = [term_key(w) for w in reading.words]
        if not any(_contains(keys, noun) for noun in nouns):
            return None
        present = set(reading.words)
        by_coverage = bool(present & (words.full | words.summary))
        if set(reading.sections) - {"summary"} and not by_coverage:
            return None  # "which roles have KPIs on MTTR?" asks about content
        allowed = words.words | words.full | words.summary | STOPWORDS
        noun_words = {w for n in words.nouns for w in words_of(n)}
        titles = {t for phrase in phrases for t in role_tokens(phrase)}
        for word in reading.words:
            if word in allowed or word in noun_words or word in vocabulary().questions.request:
                continue
            if by_coverage and term_key(word) in reading.cue_words:
                continue  # "which roles have full blueprints, with KPIs?": what full means
            canonical = role_tokens(word)
            if canonical and set(canonical) <= self._title_vocabulary:
                titles.update(canonical)
                continue
            return None  # a word that is neither a request nor a title: not a listing
        coverage = None
        if present & words.full:
            coverage = RoleCoverage.FULL
        elif present & words.summary:
            coverage = RoleCoverage.SUMMARY
        return CatalogueFilter(coverage, frozenset(titles))

    def _follow_up(self, plan: Plan, reading: _Reading, history: Sequence[Turn]) -> Plan:
        """Carry the conversation's roles and sections into a question that leaves them out."""
        previous_roles, previous = self._previous(history)
        if not plan.roles and not plan.unknown_roles and previous_roles:
            plan = replace(
                plan, roles=previous_roles, notes=[*plan.notes, "roles from the conversation"]
            )
        elif (
            len(plan.roles) == 1
            and _compares(reading.words, plan.question)
            and any(r not in plan.roles for r in previous_roles)
        ):
            # "How does that compare with the DevOps Director?"
            roles = [r for r in previous_roles if r not in plan.roles] + plan.roles
            plan = replace(plan, roles=roles, kind="compare")
        refers = _refers_back(plan.question)
        if refers and previous is not None and _only_rhythms(plan):
            # "…and which of them are reviewed daily?" after the KPIs: the rhythm is what to
            # look for in the part asked before (a Frequency column), not the day-to-day.
            rhythm = {
                term_key(w): w
                for s in plan.scopes
                for phrase in s.question
                for w in words_of(phrase)
                if w in reading.words and w not in STOPWORDS
            }
            plan = replace(plan, sections=[], scopes=[], terms={**plan.terms, **rhythm})
        carry = not plan.terms or refers
        if plan.roles and not plan.sections and previous is not None and carry:
            plan = replace(
                plan,
                sections=previous.sections,
                cued=previous.cued,
                scopes=previous.scopes or plan.scopes,
                notes=[*plan.notes, "sections from the conversation"],
            )
        return plan

    def _previous(self, history: Sequence[Turn]) -> tuple[list[RoleInfo], _Reading | None]:
        """The roles and the reading the conversation was last about (latest user turn first)."""
        roles: list[RoleInfo] = []
        reading: _Reading | None = None
        for turn in reversed(history):
            if turn.role != "user":
                continue
            turn_roles = self._resolver.resolve(turn.content).roles
            if not roles:
                roles = turn_roles
            if reading is None:
                candidate = read_question(_asking(turn.content), self._resolver)
                if set(candidate.sections) - {"summary"}:
                    reading = candidate
            if roles and reading is not None:
                break
        return roles, reading


def read_question(question: str, resolver: RoleResolver) -> _Reading:
    """Find the scopes, section cues and topic terms of a question (its role names left out)."""
    vocab = vocabulary()
    named = {i for start, end in resolver.resolve(question).spans for i in range(start, end)}
    words = [w for i, w in enumerate(words_of(question)) if i not in named]
    keys = [term_key(w) for w in words]
    used = [False] * len(words)

    # Time phrases are matched word for word: "quarterly" is a rhythm, "a quarter" a period.
    plain = [_numeral(w) for w in words]
    scopes = [
        scope
        for scope, _ in _claim_all(
            plain, used, [(s, _plain_sequences(s.question)) for s in vocab.scopes]
        )
    ]
    for i in reversed(range(len(words) - 1)):
        if used[i + 1] and not used[i] and words[i] in vocab.questions.time_leads:
            used[i] = True
    scopes = _with_earlier_horizons(scopes, plain, used)
    before_cues = list(used)
    strong = dict(_claim_all(keys, used, [(k.key, k.cue_sequences) for k in vocab.sections]))
    strong_used = list(used)
    weak = dict(_claim_all(keys, used, [(k.key, k.weak_cue_sequences) for k in vocab.sections]))
    counted = used if not strong else strong_used
    cue_words = frozenset(
        k
        for k, was, now, word in zip(keys, before_cues, counted, words, strict=True)
        if now and not was and word not in STOPWORDS
    )
    # The longest cue names the section ("business outcomes … from hiring" is the mission);
    # sections cued as strongly as each other are all asked for.
    cued = strong or weak
    top = max(cued.values(), default=0)
    # A section called by its own name outranks a longer phrase that only suggests another
    # ("What tools does the role work with?" asks for the tools, not the stakeholders).
    longest = {k for k, v in cued.items() if v == top}
    by_name = {k for k in cued if cue_words & title_keys(k)}
    # …but not a longer one that says what it names ("business outcomes … from hiring" is
    # the mission); between cues as long, the name decides ("experience … candidate").
    named_length = max((cued[k] for k in by_name), default=0)
    if named_length < top and not all(_cued_by_phrase_of_verbs(keys, k) for k in longest - by_name):
        by_name = set()
    chosen = by_name or longest
    sections = sorted(chosen, key=vocab.section_keys.index)
    if not cued and words[:1] == ["why"]:
        # "Why would a company need a …?", "Why does a trial sponsor need one?" ask what the
        # role is for; who needs it is context, not a topic.
        sections = ["mission"]
        used = [True] * len(words)
    for scope in scopes:
        if scope.section not in sections:
            sections.append(scope.section)

    requests = request_keys()
    # Words of the named section's own description ("how performance is measured" for the
    # KPIs) say which section, not what in it.
    general = {k for key in sections if key in strong for k in description_keys(key)}
    terms: dict[str, str] = {}
    for word, key, taken in zip(words, keys, used, strict=True):
        if taken or word in STOPWORDS or key in requests or key in general or len(word) < 2:
            continue
        terms.setdefault(key, word)
    # Only words of a strong cue make their section firm; weak cues and time phrases suggest.
    firm = frozenset(k for k in sections if k in strong)
    return _Reading(sections, firm, scopes, terms, words, cue_words)


def _with_earlier_horizons(scopes: list[Scope], plain: list[str], used: list[bool]) -> list[Scope]:
    """Goal horizons the question spans besides the one it spelled.

    "30-60-90 day plan": the bare numbers before "90 day" are horizons too. "The first 90
    days": every horizon up to day 90 (a first-30-days question stays one horizon).
    """
    horizons = {s.days: s for s in vocabulary().scopes if s.days}
    spelled = [s.days for s in scopes if s.days]
    if not spelled:
        return scopes
    found = set(spelled)
    for i, word in enumerate(plain):
        if not used[i] and word.isdigit() and int(word) in horizons:
            found.add(int(word))
            used[i] = True
    if "first" in plain:
        found.update(d for d in horizons if d <= max(spelled))
    others = [s for s in scopes if not s.days]
    return [*others, *(horizons[d] for d in sorted(found))]


def _names_in(question: str) -> frozenset[str]:
    """The keys of the words a question uses as a name: written as one, or a measure's."""
    return _written_as_names(question) | _measure_names(question)


def _measure_names(question: str) -> frozenset[str]:
    """The keys of the words that name a measure before "target", up to a little word.

    "The patient enrolment rate target" names `patient`, `enrolment` and `rate`.
    """
    words = words_of(question)
    found: set[str] = set()
    for i, word in enumerate(words):
        if word not in _MEASURE_SLOTS:
            continue
        for before in reversed(words[max(0, i - _MEASURE_WORDS) : i]):
            if before in STOPWORDS:
                break
            found.add(term_key(before))
    return frozenset(found)


def _written_as_names(question: str) -> frozenset[str]:
    """The keys of the words a question writes as names.

    Capitalised where no sentence starts, or in capitals: "What Customer Effort Score
    target…", "our NPS".
    """
    found = set()
    for sentence in _SENTENCE.split(question.strip()):
        for position, word in enumerate(_CASED_WORD.findall(sentence)):
            if (position and word[0].isupper()) or (len(word) > 1 and word.isupper()):
                found.add(term_key(fold(word)))
    return frozenset(found)


def _cued_by_phrase_of_verbs(keys: list[str], section: str) -> bool:
    """Whether a cue of the section in the question holds a function word ("work with")."""
    kind = vocabulary().section(section)
    function = _function_keys()
    return kind is not None and any(
        set(seq) & function and _contains(keys, seq)
        for seq in (*kind.cue_sequences, *kind.weak_cue_sequences)
    )


@cache
def _function_keys() -> frozenset[str]:
    return frozenset(term_key(w) for w in STOPWORDS)


@cache
def title_keys(section: str) -> frozenset[str]:
    """The word keys only this section's usual title has ("tools" of "Tools, Platforms, …")."""
    titles = {kind.key: set(keys(kind.title)) for kind in vocabulary().sections}
    shared = {k for key, words in titles.items() if key != section for k in words}
    return frozenset(titles.get(section, set()) - shared - STOPWORDS - request_keys())


@cache
def description_keys(section: str) -> frozenset[str]:
    """The word keys of a section's description in the vocabulary."""
    kind = vocabulary().section(section)
    return frozenset(keys(kind.description)) if kind else frozenset()


@cache
def request_keys() -> frozenset[str]:
    """The keys of request and comparison words: never a question's topic."""
    questions = vocabulary().questions
    words = [*questions.request, *questions.comparison]
    return frozenset(k for w in words for k in key_sequence(w))


def _claim_all(
    keys: list[str], used: list[bool], groups: Sequence[tuple[_Owner, Sequence[tuple[str, ...]]]]
) -> list[tuple[_Owner, int]]:
    """Claim the runs of `keys` that match the groups' phrases, longest phrase first.

    Longest first across every group, so "soft skills" is the soft skills' before "skills"
    is the technical skills'. Phrases of one length may overlap each other ("first 30" and
    "30 days" in "first 30 days") and may be two groups' at once (a phrase two sections
    share cues both), but never take words a longer phrase claimed. Returns each group that
    claimed something, with how many words.
    """
    by_length: dict[int, list[tuple[tuple[str, ...], int]]] = {}
    for position, (_, sequences) in enumerate(groups):
        for sequence in sequences:
            by_length.setdefault(len(sequence), []).append((sequence, position))
    counts: dict[int, int] = {}
    for size in sorted(by_length, reverse=True):
        # The question's free runs of this size, each with where it starts.
        starts: dict[tuple[str, ...], list[int]] = {}
        for start in range(len(keys) - size + 1):
            if not any(used[start : start + size]):
                starts.setdefault(tuple(keys[start : start + size]), []).append(start)
        if not starts:
            continue
        claimed: set[int] = set()
        for sequence, position in by_length[size]:
            for start in starts.get(sequence, ()):
                claimed.update(range(start, start + size))
                counts[position] = counts.get(position, 0) + size
        for i in claimed:
            used[i] = True
    return [(groups[position][0], count) for position, count in counts.items()]


def _plain_sequences(phrases: Sequence[str]) -> list[tuple[str, ...]]:
    """Phrases as sequences of their words (plurals folded, numbers as digits)."""
    return _plain_of(tuple(phrases))


@cache
def _plain_of(phrases: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(_numeral(w) for w in words_of(p)) for p in phrases if words_of(p)]


def _numeral(word: str) -> str:
    return vocabulary().questions.numbers.get(word) or stem(word)


def _contains(keys: list[str], sequence: tuple[str, ...]) -> bool:
    size = len(sequence)
    return any(tuple(keys[i : i + size]) == sequence for i in range(len(keys) - size + 1))


def _asking(question: str) -> str:
    """The sentences of a question that ask something (all of it when none ends with `?`)."""
    sentences = [s for s in _SENTENCE.split(question.strip()) if s]
    asking = [s for s in sentences if s.rstrip().endswith("?")]
    return " ".join(asking) if asking else question


def _is_greeting(question: str) -> bool:
    words = words_of(question)
    greetings = [words_of(g) for g in vocabulary().questions.greetings]
    remaining = list(words)
    for greeting in sorted(greetings, key=len, reverse=True):
        size = len(greeting)
        i = 0
        while i + size <= len(remaining):
            if remaining[i : i + size] == greeting:
                del remaining[i : i + size]
            else:
                i += 1
    return bool(words) and len(remaining) < len(words) and all(w in STOPWORDS for w in remaining)


def _compares(words: list[str], question: str) -> bool:
    folded = f" {' '.join(words_of(question))} "
    return bool(set(words) & vocabulary().questions.comparison) or any(
        f" {joiner} " in folded for joiner in ("and", "or", "vs")
    )


def _only_rhythms(plan: Plan) -> bool:
    """Whether the plan's parts come only from rhythms said in passing ("daily", "a week")."""
    return bool(plan.scopes) and not plan.cued and not any(s.names_part for s in plan.scopes)


def _refers_back(question: str) -> bool:
    folded = f" {' '.join(words_of(question))} "
    return any(f" {' '.join(words_of(p))} " in folded for p in _follow_up_words())


def _follow_up_words() -> list[str]:
    return vocabulary().questions.follow_up
