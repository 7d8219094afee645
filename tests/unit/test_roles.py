import pytest

from assistant.models import RoleCoverage, RoleInfo
from assistant.roles import RoleResolver, declared_aliases, role_tokens

TITLES = [
    "VP of Data and AI",
    "Director of SRE",
    "Director of Site Reliability Engineering",
    "Director of DevOps",
    "DevOps Director",
    "DevOps Manager",
    "Engineering Manager",
    "Frontend Engineering Manager",
    "Data Engineering Manager",
    "Head of Data Engineering",
    "Director of Data Engineering",
    "Developer Experience Manager",
    "Director of Machine Learning Engineering",
    "Cloud Director",
    "Director of Cloud Engineering",
    "Build and Release Manager",
]


@pytest.fixture
def resolver() -> RoleResolver:
    catalogue = [
        RoleInfo(
            role=t,
            id=t.lower().replace(" ", "-"),
            coverage=RoleCoverage.FULL if t.startswith("VP") else RoleCoverage.SUMMARY,
            sections=[],
            source="test",
        )
        for t in TITLES
    ]
    return RoleResolver(catalogue)


def names(resolver: RoleResolver, question: str) -> list[str]:
    return [r.role for r in resolver.resolve(question).roles]


def test_aliases_collapse_to_the_same_tokens() -> None:
    assert role_tokens("Director of SRE") == role_tokens("Director of Site Reliability Engineering")
    assert role_tokens("Vice President of Data & AI") == role_tokens("VP of Data and AI")
    assert role_tokens("DevEx Manager") == role_tokens("Developer Experience Manager")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What KPIs does a Director of SRE own?", ["Director of SRE"]),
        (
            "what does the director of site reliability engineering do",
            ["Director of Site Reliability Engineering"],
        ),
        ("KPIs for the Vice President of Data & AI", ["VP of Data and AI"]),
        ("tools for the devex manager", ["Developer Experience Manager"]),
        ("Director of ML Engineering skills", ["Director of Machine Learning Engineering"]),
        ("Head of Data Enginering career path", ["Head of Data Engineering"]),
        ("Frontend Engineering Manager duties", ["Frontend Engineering Manager"]),
        ("Build & Release Manager", ["Build and Release Manager"]),
    ],
)
def test_resolves_titles_aliases_and_typos(
    resolver: RoleResolver, question: str, expected: list[str]
) -> None:
    assert names(resolver, question) == expected


def test_most_specific_title_wins_over_the_one_inside_it(resolver: RoleResolver) -> None:
    assert names(resolver, "what does a data engineering manager do") == [
        "Data Engineering Manager"
    ]
    assert names(resolver, "Director of Cloud Engineering KPIs") == [
        "Director of Cloud Engineering"
    ]


def test_word_order_tells_devops_director_from_director_of_devops(resolver: RoleResolver) -> None:
    assert names(resolver, "DevOps Director skills") == ["DevOps Director"]
    assert names(resolver, "Director of DevOps skills") == ["Director of DevOps"]


def test_comparison_names_both_roles_in_order(resolver: RoleResolver) -> None:
    question = "How does a DevOps Director differ from a DevOps Manager?"
    assert names(resolver, question) == ["DevOps Director", "DevOps Manager"]


def test_unknown_role_is_reported_with_close_suggestions(resolver: RoleResolver) -> None:
    resolution = resolver.resolve("what does a data engineer do?")
    assert resolution.roles == []
    assert resolution.unknown == ["Data Engineer"]
    assert "Head of Data Engineering" in resolution.suggestions


def test_unknown_role_keeps_readable_casing(resolver: RoleResolver) -> None:
    assert resolver.resolve("What KPIs does the VP of Marketing own?").unknown == [
        "VP of Marketing"
    ]


def test_an_unknown_title_keeps_words_that_are_also_part_of_a_section_cue() -> None:
    # "ai" is a word of the cue "ai impact", and part of the title.
    empty = RoleResolver([])
    assert empty.resolve("What KPIs does the VP of Data and AI own?").unknown == [
        "VP of Data and AI"
    ]


def test_question_without_a_role_names_none(resolver: RoleResolver) -> None:
    resolution = resolver.resolve("What is the capital of France?")
    assert resolution.roles == [] and resolution.unknown == []


def test_find_accepts_an_id_or_an_alias(resolver: RoleResolver) -> None:
    assert resolver.find("vp-of-data-and-ai") is not None
    found = resolver.find("Vice President of Data & AI")
    assert found is not None and found.role == "VP of Data and AI"
    assert resolver.find("Chief Happiness Officer") is None


def test_a_shortened_title_only_one_role_fits_resolves_to_it(resolver: RoleResolver) -> None:
    assert names(resolver, "Which orchestration tools does the VP use?") == ["VP of Data and AI"]
    assert names(resolver, "what does the Head of Data do") == ["Head of Data Engineering"]


def test_a_shortened_title_many_roles_fit_stays_unknown(resolver: RoleResolver) -> None:
    resolution = resolver.resolve("what does the director own?")
    assert resolution.roles == [] and resolution.unknown == ["Director"]


def test_a_blueprint_declares_other_titles_of_its_role() -> None:
    text = (
        "In smaller companies the same job is often called Fraud Lead; in banks it sits under "
        "the title Head of Fraud Strategy. Also known as: VP of Risk Operations, or Risk Director."
    )
    assert sorted(declared_aliases(text)) == [
        "Fraud Lead",
        "Head of Fraud Strategy",
        "Risk Director",
        "VP of Risk Operations",
    ]
    assert declared_aliases("It is also known as a demanding job, and it pays well.") == []
    assert declared_aliases(
        "In many organisations the same role is titled Director of Clinical Data Management "
        "or Head of CDM."
    ) == ["Director of Clinical Data Management", "Head of CDM"]


def test_a_declared_alias_resolves_to_its_role_but_a_title_match_wins() -> None:
    payments = RoleInfo(
        role="Head of Payments Risk",
        id="head-of-payments-risk",
        coverage=RoleCoverage.FULL,
        sections=[],
        source="t",
        aliases=["Head of Fraud Strategy", "Head of Engineering"],
    )
    engineering = RoleInfo(
        role="Head of Engineering",
        id="head-of-engineering",
        coverage=RoleCoverage.SUMMARY,
        sections=[],
        source="t",
    )
    resolver = RoleResolver([payments, engineering])
    assert names(resolver, "What does a Head of Fraud Strategy do?") == ["Head of Payments Risk"]
    assert names(resolver, "What does the Head of Engineering do?") == ["Head of Engineering"]


def test_a_shortened_title_several_roles_fit_asks_which_one() -> None:
    roles = [
        RoleInfo(role=t, id=t.lower(), coverage=RoleCoverage.FULL, sections=[], source="t")
        for t in ("VP of Data and AI", "VP of Customer Support Operations")
    ]
    resolution = RoleResolver(roles).resolve("How will we know the VP is doing well?")
    assert resolution.roles == [] and resolution.ambiguous
    assert resolution.suggestions == ["VP of Customer Support Operations", "VP of Data and AI"]
