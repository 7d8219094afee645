from typing import Any

import pytest

from api.slack_format import (
    COVERAGE_NOTES,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    SHARE_ANSWER,
    TRUNCATED_NOTE,
    answer_blocks,
    citation_line,
    fallback_text,
    split_text,
    to_mrkdwn,
)
from assistant.models import Answer, AnswerCoverage, Citation, Trace


def make_answer(
    text: str = "**VP of Data and AI** KPIs [1]",
    coverage: AnswerCoverage = AnswerCoverage.ANSWERED,
    citations: list[Citation] | None = None,
    suggestions: list[str] | None = None,
) -> Answer:
    return Answer(
        id="ans-42",
        answer=text,
        coverage=coverage,
        citations=citations if citations is not None else [make_citation(1)],
        suggestions=suggestions or [],
        trace=Trace(question="q", standalone_question="q"),
    )


def make_citation(n: int, url: str = "https://example.com/vp?a=1&b=2") -> Citation:
    return Citation(
        n=n,
        role="VP of Data and AI",
        section="7) KPIs and Productivity Metrics",
        subsection="Delivery",
        source="vp-of-data-and-ai.wordpress.json",
        url=url,
        quote="Data platform uptime | Target: 99.9% monthly",
        chunk_id=f"chunk-{n}",
    )


