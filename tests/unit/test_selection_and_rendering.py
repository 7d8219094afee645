import pytest

from assistant.extractive import render_item
from assistant.models import Chunk, RoleCoverage, RoleInfo
from assistant.selection import (
    Item,
    ItemIndex,
    TermWeights,
    best_by,
    chunk_items,
    keys,
    question_keys,
)


def chunk(
    text: str,
    kind: str = "text",
    section: str = "7) KPIs and Productivity Metrics",
    subsection: str = "",
) -> Chunk:
    return Chunk(
        id=f"c{abs(hash(text))}",
        text=text,
        role="VP of Testing",
        role_id="vp-of-testing",
        doc_id="d",
        doc_hash="h",
        coverage=RoleCoverage.FULL,
        section=section,
        section_key="kpis",
        section_number=7,
        subsection=subsection,
        kind=kind,
        source="s",
        content_hash="h",  # type: ignore[arg-type]
    )


ROW = "Metric name: MTTR | What it measures: Mean time to restore | Example target / benchmark: < 2 hours | Frequency: Monthly"


def test_rows_lead_with_target_and_frequency() -> None:
    item = Item(chunk(f"VP > 7) KPIs\n- {ROW}", kind="table"), ROW, "row")
    assert (
        render_item(item)
        == "**MTTR**: target < 2 hours; frequency Monthly (what it measures: Mean time to restore)"
    )


def test_rows_without_targets_keep_their_columns() -> None:
    quote = "Category: Orchestration | Tool: Airflow, Dagster"
    assert (
        render_item(Item(chunk(quote, kind="table"), quote, "row"))
        == "**Orchestration**: tool: Airflow, Dagster"
    )


def test_chunk_items_skip_the_heading_line_and_split_sentences() -> None:
    items = chunk_items(chunk("VP > 1) Role Summary\nFirst sentence. Second one.\n- A bullet"))
    assert [(i.quote, i.kind) for i in items] == [
        ("First sentence.", "sentence"),
        ("Second one.", "sentence"),
        ("A bullet", "bullet"),
    ]


def test_keys_share_a_prefix_across_word_forms() -> None:
    assert keys("promoted") == keys("promotion") == {"promot"}
    assert keys("a b of") == set()


def test_question_keys_drop_role_names_and_section_words() -> None:
    role = RoleInfo(
        role="VP of Data and AI", id="vp", coverage=RoleCoverage.FULL, sections=[], source="s"
    )
    heading, content = question_keys("What MTTR target does the VP of Data and AI track?", [role])
    assert content == {"mttr"}
    assert {"target", "mttr"} <= heading


def test_rare_words_weigh_more_hand_computed() -> None:
    weights = TermWeights(["mttr target", "target", "target"])
    # idf = ln(1 + (N - f + 0.5) / (f + 0.5)) with N = 3
    assert weights.weight("mttr") == pytest.approx(0.9808, abs=1e-3)  # ln(1 + 2.5 / 1.5)
    assert weights.weight("target") == pytest.approx(0.1335, abs=1e-3)  # ln(1 + 0.5/3.5)
    assert weights.known("mttr") and not weights.known("zebra")


def test_item_index_scores_a_chunk_by_its_best_item() -> None:
    rows = chunk(f"VP > 7) KPIs\n- {ROW}\n- Metric name: Uptime | Frequency: Weekly", kind="table")
    index = ItemIndex([rows, chunk("VP > 1) Summary\nLeads testing.")])
    assert index.best_item_score(rows, {"mttr"}) == pytest.approx(index.weights.weight("mttr"))
    assert index.best_item_score(rows, {"zebra"}) == 0.0


def test_best_by_keeps_names_near_the_top_score() -> None:
    assert best_by({"a": 4, "b": 2, "c": 1}) == {"a", "b"}
    assert best_by({"a": 0, "b": 0}) == {"a", "b"}
