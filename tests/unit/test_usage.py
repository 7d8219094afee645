"""The usage report over hand-built rows of the answer log: counts, gaps, 👎, roles, HTML."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from api.feedback import AnswerLog
from api.usage import UsageReport, build_report, gap_key
from api.usage_page import render_fragment, render_page
from assistant.models import Answer, AnswerCoverage, RetrievedTrace, Trace

TODAY = date(2025, 3, 10)


def at(day: int, hour: int = 12) -> str:
    return datetime(2025, 3, day, hour, tzinfo=UTC).isoformat()


class Rows:
    """Writes answers and votes straight into the log's tables, as served on past days."""

    def __init__(self, path: Path) -> None:
        AnswerLog(path).close()  # the schema
        self.db = sqlite3.connect(path, isolation_level=None)
        self.count = 0

    def answer(
        self,
        question: str,
        coverage: str,
        day: int,
        roles: list[str] | None = None,
        *,
        standalone: str | None = None,
        source: str = "api",
        **trace: object,
    ) -> str:
        self.count += 1
        answer_id = f"a-{self.count}"
        answer = Answer(
            id=answer_id,
            answer=f"The answer to {question} [1]",
            coverage=AnswerCoverage(coverage),
            roles=roles or [],
            trace=Trace.model_validate(
                {"question": question, "standalone_question": standalone or question, **trace}
            ),
        )
        self.db.execute(
            "INSERT INTO answers (id, created_at, source, question, standalone_question,"
            " coverage, roles, answerer, generation, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (
                answer_id,
                at(day),
                source,
                question,
                standalone or question,
                coverage,
                json.dumps(roles or []),
                answer.trace.answerer,
                answer.model_dump_json(),
            ),
        )
        return answer_id

    def vote(self, answer_id: str, rating: str, day: int, comment: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO feedback (answer_id, rating, comment, source, user, voter, created_at,"
            " updated_at) VALUES (?, ?, ?, 'api', NULL, ?, ?, ?)",
            (answer_id, rating, comment, f"v-{answer_id}-{rating}", at(day), at(day, 13)),
        )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "feedback.sqlite3"


@pytest.fixture
def rows(path: Path) -> Iterator[Rows]:
    built = Rows(path)
    yield built
    built.db.close()


def report(path: Path, since: date | None = None) -> UsageReport:
    log = AnswerLog(path)
    try:
        return build_report(log, since, today=TODAY)
    finally:
        log.close()


VP, SRE, DEVOPS = "VP of Data and AI", "Director of SRE", "Head of DevOps"


@pytest.fixture
def usage(rows: Rows) -> Rows:
    rows.answer("What KPIs does the VP of Data and AI own?", "answered", 3, [VP])
    rows.answer("Tools of a VP of Data and AI?", "answered", 3, [VP])
    rows.answer("What does a pastry chef earn?", "not_found", 4)
    rows.answer("what does a pastry chef earn", "not_found", 6)
    rows.answer("What does a Pastry Chef earn?!", "not_found", 8)
    rows.answer("Visa sponsorship for a VP?", "not_found", 8, [VP])
    rows.answer("KPIs of a Director of SRE?", "partial", 6, [SRE])
    rows.answer("and their KPIs?", "partial", 9, [DEVOPS], standalone="KPIs of a Head of DevOps?")
    disliked = rows.answer(
        "Career path of a Director of SRE?",
        "answered",
        9,
        [SRE],
        source="slack",
        answerer="llm:openai:gpt-4o-mini",
        fallback="uncited",
        dropped_reasons=["quote"],
        retrieved=[
            RetrievedTrace(chunk_id="c-1", role=SRE, section="Career Path", score=0.81),
        ],
        notes=["extractive fallback: its answer cited no passage given"],
    )
    rows.vote(disliked, "down", 9, "It gave the <b>VP</b> path")
    rows.vote("a-1", "up", 3)
    rows.vote("a-2", "down", 4)
    return rows


def test_questions_are_counted_per_day_by_coverage_with_quiet_days_at_zero(
    usage: Rows, path: Path
) -> None:
    found = report(path)
    assert found.questions == 9
    assert found.coverage == {"answered": 3, "partial": 2, "not_found": 4}
    assert found.sources == {"api": 8, "slack": 1}
    days = {d.day.day: (d.answered, d.partial, d.not_found) for d in found.per_day}
    assert days == {
        3: (2, 0, 0),
        4: (0, 0, 1),
        5: (0, 0, 0),
        6: (0, 1, 1),
        7: (0, 0, 0),
        8: (0, 0, 2),
        9: (1, 1, 0),
        10: (0, 0, 0),  # up to today
    }


def test_gaps_group_wordings_of_one_question_most_asked_first(usage: Rows, path: Path) -> None:
    found = report(path)
    [chef, visa] = found.not_found
    assert (chef.count, chef.question) == (3, "What does a Pastry Chef earn?!")  # the latest
    assert chef.last_asked == datetime(2025, 3, 8, 12, tzinfo=UTC)
    assert (visa.count, visa.roles) == (1, [VP])
    # A follow-up is listed as the question it was understood to be.
    assert [g.question for g in found.partial] == [
        "KPIs of a Head of DevOps?",
        "KPIs of a Director of SRE?",
    ]
    assert gap_key("  What  does a pastry chef EARN ?! ") == gap_key("what does a pastry chef earn")


def test_thumbs_down_answers_come_with_their_reason_and_trace_newest_first(
    usage: Rows, path: Path
) -> None:
    found = report(path)
    assert found.votes == {"up": 1, "down": 2}
    first, second = found.downvotes
    assert (first.question, first.comment, first.source) == (
        "Career path of a Director of SRE?",
        "It gave the <b>VP</b> path",
        "api",
    )
    assert (first.answerer, first.fallback, first.dropped_reasons) == (
        "llm:openai:gpt-4o-mini",
        "uncited",
        ["quote"],
    )
    assert [r.chunk_id for r in first.retrieved] == ["c-1"]
    assert first.answer == "The answer to Career path of a Director of SRE? [1]"
    assert (second.answer_id, second.comment) == ("a-2", None)


def test_top_roles_count_each_question_about_a_role(usage: Rows, path: Path) -> None:
    assert [(r.role, r.count) for r in report(path).top_roles] == [(VP, 3), (SRE, 2), (DEVOPS, 1)]


def test_since_keeps_later_questions_and_votes_only(usage: Rows, path: Path) -> None:
    found = report(path, since=date(2025, 3, 8))
    assert found.questions == 4
    assert [d.day.day for d in found.per_day] == [8, 9, 10]
    assert found.votes == {"up": 0, "down": 1}
    assert [v.answer_id for v in found.downvotes] == ["a-9"]
    # A day long before the first question does not make a list of every day since.
    assert report(path, since=date(1, 1, 1)).per_day[0].day == date(2025, 3, 3)


def test_an_empty_log_makes_an_empty_report(rows: Rows, path: Path) -> None:
    found = report(path)
    assert (found.questions, found.per_day, found.not_found, found.downvotes) == (0, [], [], [])
    html = render_page(found)
    assert "No questions yet." in html
    assert "No answer was rated 👎" in html


class _Svg(HTMLParser):
    """The bars of each chart: (chart title, rect classes, rect height)."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple[str, float]]] = {}
        self._chart: str | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        if tag == "svg":
            self._chart = values["aria-labelledby"]
        elif tag == "rect" and self._chart:
            self.charts.setdefault(self._chart, []).append(
                (values["class"] or "", float(values["height"] or 0))
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


def test_the_page_draws_the_days_and_the_gaps_and_escapes_what_people_wrote(
    usage: Rows, path: Path
) -> None:
    html = render_page(report(path))
    parser = _Svg()
    parser.feed(html)
    bars = parser.charts["per-day-title"]
    # A rect for each coverage a day has: 1 + 1 + 2 + 1 + 2 (quiet days have none).
    assert len(bars) == 7
    day_3 = next(h for cls, h in bars if cls == "bar answered")
    one_not_found = next(h for cls, h in bars if cls == "bar not_found")
    assert day_3 == pytest.approx(2 * one_not_found)  # heights are to scale
    assert {cls for cls, _ in parser.charts["mix-title"]} == {
        "bar answered",
        "bar partial",
        "bar not_found",
    }
    assert len(parser.charts["roles-title"]) == 3
    assert "What does a Pastry Chef earn?!" in html
    assert "It gave the &lt;b&gt;VP&lt;/b&gt; path" in html
    assert "<b>VP</b>" not in html
    assert "script" not in parser.tags  # nothing to run: it opens from disk, and under a CSP
    assert not re.search(r"\sstyle=", render_fragment(report(path)))  # the CSP of /admin
    assert "https://" not in html
