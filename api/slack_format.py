"""Answers as Slack messages: Markdown to mrkdwn, and Block Kit within Slack's limits."""

from __future__ import annotations

import re
from typing import Any

from assistant.models import Answer, AnswerCoverage, Citation

SECTION_TEXT_LIMIT = 3000  # characters in one section block's text
CONTEXT_TEXT_LIMIT = 3000  # characters in one context element
CONTEXT_ELEMENTS_LIMIT = 10  # elements in one context block
MAX_BLOCKS = 50  # blocks in one message
FALLBACK_TEXT_LIMIT = 3000  # the notification text; Slack cuts anything past 40,000
QUOTE_PREVIEW_CHARS = 120

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
SHARE_ANSWER = "share_answer"
# The optional "what was wrong?" modal a 👎 opens: its callback id, and its one input.
FEEDBACK_REASON = "feedback_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_text"
REASON_MAX_CHARS = 2000  # what `POST /v1/feedback` accepts as a comment
COVERAGE_NOTES = {
    AnswerCoverage.PARTIAL: (
        ":warning: *Partial answer:* the blueprints cover only part of this question."
    ),
    AnswerCoverage.NOT_FOUND: (
        ":mag: *Not found:* the blueprints in the knowledge base do not answer this question."
    ),
}

Block = dict[str, Any]

_FENCE = "```"
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
# Code spans and links are set aside before escaping so their text is left alone.
_PROTECTED = re.compile(r"`[^`\n]+`|\[([^\]\n]+)\]\((https?://[^)\s]+)\)|<(https?://[^>\s]+)>")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_TOKEN = "\x00{}\x00"
_TOKEN_RE = re.compile("\x00(\\d+)\x00")


def escape(text: str) -> str:
    """Escape the three characters Slack reserves for its own markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Convert the assistant's Markdown to Slack mrkdwn.

    Bold, italics, strikethrough, links, headings, bullets and quotes are translated.
    Slack cannot draw a table, and a code block of one is wider than a phone and shows its
    markup: each row becomes a bullet, `• *first cell* — second · third`, under an italic
    line of the column names in the same pattern.
    """
    out: list[str] = []
    table: list[str] = []
    in_fence = False

    def flush_table() -> None:
        if table:
            out.extend(["", *_table_lines(table), ""])
            table.clear()

    for line in markdown.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(_FENCE):
            flush_table()
            in_fence = not in_fence
            out.append(_FENCE)
        elif in_fence:
            out.append(escape(line))
        elif _TABLE_ROW.match(line) or (table and _TABLE_RULE.match(line)):
            table.append(line)
        else:
            flush_table()
            out.append(_convert_line(line))
    flush_table()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _row_line(cells: list[str]) -> str:
    """`*first* — second · third`: the first cell names the row, the others describe it."""
    cells = [_inline(cell) for cell in cells]
    name, rest = cells[0].replace("*", ""), [cell for cell in cells[1:] if cell]
    if not name:
        return " · ".join(rest)
    return f"*{name}*" + (f" — {' · '.join(rest)}" if rest else "")


def _table_lines(rows: list[str]) -> list[str]:
    """A Markdown table as an italic line of column names, then one bullet a row."""
    header = len(rows) > 1 and _TABLE_RULE.match(rows[1]) is not None
    cells = [_cells(row) for row in rows if not _TABLE_RULE.match(row)]
    lines = []
    if header:
        names = _row_line(cells.pop(0)).replace("*", "")
        lines.append(f"_{names}_")
    lines.extend(f"• {_row_line(row)}" for row in cells)
    return lines


def _convert_line(line: str) -> str:
    if heading := _HEADING.match(line):
        return f"*{_inline(heading.group(1)).replace('*', '')}*"
    if bullet := _BULLET.match(line):
        depth = len(bullet.group(1).expandtabs(4)) // 2
        marker = "•" if depth == 0 else "◦"
        return f"{'    ' * depth}{marker} {_inline(bullet.group(2))}"
    if quote := _QUOTE.match(line):
        # Slack's quote marker is a raw `>`, so it must survive escaping.
        return f"> {_inline(quote.group(1))}"
    return _inline(line)


