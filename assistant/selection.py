"""Answer selection: as much of a blueprint as the question asks for, or nothing at all.

The question's granularity decides the answer's:

- a question that names a topic ("the MTTR target", "monitoring tools", "vendor contracts")
  gets the few items that hold it: one row, one category, one decision;
- a question that names only a section, maybe narrowed to a subsection ("the KPIs", "the
  30-day goals", "how the role differs by company size") gets that part of the blueprint,
  whole and in order;
- a question whose topic the blueprint does not hold, or that finds no item close enough to
  it, gets nothing: the assistant says what the blueprint does cover instead.

The thresholds are calibrated on the tuning part of the gold set (`evals/calibrate.py` writes
`assistant/calibration.toml`; see docs/evaluation.md).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, Field

from assistant.corpus import DocumentIndex
from assistant.evidence import Scored, best, has_phrase, subsection_scores, unsupported_terms
from assistant.items import Item
from assistant.planning import Plan, description_keys, request_keys
from assistant.sections import section_title
from assistant.text import keys
from assistant.vocabulary import numerals, vocabulary

SelectionKind = Literal["items", "part", "abstain"]
# How much less close to the question a fuller match elsewhere may be than the part's own.
_CLOSE = 0.05


class Thresholds(BaseModel):
    """The numbers selection decides by (calibrated; see the module docstring)."""

    topic_share: float = Field(ge=0, le=1, description="Least share of the topic an item holds")
    part_share: float = Field(
        ge=0, le=1, description="The same, within a section the question names by its words"
    )
    topic_floor: float = Field(
        ge=0, le=1, description="Least share counting the words the blueprint never uses"
    )
    topic_dense: float = Field(
        ge=-1, le=1, description="Least similarity of an item that holds the topic's words"
    )
    runner_up: float = Field(ge=0, le=1, description="Items kept within this share of the best")
    max_items: int = Field(ge=1, description="Most items a topic answer quotes")
    dense_answer: float = Field(ge=-1, le=1, description="Least similarity to answer a paraphrase")
    dense_incidental: float = Field(
        ge=-1, le=1, description="Similarity above which an unknown word is incidental"
    )


@cache
def thresholds() -> Thresholds:
    """The calibrated thresholds shipped with the package."""
    text = resources.files("assistant").joinpath("calibration.toml").read_text(encoding="utf-8")
    return Thresholds.model_validate(tomllib.loads(text)["thresholds"])


@dataclass(frozen=True)
class Selection:
    """What to answer from one document.

    `kind` is `items` (a topic's few items, best first), `part` (a section or subsections,
    in document order) or `abstain` (`missing` names what the blueprint does not hold).
    """

    kind: SelectionKind
    items: list[Item] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    by_meaning: bool = False
    """Chosen by closeness in meaning alone: no item spells the question's topic."""


