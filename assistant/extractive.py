"""The default answerer: composes an answer from the passages' own bullets, rows and sentences.

It needs no LLM. Every item of the answer is quoted from one chunk and followed by its own
citation marker, so each claim can be checked against the exact text it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant.answering import AnswerContext, Draft, QueryPlan
from assistant.models import Chunk, Passage, RoleCoverage, RoleInfo
from assistant.retrieval import matches_hint
from assistant.sections import section_title
from assistant.text import tokens

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])")
_MAX_ITEMS = 40
_LOOKUP_ITEMS = 8


@dataclass(frozen=True)
class Item:
    """One quotable piece of a chunk: a bullet, a table row or a sentence."""

    chunk: Chunk
    quote: str
    kind: str  # bullet | row | sentence


def chunk_items(chunk: Chunk) -> list[Item]:
    """The quotable items of a chunk, in order (the heading-path line is not one)."""
    items: list[Item] = []
    for line in chunk.text.split("\n")[1:]:
        line = line.strip()
        if not line:
            continue
        if line.startswith("- "):
            kind = "row" if chunk.kind == "table" else "bullet"
            items.append(Item(chunk, line[2:].strip(), kind))
        else:
            items.extend(
                Item(chunk, s.strip(), "sentence") for s in _SENTENCE_END.split(line) if s.strip()
            )
    return items


def render_item(item: Item) -> str:
    """An item as answer text: a table row reads as `**Metric**: measures…; target…`."""
    if item.kind != "row":
        return item.quote
    cells = [cell.partition(": ") for cell in item.quote.split(" | ")]
    first = cells[0][2] or cells[0][0]
    rest = "; ".join(f"{name.lower()}: {value}" for name, _, value in cells[1:] if value)
    return f"**{first}**: {rest}" if rest else f"**{first}**"


class _Composer:
    """Accumulates answer lines and the passage each marker numbers."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.evidence: list[Passage] = []
        self.quotes: dict[int, str] = {}

    def cite(self, item: Item, score: float = 0.0) -> str:
        self.evidence.append(Passage(chunk=item.chunk, score=score))
        number = len(self.evidence)
        self.quotes[number] = item.quote
        return f"[{number}]"

    def bullet(self, item: Item) -> None:
        self.lines.append(f"- {render_item(item)} {self.cite(item)}")

    def draft(self, notes: Sequence[str] = ()) -> Draft:
        return Draft(
            text="\n".join(self.lines).strip(),
            answerer=ExtractiveAnswerer.name,
            quotes=self.quotes,
            notes=list(notes),
            passages=self.evidence,
        )


