from typing import Any

import pytest

from api.slack_format import (
    COVERAGE_NOTES,
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    MAX_BLOCKS,
    REASON_BLOCK,
    REASON_INPUT,
    SECTION_TEXT_LIMIT,
    SHARE_ANSWER,
    Block,
    answer_messages,
    citation_line,
    fallback_text,
    message_text,
    reason_modal,
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


def answer_blocks(answer: Answer, **options: Any) -> list[Block]:
    """The blocks of an answer that fits one message."""
    [blocks] = answer_messages(answer, **options)
    return blocks


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


KPI_TABLE = """From the **VP of Data and AI** blueprint:

| Metric name | Example target / benchmark | Frequency |
| --- | --- | --- |
| MTTR for data/AI incidents | Tier-1 MTTR < 2 hours | Monthly [5] |
| Inference latency (P95) | P95 < 1–2s for **interactive** features | Weekly [13] |
| AI unit cost |  | Monthly [14] |"""


def test_a_table_becomes_one_bullet_a_row_under_its_column_names() -> None:
    assert to_mrkdwn(KPI_TABLE).split("\n") == [
        "From the *VP of Data and AI* blueprint:",
        "",
        "_Metric name — Example target / benchmark · Frequency_",
        "• *MTTR for data/AI incidents* — Tier-1 MTTR &lt; 2 hours · Monthly [5]",
        "• *Inference latency (P95)* — P95 &lt; 1–2s for *interactive* features · Weekly [13]",
        "• *AI unit cost* — Monthly [14]",  # an empty cell leaves no empty separator
    ]


def test_a_table_without_a_header_rule_has_no_column_line() -> None:
    assert to_mrkdwn("| Uptime | > 99.9% |\n| Cost | down |") == (
        "• *Uptime* — &gt; 99.9%\n• *Cost* — down"
    )


def test_every_citation_marker_of_a_table_survives_in_slack() -> None:
    rows = "\n".join(f"| Metric {n} | target {n} | Monthly [{n}] |" for n in range(1, 31))
    text = to_mrkdwn(f"| Metric | Target | Frequency |\n| --- | --- | --- |\n{rows}")
    assert "```" not in text
    assert all(f"Monthly [{n}]" in text for n in range(1, 31))


NESTED = """- Establish credibility and situational awareness: [1]
  - Audit the current data landscape
  - Review current AI initiatives
- Build a baseline measurement system: [2]
  - Current pipeline reliability"""


def test_sub_bullets_stay_indented_under_their_parent() -> None:
    assert to_mrkdwn(NESTED).split("\n") == [
        "• Establish credibility and situational awareness: [1]",
        "    ◦ Audit the current data landscape",
        "    ◦ Review current AI initiatives",
        "• Build a baseline measurement system: [2]",
        "    ◦ Current pipeline reliability",
    ]


def test_a_long_list_is_cut_between_items_never_between_an_item_and_its_children() -> None:
    items = [
        f"- Item {n}: "
        + "x" * 150
        + f" [{n}]\n"
        + "\n".join(f"  - detail {n}.{m} " + "y" * 60 for m in range(4))
        for n in range(20)
    ]
    pieces = split_text(to_mrkdwn("\n".join(items)))
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= SECTION_TEXT_LIMIT
        assert piece.startswith("• Item")  # never a child first, cut from its parent
        lines = piece.split("\n")
        assert sum(line.startswith("    ◦") for line in lines) == 4 * sum(
            line.startswith("• Item") for line in lines
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


def test_a_long_answer_continues_in_more_messages_instead_of_being_cut() -> None:
    long_text = "\n\n".join(f"Paragraph {n}: " + "word " * 500 for n in range(80))
    answer = make_answer(text=long_text, coverage=AnswerCoverage.PARTIAL)
    messages = answer_messages(answer, shareable=True)
    assert len(messages) == 2
    assert all(len(blocks) <= MAX_BLOCKS for blocks in messages)
    sections = [b["text"]["text"] for blocks in messages for b in of_type(blocks, "section")]
    assert all(len(text) <= SECTION_TEXT_LIMIT for text in sections)
    assert "\n\n".join(sections) == to_mrkdwn(long_text)  # every word, in order
    first, last = messages
    assert first[0]["elements"][0]["text"] == COVERAGE_NOTES[AnswerCoverage.PARTIAL]
    assert len(first) == MAX_BLOCKS
    assert of_type(first, "actions") == []  # the buttons end the answer, in the last message
    assert last[-1]["type"] == "actions"
    assert message_text(last).startswith("Paragraph 4")


def test_the_sources_and_buttons_move_on_when_the_sections_fill_a_message() -> None:
    text = "\n\n".join(f"Paragraph {n}: " + "word " * 500 for n in range(49))
    first, last = answer_messages(make_answer(text=text))  # 49 sections, then 2 blocks
    assert [b["type"] for b in first] == ["section"] * 49
    assert [b["type"] for b in last] == ["context", "actions"]


def test_the_reason_modal_carries_the_answer_id_and_an_optional_input() -> None:
    modal = reason_modal("ans-42")
    assert modal["type"] == "modal"
    assert modal["private_metadata"] == "ans-42"
    assert len(modal["title"]["text"]) <= 24  # Slack's limit for a modal title
    [field] = modal["blocks"]
    assert (field["type"], field["block_id"], field["optional"]) == ("input", REASON_BLOCK, True)
    assert field["element"]["action_id"] == REASON_INPUT
    assert field["element"]["max_length"] == 2000


def test_many_sources_are_packed_into_context_elements() -> None:
    citations = [make_citation(n, url=f"https://example.com/{'p' * 200}/{n}") for n in range(1, 40)]
    [context] = of_type(answer_blocks(make_answer(citations=citations)), "context")
    assert 1 < len(context["elements"]) <= 10
    assert all(len(e["text"]) <= 3000 for e in context["elements"])
    assert "[39]" in context["elements"][-1]["text"]


def test_fallback_text_is_mrkdwn_and_bounded() -> None:
    assert fallback_text(make_answer()) == "*VP of Data and AI* KPIs [1]"
    assert len(fallback_text(make_answer(text="z " * 5000))) == 3000
