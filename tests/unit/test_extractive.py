"""Composition of extractive answers: tables stay tables, bullets keep their children."""

from __future__ import annotations

from assistant.answering import AnswerContext, Finding
from assistant.citations import validate_citations
from assistant.extractive import ExtractiveAnswerer, Row, covered_sections, table_columns
from assistant.items import chunk_items
from assistant.models import Chunk, RoleCoverage, RoleInfo
from assistant.planning import Plan
from tests.support.chunks import chunk

ROLE = RoleInfo(
    role="Head of Testing",
    id="head-of-testing",
    coverage=RoleCoverage.FULL,
    sections=[],
    source="t",
)
KPI_ROWS = [
    "- Metric name: Escaped defects | What it measures: Bugs found by customers | Why it matters: Trust | Example target / benchmark: < 2 per release | Frequency: Weekly",
    "- Metric name: Flaky test rate | What it measures: Retries that pass | Why it matters: Signal | Example target / benchmark: < 1% | Frequency: Weekly",
]


def answer(
    question: str, items_chunk: Chunk, *, part: bool = True, words: frozenset[str] = frozenset()
) -> str:
    context = AnswerContext(
        question,
        Plan(question, words=words),
        [Finding(ROLE, chunk_items(items_chunk), whole_part=part)],
    )
    draft = ExtractiveAnswerer().answer(context)
    assert draft.passages is not None
    validated = validate_citations(draft, draft.passages)
    assert not validated.dropped, validated.dropped
    return validated.text


def test_kpi_rows_are_a_table_of_metric_target_and_frequency_each_row_cited() -> None:
    text = answer("What KPIs?", chunk(KPI_ROWS, kind="table"))
    assert "| Metric name | Example target / benchmark | Frequency |" in text
    assert "| Escaped defects | < 2 per release | Weekly [1] |" in text
    assert "| Flaky test rate | < 1% | Weekly [2] |" in text
    assert "What it measures" not in text


def test_a_column_the_question_names_is_shown() -> None:
    text = answer(
        "What does each KPI measure?", chunk(KPI_ROWS, kind="table"), words=frozenset({"measur"})
    )
    assert "| Metric name | What it measures | Example target / benchmark | Frequency |" in text


def test_a_single_row_shows_every_column() -> None:
    text = answer("The escaped defects target?", chunk(KPI_ROWS[:1], kind="table"), part=False)
    assert (
        "| Metric name | What it measures | Why it matters | Example target / benchmark | Frequency |"
        in text
    )


def test_a_bullet_keeps_its_sub_bullets_under_it_with_one_citation() -> None:
    lines = [
        "- Review dashboards for:",
        "  - Failure rates",
        "  - Flaky suites",
        "- Triage escalations",
    ]
    text = answer(
        "Daily?",
        chunk(
            lines,
            section="4) Day-to-Day Activities",
            key="day_to_day",
            subsection="Daily activities",
        ),
    )
    assert (
        "- Review dashboards for: [1]\n  - Failure rates\n  - Flaky suites\n- Triage escalations [2]"
        in text
    )


def test_the_source_line_names_the_section_and_its_one_subsection() -> None:
    text = answer(
        "Daily?",
        chunk(
            ["- Triage"],
            section="4) Day-to-Day Activities",
            key="day_to_day",
            subsection="Daily activities",
        ),
    )
    assert text.startswith(
        "From the **Head of Testing** blueprint (*4) Day-to-Day Activities*, *Daily activities*):"
    )


def test_rows_read_back_their_cells() -> None:
    (item,) = chunk_items(chunk(KPI_ROWS[:1], kind="table"))
    assert Row.of(item).cells["Frequency"] == "Weekly"


def test_a_table_of_a_section_without_usual_columns_shows_them_all() -> None:
    (item,) = chunk_items(
        chunk(
            ["- Dimension: Delivery | Excellent: Ships weekly"],
            kind="table",
            section="19) Hiring Evaluation Criteria",
            key="hiring",
        )
    )
    assert table_columns([Row.of(item), Row.of(item)], "hiring", frozenset(), single=False) == [
        "Dimension",
        "Excellent",
    ]


def test_covered_sections_drops_the_numbers() -> None:
    assert covered_sections(
        ["1) Role Summary", "7) KPIs and Productivity Metrics", "Scorecard"]
    ) == ("Role Summary · KPIs and Productivity Metrics · Scorecard")
