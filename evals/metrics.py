"""Deterministic answer metrics: retrieval, citations, items, length, facts, coverage, abstention.

Every per-question metric is a float in [0, 1], or None where it does not apply (a retrieval
metric for a question that expects no role, a precision with nothing cited); aggregates are
means over the questions where a metric applies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from assistant.models import Answer, AnswerCoverage, Citation, RetrievedTrace
from evals.gold import ABSTAIN_TAG, GoldQuestion
from evals.matching import cited_items, heading_key, heading_name, name_key, normalize, role_key

# The coverage of a question the assistant refused (`QuestionError`) or failed on.
REFUSED = "refused"
FAILED = "error"
# Coverages under which nothing is answered (a refusal declines too).
_DECLINED = frozenset({AnswerCoverage.NOT_FOUND.value, REFUSED})

# Same grammar as the assistant's markers: `[1]`, `[1, 3]`; `[2024]` is not a marker.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True)
class Target:
    """A passage a right answer rests on, and which of its items are relevant.

    `role` is normalised (`role_key`). The section is a template key (`section`), a printed
    heading (`heading`, as `heading_name` gives it), or neither (any section of the role).
    `subsections` (as `name_key` gives them) and `items` (normalised substrings) narrow which
    cited items are relevant; a summary-only role expected as a whole has neither.
    """

    role: str
    section: str | None = None
    heading: str | None = None
    subsections: tuple[str, ...] = ()
    items: tuple[str, ...] = ()

    @property
    def specific(self) -> bool:
        """Whether the target says more than its role (answer precision needs that)."""
        return bool(self.section or self.heading or self.subsections or self.items)


@dataclass(frozen=True)
class Observation:
    """What a system returned for one question, as the metrics read it.

    `coverage` is an `AnswerCoverage` value, `REFUSED` when the question was rejected as
    invalid, or `FAILED` when the system raised anything else.
    """

    text: str
    coverage: str
    citations: Sequence[Citation] = ()
    retrieved: Sequence[RetrievedTrace] = ()

    @classmethod
    def of(cls, answer: Answer) -> Observation:
        """Read an `Answer`."""
        return cls(answer.answer, answer.coverage.value, answer.citations, answer.trace.retrieved)


@dataclass(frozen=True)
class QuestionScores:
    """The metrics of one answer, with what the report shows of its failures."""

    scores: dict[str, float | None]
    missed_facts: list[list[str]] = field(default_factory=list)
    must_not_hits: list[str] = field(default_factory=list)
    citation_problems: list[str] = field(default_factory=list)
    cited_items: int = 0


def metric_names(k: int) -> list[str]:
    """The per-question metrics, in report order.

    `over_count_share` is, per question, 1.0 when the answer cites more items than the
    question needs; its mean is the share of answers over their count.
    """
    return [
        f"section_hit@{k}",
        f"section_recall@{k}",
        "mrr",
        "citation_precision",
        "citation_recall",
        "citation_validity",
        "answer_precision",
        "over_count_share",
        "fact_recall",
        "must_not_violations",
        "coverage_accuracy",
        "abstention_accuracy",
    ]


def targets_for(question: GoldQuestion, full_roles: Collection[str]) -> list[Target]:
    """The passages a question expects, with what makes their items relevant.

    A role with `expected_headings` is expected in those headings; another full role in its
    `expected_sections` (any section when none is given); a summary-only role as a whole.
    Subsections and items narrow the targets of full roles only: a summary has neither.

    Args:
        question: The gold question.
        full_roles: Keys (`role_key`) of the roles with a full blueprint.
    """
    subsections = tuple(dict.fromkeys(name_key(s) for s in question.expected_subsections))
    items = tuple(dict.fromkeys(normalize(i) for i in question.expected_items))
    targets: list[Target] = []
    for role in dict.fromkeys(question.expected_roles):
        key = role_key(role)
        headings = question.headings_for(role)
        if headings:
            targets.extend(
                Target(key, heading=h, subsections=subsections, items=items)
                for h in dict.fromkeys(heading_name(h) for h in headings)
            )
        elif key in full_roles and question.expected_sections:
            targets.extend(
                Target(key, section=s, subsections=subsections, items=items)
                for s in dict.fromkeys(question.expected_sections)
            )
        elif key in full_roles:
            targets.append(Target(key, subsections=subsections, items=items))
        else:
            targets.append(Target(key))
    return list(dict.fromkeys(targets))


def _matches(role: str, heading: str, target: Target) -> bool:
    """Whether a passage is in a target's role and section (subsections and items aside)."""
    if role_key(role) != target.role:
        return False
    if target.section is not None:
        return heading_key(heading) == target.section
    if target.heading is not None:
        return heading_name(heading) == target.heading
    return True


