"""Blueprint -> chunks that follow the document's structure.

A section (or subsection) is one chunk when it fits; a longer one is split between paragraphs,
bullets or table rows, never inside one. A bullet and its sub-bullets are one unit: they are
split apart only when that one bullet alone is longer than a chunk, and then between
sub-bullets, with the bullet's own line repeated at the top of the continuation. Every chunk
starts with its heading path, and every table row names its columns, so a chunk read alone
still says what it is about.

The chunk text is a contract: the assistant reads its items back from it line by line.

    VP of Data and AI > 4) Day-to-Day Activities > Daily activities
    A paragraph, or a sentence of a long one, on a line of its own.
    - A bullet
      - one of its sub-bullets
      - another sub-bullet
    - Metric name: Uptime | Example target / benchmark: ≥ 99%

- The first line is the heading path, `Role > Section > Subsection` (see `heading_path`).
- A line starting `- ` is a bullet; a line starting `  - ` (two spaces, dash, space) is a
  sub-bullet of the nearest bullet above it, which is always in the same chunk.
- In a chunk of kind `table` every line after the first is a row, `- Column: value | …`
  (see `render_row`), never split, with the column names repeated in each row; table rows
  never share a chunk with prose.
- Any other line is prose.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.models import Block, Blueprint, Chunk, ListItem, Section
from assistant.text import sentences

# Bumped when the chunk text format changes, so re-ingesting rewrites every document.
CHUNKER_VERSION = "2"
BULLET = "- "
SUB_BULLET = "  - "


@dataclass(frozen=True)
class _Unit:
    """An indivisible piece of a section's text: a paragraph, a bullet or a table row."""

    text: str
    is_row: bool = False
    # A bullet's sub-bullet lines, each already in the text; where an overlong bullet splits.
    children: tuple[str, ...] = ()


def heading_path(blueprint: Blueprint, section: Section) -> str:
    """`Role > 7) Section > Subsection`, the first line of every chunk."""
    parts = [blueprint.role, section.heading]
    if section.subsection:
        parts.append(section.subsection)
    return " > ".join(parts)


def render_row(header: list[str], row: list[str]) -> str:
    """A table row as `Column: value | Column: value`, so it reads alone."""
    cells = []
    for index, value in enumerate(row):
        name = header[index] if index < len(header) and header[index] else f"Column {index + 1}"
        if value:
            cells.append(f"{name}: {value}")
    return " | ".join(cells)


def chunk_blueprint(blueprint: Blueprint, chunk_size: int) -> list[Chunk]:
    """Chunks of one blueprint, in document order, with stable content-addressed ids."""
    drafts: list[tuple[Section, str, bool]] = []
    for section in blueprint.sections:
        path = heading_path(blueprint, section)
        for body, is_table in _pack(list(_units(section.blocks)), chunk_size):
            drafts.append((section, f"{path}\n{body}", is_table))

    doc_hash = _hash(
        CHUNKER_VERSION,
        blueprint.role,
        blueprint.url,
        blueprint.source,
        blueprint.modified.isoformat() if blueprint.modified else "",
        *(text for _, text, _ in drafts),
    )
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for position, (section, text, is_table) in enumerate(drafts):
        content_hash = _hash(text)
        chunk_id = f"{blueprint.doc_id}:{section.number:02d}:{content_hash[:16]}"
        while chunk_id in seen:  # identical text twice in one document
            chunk_id += "+"
        seen.add(chunk_id)
        chunks.append(
            Chunk(
                id=chunk_id,
                text=text,
                role=blueprint.role,
                role_id=blueprint.role_id,
                doc_id=blueprint.doc_id,
                doc_hash=doc_hash,
                coverage=blueprint.coverage,
                section=section.heading,
                section_key=section.key,
                section_number=section.number,
                subsection=section.subsection,
                kind="table" if is_table else "text",
                source=blueprint.source,
                url=blueprint.url,
                modified=blueprint.modified.isoformat() if blueprint.modified else "",
                content_hash=content_hash,
                position=position,
            )
        )
    return chunks


def _units(blocks: list[Block]) -> Iterator[_Unit]:
    for block in blocks:
        if block.kind == "paragraph" and block.text:
            yield _Unit(block.text)
        elif block.kind == "bullets":
            for item in block.items:
                yield from _bullet_units(item)
        elif block.kind == "table" and block.table is not None:
            header = block.table.header
            yield from (
                _Unit(f"{BULLET}{render_row(header, row)}", is_row=True)
                for row in block.table.rows
                if any(row)
            )


def _bullet_units(item: ListItem) -> Iterator[_Unit]:
    children = tuple(f"{SUB_BULLET}{child}" for child in item.children if child)
    if not item.text:
        # Sub-bullets with no bullet above them are bullets themselves.
        yield from (_Unit(f"{BULLET}{child}") for child in item.children if child)
        return
    parent = f"{BULLET}{item.text}"
    yield _Unit("\n".join([parent, *children]), children=children)


def _pieces(unit: _Unit, limit: int) -> list[str]:
    """A unit as the pieces it may be split into: itself whenever it fits."""
    if len(unit.text) <= limit or unit.is_row:
        return [unit.text]
    if not unit.children:
        return sentences(unit.text)
    parent = unit.text.split("\n", 1)[0]
    pieces: list[list[str]] = []
    size = 0
    for child in unit.children:
        if not pieces or size + len(child) + 1 > limit:
            pieces.append([parent])
            size = len(parent)
        pieces[-1].append(child)
        size += len(child) + 1
    return ["\n".join(piece) for piece in pieces]


def _pack(units: list[_Unit], limit: int) -> Iterator[tuple[str, bool]]:
    """Greedy packing of whole units; table rows never share a chunk with prose."""
    current: list[str] = []
    size = 0
    current_is_table = False
    for unit in units:
        for piece in _pieces(unit, limit):
            starts_new_kind = current and unit.is_row != current_is_table
            if current and (starts_new_kind or size + len(piece) + 1 > limit):
                yield "\n".join(current), current_is_table
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
            current_is_table = unit.is_row
    if current:
        yield "\n".join(current), current_is_table


def _hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
