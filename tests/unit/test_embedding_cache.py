"""The question-embedding cache, over a deterministic embedder that counts its calls."""

from __future__ import annotations

import hashlib
import threading

import pytest

from assistant.embeddings import CachedEmbedder, CacheInfo


class CountingEmbedder:
    """Vectors derived from the text's hash; every call to the model is recorded."""

    name = "counting"

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.documents: list[str] = []
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return [self.vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            self.queries.append(text)
        return self.vector(text)

    @staticmethod
    def vector(text: str) -> list[float]:
        return [b / 255 for b in hashlib.sha256(text.encode()).digest()[:4]]


@pytest.fixture
def inner() -> CountingEmbedder:
    return CountingEmbedder()


def test_repeated_question_is_served_from_the_cache(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=8)
    first = cached.embed_query("What KPIs does the VP own?")
    again = cached.embed_query("What KPIs does the VP own?")
    assert first == again == CountingEmbedder.vector("What KPIs does the VP own?")
    assert inner.queries == ["What KPIs does the VP own?"]
    assert cached.cache_info() == CacheInfo(hits=1, misses=1, size=1, capacity=8)


def test_cache_keys_on_the_exact_text(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=8)
    for text in ("kpis?", "KPIs?", "kpis? "):
        cached.embed_query(text)
    assert inner.queries == ["kpis?", "KPIs?", "kpis? "]
    assert cached.cache_info().misses == 3


def test_least_recently_used_question_is_evicted_first(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=2)
    cached.embed_query("a")
    cached.embed_query("b")
    cached.embed_query("a")  # a is now the most recent: b goes when c arrives
    cached.embed_query("c")
    assert cached.cache_info() == CacheInfo(hits=1, misses=3, size=2, capacity=2)
    cached.embed_query("a")
    assert inner.queries == ["a", "b", "c"]
    cached.embed_query("b")
    assert inner.queries == ["a", "b", "c", "b"]
    assert cached.cache_info() == CacheInfo(hits=2, misses=4, size=2, capacity=2)


def test_capacity_zero_caches_nothing(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=0)
    cached.embed_query("a")
    cached.embed_query("a")
    assert inner.queries == ["a", "a"]
    assert cached.cache_info() == CacheInfo(hits=0, misses=2, size=0, capacity=0)


def test_changing_a_returned_vector_does_not_change_the_cache(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=4)
    cached.embed_query("a")[0] = 99.0
    hit = cached.embed_query("a")
    hit[1] = 99.0
    assert cached.embed_query("a") == CountingEmbedder.vector("a")


def test_documents_pass_through_uncached(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=4)
    assert cached.embed_documents(["x", "y"]) == [
        CountingEmbedder.vector("x"),
        CountingEmbedder.vector("y"),
    ]
    cached.embed_documents(["x"])
    assert inner.documents == ["x", "y", "x"]
    assert cached.cache_info() == CacheInfo(hits=0, misses=0, size=0, capacity=4)


def test_concurrent_questions_are_all_counted_and_correct(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=3)
    questions = [f"q{n % 5}" for n in range(200)]
    wrong: list[str] = []
    barrier = threading.Barrier(8)

    def ask(share: list[str]) -> None:
        barrier.wait()
        for question in share:
            if cached.embed_query(question) != CountingEmbedder.vector(question):
                wrong.append(question)

    threads = [threading.Thread(target=ask, args=(questions[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    info = cached.cache_info()
    assert not wrong
    assert info.hits + info.misses == len(questions)
    assert info.misses == len(inner.queries)
    assert info.size <= 3


def test_cached_embedder_has_the_inner_name(inner: CountingEmbedder) -> None:
    cached = CachedEmbedder(inner, capacity=1)
    assert cached.name == "counting"
    assert cached.inner is inner


def test_negative_capacity_is_refused(inner: CountingEmbedder) -> None:
    with pytest.raises(ValueError, match="0 \\(off\\) or more"):
        CachedEmbedder(inner, capacity=-1)
