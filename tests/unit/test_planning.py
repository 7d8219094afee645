"""Question planning: roles, section cues, scopes, topic terms, kinds and follow-ups."""

from __future__ import annotations

import pytest

from assistant.models import RoleCoverage, RoleInfo, Turn
from assistant.planning import Plan, Planner
from assistant.roles import RoleResolver
from assistant.text import term_key

TITLES = {
    "VP of Data and AI": RoleCoverage.FULL,
    "Director of SRE": RoleCoverage.SUMMARY,
    "DevOps Director": RoleCoverage.SUMMARY,
    "DevOps Manager": RoleCoverage.SUMMARY,
    "Head of Data Engineering": RoleCoverage.SUMMARY,
    "Director of Cloud Engineering": RoleCoverage.SUMMARY,
    "Cloud Director": RoleCoverage.SUMMARY,
}


@pytest.fixture(scope="module")
def planner() -> Planner:
    catalogue = [
        RoleInfo(
            role=title,
            id=title.lower().replace(" ", "-"),
            coverage=coverage,
            sections=[],
            source="test",
        )
        for title, coverage in TITLES.items()
    ]
    return Planner(catalogue, RoleResolver(catalogue))


def plan(planner: Planner, question: str, *history: str) -> Plan:
    turns = [
        Turn(role="user" if i % 2 == 0 else "assistant", content=text)
        for i, text in enumerate(history)
    ]
    return planner.plan(question, turns)


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("What KPIs does the VP of Data and AI own?", "kpis"),
        ("How is the VP of Data and AI measured?", "kpis"),
        ("What should the VP of Data and AI achieve in the first 30 days?", "goals"),
        ("Which software does the VP of Data and AI rely on?", "tools"),
        ("Who does the VP of Data and AI report to?", "stakeholders"),
        ("Can the VP of Data and AI sign off on vendor contracts?", "decision_rights"),
        ("How many years of experience does the VP of Data and AI need?", "experience"),
        ("What is the next step after this role for the VP of Data and AI?", "career_path"),
        ("What are common anti-patterns of a VP of Data and AI?", "risks"),
        ("What should we ask candidates in VP of Data and AI interviews?", "hiring"),
        ("Which VP of Data and AI tasks will be automated?", "ai_impact"),
        ("How does the VP of Data and AI role vary by company size?", "variants"),
    ],
)
def test_section_cues_name_the_section_a_question_asks_for(
    planner: Planner, question: str, section: str
) -> None:
    assert plan(planner, question).sections[0] == section


def test_own_asks_for_responsibilities_only_when_nothing_more_specific_is_named(
    planner: Planner,
) -> None:
    assert plan(planner, "What KPIs does the VP of Data and AI own?").sections == ["kpis"]
    assert plan(planner, "What does the VP of Data and AI own?").sections == ["responsibilities"]


def test_a_section_called_by_its_own_name_outranks_a_longer_cue(planner: Planner) -> None:
    # "work with" cues the stakeholders, but the question names the tools.
    assert plan(planner, "What tools does the VP of Data and AI work with?").sections == ["tools"]
    assert plan(planner, "Who does the VP of Data and AI work with?").sections == ["stakeholders"]
    assert plan(planner, "What usually goes wrong for the VP of Data and AI?").sections == ["risks"]


def test_a_longer_cue_naming_what_it_asks_keeps_its_section(planner: Planner) -> None:
    # "business outcome" says what it names; "hiring" is a verb here, not the hiring section.
    question = "What business outcomes should a company expect from hiring a VP of Data and AI?"
    assert plan(planner, question).sections == ["mission"]
    # Between cues as long, the section's own name decides.
    question = "What experience should a VP of Data and AI candidate have?"
    assert plan(planner, question).sections == ["experience"]


def test_a_follow_up_adding_only_a_rhythm_looks_in_the_part_asked_before(
    planner: Planner,
) -> None:
    found = plan(
        planner,
        "and which of them are reviewed daily?",
        "What KPIs does the VP of Data and AI own?",
        "The KPIs are …",
    )
    assert found.sections == ["kpis"] and found.scopes == []
    assert term_key("daily") in found.terms


@pytest.mark.parametrize(
    ("question", "horizons"),
    [
        ("What should the VP of Data and AI do in the first 30 days?", ["30 days"]),
        ("What are the 90-day goals for the VP of Data and AI?", ["90 days"]),
        ("What should the VP of Data and AI focus on in the first 90 days?", ["30 days", "60 days", "90 days"]),
        ("What's the 30-60-90 day plan for the VP of Data and AI?", ["30 days", "60 days", "90 days"]),
    ],
)  # fmt: skip
def test_the_first_days_span_every_horizon_up_to_the_one_named(
    planner: Planner, question: str, horizons: list[str]
) -> None:
    found = plan(planner, question)
    assert found.sections == ["goals"]
    assert [s.name for s in found.scopes] == horizons
    assert not found.terms


def test_a_typical_week_is_the_whole_day_to_day_and_a_typical_day_its_daily_part(
    planner: Planner,
) -> None:
    week = plan(planner, "What does a typical week look like for the VP of Data and AI?")
    assert week.sections == ["day_to_day"] and week.scopes == []
    day = plan(planner, "What does a typical day look like for the VP of Data and AI?")
    assert [s.name for s in day.scopes] == ["daily"]


def test_the_words_before_target_are_a_measure_s_name(planner: Planner) -> None:
    found = plan(planner, "What's the patient enrolment rate target for the VP of Data and AI?")
    assert found.names == {term_key(w) for w in ("patient", "enrolment", "rate")}
    assert plan(planner, "What targets does the VP of Data and AI have?").names == frozenset()