def _inline(text: str) -> str:
    protected: list[str] = []

    def protect(match: re.Match[str]) -> str:
        label, url, bare = match.group(1), match.group(2), match.group(3)
        if url:
            rendered = f"<{escape(url)}|{escape(label)}>"
        elif bare:
            rendered = f"<{escape(bare)}>"
        else:
            rendered = escape(match.group(0))
        protected.append(rendered)
        return _TOKEN.format(len(protected) - 1)

    text = escape(_PROTECTED.sub(protect, text))
    text = _ITALIC.sub(r"_\1_", text)
    text = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", text)
    text = _STRIKE.sub(r"~\1~", text)
    return _TOKEN_RE.sub(lambda m: protected[int(m.group(1))], text)


def split_text(text: str, limit: int = SECTION_TEXT_LIMIT) -> list[str]:
    """Split mrkdwn into pieces of at most `limit` characters.

    Cuts fall between paragraphs where possible, then between lines (never between a
    bullet and its indented sub-bullets, unless they alone are too long), then between
    words; a code block cut in two is closed and reopened so both halves render as code.
    """
    pieces: list[str] = []
    for unit in _units(text):
        if len(unit) > limit and unit.startswith(_FENCE) and unit.endswith(_FENCE):
            inner = unit[len(_FENCE) : -len(_FENCE)].strip("\n")
            budget = limit - 2 * (len(_FENCE) + 1)
            pieces.extend(f"{_FENCE}\n{part}\n{_FENCE}" for part in _fit(inner, budget))
        elif len(unit) > limit:
            groups = [part for group in _line_groups(unit) for part in _fit(group, limit)]
            pieces.extend(_pack(groups, "\n", limit))
        else:
            pieces.append(unit)
    return _pack(pieces, "\n\n", limit)


def _line_groups(text: str) -> list[str]:
    """Lines, each indented line kept with the line it is under."""
    groups: list[str] = []
    for line in text.split("\n"):
        if groups and line[:1].isspace():
            groups[-1] += "\n" + line
        else:
            groups.append(line)
    return groups


def _units(text: str) -> list[str]:
    """Paragraphs, with each code block kept as one unit even when it holds blank lines."""
    units: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        is_fence = line.startswith(_FENCE)
        if (is_fence and not in_fence) or (not line.strip() and not in_fence):
            if current:
                units.append("\n".join(current))
            current = []
        if line.strip() or in_fence:
            current.append(line)
        if is_fence:
            in_fence = not in_fence
            if not in_fence:
                units.append("\n".join(current))
                current = []
    if current:
        units.append("\n".join(current))
    return units


def _fit(text: str, limit: int, separators: tuple[str, ...] = ("\n", " ")) -> list[str]:
    if len(text) <= limit:
        return [text]
    if not separators:
        return [text[start : start + limit] for start in range(0, len(text), limit)]
    separator, finer = separators[0], separators[1:]
    parts = [part for piece in text.split(separator) for part in _fit(piece, limit, finer)]
    return _pack(parts, separator, limit)


