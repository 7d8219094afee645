"""Text clean-up and the role identity rules every parser shares."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from assistant.models import Blueprint, RoleCoverage, Section

# Invisible characters and non-breaking hyphens break exact-phrase search: nobody types them.
_UNTYPED = {**dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad")), 0x2011: "-"}
_BLUEPRINT_SUFFIX = re.compile(r"\s*(?::|\u2013|\u2014|-)\s*role blueprint\b.*$", re.IGNORECASE)
_SITE_SUFFIX = re.compile(r"\s+\|\s+.*$")
BLUEPRINT_TITLE = re.compile(r"\S.*?\s*(?::|\u2013|\u2014|-)\s*role blueprint\b", re.IGNORECASE)


def clean(text: str) -> str:
    """Collapse whitespace (non-breaking spaces included) and drop characters nobody types."""
    return " ".join(text.translate(_UNTYPED).split())


def role_title(raw: str) -> str:
    """The role a blueprint title names.

    `Director of SRE: Role Blueprint, Responsibilities, …`, the same with a dash instead of
    the colon, and `… | Site name` all give `Director of SRE`.
    """
    title = _SITE_SUFFIX.sub("", clean(raw))
    return _BLUEPRINT_SUFFIX.sub("", title).strip(" :\u2013\u2014-|")


def role_id(role: str) -> str:
    """A stable slug of a role title: `VP of Data & AI` gives `vp-of-data-and-ai`."""
    ascii_title = unicodedata.normalize("NFKD", role.replace("&", " and "))
    ascii_title = ascii_title.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")


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
) -> Blueprint:
    """A blueprint with its role and role id derived from the page title."""
    role = role_title(title)
    return Blueprint(
        role=role,
        role_id=role_id(role),
        coverage=coverage,
        source=source,
        url=url,
        modified=modified,
        sections=sections,
    )
