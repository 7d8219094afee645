"""Listing pages: many roles, each a title, a one-paragraph summary and a "Read more" link.

Plain-text listings arrive here as rendered Markdown (each line a paragraph), WordPress category
pages as HTML (`<article>` with `<h2><a href=…>title</a></h2>` and an excerpt); both are read
as a sequence of headings and paragraphs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from assistant.models import Block, Blueprint, RoleCoverage, Section
from assistant.sections import section_title
from ingest.parsers.article import (
    CHROME_TEXT,
    HEADING_TAGS,
    content_root,
    heading_text,
    is_chrome_within,
    text_lines,
)
from ingest.parsers.common import (
    BLUEPRINT_TITLE,
    clean,
    make_blueprint,
    parse_timestamp,
    role_id,
    role_title,
)

logger = logging.getLogger(__name__)

# "Read more »" ends an entry, on its own line or at the end of the excerpt.
_READ_MORE = re.compile(r"\s*\b(?:read\s+more|continue\s+reading)\b\W*$", re.IGNORECASE)
# WordPress ends a cut excerpt with "[…]".
_EXCERPT_CUT = re.compile(r"\s*\[(?:…|\.\.\.)\]$")
_SUMMARY_KEY = "summary"


@dataclass
class _Entry:
    title: str
    url: str
    modified: datetime | None
    paragraphs: list[str] = field(default_factory=list)
    done: bool = False

    def add_paragraph(self, lines: list[str]) -> None:
        text = _EXCERPT_CUT.sub("", clean(" ".join(lines)))
        if text and not self.done:
            self.paragraphs.append(text)
        lines.clear()


def parse_listing(soup: BeautifulSoup, path: Path) -> list[Blueprint]:
    """One summary-only blueprint per role the page lists, or `[]` when it lists none."""
    titles = [
        tag
        for tag in soup.find_all([*HEADING_TAGS, "p"])
        if any(BLUEPRINT_TITLE.match(line) for line in _lines(tag))
    ]
    if not titles:
        return []
    root = content_root(titles)
    entries: list[_Entry] = []
    current: _Entry | None = None
    for tag in root.find_all([*HEADING_TAGS, "p"]):
        if is_chrome_within(tag, root):
            continue
        summary: list[str] = []
        for line in _lines(tag):
            if BLUEPRINT_TITLE.match(line):
                if current is not None:
                    current.add_paragraph(summary)
                current = _Entry(line, _link(tag, line), _modified(tag))
                entries.append(current)
            elif current is None or current.done:
                continue
            elif tag.name in HEADING_TAGS:
                current.done = True  # any other heading ends the entry
            else:
                read_more = _READ_MORE.search(line)
                text = line[: read_more.start()] if read_more else line
                if text and not CHROME_TEXT.match(text):
                    summary.append(text)
                if read_more:
                    current.add_paragraph(summary)
                    current.url = current.url or _link(tag, clean(read_more[0]))
                    current.done = True
        if current is not None:
            current.add_paragraph(summary)
    return _blueprints(entries, path)


def _blueprints(entries: list[_Entry], path: Path) -> list[Blueprint]:
    blueprints: dict[str, Blueprint] = {}
    for entry in entries:
        key = role_id(role_title(entry.title))
        if not key:
            logger.warning("%s: skipped %r: its title names no role", path, entry.title)
            continue
        if not entry.paragraphs:
            logger.warning("%s: skipped %r: the listing gives it no summary", path, entry.title)
            continue
        if key in blueprints:
            logger.warning("%s: skipped %r: listed twice", path, entry.title)
            continue
        summary = Section(
            number=0,
            title=section_title(_SUMMARY_KEY),
            key=_SUMMARY_KEY,
            blocks=[Block(kind="paragraph", text=text) for text in entry.paragraphs],
        )
        blueprints[key] = make_blueprint(
            entry.title,
            [summary],
            coverage=RoleCoverage.SUMMARY,
            source=str(path),
            url=entry.url,
            modified=entry.modified,
        )
    return list(blueprints.values())


def _lines(tag: Tag) -> list[str]:
    if tag.name in HEADING_TAGS:
        return [heading_text(tag)]
    return [clean(line) for line in text_lines(tag.children)]


def _link(tag: Tag, line: str) -> str:
    """The address of the link that carries `line`, inside the element or around it."""
    links = tag.find_all("a", href=True)
    parent = tag.find_parent("a", href=True)
    if parent is not None:
        links.append(parent)
    for link in links:
        text = clean(link.get_text())
        if text and (text in line or line in text):
            return str(link["href"])
    return ""


def _modified(tag: Tag) -> datetime | None:
    """When a category page's `<article>` says its post was updated (or else published)."""
    article = tag.find_parent("article")
    if article is None:
        return None
    time = article.find("time", class_="updated", datetime=True) or article.find(
        "time", datetime=True
    )
    return parse_timestamp(str(time["datetime"])) if isinstance(time, Tag) else None