def select(
    index: DocumentIndex,
    plan: Plan,
    scored: Sequence[Scored],
    limits: Thresholds | None = None,
) -> Selection:
    """Choose the items of one document that answer a planned question."""
    limits = limits or thresholds()
    present = {s.item.chunk.section_key for s in scored}
    asked = [s for s in plan.sections if s in present]
    if plan.sections and not asked:
        missing = [_section_word(s) for s in plan.sections]
        return Selection("abstain", missing=missing, notes=["no such section in this blueprint"])
    region = [s for s in scored if s.item.chunk.section_key in asked] if asked else list(scored)
    narrowed = _narrow(index, plan, region, set(asked))

    if plan.terms and not _titles_hold(index, plan, narrowed, region):
        # Named by the question's words, or by a time phrase that found its subsection.
        firm = bool(set(asked) & set(plan.cued)) or (
            narrowed is not region and any(s.names_part for s in plan.scopes)
        )
        known = sum(1 for t in plan.terms if t in index.idf)
        unspelled = unsupported_terms(plan, index.words)
        unknown = list(unspelled.values())
        dense = best(region, "dense")
        named = [word for key, word in unspelled.items() if key in plan.names]
        if named:
            # A name the blueprint never spells ("Customer Effort Score", "Databricks") is
            # what the question is about: nothing else in the blueprint answers it.
            return Selection("abstain", missing=named, notes=[f"names it never uses: {named}"])
        if unknown and not asked and dense < limits.dense_incidental:
            # "Can they work from home?": with no part named, a topic word the blueprint never
            # uses is the question, unless something in it is close in meaning anyway.
            return Selection(
                "abstain",
                missing=unknown,
                notes=[f"unknown words {sorted(unknown)}, best similarity {dense:.2f}"],
            )
        chosen = _topic(scored, region, narrowed, limits, asked=bool(asked), firm=firm, terms=known)
        if chosen is not None:
            return chosen
        if firm:
            # A section the question names by its own words is answered even when the rest of
            # the question is words the blueprint does not use ("next career steps").
            notes = [f"words the blueprint does not use: {sorted(unknown)}"] if unknown else []
            return Selection("part", _part(narrowed), notes=["the part the question names", *notes])
        if unknown and (not known or dense < limits.dense_incidental):
            # Nothing in the blueprint spells the topic: a close-sounding sentence is no answer.
            return Selection(
                "abstain",
                missing=unknown,
                notes=[f"unknown words {sorted(unknown)}, best similarity {dense:.2f}"],
            )
        if not asked:
            return _closest(region, limits)
    elif asked and narrowed is region:
        # "Who is her boss?" with no "Line manager" subsection: the items that say "reports to".
        scoped = _scope_items(plan, region, limits)
        if scoped:
            return Selection("items", scoped, notes=["the items the time or scope phrase names"])
        # "Who does she report to?": a cue word that a few items of the section spell out.
        cued = _cue_items(index, plan, region, limits)
        if cued:
            return Selection("items", cued, notes=["the items the question's words name"])
    return Selection("part", _part(narrowed), notes=["the part the question names"])


def _titles_hold(
    index: DocumentIndex, plan: Plan, narrowed: Sequence[Scored], region: Sequence[Scored]
) -> bool:
    """Whether the subsection titles the question named hold its topic terms.

    "What are the strategic responsibilities?" names the subsection "Strategic
    responsibilities": its words are the title's, so it asks for the whole subsection.
    """
    if narrowed is region or not narrowed:
        return False
    titles = {k for s in narrowed for k in index.heading_keys[s.position]}
    # Words the blueprint never uses hold nothing anywhere ("the delivery side" of a
    # "Delivery" subsection): the title need only hold the others, if there are any.
    known = {t for t in plan.terms if t in index.words}
    return bool(known) and known <= titles


def _topic(
    scored: Sequence[Scored],
    region: Sequence[Scored],
    narrowed: Sequence[Scored],
    limits: Thresholds,
    *,
    asked: bool,
    firm: bool,
    terms: int,
) -> Selection | None:
    """The items holding the question's topic, in the part it names or, failing it, elsewhere.

    Items elsewhere that hold more of the topic win when the part was only implied by a time
    phrase or a weak cue ("coverage at 6 months"), when they hold every word of a topic of
    several words and the part's matches do not ("compliance control coverage"), or when they
    are as close to the question as the part's own matches and none of those is named for the
    topic ("Performance: k6, Gatling" answers "performance testing tools"). When the part
    holds none, a one-word topic found elsewhere wins only if closer to the question than
    anything in the part (else it is a word in passing: "mistakes to avoid" is no soft skill).
    """
    # A subsection the question names is where its topic is looked for (else the section).
    # Within a section the question names by its words, the best matches there are enough.
    share = limits.part_share if firm else limits.topic_share
    inside = _topic_items(narrowed, limits, share) or (
        _topic_items(region, limits, share) if narrowed is not region else []
    )
    elsewhere = _topic_items(scored, limits) if asked else []
    if elsewhere and _share(scored, elsewhere) > _share(scored, inside):
        # Every word of a topic of several words, found together, is the topic itself.
        whole = terms > 1 and _complete(scored, elsewhere) and not _complete(scored, inside)
        bar = _closeness(scored, inside) - _CLOSE if inside else best(region, "dense")
        closer = _closeness(scored, elsewhere) >= bar and not _named(scored, inside)
        if not firm or whole or closer:
            return Selection("items", elsewhere, notes=["topic found in another section"])
    if inside:
        return Selection("items", inside, notes=["topic found in the part asked for"])
    return None