def _pack(parts: list[str], separator: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = part
    if current:
        chunks.append(current)
    return chunks


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def citation_line(citation: Citation) -> str:
    """One numbered source: `[n] Role > Section > Subsection`, linked, with a quote preview."""
    where = " > ".join(
        part for part in (citation.role, citation.section, citation.subsection) if part
    )
    label = f"<{escape(citation.url)}|{escape(where)}>" if citation.url else escape(where)
    quote = " ".join(citation.quote.split())
    if len(quote) > QUOTE_PREVIEW_CHARS:
        quote = quote[: QUOTE_PREVIEW_CHARS - 1].rstrip() + "…"
    return f"[{citation.n}] {label}" + (f" — “{escape(quote)}”" if quote else "")


def sources_block(citations: list[Citation]) -> Block:
    """A context block listing the numbered sources."""
    lines = ["*Sources*", *(citation_line(c) for c in sorted(citations, key=lambda c: c.n))]
    elements = [_mrkdwn(text) for text in _pack(lines, "\n", CONTEXT_TEXT_LIMIT)]
    return {"type": "context", "elements": elements[:CONTEXT_ELEMENTS_LIMIT]}


def answer_messages(
    answer: Answer,
    *,
    shareable: bool = False,
    asked_by: str | None = None,
    question: str | None = None,
) -> list[list[Block]]:
    """The Block Kit layout of an answer, as one message or, past `MAX_BLOCKS`, several.

    Args:
        answer: The assistant's answer.
        shareable: Add a "Share in channel" button (for ephemeral slash-command replies).
        asked_by: Slack user id of who asked, shown above a shared answer with `question`.
        question: The question, shown with `asked_by`.

    Returns:
        The blocks of each message, at most `MAX_BLOCKS` each: the asker and a coverage
        note first, the answer's sections, then (in the last) suggestions, the sources
        and the buttons (👍/👎 carry the answer id). The first message is the reply; the
        others continue it in the thread, so a long answer is never cut.
    """
    head: list[Block] = []
    if asked_by and question:
        head.append(
            {"type": "context", "elements": [_mrkdwn(f"<@{asked_by}> asked: {escape(question)}")]}
        )
    if note := COVERAGE_NOTES.get(answer.coverage):
        head.append({"type": "context", "elements": [_mrkdwn(note)]})

    tail: list[Block] = []
    if answer.suggestions:
        tips = "\n".join(f"• {escape(s)}" for s in answer.suggestions)
        tail.append({"type": "context", "elements": [_mrkdwn(f"*Try asking:*\n{tips}")]})
    if answer.citations:
        tail.append(sources_block(answer.citations))
    buttons = [
        _button(FEEDBACK_UP, "👍 Helpful", answer.id),
        _button(FEEDBACK_DOWN, "👎 Not helpful", answer.id),
    ]
    if shareable:
        buttons.insert(0, _button(SHARE_ANSWER, "Share in channel", answer.id, style="primary"))
    tail.append({"type": "actions", "elements": buttons})

    sections = split_text(to_mrkdwn(answer.answer)) or ["_(no answer text)_"]
    messages: list[list[Block]] = []
    current = head
    for text in sections:
        if len(current) == MAX_BLOCKS:
            messages.append(current)
            current = []
        current.append({"type": "section", "text": _mrkdwn(text)})
    if len(current) + len(tail) > MAX_BLOCKS:
        messages.append(current)
        current = []
    messages.append(current + tail)
    return messages


def message_text(blocks: list[Block]) -> str:
    """The plain `text` of a continuation message: its sections' text, bounded."""
    text = "\n\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    return _bounded(text) or "…"


def reason_modal(answer_id: str) -> dict[str, Any]:
    """The short, optional "what was wrong?" form a 👎 opens (the answer id rides along)."""
    return {
        "type": "modal",
        "callback_id": FEEDBACK_REASON,
        "private_metadata": answer_id,
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "What was wrong with the answer?"},
                "hint": {
                    "type": "plain_text",
                    "text": "Optional. Your 👎 is already counted; this helps fix the answer.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": REASON_MAX_CHARS,
                    "placeholder": {"type": "plain_text", "text": "e.g. wrong role, missing KPI"},
                },
            }
        ],
    }


def fallback_text(answer: Answer) -> str:
    """The message's plain `text`: shown in notifications, and read back as thread history."""
    return _bounded(to_mrkdwn(answer.answer))


def _bounded(text: str) -> str:
    if len(text) > FALLBACK_TEXT_LIMIT:
        text = text[: FALLBACK_TEXT_LIMIT - 1].rstrip() + "…"
    return text
