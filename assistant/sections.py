"""The sections a blueprint has, under stable keys that ingestion tags and questions ask for.

The template lives in `assistant/vocabulary/sections.toml`; this module reads headings with it.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

from assistant.text import key_sequence
from assistant.vocabulary import numerals, vocabulary


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


def heading_phrases(text: str, key: str) -> list[str]:
    """The phrases of `text` that the template would read as a title of section `key`."""
    lowered = " ".join(text.lower().split())
    return [m.group(0) for k, pattern in _patterns() if k == key for m in pattern.finditer(lowered)]


def section_title(key: str) -> str:
    """The usual title of a section key."""
    kind = vocabulary().section(key)
    return kind.title if kind else key.replace("_", " ").title()


SECTION_KEYS = section_keys()


def classify_headings(titles: list[str]) -> list[str]:
    """The section keys of a blueprint's section headings, read together, in their order.

    Each heading is first read alone (`section_key` without a number). Blueprints follow the
    template's order, so a heading no pattern knows is then placed by it: a run of unknown
    headings before, between or after known ones that leaves exactly as many template
    sections unclaimed takes them in order ("A week in the life" between the
    responsibilities and the goals is the day-to-day, "Snapshot" before the mission the
    summary), and an unknown heading whose words cue exactly one section that fits there
    takes that one. A heading that cues the section just before it continues that section
    ("Six- and twelve-month outcomes" after "Onboarding plan: the first 90 days"). What
    stays unknown is `other`.
    """
    order = section_keys()
    keys = [section_key(t) for t in titles]
    rank = {key: i for i, key in enumerate(order)}
    known = [i for i, k in enumerate(keys) if k in rank]
    # Keys out of the template's order (a "Summary" heading at the end) do not anchor runs.
    anchors: list[int] = []
    for i in known:
        if not anchors or rank[keys[i]] > rank[keys[anchors[-1]]]:
            anchors.append(i)
    bounds = [(-1, -1), *((i, rank[keys[i]]) for i in anchors), (len(keys), len(order))]
    for (left, low), (right, high) in itertools.pairwise(bounds):
        unknown = [i for i in range(left + 1, right) if keys[i] == "other"]
        free = [k for k in order[low + 1 : high] if k not in keys]
        # Headings after the last known one are the page's own (comments, related posts).
        if not unknown or right == len(keys):
            continue
        if free and len(unknown) == len(free):
            for i, key in zip(unknown, free, strict=True):
                keys[i] = key
            continue
        for i in unknown:
            cued = _cued_sections(titles[i])
            if len(cued & set(free)) == 1:
                keys[i] = (cued & set(free)).pop()
            elif left >= 0 and keys[left] in cued:
                keys[i] = keys[left]
        _place_in_order(keys, unknown, free, rank)
    return keys


def _place_in_order(
    keys: list[str], unknown: list[int], free: list[str], rank: dict[str, int]
) -> None:
    """Give the headings cues left unplaced the sections still free, when they fit one to one.

    "Technical depth" and "How they work with people", left between the KPIs (cued by "How we
    measure it") and the tools, are the technical and the soft skills.
    """
    left = [i for i in unknown if keys[i] == "other"]
    open_keys = [k for k in free if k not in keys]
    if not left or len(left) != len(open_keys):
        return
    placed = keys.copy()
    for i, key in zip(left, open_keys, strict=True):
        placed[i] = key
    ranks = [rank[placed[i]] for i in range(min(unknown), max(unknown) + 1) if placed[i] in rank]
    if ranks == sorted(ranks):
        keys[:] = placed


def _cued_sections(title: str) -> set[str]:
    """The sections whose question cues or time phrases a heading's words spell."""
    words = key_sequence(numerals(title))
    found = {
        scope.section
        for scope in vocabulary().scopes
        if any(_spells(words, key_sequence(numerals(p))) for p in scope.question)
    }
    for kind in vocabulary().sections:
        for sequence in (*kind.cue_sequences, *kind.weak_cue_sequences):
            if _spells(words, list(sequence)):
                found.add(kind.key)
                break
    return found


def _spells(words: list[str], phrase: list[str]) -> bool:
    size = len(phrase)
    return bool(phrase) and any(words[i : i + size] == phrase for i in range(len(words) - size + 1))
