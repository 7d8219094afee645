"""Markdown blueprints, including pages converted to Markdown with their site chrome.

The Markdown is rendered to HTML and read by the same article parser as every other format.
Metadata comes from YAML-style front matter or a converter's header (`Title:`, `URL Source:`,
`Published Time:` … `Markdown Content:`), else from the first `#` heading.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from assistant.models import Block, Blueprint
from ingest.parsers.article import load_html
from ingest.parsers.common import parse_timestamp
from ingest.parsers.html import PageMeta, page_meta, parse_page

# Raw HTML passes through: exports keep tables and cookie banners as HTML, and the article
# parser drops the chrome either way.
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_CONVERTER_HEADER = re.compile(r"\A(Title:.*?)\n[ \t]*Markdown Content:[ \t]*\n", re.DOTALL)
# Greedy and stripped afterwards: lazy groups around `\s*` take quadratic time on long lines.
_FIELD = re.compile(r"^\s*([A-Za-z][\w \t]*):(.*)$")
_URL_KEYS = ("url", "url source", "canonical", "canonical_url", "link", "source_url")
_MODIFIED_KEYS = ("modified", "updated", "last_modified", "date_modified", "published time", "date")
# Page properties (a Notion export's `Also called: …` under the title) that name the role's
# other titles.
_ALIAS_KEYS = ("also called", "also known as", "aliases", "other titles", "alternative titles")
_SETEXT_UNDERLINE = re.compile(r"-{3,}[ \t]*")


def parse_markdown(text: str, path: Path) -> list[Blueprint]:
    """The blueprint, or the listed roles, of a Markdown document."""
    fields, body = _split_header(text)
    soup = load_html(_MARKDOWN.render(body))
    found = page_meta(soup)
    modified = next((fields[key] for key in _MODIFIED_KEYS if fields.get(key)), "")
    meta = PageMeta(
        title=fields.get("title") or found.title,
        url=next((fields[key] for key in _URL_KEYS if fields.get(key)), ""),
        modified=parse_timestamp(modified),
    )
    blueprints = parse_page(soup, path, meta)
    aliases = next((v for k, v in _properties(body).items() if k in _ALIAS_KEYS), "")
    summary = next((s for b in blueprints for s in b.sections if s.key == "summary"), None)
    if aliases and summary is not None:
        # Kept with the summary, where the role's other titles are read from.
        summary.blocks.append(Block(kind="paragraph", text=f"Also called: {aliases}."))
    return blueprints


def _properties(body: str) -> dict[str, str]:
    """The `Key: value` lines above the first section heading (lower-case keys)."""
    found: dict[str, str] = {}
    lines = body.splitlines()
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        if line.startswith("##") or (line.strip() and _SETEXT_UNDERLINE.fullmatch(after)):
            break
        if (field := _FIELD.match(line)) and field[2].strip():
            found[field[1].strip().lower()] = field[2].strip().rstrip(".")
    return found


def _split_header(text: str) -> tuple[dict[str, str], str]:
    """The metadata fields at the top of a document (lower-case keys), and the rest of it.

    Front matter and a converter's header may both be there (a note above an export): the
    fields of both are read, the converter's winning where they name the same thing.
    """
    fields: dict[str, str] = {}
    for pattern in (_FRONT_MATTER, _CONVERTER_HEADER):
        header = pattern.match(text)
        if header is None:
            continue
        for line in header[1].splitlines():
            field = _FIELD.match(line)
            if field:
                fields[field[1].strip().lower()] = field[2].strip().strip("\"'")
        text = text[header.end() :].lstrip("\n")
    return fields, text
