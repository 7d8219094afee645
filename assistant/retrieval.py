"""Hybrid retrieval: dense similarity from Chroma fused with BM25, shaped by role and section."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering import QueryPlan
from assistant.embeddings import Embedder
from assistant.models import Chunk, Passage
from assistant.selection import ItemIndex, heading_overlap, matches_hint, question_keys
from assistant.store import ChunkStore
from assistant.text import tokens

RRF_K = 60


class BM25:
    """Okapi BM25 over a fixed list of texts."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self._docs = [Counter(tokens(text)) for text in texts]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        self._k1 = k1
        self._b = b

    def scores(self, query: str, among: Sequence[int] | None = None) -> dict[int, float]:
        """Scores of the documents (by index) that share a term with the query."""
        terms = set(tokens(query))
        candidates = range(len(self._docs)) if among is None else among
        result: dict[int, float] = {}
        for index in candidates:
            doc = self._docs[index]
            norm = self._k1 * (1 - self._b + self._b * self._lengths[index] / (self._avg or 1))
            score = 0.0
            for term in terms & doc.keys():
                tf = doc[term]
                score += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
            if score > 0:
                result[index] = score
        return result


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    """Fuse ranked lists of ids: each list adds 1 / (k + rank) to an id's score."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass(frozen=True)
class Corpus:
    """A snapshot of the store's chunks with their lexical index."""

    chunks: list[Chunk]
    bm25: BM25
    items: ItemIndex

    @classmethod
    def of(cls, chunks: list[Chunk]) -> Corpus:
        """Index a list of chunks."""
        return cls(chunks, BM25([c.text for c in chunks]), ItemIndex(chunks))


class HybridRetriever:
    """One query embedding, one Chroma query, BM25 in memory, fused and shaped by the plan."""

    def __init__(self, store: ChunkStore, embedder: Embedder, *, top_k: int) -> None:
        self._store = store
        self._embedder = embedder
        self._top_k = top_k

    def retrieve(
        self, plan: QueryPlan, corpus: Corpus, doc_ids: list[str] | None = None
    ) -> tuple[list[Passage], float]:
        """Passages for a plan, best first, and the best dense similarity seen.

        Dense hits come from the store within `doc_ids` (every document when None) and count
        only when the corpus holds them.
        """
        role_ids = [r.id for r in plan.roles]
        pool = [i for i, c in enumerate(corpus.chunks) if not role_ids or c.role_id in role_ids]
        if not pool:
            return [], 0.0
        depth = min(len(pool), max(4 * self._top_k, 30))
        known = {corpus.chunks[i].id for i in pool}
        # Hits the snapshot does not hold (a newer generation's, or leftovers a stopped
        # ingest left) are not answered from.
        dense = [
            (chunk, score)
            for chunk, score in self._store.query(
                self._embedder.embed_query(plan.question), depth, doc_ids
            )
            if chunk.id in known
        ]
        dense_scores = {chunk.id: score for chunk, score in dense}
        lexical = corpus.bm25.scores(plan.question, pool)
        lexical_scores = {corpus.chunks[i].id: s for i, s in lexical.items()}
        lexical_ranking = sorted(lexical_scores, key=lambda cid: -lexical_scores[cid])[:depth]
        # A third ranking: chunks by their single best-matching bullet, row or sentence, so a
        # table row that names the question's terms is found in a chunk of many rows.
        heading_keys, content_keys = question_keys(plan.question, plan.roles)
        item_scores = {
            corpus.chunks[i].id: corpus.items.best_item_score(corpus.chunks[i], content_keys)
            for i in pool
        }
        item_ranking = [
            cid
            for cid in sorted(item_scores, key=lambda c: -item_scores[c])
            if item_scores[cid] > 0
        ][:depth]
        fused = reciprocal_rank_fusion([[c.id for c, _ in dense], lexical_ranking, item_ranking])
        best_item = max(item_scores.values(), default=0.0)
        by_id = {corpus.chunks[i].id: corpus.chunks[i] for i in pool}

        # Field boosts: the intended sections, then headings that name the question's words.
        wanted_sections = set(plan.sections)
        scored: dict[str, float] = {}
        for chunk_id, score in fused.items():
            chunk = by_id.get(chunk_id)
            if chunk is None:
                continue
            scored[chunk_id] = score + self._boost(chunk, plan, heading_keys)
            # A chunk holding an item that names the question's rare words outranks the rest.
            if best_item and item_scores[chunk_id] >= 0.75 * best_item:
                scored[chunk_id] += item_scores[chunk_id] / best_item / RRF_K

        # A role-scoped question about a section gets that whole section (a KPI question
        # should list every KPI); the answerer narrows it to what the question names.
        section_ids: list[str] = []
        if role_ids and wanted_sections:
            for index in pool:
                chunk = corpus.chunks[index]
                if chunk.section_key in wanted_sections:
                    section_ids.append(chunk.id)
                    scored.setdefault(chunk.id, self._boost(chunk, plan, heading_keys))
        ordered = sorted(scored, key=lambda cid: -scored[cid])
        section_ids.sort(key=lambda cid: -scored[cid])
        # The best fused chunks stay in even when the section intent is wrong.
        chosen = list(
            dict.fromkeys(
                section_ids[: 2 * self._top_k] + ordered[: self._top_k // 2] + item_ranking[:3]
            )
        )
        chosen += [cid for cid in ordered if cid not in chosen][: max(0, self._top_k - len(chosen))]
        chosen.sort(key=lambda cid: -scored[cid])
        passages = [
            Passage(
                chunk=by_id[cid],
                score=round(scored.get(cid, 0.0), 6),
                dense_score=_round(dense_scores.get(cid)),
                lexical_score=_round(lexical_scores.get(cid)),
            )
            for cid in chosen
        ]
        best_dense = max(dense_scores.values(), default=0.0)
        return passages, best_dense

    @staticmethod
    def _boost(chunk: Chunk, plan: QueryPlan, heading_keys: set[str]) -> float:
        boost = 1.0 / RRF_K if chunk.section_key in plan.sections else 0.0
        if matches_hint(chunk, plan.subsections):
            boost += 2.0 / RRF_K
        return boost + heading_overlap(heading_keys, chunk) / RRF_K


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