def _relevant(role: str, heading: str, targets: Sequence[Target]) -> bool:
    return any(_matches(role, heading, t) for t in targets)


def _relevant_item(citation: Citation, item: str, target: Target) -> bool:
    """Whether one cited item is relevant: role, section, then subsection and item if given."""
    if not _matches(citation.role, citation.section, target):
        return False
    if target.subsections and name_key(citation.subsection) not in target.subsections:
        return False
    text = normalize(item)
    return not target.items or any(wanted in text for wanted in target.items)


def hit_at_k(
    retrieved: Sequence[RetrievedTrace], targets: Sequence[Target], k: int
) -> float | None:
    """1.0 when any of the top k retrieved chunks is expected, else 0.0; None with no targets."""
    if not targets:
        return None
    return float(any(_relevant(r.role, r.section, targets) for r in retrieved[:k]))


def recall_at_k(
    retrieved: Sequence[RetrievedTrace], targets: Sequence[Target], k: int
) -> float | None:
    """The share of targets met by at least one of the top k retrieved chunks."""
    if not targets:
        return None
    found = sum(any(_matches(r.role, r.section, t) for r in retrieved[:k]) for t in targets)
    return found / len(targets)


def reciprocal_rank(retrieved: Sequence[RetrievedTrace], targets: Sequence[Target]) -> float | None:
    """1 / rank of the first expected chunk (0.0 when none is retrieved)."""
    if not targets:
        return None
    for rank, item in enumerate(retrieved, start=1):
        if _relevant(item.role, item.section, targets):
            return 1.0 / rank
    return 0.0


def citation_precision(citations: Sequence[Citation], targets: Sequence[Target]) -> float | None:
    """The share of citations on an expected (role, section); None when nothing is cited.

    With no targets (an unknown role, an off-topic question) every citation is wrong.
    """
    if not citations:
        return None
    good = sum(_relevant(c.role, c.section, targets) for c in citations)
    return good / len(citations)


def citation_recall(citations: Sequence[Citation], targets: Sequence[Target]) -> float | None:
    """The share of targets cited at least once; None with no targets."""
    if not targets:
        return None
    cited = sum(any(_matches(c.role, c.section, t) for c in citations) for t in targets)
    return cited / len(targets)


def answer_precision(citations: Sequence[Citation], targets: Sequence[Target]) -> float | None:
    """The share of cited items that are relevant (see `Target`, `cited_items`).

    Finer than `citation_precision`: an item must be in the expected subsection and contain
    an expected item when the gold entry names them, so an answer that cites the whole section
    for a one-KPI question scores low. None when nothing is cited, or when the gold entry says
    no more than its roles (then every item of the role is relevant, and the metric says
    nothing `citation_precision` does not).
    """
    if not citations or not any(t.specific for t in targets):
        return None
    units = [(c, item) for c in citations for item in cited_items(c.quote)]
    good = sum(any(_relevant_item(c, item, t) for t in targets) for c, item in units)
    return good / len(units)


def cited_item_count(citations: Sequence[Citation]) -> int:
    """How many items an answer cites (a quote holding a passage counts each of its items)."""
    return sum(len(cited_items(c.quote)) for c in citations)


def over_count(
    citations: Sequence[Citation], expected_count: int | None, coverage: str
) -> float | None:
    """1.0 when an answer cites more items than the question needs, else 0.0.

    None when the gold entry states no `expected_count`, and for answers that decline
    (`not_found`, a refusal) or failed: they cite nothing, and being short is not the point.
    """
    if expected_count is None or coverage in _DECLINED or coverage == FAILED:
        return None
    return float(cited_item_count(citations) > expected_count)


def abstention_correct(question: GoldQuestion, observed: Observation) -> float | None:
    """On questions tagged `abstain`: 1.0 when the answer declines and cites nothing.

    These ask what blueprints never cover (pay, location, visa…); any citation means the
    answer presented a passage as if it covered the question. None on other questions.
    """
    if ABSTAIN_TAG not in question.tags:
        return None
    return float(observed.coverage in _DECLINED and not observed.citations)


