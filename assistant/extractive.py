"""The default answerer: the answer is the selected items themselves, each with its citation.

It needs no LLM. Every item is quoted from one chunk and followed by its own marker, so each
claim can be checked against the exact text it came from. Table rows stay a table (with the
columns the question needs), a bullet keeps its sub-bullets under it, and a part of a
blueprint keeps its subsection headings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant.answering import AnswerContext, Draft, Finding
from assistant.items import Item
from assistant.models import Passage, RoleCoverage, RoleInfo
from assistant.sections import section_title
from assistant.text import keys
from assistant.vocabulary import vocabulary


@dataclass(frozen=True)
class Row:
    """A table row read back from its chunk line: `Column: value | Column: value`."""

    cells: dict[str, str]

    @classmethod
    def of(cls, item: Item) -> Row:
        """The cells of a row item (a cell without a column name is keyed by its position)."""
        cells: dict[str, str] = {}
        for position, part in enumerate(item.text.split(" | ")):
            name, separator, value = part.partition(": ")
            if separator:
                cells[name.strip()] = value.strip()
            else:
                cells[f"Column {position + 1}"] = part.strip()
        return cls(cells)


class _Composer:
    """Accumulates answer lines and the passage each marker numbers."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.evidence: list[Passage] = []
        self.quotes: dict[int, str] = {}

    def cite(self, item: Item) -> str:
        self.evidence.append(Passage(chunk=item.chunk, score=1.0, quote=item.quote))
        number = len(self.evidence)
        self.quotes[number] = item.quote
        return f"[{number}]"

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def draft(self) -> Draft:
        return Draft(
            text="\n".join(self.lines).strip(),
            answerer=ExtractiveAnswerer.name,
            quotes=self.quotes,
            passages=self.evidence,
        )


class ExtractiveAnswerer:
    """Grounded answers without an LLM, composed from what selection chose for each role."""

    name = "extractive"

    def answer(self, context: AnswerContext) -> Draft:
        """Compose the answer: a block per role, then items, tables or parts as selected."""
        composer = _Composer()
        question_words = context.plan.words
        several = len(context.findings) > 1
        for finding in context.findings:
            if several:
                composer.blank()
                composer.lines.append(f"**{finding.role.role}**")
                composer.lines.append("")
            write_items(composer, finding, question_words, with_source=not several)
        return composer.draft()

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer line by line (it is composed at once; streaming keeps one interface)."""
        yield from self.answer(context).text.splitlines(keepends=True)


def write_items(
    composer: _Composer, finding: Finding, question_words: frozenset[str], *, with_source: bool
) -> None:
    """One role's selected items: an intro line naming where they come from, then the items."""
    items = finding.items
    if not items:
        return
    sections = list(dict.fromkeys(i.chunk.section for i in items))
    subsections = {i.chunk.subsection for i in items}
    where = ", ".join(f"*{s}*" for s in sections)
    if len(sections) == 1 and len(subsections) == 1 and items[0].chunk.subsection:
        where += f", *{items[0].chunk.subsection}*"
    if with_source:
        composer.lines.append(f"From the **{finding.role.role}** blueprint ({where}):")
        composer.lines.append("")
    show_subsections = finding.whole_part and len(subsections) > 1
    current: str | None = None
    run: list[Item] = []
    for item in items:
        if show_subsections and item.chunk.subsection != current:
            _flush(composer, run, question_words)
            run = []
            current = item.chunk.subsection
            if current:
                composer.blank()
                composer.lines.append(f"**{current}**")
                composer.lines.append("")
        run.append(item)
    _flush(composer, run, question_words)


def _flush(composer: _Composer, items: list[Item], question_words: frozenset[str]) -> None:
    """Items of one subsection: rows as a table, bullets as a list, sentences as a paragraph."""
    group: list[Item] = []
    for item in items:
        if group and _kind(group[-1]) != _kind(item):
            _write_group(composer, group, question_words)
            group = []
        group.append(item)
    if group:
        _write_group(composer, group, question_words)


def _kind(item: Item) -> str:
    return "row" if item.kind == "row" else "bullet" if item.kind == "bullet" else "sentence"


