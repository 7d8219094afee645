"""The vocabulary files: valid, consistent, and read the way question planning relies on."""

from __future__ import annotations

import pytest

from assistant.sections import SECTION_KEYS, classify_headings, section_key
from assistant.text import term_key
from assistant.vocabulary import SectionKind, Vocabulary, vocabulary


def test_the_shipped_vocabulary_loads_and_names_the_twenty_template_sections() -> None:
    vocab = vocabulary()
    assert (
        len(vocab.sections) == 20
        and SECTION_KEYS[0] == "summary"
        and SECTION_KEYS[-1] == "scorecard"
    )
    assert all(scope.section in SECTION_KEYS for scope in vocab.scopes)


def test_a_heading_pattern_that_does_not_compile_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"heading pattern '\(unclosed' does not compile"):
        SectionKind(key="x", title="X", headings=["(unclosed"], cues=["x"], description="x")


def test_a_scope_naming_a_section_the_template_lacks_is_refused() -> None:
    vocab = vocabulary()
    bad = vocab.scopes[0].model_copy(update={"section": "salaries"})
    with pytest.raises(ValueError, match=r"scopes name sections that sections\.toml lacks"):
        Vocabulary(
            sections=vocab.sections, scopes=[bad], roles=vocab.roles, questions=vocab.questions
        )


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Final Role Scorecard Summary", "scorecard"),
        ("AI / Automation Impact on the Role", "ai_impact"),
        ("Typical Tech Stack / Environment", "tech_stack"),
        ("Key Performance Indicators", "kpis"),
        ("What the role owns", "responsibilities"),
    ],
)
def test_the_longest_matching_pattern_names_a_heading(title: str, key: str) -> None:
    assert section_key(title) == key


def test_a_heading_no_pattern_knows_takes_its_number_in_the_template() -> None:
    assert section_key("Odds and ends") == "other"
    assert section_key("Odds and ends", 17) == "variants"


def test_unknown_headings_are_placed_by_the_template_order_between_known_ones() -> None:
    titles = [
        "Role Summary",
        "Core Responsibilities",
        "A week in the life",
        "What they produce",
        "Goals",
    ]
    assert classify_headings(titles) == [
        "summary",
        "responsibilities",
        "day_to_day",
        "deliverables",
        "goals",
    ]


def test_an_unknown_first_heading_before_the_mission_is_the_summary() -> None:
    titles = ["Snapshot", "Why the role exists", "Accountabilities", "Measures of success"]
    assert classify_headings(titles)[0] == "summary"


def test_a_heading_that_cues_the_section_before_it_continues_that_section() -> None:
    titles = [
        "Role Summary",
        "Onboarding plan: the first 90 days",
        "Six- and twelve-month outcomes",
        "Measures of success",
    ]
    assert classify_headings(titles) == ["summary", "goals", "goals", "kpis"]


def test_headings_left_after_the_cues_take_the_sections_still_free_in_order() -> None:
    titles = [
        "Your first 90 days",
        "Six and twelve months out",
        "How we measure it",
        "Technical depth",
        "How they work with people",
        "Tooling by category",
    ]
    assert classify_headings(titles)[3:5] == ["technical_skills", "soft_skills"]


def test_a_trailing_unknown_heading_is_not_a_section() -> None:
    assert (
        classify_headings(["Role Summary", "Core Responsibilities", "Scorecard", "Related posts"])[
            -1
        ]
        == "other"
    )


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (("measure", "measured", "measures", "measuring"), True),
        (("plan", "planned", "planning", "plans"), True),
        (("kpi", "kpis"), True),
        (("catalog", "catalogue"), True),
        (("experience", "experiment"), False),
        (("product", "production"), False),
        (("custom", "customer"), False),
    ],
)
def test_word_keys_fold_inflections_and_keep_derivations_apart(
    words: tuple[str, ...], same: bool
) -> None:
    assert (len({term_key(w) for w in words}) == 1) is same
