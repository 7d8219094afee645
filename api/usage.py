"""What people asked and how it went, from the answer log: the quality view of real usage.

Questions per day by coverage, the most frequent questions the knowledge base could not
answer, or only in part (the gaps to fill), the answers rated 👎 with the reason given and
the trace that explains them, and the roles asked about most.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field, ValidationError

from api.feedback import AnswerLog, AnswerRow
from assistant.models import Answer, AnswerCoverage, RetrievedTrace

log = logging.getLogger(__name__)

GAPS_SHOWN = 15
DOWNVOTES_SHOWN = 50
ROLES_SHOWN = 10
RETRIEVED_SHOWN = 5
_TRAILING = re.compile(r"[\s?!.]+$")


class DayCount(BaseModel):
    """The questions of one day (UTC), by coverage."""

    day: date
    answered: int = 0
    partial: int = 0
    not_found: int = 0

    @property
    def total(self) -> int:
        """All questions of the day."""
        return self.answered + self.partial + self.not_found


class Gap(BaseModel):
    """A question the knowledge base did not (fully) answer, and how often it was asked."""

    question: str = Field(description="Its latest wording (the standalone question)")
    coverage: AnswerCoverage
    count: int
    last_asked: datetime
    roles: list[str] = Field(default_factory=list)


class Downvote(BaseModel):
    """An answer rated 👎, with what the voter said and what explains the answer."""

    answer_id: str
    question: str
    comment: str | None = None
    voted_at: datetime
    source: str
    coverage: AnswerCoverage
    answerer: str
    roles: list[str] = Field(default_factory=list)
    answer: str
    retrieved: list[RetrievedTrace] = Field(default_factory=list)
    dropped_reasons: list[str] = Field(default_factory=list)
    fallback: str | None = None
    notes: list[str] = Field(default_factory=list)


class RoleCount(BaseModel):
    """How many questions were about one role."""

    role: str
    count: int


class UsageReport(BaseModel):
    """Usage of the assistant over a period (`since` to `until`, UTC days)."""

    since: date | None
    until: date
    generated_at: datetime
    questions: int
    coverage: dict[str, int]
    sources: dict[str, int]
    votes: dict[str, int]
    per_day: list[DayCount]
    not_found: list[Gap]
    partial: list[Gap]
    downvotes: list[Downvote]
    top_roles: list[RoleCount]


def gap_key(question: str) -> str:
    """What makes two wordings the same question: case, spacing, final punctuation aside."""
    return _TRAILING.sub("", " ".join(question.lower().split()))


def build_report(
    log: AnswerLog, since: date | None = None, *, today: date | None = None
) -> UsageReport:
    """Read the answer log and aggregate it (votes cast or changed since `since` count)."""
    rated = list(log.export(since=since))
    return aggregate(log.answers_since(since), rated, since=since, today=today)


def aggregate(
    answers: list[AnswerRow],
    rated: list[dict[str, object]],
    *,
    since: date | None = None,
    today: date | None = None,
) -> UsageReport:
    """The report of these answers and these rated answers (as `AnswerLog.export` gives them)."""
    now = datetime.now(UTC)
    until = today or now.date()
    coverage = Counter({c.value: 0 for c in AnswerCoverage})
    coverage.update(row.coverage for row in answers)
    roles = Counter(role for row in answers for role in row.roles)
    return UsageReport(
        since=since,
        until=until,
        generated_at=now,
        questions=len(answers),
        coverage=dict(coverage),
        sources=dict(Counter(row.source for row in answers)),
        votes=_votes(rated, since),
        per_day=_per_day(answers, until),
        not_found=_gaps(answers, AnswerCoverage.NOT_FOUND),
        partial=_gaps(answers, AnswerCoverage.PARTIAL),
        downvotes=_downvotes(rated, since),
        top_roles=[RoleCount(role=r, count=n) for r, n in roles.most_common(ROLES_SHOWN)],
    )


def _per_day(answers: list[AnswerRow], until: date) -> list[DayCount]:
    """Every day from the first question to `until`, the quiet ones too (at zero).

    From the first question, not from `since`: days before it carry nothing, and a `since`
    far in the past must not make a list of every day since.
    """
    if not answers:
        return []
    asked = [row.created_at.astimezone(UTC).date() for row in answers]
    first, last = min(asked), max([until, *asked])
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    counts = {day: DayCount(day=day) for day in days}
    for row, day in zip(answers, asked, strict=True):
        setattr(counts[day], row.coverage, getattr(counts[day], row.coverage) + 1)
    return list(counts.values())


def _gaps(answers: list[AnswerRow], coverage: AnswerCoverage) -> list[Gap]:
    """The questions of this coverage, most asked first (then the most recently asked)."""
    gaps: dict[str, Gap] = {}
    for row in answers:
        if row.coverage != coverage.value:
            continue
        key = gap_key(row.standalone_question)
        gap = gaps.get(key)
        if gap is None:
            gaps[key] = Gap(
                question=row.standalone_question,
                coverage=coverage,
                count=1,
                last_asked=row.created_at,
                roles=row.roles,
            )
            continue
        gap.count += 1
        if row.created_at >= gap.last_asked:  # rows come oldest first: the latest wording
            gap.question, gap.last_asked = row.standalone_question, row.created_at
        gap.roles = list(dict.fromkeys([*gap.roles, *row.roles]))
    ranked = sorted(gaps.values(), key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return ranked[:GAPS_SHOWN]


def _in_period(vote: dict[str, object], since: date | None) -> bool:
    changed = datetime.fromisoformat(str(vote["updated_at"]))
    return since is None or changed.astimezone(UTC).date() >= since


def _votes(rated: list[dict[str, object]], since: date | None) -> dict[str, int]:
    counts = Counter({"up": 0, "down": 0})
    for entry in rated:
        votes = entry["votes"]
        assert isinstance(votes, list)
        counts.update(str(v["rating"]) for v in votes if _in_period(v, since))
    return dict(counts)


def _downvotes(rated: list[dict[str, object]], since: date | None) -> list[Downvote]:
    found = []
    for entry in rated:
        try:
            answer = Answer.model_validate(entry["answer"])
        except ValidationError:
            log.warning("answer %s on record no longer matches the Answer model", entry["id"])
            continue
        votes = entry["votes"]
        assert isinstance(votes, list)
        for vote in votes:
            if vote["rating"] != "down" or not _in_period(vote, since):
                continue
            trace = answer.trace
            found.append(
                Downvote(
                    answer_id=answer.id,
                    question=str(entry["question"]),
                    comment=vote.get("comment"),
                    voted_at=datetime.fromisoformat(str(vote["updated_at"])),
                    source=str(vote["source"]),
                    coverage=answer.coverage,
                    answerer=trace.answerer,
                    roles=answer.roles,
                    answer=answer.answer,
                    retrieved=trace.retrieved[:RETRIEVED_SHOWN],
                    dropped_reasons=trace.dropped_reasons,
                    fallback=trace.fallback,
                    notes=trace.notes,
                )
            )
    found.sort(key=lambda d: d.voted_at, reverse=True)
    return found[:DOWNVOTES_SHOWN]
