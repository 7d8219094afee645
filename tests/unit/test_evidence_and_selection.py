"""Items, their evidence, and how much of a blueprint selection answers with.

A small blueprint is written out as chunks and paired with hand-made item vectors, so each test
asserts an exact selection without the embedding model.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.corpus import DocumentIndex
from assistant.evidence import read_in, score_items, subsection_scores, unsupported_terms
from assistant.items import chunk_items, embedding_text
from assistant.manifest import DocumentRecord
from assistant.models import RoleCoverage, RoleInfo
from assistant.planning import Planner
from assistant.roles import RoleResolver
from assistant.selection import Thresholds, select
from tests.support.chunks import ROLE, chunk

LIMITS = Thresholds(
    topic_share=0.5,
    part_share=0.25,
    topic_floor=0.3,
    topic_dense=0.0,
    runner_up=0.75,
    max_items=5,
    dense_answer=0.45,
    dense_incidental=0.5,
)

# (section heading, section key, subsection, kind, body lines)
LAYOUT = [
    ("1) Role Summary", "summary", "", "text", ["The Head of Testing owns quality. It is new."]),
    (
        "2) Role Mission",
        "mission",
        "",
        "text",
        [
            "Escaped defects stay rare. Teams find problems before customers do. Releases ship "
            "on time. Quality is measured, not guessed."
        ],
    ),
    (
        "4) Day-to-Day Activities",
        "day_to_day",
        "Daily activities",
        "text",
        ["- Review flaky test dashboards:", "  - Failure rates by suite", "- Triage escalations"],
    ),
    (
        "4) Day-to-Day Activities",
        "day_to_day",
        "Weekly activities",
        "text",
        ["- Quality review with product leads", "- Coach test leads in 1:1s"],
    ),
    (
        "6) Goals, Objectives, and Milestones",
        "goals",
        "30-day goals",
        "text",
        ["- Audit the current test estate", "- Meet every team lead"],
    ),
    (
        "6) Goals, Objectives, and Milestones",
        "goals",
        "6-month milestones",
        "text",
        ["- Halve the flaky test rate"],
    ),
    (
        "6) Goals, Objectives, and Milestones",
        "goals",
        "At twelve months",
        "text",
        ["- Cut escaped defects by half", "- Every suite under ten minutes"],
    ),
    (
        "7) KPIs and Productivity Metrics",
        "kpis",
        "",
        "table",
        [
            "- Metric name: Escaped defects | Example target / benchmark: < 2 per release | Reviewed: Weekly",
            "- Metric name: Flaky test rate | Example target / benchmark: < 1% | Reviewed: Weekly",
            "- Metric name: Suite duration | Example target / benchmark: < 15 min | Reviewed: Monthly",
            "- Metric name: Test failure rate | Example target / benchmark: < 3% | Reviewed: Daily",
        ],
    ),
    (
        "12) Stakeholders and Collaboration Map",
        "stakeholders",
        "Internal stakeholders",
        "text",
        [
            "- VP Engineering (Reports To):",
            "  - Sets the quality bar",
            "- Product managers:",
            "  - Agree release criteria",
            "- Support leads",
        ],
    ),
]


def build_index(vectors: dict[str, list[float]] | None = None) -> DocumentIndex:
    """The layout as a document index; `vectors` maps an item's text to its vector."""
    chunks = [
        chunk(
            lines,
            kind=kind,
            section=section,
            key=key,
            subsection=subsection,
            position=n,
            chunk_id=f"c{n}",
        )
        for n, (section, key, subsection, kind, lines) in enumerate(LAYOUT)
    ]
    record = DocumentRecord(doc_id="d", doc_hash="h", generation=1, role=ROLE)
    stored = {}
    for part in chunks:
        rows = [(vectors or {}).get(i.text, [0.0, 0.0, 1.0]) for i in chunk_items(part)]
        stored[part.id] = np.asarray(rows, dtype=np.float32)
    return DocumentIndex.build(record, chunks, stored)


@pytest.fixture(scope="module")
def planner() -> Planner:
    catalogue = [
        RoleInfo(
            role=ROLE, id="head-of-testing", coverage=RoleCoverage.FULL, sections=[], source="t"
        )
    ]
    return Planner(catalogue, RoleResolver(catalogue))


