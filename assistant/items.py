"""Items: the units of evidence inside a chunk (a bullet with its sub-bullets, a row, a sentence).

The chunker writes a chunk as its heading path on the first line, then one line per unit:
`- text` for a bullet (its sub-bullets follow as `  - child` lines), `- Column: value | …` for a
table row (chunks of kind `table`), or a paragraph, which is cut into sentences here. An item's
quote is verbatim chunk text, so a citation that quotes it can be checked against the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assistant.models import Chunk
from assistant.text import sentences

# Bumped when items are cut or embedded differently: stored item vectors must match the items.
ITEMS_VERSION = "2"
_CHILD = "  - "
_HEAD_WORDS = 6

ItemKind = Literal["bullet", "row", "sentence"]


@dataclass(frozen=True, slots=True)
class Item:
    """One quotable piece of a chunk.

    `text` is the item's own line (a bullet's text, a row, a sentence); `children` are a
    bullet's sub-bullets; `quote` is both as they stand in the chunk.
    """

    chunk: Chunk
    position: int
    kind: ItemKind
    text: str
    children: tuple[str, ...] = ()

    @property
    def quote(self) -> str:
        """The item verbatim as the chunk holds it (sub-bullets on their own lines)."""
        return "\n".join([self.text, *(f"{_CHILD}{child}" for child in self.children)])

    @property
    def name(self) -> str:
        """What the item names itself.

        A row's first cell, a label before a colon ("Reports to: the VP…"), or nothing.
        """
        if self.kind == "row":
            return self.text.split(" | ", 1)[0].partition(": ")[2] or self.text
        label, colon, rest = self.text.partition(": ")
        return label if colon and rest and len(label) <= 60 else ""

    @property
    def head(self) -> str:
        """What the item is about.

        Its name, else its first words (what a sentence or a bullet is about comes first).
        """
        return self.name or " ".join(self.text.split()[:_HEAD_WORDS])

    @property
    def flat(self) -> str:
        """The item's text on one line, sub-bullets included."""
        return " ".join([self.text, *self.children])

    @property
    def content(self) -> str:
        """The item's words that can answer a question.

        A row's are its cell values, without the column names every row of its table repeats.
        """
        if self.kind != "row":
            return self.flat
        cells = [part.partition(": ") for part in self.text.split(" | ")]
        return " ".join(value if sep else name for name, sep, value in cells)

    @property
    def columns(self) -> list[str]:
        """A row's column names (none for other items)."""
        if self.kind != "row":
            return []
        cells = [part.partition(": ") for part in self.text.split(" | ")]
        return [name.strip() for name, sep, _ in cells if sep]


def chunk_items(chunk: Chunk) -> list[Item]:
    """The quotable items of a chunk, in order (the heading-path line is not one)."""
    items: list[Item] = []
    pending_children: list[str] = []

    def close_bullet() -> None:
        if pending_children and items and items[-1].kind == "bullet":
            last = items[-1]
            items[-1] = Item(
                last.chunk, last.position, "bullet", last.text, tuple(pending_children)
            )
        pending_children.clear()

    for line in chunk.text.split("\n")[1:]:
        if line.startswith(_CHILD) and items and items[-1].kind == "bullet":
            pending_children.append(line[len(_CHILD) :].strip())
            continue
        close_bullet()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("- "):
            kind: ItemKind = "row" if chunk.kind == "table" else "bullet"
            items.append(Item(chunk, len(items), kind, stripped[2:].strip()))
        else:
            for sentence in sentences(stripped):
                items.append(Item(chunk, len(items), "sentence", sentence))
    close_bullet()
    return items


def embedding_text(item: Item) -> str:
    """What is embedded for an item: its place in the blueprint, then its text."""
    title = item.chunk.section.partition(") ")[2] or item.chunk.section
    where = f"{title} > {item.chunk.subsection}" if item.chunk.subsection else title
    return f"{where}: {item.flat}"
