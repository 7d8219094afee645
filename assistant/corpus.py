"""One document's items, ready to score: vectors, word keys and heading keys.

A `DocumentIndex` is built from a document's chunks and the item vectors stored with them, once
per version of the document, and shared by every question about its role.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.items import Item, chunk_items
from assistant.manifest import DocumentRecord
from assistant.models import Chunk
from assistant.text import key_sequence, keys


@dataclass(frozen=True)
class DocumentIndex:
    """The items of one document version, with what item scoring reads.

    `vectors` has one L2-normalised row per item (a zero row where the store had none);
    `head_keys` are the words of each item's head (what it is about: a row's first cell, a
    bullet's own line); `idf` weighs each word key by how few of the document's items use it;
    `column_keys` holds, per section, the word keys of its tables' column names; `names`
    maps the word-key sequence of each item name of two words or more ("Change failure
    rate", "Reports to") to the positions of the items so named.
    """

    record: DocumentRecord
    chunks: list[Chunk]
    items: list[Item]
    vectors: np.ndarray
    item_keys: list[frozenset[str]]
    head_keys: list[frozenset[str]]
    heading_keys: list[frozenset[str]]
    idf: Mapping[str, float]
    column_keys: Mapping[str, frozenset[str]]
    names: Mapping[tuple[str, ...], list[int]]

    @classmethod
    def build(
        cls,
        record: DocumentRecord,
        chunks: Sequence[Chunk],
        vectors: Mapping[str, np.ndarray],
    ) -> DocumentIndex:
        """Cut the chunks into items and line their stored vectors up with them."""
        ordered = sorted(chunks, key=lambda c: c.position)
        dimension = next((v.shape[1] for v in vectors.values() if v.ndim == 2 and v.size), 0)
        items: list[Item] = []
        rows: list[np.ndarray] = []
        for chunk in ordered:
            chunk_items_ = chunk_items(chunk)
            stored = vectors.get(chunk.id)
            if stored is None or stored.shape[0] != len(chunk_items_):
                # Items cut differently from when they were embedded: no dense evidence.
                stored = np.zeros((len(chunk_items_), dimension), dtype=np.float32)
            items.extend(chunk_items_)
            rows.extend(stored)
        matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dimension))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        # One set per distinct value: a document's index stays in memory while its role is
        # asked about, and every object in it is one more for the garbage collector to walk.
        distinct: dict[frozenset[str], frozenset[str]] = {}
        headings: dict[tuple[str, str], frozenset[str]] = {}
        for chunk in ordered:
            where = (chunk.section, chunk.subsection)
            if where not in headings:
                found = frozenset(keys(f"{chunk.section} {chunk.subsection}"))
                headings[where] = distinct.setdefault(found, found)
        # Heads, column names and item names repeat within a document (a table's columns on
        # every row): each text's keys are worked out once.
        known: dict[str, set[str]] = {}

        def keys_of(text: str) -> set[str]:
            if text not in known:
                known[text] = keys(text)
            return known[text]

        item_keys = [_one(distinct, keys(i.content)) for i in items]
        head_keys = [_one(distinct, keys_of(i.head)) for i in items]
        heading_keys = [headings[(i.chunk.section, i.chunk.subsection)] for i in items]
        frequency: Counter[str] = Counter()
        for found in item_keys:
            frequency.update(found)
        count = len(items)
        idf = {k: math.log(1 + (count - f + 0.5) / (f + 0.5)) for k, f in frequency.items()}
        columns: dict[str, set[str]] = {}
        for item in items:
            for name in item.columns:
                columns.setdefault(item.chunk.section_key, set()).update(keys_of(name))
        column_keys = {section: frozenset(found) for section, found in columns.items()}
        names: dict[tuple[str, ...], list[int]] = {}
        for position, item in enumerate(items):
            if len(keys_of(item.name)) >= 2:
                names.setdefault(tuple(key_sequence(item.name)), []).append(position)
        return cls(
            record,
            ordered,
            items,
            matrix,
            item_keys,
            head_keys,
            heading_keys,
            idf,
            column_keys,
            names,
        )

    @property
    def words(self) -> frozenset[str]:
        """Every word key the document uses, in its items or its headings."""
        return frozenset(self.idf) | frozenset(k for h in self.heading_keys for k in h)

    def weight(self, key: str) -> float:
        """How telling a word key is within this document (an unused key weighs most)."""
        return self.idf.get(key, math.log(1 + (len(self.items) + 0.5) / 0.5))


def _one(distinct: dict[frozenset[str], frozenset[str]], found: set[str]) -> frozenset[str]:
    """`found` as a frozenset, the same object as an equal one made before."""
    key = frozenset(found)
    return distinct.setdefault(key, key)