def _write_group(composer: _Composer, group: list[Item], question_words: frozenset[str]) -> None:
    kind = _kind(group[0])
    if kind == "row":
        _write_table(composer, group, question_words)
    elif kind == "bullet":
        composer.blank()
        for item in group:
            composer.lines.append(f"- {item.text} {composer.cite(item)}")
            composer.lines.extend(f"  - {child}" for child in item.children)
        composer.lines.append("")
    else:
        composer.blank()
        composer.lines.append(" ".join(f"{item.text} {composer.cite(item)}" for item in group))
        composer.lines.append("")


def _write_table(composer: _Composer, rows: list[Item], question_words: frozenset[str]) -> None:
    parsed = [Row.of(row) for row in rows]
    columns = table_columns(
        parsed, rows[0].chunk.section_key, question_words, single=len(rows) == 1
    )
    composer.blank()
    composer.lines.append("| " + " | ".join(columns) + " |")
    composer.lines.append("|" + " --- |" * len(columns))
    for row, item in zip(parsed, rows, strict=True):
        cells = [_cell(row.cells.get(column, "")) for column in columns]
        cells[-1] = f"{cells[-1]} {composer.cite(item)}".strip()
        composer.lines.append("| " + " | ".join(cells) + " |")
    composer.lines.append("")


def table_columns(
    rows: Sequence[Row], section_key: str, question_words: frozenset[str], *, single: bool
) -> list[str]:
    """The columns an answer shows: the first, the section's usual ones, and those asked for.

    A question that names a column ("what does it measure", "why does it matter") gets it;
    a section without usual columns, or a single row, shows them all.
    """
    names = list(dict.fromkeys(name for row in rows for name in row.cells))
    if not names:
        return []
    kind = vocabulary().section(section_key)
    preferred = kind.answer_columns if kind is not None else []
    if single or not preferred:
        return names
    chosen = [names[0]]
    for name in names[1:]:
        lowered = name.lower()
        if any(p in lowered for p in preferred) or (keys(name) & question_words):
            chosen.append(name)
    return chosen if len(chosen) > 1 else names


def _cell(value: str) -> str:
    # A pipe would end the cell in Markdown.
    return value.replace("|", "/").strip()


def partial_answer(findings: Sequence[Finding], missing: Sequence[str]) -> Draft:
    """Summary-only roles asked for detail: say what is missing, cite what there is."""
    composer = _Composer()
    what = ", ".join(missing) or "that detail"
    for finding in findings:
        composer.blank()
        composer.lines.append(
            f"The knowledge base has only a summary of the **{finding.role.role}** blueprint, "
            f"so it does not cover its {what}. Here is what the summary says:"
        )
        composer.lines.append("")
        composer.lines.append(" ".join(f"{i.text} {composer.cite(i)}" for i in finding.items))
    names = " and ".join(f.role.role for f in findings)
    composer.blank()
    composer.lines.append(
        f"To answer this fully, ingest the full {names} blueprint "
        "(`blueprints ingest <file or folder>` or `blueprints sync <site>`)."
    )
    return composer.draft()


def catalogue_answer(title: str, roles: Sequence[RoleInfo], summaries: dict[str, Item]) -> Draft:
    """A complete list of catalogue roles, each cited to its summary."""
    composer = _Composer()
    composer.lines.append(title)
    composer.lines.append("")
    for role in roles:
        detail = "full blueprint" if role.coverage is RoleCoverage.FULL else "summary only"
        summary = summaries.get(role.id)
        marker = f" {composer.cite(summary)}" if summary is not None else ""
        composer.lines.append(f"- **{role.role}** ({detail}){marker}")
    return composer.draft()


def covered_sections(sections: Sequence[str]) -> str:
    """A blueprint's section titles, without their numbers, in one line."""
    return " · ".join(dict.fromkeys(_bare(s) for s in sections))


def _bare(heading: str) -> str:
    number, separator, title = heading.partition(") ")
    return title if separator and number.isdigit() else heading


def template_titles() -> list[str]:
    """The template's section titles, for what a blueprint usually covers."""
    return [section_title(key) for key in vocabulary().section_keys]
