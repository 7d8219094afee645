"""Text clean-up and the role identity rules every parser shares."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assistant.models import Block, Blueprint, RoleCoverage, Section
from ingest.errors import SourceError

# Invisible characters and non-breaking hyphens break exact-phrase search: nobody types them.
_UNTYPED = {**dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad")), 0x2011: "-"}
_BLUEPRINT_SUFFIX = re.compile(r"\s*(?::|\u2013|\u2014|-)\s*role blueprint\b.*$", re.IGNORECASE)
_SITE_SUFFIX = re.compile(r"\s+\|\s+.*$")
BLUEPRINT_TITLE = re.compile(r"\S.*?\s*(?::|\u2013|\u2014|-)\s*role blueprint\b", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedSource:
    """What one source file holds: its blueprints, and the parts of it that could not be read.

    A list of WordPress posts with one broken post gives the good posts as blueprints and the
    broken one as a problem; a file that yields nothing at all raises `SourceError` instead.
    """

    blueprints: list[Blueprint]
    problems: list[SourceError] = field(default_factory=list)


def clean(text: str) -> str:
    """Collapse whitespace (non-breaking spaces included) and drop characters nobody types."""
    return " ".join(text.translate(_UNTYPED).split())


def without_pictographs(text: str) -> str:
    """A name without the emoji pages decorate it with ("🧰 Tooling" gives "Tooling")."""
    kept = (
        c
        for c in text
        if unicodedata.category(c) != "So"
        and c != "\ufe0f"
        and not "\U0001f3fb" <= c <= "\U0001f3ff"
    )
    return clean("".join(kept))


def shorten(text: str, limit: int = 80) -> str:
    """Some text cleaned and cut to `limit` characters, to quote it in a message."""
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def role_title(raw: str) -> str:
    """The role a blueprint title names.

    `Director of SRE: Role Blueprint, Responsibilities, …`, the same with a dash instead of
    the colon, and `… | Site name` all give `Director of SRE`.
    """
    title = _SITE_SUFFIX.sub("", without_pictographs(raw))
    return _BLUEPRINT_SUFFIX.sub("", title).strip(" :\u2013\u2014-|")


def role_id(role: str) -> str:
    """A stable slug of a role title: `VP of Data & AI` gives `vp-of-data-and-ai`.

    A title with no Latin letters or digits keeps its own letters (`データエンジニア`), so that
    it still has an identity of its own; a title with no letters at all gives `""`.
    """
    words = unicodedata.normalize("NFKD", role.replace("&", " and "))
    ascii_title = words.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")
    return slug or re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", words).lower()).strip("-")


def has_text(section: Section) -> bool:
    """Whether a section holds any text to answer from (its heading alone does not count)."""
    for block in section.blocks:
        if block.text.strip() or any(cell.strip() for row in _rows(block) for cell in row):
            return True
        if any(item.text.strip() or any(map(str.strip, item.children)) for item in block.items):
            return True
    return False


def _rows(block: Block) -> list[list[str]]:
    return block.table.rows if block.table is not None else []


def parse_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime; naive values are taken as UTC.

    A missing or malformed timestamp gives None: it is optional metadata, not a reason to
    reject a blueprint.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_blueprint(
    title: str,
    sections: list[Section],
    *,
    coverage: RoleCoverage,
    source: str,
    url: str = "",
    modified: datetime | None = None,
    post_id: int | None = None,
    origin: str = "",
    name: str = "",
) -> Blueprint:
    """A blueprint with its role and role id derived from the page title.

    Raises:
        SourceError: the title names no role, or no section holds any text (a page saved
            before its content loaded, a post exported with its headings only); `name` says
            which blueprint of the source it is (by default, the blueprint and its role).
    """
    role = role_title(title)
    slug = role_id(role)
    if not slug:
        msg = (
            f"{name or 'the blueprint'} has the title {shorten(title)!r}, which names no role; "
            "give it the role's name as title"
        )
        raise SourceError(source, msg)
    if not any(map(has_text, sections)):
        which = name or f"the blueprint ({shorten(role)})"
        msg = (
            f"{which} has section headings but no text under any of them; save or export the "
            "complete blueprint, with its content, and ingest it again"
        )
        raise SourceError(source, msg)
    return Blueprint(
        role=role,
        role_id=slug,
        coverage=coverage,
        source=source,
        url=url,
        modified=modified,
        sections=sections,
        post_id=post_id,
        origin=origin,
    )