def test_a_why_question_with_no_cue_asks_for_the_mission(planner: Planner) -> None:
    assert plan(planner, "Why would a company need a VP of Data and AI?").sections == ["mission"]
    assert plan(planner, "Why does the VP of Data and AI need KPIs?").sections == ["kpis"]


def test_a_typo_inside_a_spelled_out_phrase_still_finds_the_role() -> None:
    # "site reliability engineering" is read as the phrase `sre` only once the typo is fixed.
    titles = ["Director of Site Reliability Engineering", "Director of Developer Experience"]
    catalogue = [
        RoleInfo(role=t, id=t.lower(), coverage=RoleCoverage.FULL, sections=[], source="t")
        for t in titles
    ]
    resolver = RoleResolver(catalogue)
    for question, title in zip(
        [
            "what does a director of site reliabilty engineering own",
            "director of developer experiance goals",
        ],
        titles,
        strict=True,
    ):
        assert [r.role for r in resolver.resolve(question).roles] == [title]


def test_a_scope_hint_narrows_a_section_without_sharing_its_words(planner: Planner) -> None:
    found = plan(planner, "What should the VP of Data and AI get done in the first month?")
    assert [s.name for s in found.scopes] == ["30 days"]
    assert "goals" in found.sections and not found.terms


def test_each_week_means_the_weekly_activities_not_a_weekly_kpi(planner: Planner) -> None:
    found = plan(planner, "What does the VP of Data and AI do each week?")
    assert found.sections == ["day_to_day"] and [s.name for s in found.scopes] == ["weekly"]


def test_topic_terms_are_what_is_left_after_roles_cues_and_request_words(
    planner: Planner,
) -> None:
    found = plan(planner, "Please tell me exactly what the MTTR target of the VP of Data and AI is")
    assert found.sections == ["kpis"] and found.terms == {"mttr": "mttr"}
    assert found.residual and "vp" not in found.residual.split()


def test_a_question_about_pay_has_a_topic_and_no_section(planner: Planner) -> None:
    found = plan(planner, "What is the salary of the VP of Data and AI?")
    assert found.sections == [] and list(found.terms.values()) == ["salary"]


def test_a_role_alone_asks_what_the_role_is(planner: Planner) -> None:
    assert plan(planner, "Tell me about the Director of SRE").sections == ["summary"]


@pytest.mark.parametrize(
    "question",
    [
        "List all roles please",
        "What blueprints are available?",
        "Which roles does the knowledge base have?",
        "How many roles do you know about?",
        "show me every blueprint",
    ],
)
def test_requests_to_list_the_roles_are_catalogue_questions(
    planner: Planner, question: str
) -> None:
    found = plan(planner, question)
    assert found.kind == "catalogue"
    assert found.catalogue_filter is not None and not found.catalogue_filter.title_words


def test_catalogue_filters_by_title_words_and_coverage(planner: Planner) -> None:
    by_title = plan(planner, "Which roles are director level?")
    assert by_title.kind == "catalogue" and by_title.catalogue_filter is not None
    assert by_title.catalogue_filter.title_words == {"director"}
    full = plan(planner, "Which roles have full blueprints?")
    assert full.catalogue_filter is not None
    assert full.catalogue_filter.coverage is RoleCoverage.FULL


def test_a_question_about_content_across_roles_is_no_catalogue_question(planner: Planner) -> None:
    found = plan(planner, "Which roles have KPIs about MTTR?")
    assert found.kind == "lookup" and found.sections == ["kpis"]


def test_two_roles_and_a_comparison_word_compare(planner: Planner) -> None:
    found = plan(planner, "How does a DevOps Director differ from a DevOps Manager?")
    assert found.kind == "compare"
    assert [r.role for r in found.roles] == ["DevOps Director", "DevOps Manager"]


def test_a_follow_up_carries_the_role_and_names_its_own_section(planner: Planner) -> None:
    found = plan(planner, "and what are their KPIs?", "What does the VP of Data and AI do?", "…")
    assert [r.role for r in found.roles] == ["VP of Data and AI"] and found.sections == ["kpis"]


def test_a_follow_up_about_another_role_carries_the_section(planner: Planner) -> None:
    found = plan(
        planner, "What about the Cloud Director?", "What KPIs does the Director of SRE own?", "…"
    )
    assert [r.role for r in found.roles] == ["Cloud Director"] and found.sections == ["kpis"]


def test_a_comparison_follow_up_compares_with_the_earlier_role(planner: Planner) -> None:
    found = plan(
        planner,
        "How does that compare with the DevOps Manager?",
        "Tell me about the DevOps Director",
        "…",
    )
    assert found.kind == "compare"
    assert [r.role for r in found.roles] == ["DevOps Director", "DevOps Manager"]


@pytest.mark.parametrize("message", ["hi", "Hello!", "thanks", "good morning"])
def test_a_greeting_alone_is_a_greeting(planner: Planner, message: str) -> None:
    assert plan(planner, message).kind == "greeting"


def test_a_greeting_with_a_question_is_the_question(planner: Planner) -> None:
    assert plan(planner, "hi, what KPIs does the VP of Data and AI own?").kind == "lookup"


def test_an_unknown_role_is_named_with_suggestions(planner: Planner) -> None:
    found = plan(planner, "What KPIs does the Director of Data Engineering own?")
    assert found.roles == [] and found.unknown_roles == ["Director of Data Engineering"]
    assert "Head of Data Engineering" in found.suggestions