def _named(scored: Sequence[Scored], items: Sequence[Item]) -> bool:
    chosen = {id(i) for i in items}
    return any(s.head > 0 for s in scored if id(s.item) in chosen)


def _complete(scored: Sequence[Scored], items: Sequence[Item]) -> bool:
    chosen = {id(i) for i in items}
    return any(s.complete for s in scored if id(s.item) in chosen)


def _share(scored: Sequence[Scored], items: Sequence[Item]) -> float:
    chosen = {id(i) for i in items}
    return max((s.lexical for s in scored if id(s.item) in chosen), default=0.0)


def _closeness(scored: Sequence[Scored], items: Sequence[Item]) -> float:
    chosen = {id(i) for i in items}
    return max((s.dense for s in scored if id(s.item) in chosen), default=0.0)


def _cue_items(
    index: DocumentIndex, plan: Plan, region: Sequence[Scored], limits: Thresholds
) -> list[Item]:
    """The few items of a section that spell the cue words its titles do not hold, if any.

    Words of the section's titles (its own and the template's) and of its table's column names
    name the section, not an item.
    Items whose head holds the words ("Reports to: …") are the answer over items that only
    mention them ("defect reports").
    """
    titles = {k for s in region for k in index.heading_keys[s.position]}
    described: set[str] = set()
    for key in plan.sections:
        titles |= keys(section_title(key)) | index.column_keys.get(key, frozenset())
        described |= description_keys(key)
    # Request words in a cue ("people" of "people skills") name nothing in it either, nor
    # do the words of a cue that is a question ("problem" of "what problem").
    telling = plan.cue_words - titles - request_keys()
    for key in plan.sections:
        telling -= _question_cue_keys(key)
    if not telling:
        return []
    hits = [s for s in region if telling <= index.item_keys[s.position]]
    if not hits or len(hits) > limits.max_items or 3 * len(hits) > len(region):
        return []  # none, or so many that the words are the section's own
    if telling & described:
        # Words of the section's description pick a bullet or a row that spells them ("CTO
        # (Reports To)"), or a sentence they name ("Reports to: the VP of Engineering"), not
        # prose about the section ("These are the measures the director is held to").
        hits = [s for s in hits if s.item.kind != "sentence" or s.item.name]
    hits = [s for s in hits if telling <= index.head_keys[s.position]] or hits
    return [s.item for s in sorted(hits, key=lambda s: (-s.dense, s.position))]


@cache
def _question_cue_keys(section: str) -> frozenset[str]:
    """The word keys of a section's cues that ask what the section is ("what problem")."""
    kind = vocabulary().section(section)
    if kind is None:
        return frozenset()
    asking = {"what", "which"}
    return frozenset(k for seq in kind.cue_sequences if seq and seq[0] in asking for k in seq[1:])


def _scope_items(plan: Plan, region: Sequence[Scored], limits: Thresholds) -> list[Item]:
    """The few items of the section that spell a heading phrase of the question's scopes."""
    phrases = [numerals(h) for scope in plan.scopes for h in scope.heading]
    hits = [s for s in region if any(has_phrase(numerals(s.item.flat), p) for p in phrases)]
    if not hits or len(hits) > limits.max_items or 3 * len(hits) > len(region):
        return []
    return [s.item for s in hits]


def _part(region: Sequence[Scored]) -> list[Item]:
    """A part of a blueprint as an answer: its table rows when it is mostly a table."""
    rows = [s.item for s in region if s.item.kind == "row"]
    if rows and 3 * len(rows) >= 2 * len(region):
        return rows
    return [s.item for s in region]


