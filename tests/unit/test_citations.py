import logging

import pytest

from assistant.answering import Draft
from assistant.citations import best_supporting_line, validate_citations
from assistant.models import Chunk, Passage, RoleCoverage

# Shaped like ingest.chunker's output: heading path first, table rows as `- Column: value` bullets.
KPI_TEXT = (
    "VP of Data and AI > 7) KPIs and Productivity Metrics\n"
    "- KPI: Data platform uptime | Target: 99.9% monthly\n"
    "- KPI: Model deployment lead time | Target: Under 2 weeks"
)
RESPONSIBILITIES_TEXT = (
    "VP of Data and AI > 3) Core Responsibilities > Strategy\n"
    "The VP sets the data and AI strategy. The VP reports to the CEO.\n"
    "- Own the enterprise data roadmap and budget\n"
    "- Build and lead the data science organization"
)
CAREER_TEXT = (
    "Head of DevOps > 15) Career Path and Progression\n"
    "Typical next roles are VP of Engineering or CTO."
)


def make_passage(n: int, text: str, role: str = "VP of Data and AI") -> Passage:
    section = text.splitlines()[0].split(" > ")[1]
    chunk = Chunk(
        id=f"chunk-{n}",
        text=text,
        role=role,
        role_id=role.lower().replace(" ", "-"),
        doc_id=f"{role}:full",
        doc_hash="h",
        coverage=RoleCoverage.FULL,
        section=section,
        section_key="key",
        section_number=int(section.split(")")[0]),
        subsection="Strategy" if "Strategy" in text.splitlines()[0] else "",
        source="fixture.json",
        url=f"https://example.test/{n}",
        content_hash=f"c{n}",
    )
    return Passage(chunk=chunk, score=1.0 / n)


@pytest.fixture
def passages() -> list[Passage]:
    return [
        make_passage(1, KPI_TEXT),
        make_passage(2, RESPONSIBILITIES_TEXT),
        make_passage(3, CAREER_TEXT, role="Head of DevOps"),
    ]


def draft(text: str, **quotes: str) -> Draft:
    return Draft(text=text, answerer="test", quotes={int(k[1:]): v for k, v in quotes.items()})


def test_valid_markers_keep_text_and_carry_chunk_metadata(passages: list[Passage]) -> None:
    result = validate_citations(draft("Uptime must be 99.9% monthly [1]."), passages)

    assert result.text == "Uptime must be 99.9% monthly [1]."
    assert result.dropped == []
    [citation] = result.citations
    chunk = passages[0].chunk
    assert citation.n == 1
    assert (citation.role, citation.section, citation.subsection) == (
        chunk.role,
        chunk.section,
        "",
    )
    assert (citation.source, citation.url, citation.chunk_id) == (chunk.source, chunk.url, chunk.id)
    assert citation.quote == "KPI: Data platform uptime | Target: 99.9% monthly"


def test_out_of_range_markers_are_dropped_logged_and_tidied(
    passages: list[Passage], caplog: pytest.LogCaptureFixture
) -> None:
    text = "The VP reports to the CEO [2] [7]. Lead time is under 2 weeks [0][1].\n[9] Nothing."

    with caplog.at_level(logging.WARNING, logger="assistant.citations"):
        result = validate_citations(draft(text), passages)

    assert result.text == "The VP reports to the CEO [1]. Lead time is under 2 weeks [2].\nNothing."
    assert result.dropped == [
        "[7]: no such passage (3 given)",
        "[0]: no such passage (3 given)",
        "[9]: no such passage (3 given)",
    ]
    assert sum("dropped citation" in r.message for r in caplog.records) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Uptime [7] matters.", "Uptime matters."),
        ("Uptime matters [7] [8].", "Uptime matters."),
        ("Uptime matters [8] [1].", "Uptime matters [1]."),
        ("(see [7])", "(see)"),
        ("Uptime [7]\n- next", "Uptime\n- next"),
        ("  - indented [7] bullet", "  - indented bullet"),
        ("[7] Starts here.", "Starts here."),
        ("Tabs\t[7]\tstay apart", "Tabs stay apart"),
    ],
)
def test_space_around_removed_markers_is_tidied(
    passages: list[Passage], text: str, expected: str
) -> None:
    assert validate_citations(draft(text), passages).text == expected


