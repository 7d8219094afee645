"""The seam between answer selection and answer composition."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from assistant.items import Item
from assistant.models import Passage, RoleInfo
from assistant.planning import Plan


@dataclass(frozen=True)
class Finding:
    """What selection chose from one role's blueprint.

    `whole_part` says the items are a part of the blueprint (a section or subsections), in
    document order; otherwise they are a topic's few items, best first.
    """

    role: RoleInfo
    items: list[Item]
    whole_part: bool = False


@dataclass(frozen=True)
class AnswerContext:
    """A standalone question with its plan and what to answer from, per role."""

    question: str
    plan: Plan
    findings: list[Finding]

    @property
    def passages(self) -> list[Passage]:
        """The chosen items as numbered passages (1-based, in answer order)."""
        return [
            Passage(chunk=item.chunk, score=1.0, quote=item.quote)
            for finding in self.findings
            for item in finding.items
        ]


@dataclass
class Draft:
    """An answer before its citations are checked: markdown with `[n]` markers.

    `quotes` maps a passage number to the exact text the answer rests on; where it is
    missing, validation picks the passage sentence that best supports the cited claim.
    `passages`, when set, are what the markers number instead of the context's passages.
    """

    text: str
    answerer: str
    quotes: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    passages: list[Passage] | None = None


class Answerer(Protocol):
    """Composes an answer from the items selection chose."""

    name: str

    def answer(self, context: AnswerContext) -> Draft:
        """The whole answer at once."""
        ...

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer's text as it is produced (concatenated, it is the draft's text)."""
        ...
