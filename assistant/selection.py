"""Which parts of the retrieved text a question is about: heading matches and item matches.

Words are compared by a short prefix of their stem (`promoted` and `promotion` both give
`promot`), which is crude but matches how people paraphrase headings.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.models import Chunk, RoleInfo
from assistant.roles import role_words
from assistant.text import fold, sentences, tokens

_PREFIX = 6
# Words that name a kind of section rather than what is in it: they choose the section,
# but an item does not answer a question by containing them.
_SECTION_WORDS = frozenset(
    """kpi metric measure target track tool platform software use skill goal objective milestone
    responsibility responsible accountable own day daily weekly activity deliverable stakeholder
    decision authority experience qualification career path progression risk challenge variant
    hiring interview candidate scorecard summary mission role job first month typical common
    expect expected need should main key top list listed year week""".split()
)


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
            items.extend(Item(chunk, sentence, "sentence") for sentence in sentences(line))
    return items


def term_key(token: str) -> str:
    """The comparison key of a token."""
    return token[:_PREFIX]


def keys(text: str) -> set[str]:
    """The comparison keys of a text's words (stopwords and single characters dropped)."""
    return {term_key(t) for t in tokens(text) if len(t) > 1}


class TermWeights:
    """How rare each key is across the corpus's chunks (inverse document frequency)."""

    def __init__(self, texts: Iterable[str]) -> None:
        frequency: Counter[str] = Counter()
        count = 0
        for text in texts:
            frequency.update(keys(text))
            count += 1
        self._idf = {k: math.log(1 + (count - f + 0.5) / (f + 0.5)) for k, f in frequency.items()}
        self._unseen = math.log(1 + (count + 0.5) / 0.5) if count else 0.0

    def weight(self, key: str) -> float:
        """The weight of one key (a key the corpus never uses weighs most)."""
        return self._idf.get(key, self._unseen)

    def known(self, key: str) -> bool:
        """Whether any chunk of the corpus uses the key."""
        return key in self._idf

    def score(self, wanted: set[str], text_keys: set[str] | frozenset[str]) -> float:
        """The summed weight of the wanted keys a text contains."""
        return sum(self.weight(k) for k in wanted & text_keys)


class ItemIndex:
    """Every chunk's items with their keys, and the corpus's word weights, built once."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        chunks = list(chunks)
        self.weights = TermWeights(c.text for c in chunks)
        self._items = {
            c.id: [(i, frozenset(keys(i.quote))) for i in chunk_items(c)] for c in chunks
        }

    def items(self, chunk: Chunk) -> list[tuple[Item, frozenset[str]]]:
        """A chunk's items with their keys (computed on the spot for a chunk not indexed)."""
        found = self._items.get(chunk.id)
        if found is None:
            found = [(i, frozenset(keys(i.quote))) for i in chunk_items(chunk)]
        return found

    def best_item_score(self, chunk: Chunk, wanted: set[str]) -> float:
        """The weight of the wanted keys found in the chunk's best-matching item."""
        return max((self.weights.score(wanted, k) for _, k in self.items(chunk)), default=0.0)


def question_keys(question: str, roles: list[RoleInfo]) -> tuple[set[str], set[str]]:
    """The question's keys for headings (all but role names) and for content (no section words)."""
    names = role_words(roles)
    words = [t for t in tokens(question) if len(t) > 1 and t not in names]
    heading = {term_key(t) for t in words}
    content = {term_key(t) for t in words if t not in _SECTION_WORDS}
    return heading, content


def heading_overlap(wanted: set[str], chunk: Chunk) -> int:
    """How many of the wanted keys the chunk's section and subsection titles contain."""
    return len(wanted & keys(f"{chunk.section} {chunk.subsection}"))


def matches_hint(chunk: Chunk, hints: Sequence[str]) -> bool:
    """Whether a chunk's subsection is one the question hints at ("30" for 30-day goals)."""
    if not hints:
        return False
    subsection = fold(chunk.subsection)
    return any(hint in subsection for hint in hints)


def best_by(scores: Mapping[str, float], *, share: float = 0.5) -> set[str]:
    """The names scoring at least `share` of the best positive score (all of them if none)."""
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return set(scores)
    return {name for name, score in scores.items() if score >= share * best}
