"""The sections a blueprint has, under stable keys that ingestion tags and questions ask for.

The template lives in `assistant/vocabulary/sections.toml`; this module reads headings with it.
"""

from __future__ import annotations

import re
from functools import cache

from assistant.vocabulary import vocabulary


def section_keys() -> tuple[str, ...]:
    """Every section key of the template, in blueprint order."""
    return vocabulary().section_keys


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    return [
        (kind.key, re.compile(pattern))
        for kind in vocabulary().sections
        for pattern in kind.headings
    ]


def section_key(title: str, number: int = 0) -> str:
    """The key of a section from its heading title; the number decides when the title cannot.

    The pattern that matches the longest part of the title wins, so "Final Role Scorecard
    Summary" is the scorecard, not the summary, and "AI / Automation Impact" is about AI.
    A title no pattern matches takes the key of the template's section with its number.
    """
    lowered = " ".join(title.lower().split())
    best, best_length = "", 0
    for key, pattern in _patterns():
        match = pattern.search(lowered)
        if match and len(match.group(0)) > best_length:
            best, best_length = key, len(match.group(0))
    if best:
        return best
    keys = section_keys()
    if 1 <= number <= len(keys):
        return keys[number - 1]
    return "other"


def section_title(key: str) -> str:
    """The usual title of a section key."""
    kind = vocabulary().section(key)
    return kind.title if kind else key.replace("_", " ").title()


SECTION_KEYS = section_keys()
