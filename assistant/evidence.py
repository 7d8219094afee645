"""Evidence at the level of items: how well each bullet, row or sentence answers a question.

Three signals, each in [0, 1], read off a `DocumentIndex`:

- `dense`: cosine similarity of the item's stored vector (the item embedded with its heading
  path) and the question's vector;
- `lexical`: the share of the question's topic-term weight the item contains (topic terms are
  what is left of the question after roles, section cues, scopes and request words);
- `place`: whether the item sits in a section the question asks for, and in the subsection
  its scope or its words name.

How they combine into an answer of the right size is `assistant.selection`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from assistant.corpus import DocumentIndex
from assistant.items import Item
from assistant.planning import Plan, description_keys, request_keys
from assistant.sections import heading_phrases, section_title
from assistant.text import edit_distance, fold, key_sequence, keys, spellings
from assistant.vocabulary import numerals, vocabulary

_CUE_WEIGHT = 0.5


@dataclass(frozen=True)
class Scored:
    """One item and its evidence for one question."""

    item: Item
    position: int
    dense: float
    lexical: float
    whole: float = 0.0
    complete: bool = False
    held: frozenset[str] = frozenset()
    head: float = 0.0


def read_in(index: DocumentIndex, plan: Plan) -> Plan:
    """The plan as one document reads it, when the question asks for some of its sections.

    A word naming a column of a table in those sections asks for that column, not for a
    topic: "how often is fleet availability reviewed" over a KPI table with a column
    "Reviewed" is about fleet availability. Words of the role's own title are what the whole
    blueprint is about, no topic: "where should the robot fleet be after a year" asks the
    Head of Robotics Fleet Operations' 12-month goals, not the items that say "fleet".
    """
    plan = _named(index, plan)
    if not plan.sections:
        return plan
    columns: frozenset[str] = frozenset().union(
        *(index.column_keys.get(section, frozenset()) for section in plan.sections)
    )
    kept = {t: w for t, w in plan.terms.items() if t not in columns}
    subject = _subject_keys(index.record.role)
    kept = {t: w for t, w in kept.items() if not any(_same_word(t, s) for s in subject)}
    return plan if len(kept) == len(plan.terms) else replace(plan, terms=kept)


def _named(index: DocumentIndex, plan: Plan) -> Plan:
    """The plan of a question that spells out the name of an item of the document.

    "What change failure rate should she aim for?" names the KPI "Change failure rate": its
    words are the topic (though "change" is a comparison word and "failure" a risk cue), and
    the section of the item so named is the one asked for when the name holds every word that
    cued a section.
    """
    question = key_sequence(plan.residual)
    found = [
        name
        for name in index.names
        if any(tuple(question[i : i + len(name)]) == name for i in range(len(question)))
    ]
    if not found:
        return plan
    name = max(found, key=len)
    spelled = spellings(plan.residual)
    words = keys(" ".join(spelled.get(k, k) for k in name))
    terms = {**plan.terms, **{k: spelled.get(k, k) for k in words if k not in plan.terms}}
    if plan.cue_words and not plan.cue_words <= words:
        return replace(plan, terms=terms)
    sections = list(dict.fromkeys(index.items[p].chunk.section_key for p in index.names[name]))
    return replace(plan, terms=terms, sections=sections, cued=frozenset(sections))


@cache
def _subject_keys(role: str) -> frozenset[str]:
    """The word keys of a role title that name its subject (not its rank: "head", "vp")."""
    titles = vocabulary().roles
    rank = keys(" ".join([*titles.ranks, *titles.qualifiers]))
    return frozenset(keys(role) - rank)


def _same_word(key: str, other: str) -> bool:
    """Whether two word keys are one word, or one a longer form of the other ("robotic")."""
    short, long = sorted((key, other), key=len)
    return short == long or (len(short) >= 5 and long.startswith(short))


def score_items(index: DocumentIndex, plan: Plan, query: Sequence[float]) -> list[Scored]:
    """Every item of a document with its evidence, in document order.

    `lexical` is the item's share of the weight of the topic terms the document uses (a word
    it never uses cannot be matched, so "how fast is drift caught" is about drift);
    `whole` its share of all the topic terms' weight, the unknown ones included; `complete`
    whether it holds every topic term the document uses, `held` which of them; `head` the
    share its head holds (an item named for the topic is about it, not mentioning it).
    """
    dense = _dense(index, query)
    # The words that cued a section tell items of it apart too ("incidents a quarter" is the
    # incident KPI reviewed quarterly), at half the weight of the topic's own words; not the
    # words of the section's own title and description ("tools" in a row on "data tooling").
    own = {k for key in plan.sections for k in keys(section_title(key)) | description_keys(key)}
    weights = {t: index.weight(t) * _CUE_WEIGHT for t in plan.cue_words - own if t in index.idf}
    if not plan.terms:
        weights = {}
    weights.update({t: index.weight(t) for t in plan.terms})
    known = {t: w for t, w in weights.items() if t in index.idf}
    total, known_total = sum(weights.values()), sum(known.values())
    topic = {t for t in plan.terms if t in index.idf}
    scored = []
    for position, (item, found) in enumerate(zip(index.items, index.item_keys, strict=True)):
        held = sum(w for t, w in known.items() if t in found)
        in_head = sum(w for t, w in known.items() if t in index.head_keys[position])
        scored.append(
            Scored(
                item,
                position,
                float(dense[position]),
                held / known_total if known_total else 0.0,
                held / total if total else 0.0,
                bool(topic) and topic <= found,
                frozenset(topic & found),
                in_head / known_total if known_total else 0.0,
            )
        )
    return scored


def unsupported_terms(plan: Plan, words: frozenset[str]) -> dict[str, str]:
    """The topic terms no word of `words` spells (allowing a typo or two in long words)."""
    missing: dict[str, str] = {}
    for key, word in plan.terms.items():
        if key in words or word.isdigit():
            continue
        limit = 0 if len(key) < 5 else 1 if len(key) < 9 else 2
        if limit and any(edit_distance(key, known, limit) <= limit for known in words):
            continue
        missing[key] = word
    return missing


def subsection_scores(index: DocumentIndex, plan: Plan, sections: set[str]) -> dict[str, float]:
    """How strongly the question names each subsection of the given sections.

    A scope hint whose heading phrase the subsection title holds counts 2; each question word
    the title holds that not every subsection of its section shares counts 1.
    """
    titles: dict[str, tuple[str, str]] = {}
    for item in index.items:
        if item.chunk.section_key in sections and item.chunk.subsection:
            titles.setdefault(item.chunk.subsection, (item.chunk.section_key, item.chunk.section))
    if not titles:
        return {}
    # Request words ("typical", "main") name no subsection, even one whose title has them.
    question = plan.words - request_keys()
    if plan.scopes:
        # The numbers of "the first 90 days" are the scopes' to match, not words to count.
        question = frozenset(w for w in question if not w.isdigit())
    title_keys = {t: keys(t) for t in titles}
    common: dict[str, set[str]] = {}
    for title, (key, _) in titles.items():
        shared = common.get(key)
        common[key] = set(title_keys[title]) if shared is None else shared & title_keys[title]
    # Words of a phrase that titles such a section anywhere ("a typical week") name the
    # section, not a subsection; one word ("education") titles subsections as often.
    titling = {
        key: {k for p in heading_phrases(plan.question, key) if len(p.split()) > 1 for k in keys(p)}
        for key in common
    }
    scores: dict[str, float] = {}
    for title, (key, section) in titles.items():
        # So do words of the section's own title ("week" of "A normal week").
        own = set(keys(section)) | titling[key]
        score = float(len((question & title_keys[title]) - common[key] - own))
        folded = numerals(title)
        for scope in plan.scopes:
            if scope.section == key and any(has_phrase(folded, numerals(h)) for h in scope.heading):
                score += 2.0
        scores[title] = score
    return scores


def has_phrase(text: str, phrase: str) -> bool:
    """Whether folded `text` holds `phrase` as whole words (a plural of its last one too)."""
    return re.search(rf"(?<![a-z0-9]){re.escape(fold(phrase))}s?(?![a-z0-9])", text) is not None


def _dense(index: DocumentIndex, query: Sequence[float]) -> np.ndarray:
    vectors = index.vectors
    if not len(index.items) or vectors.shape[1] != len(query):
        return np.zeros(len(index.items), dtype=np.float32)
    vector = np.asarray(query, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vectors @ (vector / norm) if norm else np.zeros(len(index.items), dtype=np.float32)


def best(scored: Sequence[Scored], attribute: str) -> float:
    """The highest value of one signal among some scored items (0 when there are none)."""
    return max((getattr(s, attribute) for s in scored), default=0.0)


def by_section(scored: Sequence[Scored]) -> Mapping[str, list[Scored]]:
    """Scored items grouped by section key, in document order."""
    groups: dict[str, list[Scored]] = {}
    for entry in scored:
        groups.setdefault(entry.item.chunk.section_key, []).append(entry)
    return groups
