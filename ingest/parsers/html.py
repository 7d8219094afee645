"""Saved HTML pages: a blueprint article inside site chrome, or a listing of roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from assistant.models import Blueprint, RoleCoverage
from ingest.errors import SourceError
from ingest.parsers.article import article_sections, heading_text, is_chrome_within, load_html
from ingest.parsers.common import clean, make_blueprint, parse_timestamp
from ingest.parsers.listing import parse_listing

NOT_A_BLUEPRINT = (
    "not a blueprint (no numbered or known section headings) nor a role listing (no "
    "'<Role>: Role Blueprint' titles); expected WordPress post JSON, a blueprint page in HTML "
    "or Markdown, or a listing page"
)


@dataclass(frozen=True)
class PageMeta:
    """What a page says about itself: its title, canonical URL and last modification."""

    title: str = ""
    url: str = ""
    modified: datetime | None = None


def parse_html(markup: str, path: Path) -> list[Blueprint]:
    """The blueprint, or the listed roles, of a saved HTML page."""
    soup = load_html(markup)
    return parse_page(soup, path, page_meta(soup))


def page_meta(soup: BeautifulSoup) -> PageMeta:
    """Title (the article's `<h1>`, else `og:title`, else `<title>`), canonical URL, modified."""
    h1 = next(
        (
            text
            for tag in soup.find_all("h1")
            if not is_chrome_within(tag, soup) and (text := heading_text(tag))
        ),
        "",
    )
    title_tag = soup.find("title")
    title = h1 or _meta(soup, "og:title") or (clean(title_tag.get_text()) if title_tag else "")
    canonical = soup.find("link", rel="canonical", href=True)
    url = str(canonical["href"]) if isinstance(canonical, Tag) else _meta(soup, "og:url")
    modified = _meta(soup, "article:modified_time") or _meta(soup, "og:updated_time")
    return PageMeta(title=title, url=url, modified=parse_timestamp(modified))


def parse_page(soup: BeautifulSoup, path: Path, meta: PageMeta) -> list[Blueprint]:
    """A full blueprint if the page has blueprint sections, else the roles it lists.

    Raises:
        SourceError: the page holds neither, or its blueprint has no title.
    """
    sections = article_sections(soup)
    if sections:
        if not meta.title:
            msg = (
                "blueprint has no title; add an <h1> (in Markdown a '# Role' line) naming the role"
            )
            raise SourceError(path, msg)
        blueprint = make_blueprint(
            meta.title,
            sections,
            coverage=RoleCoverage.FULL,
            source=str(path),
            url=meta.url,
            modified=meta.modified,
        )
        return [blueprint]
    roles = parse_listing(soup, path)
    if not roles:
        raise SourceError(path, NOT_A_BLUEPRINT)
    return roles


def _meta(soup: BeautifulSoup, name: str) -> str:
    tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
    return clean(str(tag.get("content", ""))) if isinstance(tag, Tag) else ""