def citation_problems(
    text: str, citations: Sequence[Citation], chunk_texts: Mapping[str, str]
) -> list[str]:
    """Why an answer's citations cannot be verified; empty when every one can.

    Every `[n]` marker must resolve to `citations[n-1]` (numbered `n`), and every quote must be
    non-blank and verbatim in the text of the chunk it names.
    """
    problems: list[str] = []
    for index, citation in enumerate(citations, start=1):
        if citation.n != index:
            problems.append(f"citation at position {index} is numbered {citation.n}")
    for match in _MARKER.finditer(text):
        for part in match.group(1).split(","):
            number = int(part)
            if not 1 <= number <= len(citations):
                problems.append(f"[{number}] has no citation ({len(citations)} given)")
    for citation in citations:
        chunk = chunk_texts.get(citation.chunk_id)
        if chunk is None:
            problems.append(
                f"[{citation.n}] cites {citation.chunk_id!r}, which is not in the store"
            )
        elif not citation.quote.strip():
            problems.append(f"[{citation.n}] has an empty quote")
        elif citation.quote not in chunk:
            problems.append(
                f"[{citation.n}] quote is not verbatim in its chunk: {citation.quote[:60]!r}"
            )
    return problems


def missed_facts(text: str, facts: Sequence[Sequence[str]]) -> list[list[str]]:
    """The fact groups none of whose phrasings is in the text (after `normalize`)."""
    answer = normalize(text)
    return [list(group) for group in facts if not any(normalize(p) in answer for p in group)]


def fact_recall(text: str, facts: Sequence[Sequence[str]]) -> float | None:
    """The share of fact groups with a phrasing in the text; None with no facts."""
    if not facts:
        return None
    return 1.0 - len(missed_facts(text, facts)) / len(facts)


def must_not_hits(text: str, must_not: Sequence[str]) -> list[str]:
    """The forbidden phrases present in the text (after `normalize`)."""
    answer = normalize(text)
    return [phrase for phrase in must_not if normalize(phrase) in answer]


def coverage_correct(expected: AnswerCoverage, got: str) -> float:
    """1.0 when the coverage is the expected one; a refusal counts as `not_found`."""
    if expected is AnswerCoverage.NOT_FOUND and got == REFUSED:
        return 1.0
    return float(got == expected.value)


def score_question(
    question: GoldQuestion,
    observed: Observation,
    *,
    full_roles: Collection[str],
    chunk_texts: Mapping[str, str],
    k: int,
) -> QuestionScores:
    """Every per-question metric of one observed answer (see `metric_names`)."""
    targets = targets_for(question, full_roles)
    problems = citation_problems(observed.text, observed.citations, chunk_texts)
    missed = missed_facts(observed.text, question.facts)
    forbidden = must_not_hits(observed.text, question.must_not)
    scores: dict[str, float | None] = {
        f"section_hit@{k}": hit_at_k(observed.retrieved, targets, k),
        f"section_recall@{k}": recall_at_k(observed.retrieved, targets, k),
        "mrr": reciprocal_rank(observed.retrieved, targets),
        "citation_precision": citation_precision(observed.citations, targets),
        "citation_recall": citation_recall(observed.citations, targets),
        "citation_validity": 0.0 if problems else 1.0,
        "answer_precision": answer_precision(observed.citations, targets),
        "over_count_share": over_count(
            observed.citations, question.expected_count, observed.coverage
        ),
        "fact_recall": fact_recall(observed.text, question.facts),
        "must_not_violations": float(bool(forbidden)) if question.must_not else None,
        "coverage_accuracy": coverage_correct(question.expected_coverage, observed.coverage),
        "abstention_accuracy": abstention_correct(question, observed),
    }
    return QuestionScores(scores, missed, forbidden, problems, cited_item_count(observed.citations))


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(
    rows: Sequence[Mapping[str, float | None]], names: Sequence[str], latencies_ms: Sequence[float]
) -> dict[str, float | None]:
    """Mean of each metric over the rows where it applies, with latency p50 and p95.

    Values are rounded to 4 decimals, so that a committed baseline diffs readably.
    """
    summary = {name: mean(row.get(name) for row in rows) for name in names}
    summary["latency_p50_ms"] = percentile(latencies_ms, 50)
    summary["latency_p95_ms"] = percentile(latencies_ms, 95)
    return {name: None if v is None else round(v, 4) for name, v in summary.items()}