def _narrow(
    index: DocumentIndex, plan: Plan, region: list[Scored], asked: set[str]
) -> list[Scored]:
    """The region cut to the subsections the question names (the region itself if none)."""
    scores = subsection_scores(index, plan, asked)
    if not scores or len(set(scores.values())) == 1:
        return region
    top = max(scores.values())
    wanted = {title for title, score in scores.items() if score == top}
    # Parts set against each other ("a bank compared with an early-stage fintech") are all
    # the answer, as are the parts of several scopes ("30-60-90").
    if plan.contrasts:
        wanted = {title for title, score in scores.items() if score > 0}
    several = plan.contrasts or sum(1 for scope in plan.scopes if scope.section in asked) > 1
    if len(wanted) > 1 and not several:
        # Titles the question's words name equally ("decide" in "Decides alone" and "Decides
        # with leadership"): the ones whose items are closest to the question in meaning.
        closeness = {
            t: max((s.dense for s in region if s.item.chunk.subsection == t), default=0.0)
            for t in wanted
        }
        nearest = max(closeness.values())
        wanted = {t for t, c in closeness.items() if c >= nearest - _CLOSE}
    narrowed = [s for s in region if s.item.chunk.subsection in wanted]
    return narrowed or region


def _topic_items(
    pool: Sequence[Scored], limits: Thresholds, share: float | None = None
) -> list[Item]:
    """The items that hold the question's topic, best first (none when no item holds enough).

    A topic of several words no single item holds enough of ("warehouses and dashboarding
    products") is answered by the few items that hold it together, one per word.
    """
    top = best(pool, "lexical")
    if top < (limits.topic_share if share is None else share):
        return _covering(pool, limits)
    candidates = [
        s
        for s in pool
        if s.lexical >= limits.runner_up * top
        and s.whole >= limits.topic_floor
        # An item named for the topic is about it however short ("Performance: k6, Gatling").
        and (s.dense >= limits.topic_dense or s.head >= s.lexical / 2)
    ]
    if not candidates:
        return []
    # Matches in other sections than the best one's are words in passing, not the topic.
    lead = max(candidates, key=lambda s: (s.lexical, s.head, s.dense))
    section = lead.item.chunk.section_key
    ranked = sorted(
        (s for s in candidates if s.item.chunk.section_key == section),
        key=lambda s: (-s.lexical, -s.head, -s.dense, s.position),
    )
    return [s.item for s in ranked[: limits.max_items]]


def _covering(pool: Sequence[Scored], limits: Thresholds) -> list[Item]:
    """The fewest items of one section that together hold enough of the topic, if any."""
    eligible = [s for s in pool if s.held and s.dense >= limits.topic_dense]
    if not eligible:
        return []
    # Each term's share of the topic, read off the items' shares of what they hold.
    weight: dict[str, float] = {}
    for s in eligible:
        if len(s.held) == 1:
            (term,) = s.held
            weight[term] = max(weight.get(term, 0.0), s.lexical)
    lead = max(eligible, key=lambda s: (s.lexical, s.dense))
    section = lead.item.chunk.section_key
    chosen: list[Scored] = []
    covered: set[str] = set()
    candidates = [s for s in eligible if s.item.chunk.section_key == section]
    while len(chosen) < limits.max_items:
        gain = {id(s): sum(weight.get(t, 0.0) for t in s.held - covered) for s in candidates}
        pick = max(candidates, key=lambda s: (gain[id(s)], s.dense), default=None)
        if pick is None or gain[id(pick)] <= 0:
            break
        chosen.append(pick)
        covered |= pick.held
    if len(chosen) < 2 or sum(weight.get(t, 0.0) for t in covered) < limits.topic_share:
        return []
    return [s.item for s in chosen]


def _closest(region: Sequence[Scored], limits: Thresholds) -> Selection:
    """A paraphrase with no topic word in the text: the closest items, if close enough."""
    top = best(region, "dense")
    if top < limits.dense_answer:
        return Selection("abstain", notes=[f"best similarity {top:.2f} < {limits.dense_answer}"])
    lead = max(region, key=lambda s: s.dense)
    section = lead.item.chunk.section_key
    ranked = sorted(
        (s for s in region if s.item.chunk.section_key == section and s.dense >= top * 0.9),
        key=lambda s: -s.dense,
    )
    return Selection(
        "items",
        [s.item for s in ranked[: limits.max_items]],
        notes=[f"closest by meaning ({top:.2f})"],
        by_meaning=True,
    )


def _section_word(key: str) -> str:
    return section_title(key)