def choose(
    planner: Planner, question: str, query: list[float] | None = None, **vectors: list[float]
):
    index = build_index({k.replace("_", " "): v for k, v in vectors.items()})
    plan = read_in(index, planner.plan(question))
    return select(index, plan, score_items(index, plan, query or [1.0, 0.0, 0.0]), LIMITS)


def texts(selection) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.text for item in selection.items]


# -- items -----------------------------------------------------------------------------------


def test_a_bullet_keeps_its_sub_bullets_and_its_quote_is_verbatim() -> None:
    index = build_index()
    (review, triage) = [i for i in index.items if i.chunk.subsection == "Daily activities"]
    assert review.children == ("Failure rates by suite",) and triage.children == ()
    assert review.quote in review.chunk.text
    assert review.quote == "Review flaky test dashboards:\n  - Failure rates by suite"


def test_prose_is_cut_into_sentences_and_rows_are_rows() -> None:
    index = build_index()
    summary = [i for i in index.items if i.chunk.section_key == "summary"]
    assert [i.kind for i in summary] == ["sentence", "sentence"]
    assert {i.kind for i in index.items if i.chunk.section_key == "kpis"} == {"row"}


def test_an_item_is_embedded_under_its_heading_path() -> None:
    item = next(i for i in build_index().items if i.text.startswith("Audit"))
    assert embedding_text(item) == (
        "Goals, Objectives, and Milestones > 30-day goals: Audit the current test estate"
    )


# -- how much is answered ---------------------------------------------------------------------


def test_a_section_question_gets_the_whole_table(planner: Planner) -> None:
    selection = choose(planner, "What KPIs does the Head of Testing own?")
    assert selection.kind == "part" and len(selection.items) == 4


def test_a_named_metric_gets_its_row_only(planner: Planner) -> None:
    selection = choose(planner, "What is the flaky test rate target of the Head of Testing?")
    assert selection.kind == "items" and texts(selection) == [
        "Metric name: Flaky test rate | Example target / benchmark: < 1% | Reviewed: Weekly"
    ]


def test_a_word_naming_a_column_asks_for_that_column_not_a_topic(planner: Planner) -> None:
    # "reviewed" is the KPI table's column, not the weekly quality review.
    selection = choose(planner, "How often is the Head of Testing's flaky test rate reviewed?")
    assert selection.kind == "items" and [i.head for i in selection.items] == ["Flaky test rate"]


def test_a_named_item_is_the_topic_even_when_its_words_cue_another_section(
    planner: Planner,
) -> None:
    # "failure" cues the risks, which this blueprint lacks: the KPI's name answers.
    selection = choose(planner, "What test failure rate should the Head of Testing aim for?")
    assert [i.head for i in selection.items] == ["Test failure rate"]


def test_number_words_and_a_lead_word_read_as_the_time_phrase(planner: Planner) -> None:
    selection = choose(planner, "What should the Head of Testing achieve in the first 12 months?")
    assert selection.kind == "part"
    assert texts(selection) == ["Cut escaped defects by half", "Every suite under ten minutes"]


def test_a_topic_of_the_role_title_words_alone_asks_for_the_part(planner: Planner) -> None:
    # "testing" is what the whole Head of Testing blueprint is about.
    question = "Where should testing be after the Head of Testing's first twelve months?"
    selection = choose(planner, question)
    assert texts(selection) == ["Cut escaped defects by half", "Every suite under ten minutes"]


def test_a_scope_hint_gets_its_subsection(planner: Planner) -> None:
    selection = choose(planner, "What should the Head of Testing do in the first month?")
    assert selection.kind == "part"
    assert texts(selection) == ["Audit the current test estate", "Meet every team lead"]


def test_each_week_gets_the_weekly_activities_not_weekly_kpis(planner: Planner) -> None:
    selection = choose(planner, "What does the Head of Testing do each week?")
    assert {i.chunk.subsection for i in selection.items} == {"Weekly activities"}


def test_a_typical_week_gets_the_whole_day_to_day(planner: Planner) -> None:
    selection = choose(planner, "What does a typical week look like for the Head of Testing?")
    assert {i.chunk.subsection for i in selection.items} == {
        "Daily activities",
        "Weekly activities",
    }


def test_parts_set_against_each_other_are_both_the_answer(planner: Planner) -> None:
    question = "How do the Head of Testing's 30-day goals compare with the 6-month milestones?"
    selection = choose(planner, question)
    assert {i.chunk.subsection for i in selection.items} == {"30-day goals", "6-month milestones"}


