"""Check a draft's `[n]` markers against the passages it was given, and find what each rests on."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Literal

from assistant.answering import Draft
from assistant.items import chunk_items
from assistant.models import Chunk, Citation, Passage
from assistant.text import keys, tokens

logger = logging.getLogger(__name__)

DropReason = Literal["out_of_range", "unsupported", "quote"]

# `[1]` and `[1, 3]`; `[1][3]` is two markers. Three digits at most, so `[2024]` is not a marker.
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# Removed markers first become this Unicode noncharacter (reserved for internal use, so never
# in a draft), then the space around each run of them is tidied at once.
_REMOVED = "\ufdd0"
_REMOVED_RUN = re.compile(r"[ \t]*\ufdd0(?:[ \t]*\ufdd0)*[ \t]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(\[])")
_TRAILING_MARKERS = re.compile(r"(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+\s*$")


@dataclass(frozen=True)
class ValidatedAnswer:
    """A draft whose markers all point at cited passages, numbered 1..m in order of first use."""

    text: str
    citations: list[Citation]
    dropped: list[str]
    reasons: list[DropReason] = field(default_factory=list)
    """Why each of `dropped` was: a marker out of range, a passage sharing nothing with its
    claim (`unsupported`), or a quote not in its passage and replaced (`quote`)."""


def validate_citations(draft: Draft, passages: list[Passage]) -> ValidatedAnswer:
    """Drop markers that point outside `passages`, renumber the rest densely, and quote each source.

    Args:
        draft: The answer with `[n]` markers, where `n` is a 1-based index into `passages`.
        passages: The passages the draft was written from, in the order they were numbered.

    Returns:
        The answer text with valid markers renumbered and invalid ones removed, one citation
        per cited passage (its quote verbatim in the chunk), and a note per dropped item.
    """
    renumbered: dict[int, int] = {}  # passage number -> citation number
    claims: dict[int, str] = {}  # passage number -> the draft sentence that first cites it
    dropped: list[str] = []
    reasons: list[DropReason] = []

    def rewrite(match: re.Match[str]) -> str:
        kept: list[int] = []
        claim = _claim_around(draft.text, match.start(), match.end())
        sentence = _sentence_before(draft.text, match.start())
        for number in dict.fromkeys(int(part) for part in match.group(1).split(",")):
            reason: DropReason
            if not 1 <= number <= len(passages):
                note = f"[{number}]: no such passage ({len(passages)} given)"
                reason = "out_of_range"
            elif not _supports(passages[number - 1], sentence):
                note = f"[{number}]: passage {number} shares nothing with {sentence[:60]!r}"
                reason = "unsupported"
            else:
                if number not in renumbered:
                    renumbered[number] = len(renumbered) + 1
                    claims[number] = claim
                kept.append(renumbered[number])
                continue
            logger.warning("dropped citation %s", note)
            dropped.append(note)
            reasons.append(reason)
        return f"[{', '.join(map(str, kept))}]" if kept else _REMOVED

    text = _REMOVED_RUN.sub(_close_gap, _MARKER.sub(rewrite, draft.text))

    citations = []
    for number, n in renumbered.items():
        chunk = passages[number - 1].chunk
        quote = draft.quotes.get(number) or passages[number - 1].quote
        if not quote.strip() or quote not in chunk.text:
            if quote.strip():
                note = f"quote for [{number}] is not in passage {number}: {quote[:60]!r}"
                logger.warning("replaced citation quote: %s", note)
                dropped.append(note)
                reasons.append("quote")
            quote = best_supporting_line(chunk, claims[number])
        citations.append(Citation.of(n, chunk, quote))
    return ValidatedAnswer(text=text, citations=citations, dropped=dropped, reasons=reasons)


def _supports(passage: Passage, sentence: str) -> bool:
    """Whether a passage shares any content word with the sentence that cites it.

    A marker whose sentence has no content words of its own ("Again [3]", a marker opening a
    line) cannot be judged by its words: it is kept.
    """
    wanted = keys(sentence)
    return not wanted or bool(wanted & keys(passage.quote or passage.chunk.text))


def _sentence_before(text: str, start: int) -> str:
    """The words between the previous sentence end (or marker, or line start) and a marker."""
    line_start = text.rfind("\n", 0, start) + 1
    # Markers right before this one ("[1][3]") cite the same sentence.
    before = _TRAILING_MARKERS.sub("", text[line_start:start])
    last = before
    for found in _MARKER.finditer(before):
        last = before[found.end() :]
    return _SENTENCE_END.split(last)[-1]


def best_supporting_line(chunk: Chunk, claim: str) -> str:
    """The sentence or bullet (table rows are bullets) of `chunk` sharing most words with `claim`.

    The chunk's first line is its heading path (role > section > subsection), which says
    where the text sits but supports no claim, so it is never chosen when there is more.
    Ties go to the tighter (higher share of its own words matched), then the earlier unit.

    Returns:
        Text found verbatim in `chunk.text`.
    """
    units = [item.quote for item in chunk_items(chunk)]
    if not units:
        return chunk.text.strip()
    wanted = _words(claim)

    def score(item: tuple[int, str]) -> tuple[int, float, int]:
        index, unit = item
        have = _words(unit)
        shared = len(wanted & have)
        return shared, shared / (len(have) or 1), -index

    return max(enumerate(units), key=score)[1]


def _close_gap(match: re.Match[str]) -> str:
    """One space where words follow the removed markers, none before punctuation or a line end."""
    text, start, end = match.string, match.start(), match.end()
    at_line_start = start == 0 or text[start - 1] == "\n"
    before_words = end < len(text) and (text[end].isalnum() or text[end] in "[(*_`")
    spaced = match.group() != _REMOVED * match.group().count(_REMOVED)
    return " " if spaced and before_words and not at_line_start else ""


def _claim_around(text: str, start: int, end: int) -> str:
    """The sentence a marker at `text[start:end]` belongs to.

    Markers usually close their sentence (`... grew 10%.[1]` or `... grew 10% [1].`), so the
    words before the marker on its line are the claim; a marker that opens its line cites
    what follows it.
    """
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    before = _MARKER.sub(" ", text[line_start:start])
    sentences = [s for s in _SENTENCE_END.split(before) if _words(s)]
    if sentences:
        return sentences[-1]
    after = _MARKER.sub(" ", text[end : line_end if line_end != -1 else len(text)])
    return next(iter(_SENTENCE_END.split(after.strip())), "")


def _words(text: str) -> set[str]:
    return set(tokens(text))
