"""The seam between retrieval and answer composition."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.models import Passage, RoleInfo
from assistant.selection import ItemIndex


@dataclass(frozen=True)
class QueryPlan:
    """What a question is about, as resolved before retrieval."""

    question: str
    roles: list[RoleInfo] = field(default_factory=list)
    unknown_roles: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    intent: str = "lookup"  # lookup | compare | catalogue | greeting
    subsections: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerContext:
    """A standalone question with its plan and the numbered passages (1-based) to answer from.

    `index` holds the corpus's items and word weights, for picking the items a question is
    about; without it the passages themselves are the corpus.
    """

    question: str
    plan: QueryPlan
    passages: list[Passage]
    index: ItemIndex | None = None


@dataclass
class Draft:
    """An answer before its citations are checked: markdown with `[n]` markers.

    `quotes` maps a passage number to the exact text the answer rests on; where it is
    missing, validation picks the passage sentence that best supports the cited claim.
    `passages`, when set, are what the markers number instead of the context's passages (the
    extractive answerer cites each item on its own, several items of one chunk included).
    """

    text: str
    answerer: str
    quotes: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    passages: list[Passage] | None = None


class Answerer(Protocol):
    """Composes an answer from numbered passages."""

    name: str

    def answer(self, context: AnswerContext) -> Draft:
        """The whole answer at once."""
        ...

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer's text as it is produced (concatenated, it is the draft's text)."""
        ...