class ExtractiveAnswerer:
    """Grounded answers without an LLM."""

    name = "extractive"

    def answer(self, context: AnswerContext) -> Draft:
        """Compose the answer for a lookup or a comparison."""
        composer = _Composer()
        plan = context.plan
        multi_role = len(plan.roles) > 1
        for role in plan.roles:
            passages = [p for p in context.passages if p.chunk.role_id == role.id]
            if not passages:
                continue
            if multi_role:
                composer.lines.append(f"**{role.role}**")
            if role.coverage is RoleCoverage.SUMMARY or not plan.sections:
                self._best_items(composer, context.question, passages, role, plan.roles != [])
            else:
                self._sections(composer, passages, plan, role)
            composer.lines.append("")
        if not plan.roles and not composer.evidence:
            self._best_items(composer, context.question, context.passages, None, False)
        return composer.draft()

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer line by line (it is composed at once; streaming keeps one interface)."""
        yield from self.answer(context).text.splitlines(keepends=True)

    @staticmethod
    def _sections(
        composer: _Composer, passages: list[Passage], plan: QueryPlan, role: RoleInfo
    ) -> None:
        wanted = [p for p in passages if p.chunk.section_key in plan.sections]
        hinted = [p for p in wanted if matches_hint(p.chunk, plan.subsections)]
        wanted = hinted or wanted
        if not wanted:
            return
        headings = list(dict.fromkeys(p.chunk.section for p in wanted))
        named = ", ".join(f"*{h}*" for h in headings)
        composer.lines.append(f"From the **{role.role}** blueprint ({named}):")
        composer.lines.append("")
        current_subsection: str | None = None
        count = 0
        for passage in wanted:
            chunk = passage.chunk
            if chunk.subsection != current_subsection:
                current_subsection = chunk.subsection
                if chunk.subsection:
                    composer.lines.append(f"**{chunk.subsection}**")
            for item in chunk_items(chunk):
                if count >= _MAX_ITEMS:
                    return
                composer.bullet(item)
                count += 1

    @staticmethod
    def _best_items(
        composer: _Composer,
        question: str,
        passages: list[Passage],
        role: RoleInfo | None,
        role_named: bool,
    ) -> None:
        """The items that share most words with the question, from the best passages."""
        wanted = set(tokens(question))
        if role is not None:
            wanted -= set(tokens(role.role))
        ranked: list[tuple[float, int, Item, Passage]] = []
        order = 0
        for rank, passage in enumerate(passages[:6]):
            for item in chunk_items(passage.chunk):
                overlap = len(wanted & set(tokens(item.quote)))
                # Earlier passages rank higher; overlap with the question decides within them.
                ranked.append((overlap - 0.3 * rank, order, item, passage))
                order += 1
        if not ranked:
            return
        limit = len(ranked) if role and role.coverage is RoleCoverage.SUMMARY else _LOOKUP_ITEMS
        best = sorted(ranked, key=lambda r: (-r[0], r[1]))[:limit]
        best.sort(key=lambda r: r[1])
        if role is not None and role_named:
            where = ", ".join(dict.fromkeys(f"*{i.chunk.section}*" for _, _, i, _ in best))
            composer.lines.append(f"From the **{role.role}** blueprint ({where}):")
            composer.lines.append("")
        for _, _, item, _ in best:
            if role is None:
                composer.lines.append(
                    f"- {render_item(item)} ({item.chunk.role}, {item.chunk.section})"
                    f" {composer.cite(item)}"
                )
            else:
                composer.bullet(item)


def partial_answer(
    roles: list[RoleInfo], sections: list[str], summaries: dict[str, Passage]
) -> Draft:
    """Summary-only roles asked for detail: say what is missing, cite what there is."""
    composer = _Composer()
    missing = ", ".join(section_title(key) for key in sections) or "that detail"
    for role in roles:
        summary = summaries.get(role.id)
        if role.coverage is RoleCoverage.FULL or summary is None:
            continue
        composer.lines.append(
            f"The knowledge base has only a summary of the **{role.role}** blueprint, so it "
            f"does not cover its {missing}. Here is what the summary says:"
        )
        composer.lines.append("")
        for item in chunk_items(summary.chunk):
            composer.bullet(item)
        composer.lines.append("")
    names = " and ".join(r.role for r in roles if r.coverage is RoleCoverage.SUMMARY)
    composer.lines.append(
        f"To answer this fully, ingest the full {names} blueprint "
        "(`blueprints ingest <file or folder>`)."
    )
    return composer.draft()


def catalogue_answer(title: str, roles: list[RoleInfo], summaries: dict[str, Passage]) -> Draft:
    """A complete list of catalogue roles, each cited to its summary."""
    composer = _Composer()
    composer.lines.append(title)
    composer.lines.append("")
    for role in roles:
        summary = summaries.get(role.id)
        detail = "full blueprint" if role.coverage is RoleCoverage.FULL else "summary only"
        marker = ""
        if summary is not None:
            items = chunk_items(summary.chunk)
            if items:
                marker = " " + composer.cite(items[0])
        composer.lines.append(f"- **{role.role}** ({detail}){marker}")
    return composer.draft()
