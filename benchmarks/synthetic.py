"""Synthetic full blueprints for scale benchmarks, and an embedder that reuses what it computed.

Every synthetic blueprint is the bundled full blueprint (`VP of Data and AI`, all 20
sections) under another role title, with its text varied section by section: each section
is, by a seeded draw per blueprint, one of four variants (as written; bullets and table rows
in reverse order; the last bullet of each list and the last row of each table dropped; bullets
rotated by one and paragraphs reversed). The title replaces the bundled one wherever the text
names it. So no two blueprints have the same chunks, and a question about one role resolves
to that role alone, among titles that share most of their words as real catalogues do
("Director of Payments Engineering", "VP of Payments Analytics", ...).

Embedding 1,000 such blueprints for real would take hours on two cores. `ReusingEmbedder`
embeds each distinct text once *up to the role title*: a text whose only difference from one
embedded before is which synthetic title it names gets that text's vector. Item texts never
name the role (an item is embedded with its section, not its role), so they are reused
exactly; chunk texts start with their role's title, so a chunk's vector is that of the same
chunk under the first title that had it. The index therefore holds real vectors of real
texts, one per (section variant, chunk), and the dense scores of a copy's chunks are those of
its first copy: what the benchmarks time (retrieval, scoring, memory) is unchanged by it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.embeddings import Embedder
from assistant.models import Block, Blueprint, ListItem, RoleCoverage, Section, Table
from benchmarks.support import BUNDLED_CORPUS
from ingest.parsers import parse_source

BUNDLED_POST = BUNDLED_CORPUS / "vp-of-data-and-ai.wordpress.json"
BUNDLED_TITLE = "VP of Data and AI"
RANKS = ("VP", "Director", "Head", "Senior Director", "Senior Manager")
DOMAINS = (
    "Payments", "Logistics", "Fraud", "Supply Chain", "Customer Support", "Billing",
    "Identity", "Search", "Recommendations", "Ads", "Pricing", "Risk", "Compliance",
    "Mobile", "Web", "Growth", "Marketplace", "Inventory", "Fulfillment", "Treasury",
    "Procurement", "Onboarding", "Messaging", "Maps", "Video", "Audio", "Gaming", "Health",
    "Insurance", "Lending", "Trading", "Wealth", "Retail", "Travel", "Hospitality", "Energy",
    "Telecom", "Automotive", "Robotics", "Education",
)  # fmt: skip
FUNCTIONS = ("Engineering", "Analytics", "Operations", "Platform", "Research")
VARIANTS = 4


def titles(count: int) -> list[str]:
    """`count` distinct role titles, `{rank} of {domain} {function}`."""
    every = [f"{r} of {d} {f}" for d in DOMAINS for f in FUNCTIONS for r in RANKS]
    if count > len(every):
        msg = f"at most {len(every)} synthetic titles, not {count}"
        raise ValueError(msg)
    # Spread over domains first, so a small count still varies in every word.
    return sorted(every, key=lambda t: (every.index(t) % 7, t))[:count]


def title_pattern() -> re.Pattern[str]:
    """Any synthetic title, or the bundled one: what `ReusingEmbedder` looks past."""
    alternatives = lambda words: "|".join(map(re.escape, sorted(words, key=len, reverse=True)))  # noqa: E731
    return re.compile(
        rf"(?:(?:{alternatives(RANKS)}) of (?:{alternatives(DOMAINS)}) "
        rf"(?:{alternatives(FUNCTIONS)})|{re.escape(BUNDLED_TITLE)})"
    )


def bundled_blueprint() -> Blueprint:
    """The bundled full blueprint, parsed as an ingest parses it."""
    (blueprint,) = parse_source(BUNDLED_POST).blueprints
    return blueprint


def synthetic_blueprints(count: int, *, seed: int = 7) -> Iterator[Blueprint]:
    """`count` full blueprints from the bundled one's structure (see the module docstring)."""
    template = bundled_blueprint()
    for number, title in enumerate(titles(count)):
        draw = random.Random(f"{seed}:{number}")
        sections = [_variant(s, draw.randrange(VARIANTS), title) for s in template.sections]
        role_id = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        yield template.model_copy(
            update={
                "role": title,
                "role_id": role_id,
                "coverage": RoleCoverage.FULL,
                "source": f"synthetic/{role_id}.json",
                "url": f"https://blueprints.example/{role_id}/",
                "sections": sections,
                "post_id": None,
                "origin": "",
            }
        )


def edited(blueprint: Blueprint, edit: int) -> Blueprint:
    """The blueprint with one sentence added to its first section (a one-document change)."""
    first, *rest = blueprint.sections
    note = Block(kind="paragraph", text=f"Revision {edit}: reviewed with the hiring panel.")
    return blueprint.model_copy(
        update={"sections": [first.model_copy(update={"blocks": [*first.blocks, note]}), *rest]}
    )


def _variant(section: Section, variant: int, title: str) -> Section:
    blocks = [_retitle(b, title) for b in section.blocks]
    if variant == 1:
        blocks = [_reorder(b, lambda xs: xs[::-1]) for b in blocks]
    elif variant == 2:
        blocks = [_reorder(b, lambda xs: xs[:-1] if len(xs) > 3 else xs) for b in blocks]
    elif variant == 3:
        blocks = [_reorder(b, lambda xs: xs[1:] + xs[:1]) for b in blocks]
        paragraphs = iter([b for b in blocks if b.kind == "paragraph"][::-1])
        blocks = [next(paragraphs) if b.kind == "paragraph" else b for b in blocks]
    return section.model_copy(update={"blocks": blocks})


def _reorder(block: Block, order: Callable[[list[Any]], list[Any]]) -> Block:
    if block.kind == "bullets":
        return block.model_copy(update={"items": order(list(block.items))})
    if block.kind == "table" and block.table is not None:
        table = Table(header=block.table.header, rows=order(list(block.table.rows)))
        return block.model_copy(update={"table": table})
    return block


def _retitle(block: Block, title: str) -> Block:
    def swap(text: str) -> str:
        return text.replace(BUNDLED_TITLE, title)

    items = [
        ListItem(text=swap(i.text), children=[swap(c) for c in i.children]) for i in block.items
    ]
    table = (
        Table(
            header=[swap(h) for h in block.table.header],
            rows=[[swap(c) for c in row] for row in block.table.rows],
        )
        if block.table is not None
        else None
    )
    return block.model_copy(update={"text": swap(block.text), "items": items, "table": table})


@dataclass
class ReusingEmbedder:
    """Embeds each text once up to the role title it names (see the module docstring)."""

    inner: Embedder
    pattern: re.Pattern[str]
    asked: int = 0
    embedded: int = 0

    def __post_init__(self) -> None:
        self._vectors: dict[str, list[float]] = {}

    @property
    def name(self) -> str:
        """The inner model's name (the index is stamped with it)."""
        return self.inner.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for the texts, embedding only those not seen before up to their title."""
        keys = [self.pattern.sub("\0", t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._vectors:
                missing.setdefault(key, text)
        if missing:
            vectors = self.inner.embed_documents(list(missing.values()))
            self._vectors.update(zip(missing, vectors, strict=True))
        self.asked += len(texts)
        self.embedded += len(missing)
        return [self._vectors[k] for k in keys]

    def embed_query(self, text: str) -> list[float]:
        """A question is embedded for real."""
        return self.inner.embed_query(text)


def batches(values: Sequence[Blueprint], size: int) -> Iterator[list[Blueprint]]:
    """The blueprints a `size` at a time, as a sync writes pages of posts."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
