"""The gold set stays true to the corpus and keeps its breadth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.sections import SECTION_KEYS
from evals.check_gold import DEFAULT_CORPUS_DIR, CorpusText, check_gold, read_corpus
from evals.gold import DEFAULT_GOLD_PATH, GoldError, GoldQuestion, load_gold

VP = "VP of Data and AI"


@pytest.fixture(scope="module")
def corpus() -> CorpusText:
    return read_corpus(DEFAULT_CORPUS_DIR)


@pytest.fixture(scope="module")
def questions() -> list[GoldQuestion]:
    return load_gold(DEFAULT_GOLD_PATH)


def test_every_fact_role_and_section_of_the_gold_set_is_in_the_corpus(
    questions: list[GoldQuestion], corpus: CorpusText
) -> None:
    assert check_gold(questions, corpus) == []


def test_check_catches_a_fact_outside_its_expected_section(corpus: CorpusText) -> None:
    question = GoldQuestion(
        id="x",
        question="What are the VP's KPIs?",
        expected_roles=[VP],
        expected_sections=["tools"],
        facts=[["Semiannual"], ["no such phrase"]],
        expected_coverage="answered",
        tags=["t"],
    )
    assert check_gold([question], corpus) == [
        "x: fact 'Semiannual' is not in the expected text",
        "x: fact 'no such phrase' is not in the expected text",
    ]


def test_check_catches_unknown_roles_and_not_found_with_facts(corpus: CorpusText) -> None:
    question = GoldQuestion(
        id="y",
        question="?",
        expected_roles=["Chief Happiness Officer"],
        expected_coverage="not_found",
        tags=["t"],
    )
    assert check_gold([question], corpus) == [
        "y: expected roles not in the corpus: ['Chief Happiness Officer']",
        "y: a not_found question expects no roles and no facts",
    ]


def test_gold_set_covers_every_section_and_many_roles(questions: list[GoldQuestion]) -> None:
    sections = Counter(s for q in questions for s in q.expected_sections)
    roles = {r for q in questions for r in q.expected_roles if r != VP}
    tags = Counter(t for q in questions for t in q.tags)
    assert len(questions) >= 85
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