def of_type(blocks: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [block for block in blocks if block["type"] == kind]


# --- Markdown to mrkdwn --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* then **bold**", "_italic_ then *bold*"),
        ("~~gone~~", "~gone~"),
        ("- first\n* second\n+ third", "• first\n• second\n• third"),
        ("- parent\n  - child", "• parent\n    ◦ child"),
        ("1. numbered stays", "1. numbered stays"),
        ("## KPIs **and** metrics", "*KPIs and metrics*"),
        ("> quoted", "> quoted"),
        ("[the blueprint](https://x.io/a?b=1&c=2)", "<https://x.io/a?b=1&amp;c=2|the blueprint>"),
        ("<https://x.io/page>", "<https://x.io/page>"),
        ("Cost < budget & latency > 2s", "Cost &lt; budget &amp; latency &gt; 2s"),
        ("`a < b` and **`code`**", "`a &lt; b` and *`code`*"),
        ("See [1] and [2, 3]", "See [1] and [2, 3]"),
        ("2 * 3 * 4", "2 * 3 * 4"),
    ],
)
def test_to_mrkdwn_translates_markdown(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_to_mrkdwn_turns_tables_into_code_blocks() -> None:
    markdown = "KPIs:\n| KPI | Target |\n|---|---|\n| Uptime | > 99.9% |\nDone."
    assert to_mrkdwn(markdown) == (
        "KPIs:\n\n```\n| KPI | Target |\n| Uptime | &gt; 99.9% |\n```\n\nDone."
    )


def test_to_mrkdwn_leaves_code_blocks_unformatted_but_escaped() -> None:
    assert to_mrkdwn("```\n**x** <y>\n```") == "```\n**x** &lt;y&gt;\n```"


# --- Splitting -----------------------------------------------------------------------------


def test_split_text_keeps_short_text_whole() -> None:
    assert split_text("one\n\ntwo") == ["one\n\ntwo"]


def test_split_text_cuts_between_paragraphs() -> None:
    paragraphs = [f"{n} " + "x" * 1400 for n in range(5)]
    pieces = split_text("\n\n".join(paragraphs))
    assert all(len(piece) <= SECTION_TEXT_LIMIT for piece in pieces)
    assert "\n\n".join(pieces) == "\n\n".join(paragraphs)
    assert len(pieces) == 3


def test_split_text_cuts_an_overlong_word() -> None:
    pieces = split_text("y" * 7000)
    assert [len(piece) for piece in pieces] == [3000, 3000, 1000]


def test_split_text_reopens_a_cut_code_block() -> None:
    rows = "\n".join(f"| row {n} | " + "v" * 60 + " |" for n in range(120))
    pieces = split_text(f"```\n{rows}\n```")
    assert len(pieces) > 1
    assert all(p.startswith("```\n") and p.endswith("\n```") for p in pieces)
    assert all(len(piece) <= SECTION_TEXT_LIMIT for piece in pieces)
    assert "\n".join(p.removeprefix("```\n").removesuffix("\n```") for p in pieces) == rows


# --- Blocks --------------------------------------------------------------------------------


def test_answer_blocks_shape() -> None:
    blocks = answer_blocks(make_answer(citations=[make_citation(2), make_citation(1, url="")]))
    assert [block["type"] for block in blocks] == ["section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "*VP of Data and AI* KPIs [1]"}
    sources = blocks[1]["elements"][0]["text"]
    assert sources.splitlines() == [
        "*Sources*",
        "[1] VP of Data and AI &gt; 7) KPIs and Productivity Metrics &gt; Delivery"
        " — “Data platform uptime | Target: 99.9% monthly”",
        "[2] <https://example.com/vp?a=1&amp;b=2|VP of Data and AI &gt; 7) KPIs and Productivity"
        " Metrics &gt; Delivery> — “Data platform uptime | Target: 99.9% monthly”",
    ]
    assert [(b["action_id"], b["value"]) for b in blocks[2]["elements"]] == [
        (FEEDBACK_UP, "ans-42"),
        (FEEDBACK_DOWN, "ans-42"),
    ]


def test_citation_line_escapes_and_shortens_the_quote() -> None:
    citation = make_citation(3).model_copy(update={"role": "R&D <Lead>", "quote": "q " * 200})
    line = citation_line(citation)
    assert "R&amp;D &lt;Lead&gt;" in line
    assert line.endswith("…”")
    assert len(line) < 300


def test_shareable_answer_has_a_share_button_first() -> None:
    [actions] = of_type(answer_blocks(make_answer(), shareable=True), "actions")
    assert [b["action_id"] for b in actions["elements"]] == [
        SHARE_ANSWER,
        FEEDBACK_UP,
        FEEDBACK_DOWN,
    ]
    assert actions["elements"][0]["value"] == "ans-42"


def test_shared_answer_says_who_asked() -> None:
    blocks = answer_blocks(make_answer(), asked_by="U1", question="KPIs <of> VP?")
    assert blocks[0]["elements"][0]["text"] == "<@U1> asked: KPIs &lt;of&gt; VP?"


@pytest.mark.parametrize("coverage", [AnswerCoverage.PARTIAL, AnswerCoverage.NOT_FOUND])
def test_incomplete_answers_lead_with_a_note(coverage: AnswerCoverage) -> None:
    blocks = answer_blocks(
        make_answer(coverage=coverage, citations=[], suggestions=["Ask about <KPIs>"])
    )
    assert blocks[0] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": COVERAGE_NOTES[coverage]}],
    }
    tips = [b for b in of_type(blocks, "context") if "Try asking" in b["elements"][0]["text"]]
    assert tips[0]["elements"][0]["text"].endswith("• Ask about &lt;KPIs&gt;")


def test_answered_answers_have_no_note() -> None:
    texts = [
        e["text"] for b in of_type(answer_blocks(make_answer()), "context") for e in b["elements"]
    ]
    assert not set(texts) & set(COVERAGE_NOTES.values())


def test_long_answers_stay_within_slack_limits() -> None:
    long_text = "\n\n".join(f"Paragraph {n}: " + "word " * 500 for n in range(80))
    blocks = answer_blocks(make_answer(text=long_text), shareable=True)
    assert len(blocks) == MAX_BLOCKS
    sections = of_type(blocks, "section")
    assert all(len(s["text"]["text"]) <= SECTION_TEXT_LIMIT for s in sections)
    assert sections[-1]["text"]["text"] == TRUNCATED_NOTE
    assert blocks[-1]["type"] == "actions"


def test_many_sources_are_packed_into_context_elements() -> None:
    citations = [make_citation(n, url=f"https://example.com/{'p' * 200}/{n}") for n in range(1, 40)]
    [context] = of_type(answer_blocks(make_answer(citations=citations)), "context")
    assert 1 < len(context["elements"]) <= 10
    assert all(len(e["text"]) <= 3000 for e in context["elements"])
    assert "[39]" in context["elements"][-1]["text"]


def test_fallback_text_is_mrkdwn_and_bounded() -> None:
    assert fallback_text(make_answer()) == "*VP of Data and AI* KPIs [1]"
    assert len(fallback_text(make_answer(text="z " * 5000))) == 3000