def test_markers_are_renumbered_densely_in_order_of_first_appearance(
    passages: list[Passage],
) -> None:
    text = "DevOps leads become CTO [3]. Uptime is 99.9% [1]. Again [3]."

    result = validate_citations(draft(text), passages)

    assert result.text == "DevOps leads become CTO [1]. Uptime is 99.9% [2]. Again [1]."
    assert [(c.n, c.chunk_id) for c in result.citations] == [(1, "chunk-3"), (2, "chunk-1")]


def test_grouped_and_adjacent_markers(passages: list[Passage]) -> None:
    text = "The VP owns the roadmap [2, 5, 2] and the uptime target and next roles [3,1][1]."

    result = validate_citations(draft(text), passages)

    assert result.text == (
        "The VP owns the roadmap [1] and the uptime target and next roles [2, 3][3]."
    )
    assert [c.chunk_id for c in result.citations] == ["chunk-2", "chunk-3", "chunk-1"]
    assert result.dropped == ["[5]: no such passage (3 given)"]


def test_a_cited_passage_that_shares_nothing_with_its_sentence_is_dropped_and_logged(
    passages: list[Passage], caplog: pytest.LogCaptureFixture
) -> None:
    text = "Uptime is tracked monthly [1][3]. Typical next roles include CTO [3]."

    with caplog.at_level(logging.WARNING, logger="assistant.citations"):
        result = validate_citations(draft(text), passages)

    assert result.text == "Uptime is tracked monthly [1]. Typical next roles include CTO [2]."
    assert [c.chunk_id for c in result.citations] == ["chunk-1", "chunk-3"]
    assert len(result.dropped) == 1 and "shares nothing" in result.dropped[0]
    assert "shares nothing" in caplog.text


def test_draft_quote_found_verbatim_is_kept(passages: list[Passage]) -> None:
    quote = "Own the enterprise data roadmap"

    result = validate_citations(draft("It owns the roadmap [2].", n2=quote), passages)

    assert result.citations[0].quote == quote
    assert result.dropped == []


def test_draft_quote_not_in_chunk_is_replaced_and_noted(passages: list[Passage]) -> None:
    invented = "The VP reports to the board"

    result = validate_citations(draft("The VP reports to the CEO [2].", n2=invented), passages)

    assert result.citations[0].quote == "The VP reports to the CEO."
    assert result.dropped == [f"quote for [2] is not in passage 2: {invented!r}"]


def test_quote_is_matched_exactly_not_after_normalising(passages: list[Passage]) -> None:
    result = validate_citations(
        draft("It owns the roadmap [2].", n2="own the enterprise data roadmap"), passages
    )

    assert result.citations[0].quote == "Own the enterprise data roadmap and budget"
    assert len(result.dropped) == 1


def test_found_quotes_are_verbatim_and_never_the_heading_line(passages: list[Passage]) -> None:
    text = (
        "VP of Data and AI Core Responsibilities Strategy [2]. KPIs and Productivity Metrics [1]."
    )

    result = validate_citations(draft(text), passages)

    chunks = {p.chunk.id: p.chunk for p in passages}
    assert len(result.citations) == 2
    for citation in result.citations:
        text = chunks[citation.chunk_id].text
        assert citation.quote in text
        assert citation.quote != text.splitlines()[0]


def test_marker_opening_a_line_cites_what_follows(passages: list[Passage]) -> None:
    result = validate_citations(draft("- [2] Builds the data science organization"), passages)

    assert result.citations[0].quote == "Build and lead the data science organization"


def test_no_markers_gives_no_citations(passages: list[Passage]) -> None:
    text = "The passages do not say what the salary is. See [the docs](https://x.test)."

    result = validate_citations(draft(text), passages)

    assert result.text == text
    assert result.citations == []
    assert result.dropped == []


def test_no_passages_drops_every_marker() -> None:
    result = validate_citations(draft("Uptime is 99.9% [1]."), [])

    assert result.text == "Uptime is 99.9%."
    assert result.citations == []
    assert result.dropped == ["[1]: no such passage (0 given)"]


def test_best_supporting_line_prefers_the_most_overlapping_unit(passages: list[Passage]) -> None:
    chunk = passages[0].chunk

    assert best_supporting_line(chunk, "lead time for model deployment") == (
        "KPI: Model deployment lead time | Target: Under 2 weeks"
    )
    # Nothing in common: the first quotable unit, still not the heading.
    assert (
        best_supporting_line(chunk, "salary") == "KPI: Data platform uptime | Target: 99.9% monthly"
    )
