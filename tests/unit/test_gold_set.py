"""The gold set stays true to the corpus, keeps its breadth, and keeps its held-out split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.check_gold import check_gold, default_corpus, sizes
from evals.corpus import CorpusText
from evals.gold import DEFAULT_GOLD_PATH, GoldError, GoldQuestion, load_gold
from evals.matching import SECTION_KEYS

VP = "VP of Data and AI"
FLEET = "Head of Robotics Fleet Operations"
QUALITY = "Director of Quality Engineering"
PAYMENTS = "Head of Payments Risk"
SUPPORT = "VP of Customer Support Operations"
DEVEX = "Director of Developer Experience"
CLINICAL = "Head of Clinical Data Management"


@pytest.fixture(scope="module")
def corpus() -> CorpusText:
    return default_corpus()


@pytest.fixture(scope="module")
def questions() -> list[GoldQuestion]:
    return load_gold(DEFAULT_GOLD_PATH)


def question(**fields: object) -> GoldQuestion:
    values: dict[str, object] = {
        "id": "x",
        "question": "?",
        "expected_coverage": "answered",
        "tags": ["t"],
    }
    values.update(fields)
    return GoldQuestion.model_validate(values)


def test_every_fact_item_role_section_and_count_of_the_gold_set_is_in_the_corpus(
    questions: list[GoldQuestion], corpus: CorpusText
) -> None:
    assert check_gold(questions, corpus) == []


def test_check_catches_a_fact_outside_its_expected_section(corpus: CorpusText) -> None:
    wrong = question(
        expected_roles=[VP],
        expected_sections=["tools"],
        facts=[["Semiannual"], ["no such phrase"]],
    )
    assert check_gold([wrong], corpus) == [
        "x: fact 'Semiannual' is not in the expected text",
        "x: fact 'no such phrase' is not in the expected text",
    ]


def test_check_catches_unknown_roles_and_not_found_with_facts(corpus: CorpusText) -> None:
    wrong = question(expected_roles=["Chief Happiness Officer"], expected_coverage="not_found")
    assert check_gold([wrong], corpus) == [
        "x: expected roles not in the corpus: ['Chief Happiness Officer']",
        "x: a not_found question expects no roles and no facts",
    ]


def test_check_catches_items_and_subsections_outside_the_expected_passages(
    corpus: CorpusText,
) -> None:
    wrong = question(
        expected_roles=[VP],
        expected_sections=["kpis"],
        expected_subsections=["Daily activities"],
        expected_items=["Great Expectations"],
    )
    assert check_gold([wrong], corpus) == [
        "x: subsection 'Daily activities' is not under the expected sections",
        "x: item 'Great Expectations' is in no item of the expected (sub)sections",
    ]


def test_check_catches_an_item_spanning_two_table_cells(corpus: CorpusText) -> None:
    # A cited row reads `Metric name: AI unit cost | What it measures: …`: no item spans cells.
    wrong = question(
        expected_roles=[VP], expected_sections=["kpis"], expected_items=["AI unit cost Cost per AI"]
    )
    assert check_gold([wrong], corpus) == [
        "x: item 'AI unit cost Cost per AI' is in no item of the expected (sub)sections"
    ]


def test_check_catches_counts_the_passages_cannot_fill_or_items_that_are_not_distinctive(
    corpus: CorpusText,
) -> None:
    too_many = question(
        expected_roles=[VP],
        expected_sections=["goals"],
        expected_subsections=["90-day goals (operating model in motion)"],
        expected_count=9,
    )
    vague = question(
        id="y",
        expected_roles=[VP],
        expected_sections=["tools"],
        expected_items=["Common"],
        expected_count=2,
    )
    assert check_gold([too_many, vague], corpus) == [
        "x: expected_count 9 is more than the 8 citable items of the expected passages",
        "y: expected_items match 22 citable items, more than expected_count 2: make them more "
        "distinctive, or raise the count",
    ]


def test_check_wants_printed_headings_for_blueprints_outside_the_template(
    corpus: CorpusText,
) -> None:
    by_key = question(expected_roles=[FLEET], expected_sections=["kpis"], tags=["heldout"])
    by_wrong_heading = question(
        id="y",
        expected_roles=[FLEET],
        expected_headings={FLEET: ["KPIs and Productivity Metrics"]},
        tags=["heldout"],
    )
    problems = check_gold([by_key, by_wrong_heading], corpus)
    assert problems[0] == (
        "x: Head of Robotics Fleet Operations has no 'KPIs and Productivity Metrics' section; "
        "name its sections by their headings in expected_headings"
    )
    assert problems[1].startswith(
        "y: Head of Robotics Fleet Operations has no section 'KPIs and Productivity Metrics'; "
        "its headings: The role at a glance; Why this role exists;"
    )
    assert len(problems) == 2


def test_check_keeps_held_out_roles_out_of_the_tuning_split(corpus: CorpusText) -> None:
    leaking = question(expected_roles=[QUALITY], tags=["kpis"])
    listing = question(id="y", expected_roles=[VP, QUALITY], tags=["catalogue"])
    assert check_gold([leaking, listing], corpus) == [
        "x: expects the held-out roles ['Director of Quality Engineering']: tag it 'heldout' "
        "(only catalogue questions in the tuning split may name held-out roles)"
    ]


def test_check_wants_abstain_questions_to_decline_and_cite_nothing(corpus: CorpusText) -> None:
    answering = question(tags=["abstain"])
    counted = question(id="y", expected_coverage="not_found", expected_count=1, tags=["abstain"])
    assert check_gold([answering, counted], corpus) == [
        "x: an abstain question must expect not_found",
        "y: a not_found question cites nothing: no items, subsections or count",
    ]


def test_sizes_counts_items_per_section_and_subsection(corpus: CorpusText) -> None:
    lines = sizes(corpus, FLEET)
    assert "  Key Performance Indicators: 14" in lines  # two sentences and twelve rows
    assert "    Running the fleet: 4" in lines  # a bullet with sub-bullets is one item
    assert sizes(corpus, "Head of Engineering") == [
        "Head of Engineering: 2 items",
        "  (summary): 2",
    ]


def test_gold_set_covers_every_section_and_many_roles(questions: list[GoldQuestion]) -> None:
    sections = Counter(s for q in questions for s in q.expected_sections)
    roles = {r for q in questions for r in q.expected_roles if r != VP}
    tags = Counter(t for q in questions for t in q.tags)
    assert len(questions) >= 250
    assert set(SECTION_KEYS) <= set(sections)
    assert min(sections["kpis"], sections["goals"], sections["tools"]) >= 2
    assert len(roles) >= 15
    for tag in (
        "alias",
        "paraphrase",
        "follow-up",
        "comparison",
        "catalogue",
        "partial",
        "not-found",
        "adversarial",
        "multilingual",
        "kpi-figures",
    ):
        assert tags[tag] >= 2, tag
    assert tags["abstain"] >= 20


def test_most_answerable_questions_say_how_long_a_right_answer_is(
    questions: list[GoldQuestion],
) -> None:
    answerable = [q for q in questions if q.expected_coverage.value != "not_found"]
    counted = [q for q in answerable if q.expected_count is not None]
    specific = [q for q in answerable if q.expected_items or q.expected_subsections]
    assert len(counted) == len(answerable)
    assert len(specific) >= 100


def test_held_out_split_covers_every_fixture_broadly(questions: list[GoldQuestion]) -> None:
    heldout = [q for q in questions if q.split == "heldout"]
    for role in (FLEET, QUALITY, PAYMENTS, SUPPORT, DEVEX, CLINICAL):
        about = [q for q in heldout if role in q.expected_roles]
        assert len(about) >= 25, role
        headings = {h for q in about for h in q.expected_headings.get(role, [])}
        assert len(headings) >= 15, role
    tags = Counter(t for q in heldout for t in q.tags)
    for tag in ("follow-up", "comparison", "catalogue", "abstain", "kpi-figures", "paraphrase"):
        assert tags[tag] >= 2, tag


def test_fresh_questions_are_held_out_and_cover_the_newer_fixtures_on_their_own(
    questions: list[GoldQuestion],
) -> None:
    # Written without running the assistant on them (evals/fixtures/README.md): a block of
    # its own, so that it can be read apart from the held-out questions tuning has seen.
    fresh = [q for q in questions if "fresh" in q.tags]
    assert all(q.split == "heldout" for q in fresh)
    for role in (PAYMENTS, SUPPORT):
        assert sum(role in q.expected_roles for q in fresh) >= 25, role
        # Only the fresh block asks about the newer fixtures, catalogues listing every role aside.
        older = [q for q in questions if role in q.expected_roles and "fresh" not in q.tags]
        assert all("catalogue" in q.tags for q in older), role
    tags = Counter(t for q in fresh for t in q.tags)
    for tag in ("kpi-figures", "paraphrase", "follow-up", "comparison", "alias", "typo"):
        assert tags[tag] >= 2, tag
    assert tags["abstain"] >= 4
    assert sum(q.expected_coverage.value == "not_found" for q in fresh) == tags["abstain"]


def test_blind_questions_are_held_out_and_alone_in_asking_about_the_blind_fixtures(
    questions: list[GoldQuestion],
) -> None:
    # Written without running the assistant on them or on their documents (evals/fixtures/
    # README.md), after the fresh block had been looked at: the next honest held-out figures.
    blind = [q for q in questions if "blind" in q.tags]
    assert all(q.split == "heldout" and "fresh" not in q.tags for q in blind)
    for role in (DEVEX, CLINICAL):
        assert sum(role in q.expected_roles for q in blind) >= 30, role
        older = [q for q in questions if role in q.expected_roles and "blind" not in q.tags]
        assert all("catalogue" in q.tags for q in older), role
    tags = Counter(t for q in blind for t in q.tags)
    for tag in (
        "kpi-figures",
        "goals",
        "tools",
        "paraphrase",
        "follow-up",
        "comparison",
        "alias",
        "typo",
        "catalogue",
    ):
        assert tags[tag] >= 2, tag
    assert tags["abstain"] >= 6
    assert sum(q.expected_coverage.value == "not_found" for q in blind) == tags["abstain"]
    # Some questions name an existing role next to a blind one.
    assert any(set(q.expected_roles) - {DEVEX, CLINICAL} for q in blind if "comparison" in q.tags)


def test_split_is_heldout_exactly_for_questions_tagged_heldout() -> None:
    assert question(tags=["heldout", "kpis"]).split == "heldout"
    assert question(tags=["kpis"]).split == "tuning"


def test_load_gold_filters_by_split(questions: list[GoldQuestion]) -> None:
    tuning = load_gold(DEFAULT_GOLD_PATH, "tuning")
    heldout = load_gold(DEFAULT_GOLD_PATH, "heldout")
    assert {q.id for q in tuning} | {q.id for q in heldout} == {q.id for q in questions}
    assert all("heldout" not in q.tags for q in tuning)
    assert all("heldout" in q.tags for q in heldout)


def test_load_gold_refuses_an_empty_split(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    row = {"id": "a", "question": "?", "expected_coverage": "answered", "tags": ["t"]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match="no questions in the heldout split"):
        load_gold(path, "heldout")


def test_gold_question_rejects_unknown_keys_blank_items_and_stray_heading_roles() -> None:
    with pytest.raises(ValueError, match="unknown section keys"):
        question(expected_sections=["kpi"])
    with pytest.raises(ValueError, match="blank entries match everything"):
        question(expected_items=[" "])
    with pytest.raises(ValueError, match="not in expected_roles"):
        question(expected_roles=[VP], expected_headings={FLEET: ["Scorecard"]})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        question(expected_count=0)


def test_load_gold_rejects_duplicate_ids(tmp_path: Path) -> None:
    row = {"id": "a", "question": "?", "expected_coverage": "answered", "tags": ["t"]}
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match="used twice"):
        load_gold(path)


def test_load_gold_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "a", "question": "?", "expected_coverage": "maybe", "tags": ["t"]}\n')
    with pytest.raises(GoldError, match=r"gold.jsonl:1: not a gold question"):
        load_gold(path)