def test_words_of_the_role_title_beside_a_topic_are_no_topic(planner: Planner) -> None:
    # "testing" names the role; "suite" is the topic, found in the twelve-month goals.
    question = "Where should testing suites be twelve months after the Head of Testing starts?"
    selection = choose(planner, question)
    assert texts(selection) == ["Every suite under ten minutes"]


def test_a_measure_the_blueprint_never_names_is_declined(planner: Planner) -> None:
    # "release velocity" is no KPI of this blueprint, though "release" is in its text.
    selection = choose(planner, "What is the release velocity target of the Head of Testing?")
    assert selection.kind == "abstain" and selection.missing == ["velocity"]


def test_a_topic_outside_the_named_subsection_is_looked_for_in_its_section(
    planner: Planner,
) -> None:
    # "the first month" names the 30-day goals, whose items are closest in meaning; "suite"
    # is only in the twelve-month ones (and a KPI), so the goal that holds it answers.
    question = "Which suite goal should the Head of Testing reach in the first month?"
    close = [1.0, 0.0, 0.0]
    selection = choose(
        planner,
        question,
        close,
        Audit_the_current_test_estate=close,
        Meet_every_team_lead=close,
    )
    assert texts(selection) == ["Every suite under ten minutes"]


def test_a_cue_that_is_a_question_asks_for_the_whole_part(planner: Planner) -> None:
    # "what problem" asks for the mission, not for the sentence that says "problems".
    selection = choose(planner, "What problem does the Head of Testing solve?")
    assert texts(selection) == [
        "Escaped defects stay rare.",
        "Teams find problems before customers do.",
        "Releases ship on time.",
        "Quality is measured, not guessed.",
    ]


def test_a_cue_word_a_few_items_spell_out_picks_them(planner: Planner) -> None:
    selection = choose(planner, "Who does the Head of Testing report to?")
    assert selection.kind == "items" and texts(selection) == ["VP Engineering (Reports To):"]
    assert selection.items[0].children == ("Sets the quality bar",)


def test_a_sub_bullet_match_answers_with_its_parent(planner: Planner) -> None:
    selection = choose(planner, "Who agrees release criteria with the Head of Testing?")
    assert texts(selection) == ["Product managers:"]


def test_the_topic_outside_the_named_section_is_taken_only_when_as_close(planner: Planner) -> None:
    question = "Which Head of Testing goal is about flaky tests?"
    near = choose(planner, question, Halve_the_flaky_test_rate=[1.0, 0.0, 0.0])
    assert texts(near) == ["Halve the flaky test rate"]


# -- declining ----------------------------------------------------------------------------------


def test_a_topic_the_blueprint_never_mentions_is_declined_naming_it(planner: Planner) -> None:
    selection = choose(planner, "What is the salary of the Head of Testing?", query=[0.0, 1.0, 0.0])
    assert selection.kind == "abstain" and selection.missing == ["salary"]


def test_an_unknown_word_close_in_meaning_to_the_section_is_incidental(planner: Planner) -> None:
    vectors = {"Halve the flaky test rate": [1.0, 0.0, 0.0]}
    index = build_index(vectors)
    plan = planner.plan("Which Head of Testing milestones matter most nowadays?")
    assert "nowaday" in plan.terms
    selection = select(index, plan, score_items(index, plan, [1.0, 0.0, 0.0]), LIMITS)
    assert selection.kind == "part" and selection.items[0].chunk.section_key == "goals"


def test_a_paraphrase_with_no_shared_word_needs_a_close_item(planner: Planner) -> None:
    question = "What worries the Head of Testing at night?"
    far = choose(planner, question, query=[0.0, 1.0, 0.0])
    assert far.kind == "abstain"


def test_unsupported_terms_forgive_a_typo_in_a_long_word() -> None:
    words = frozenset({"escalat", "dashboard"})
    plan = Planner([], RoleResolver([])).plan("triage of escalatons and dashbords")
    assert unsupported_terms(plan, words) == {"triag": "triage"}


def test_subsections_are_scored_by_words_they_do_not_all_share(planner: Planner) -> None:
    index = build_index()
    plan = planner.plan("What are the Head of Testing 6-month milestones?")
    scores = subsection_scores(index, plan, {"goals"})
    assert scores["6-month milestones"] > scores["30-day goals"]
