"""Prometheus metrics: HTTP traffic, what the answers were, votes, the index and the cache.

Built on `prometheus-client` rather than `prometheus-fastapi-instrumentator`: the RAG
metrics, the label sets present at zero from start-up and the collectors that read the
index and the embedding cache at scrape time need the client's primitives anyway, and
the instrumentator times a streamed answer only to its end, not to its first event.

Each app has a registry of its own (a test process builds many apps); with several
uvicorn workers, each worker serves its own numbers and Prometheus scrapes them apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, get_args

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.citations import DropReason
from assistant.embeddings import CachedEmbedder
from assistant.llm import FailureKind
from assistant.models import Answer, AnswerCoverage

if TYPE_CHECKING:
    from api.feedback import VoteReceipt
    from assistant.service import IndexStats
    from assistant.settings import Settings

log = logging.getLogger(__name__)
# `*_created` series double the output for a start time Prometheus does not use.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Dense from 5 ms to half a second, where answers and API calls fall, so that p95 and
# p99 are read between buckets a few milliseconds apart; coarse above, for LLM answers.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1,
    0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0,
    30.0, 60.0,
)  # fmt: skip
# Embedding a question takes milliseconds (a cache hit microseconds); retrieval a little more.
STEP_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025,
    0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
UNTRACKED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED_ROUTE = "unmatched"  # one label for every path no route serves (no cardinality blow-up)
COVERAGES = tuple(c.value for c in AnswerCoverage)
DROP_REASONS: tuple[str, ...] = get_args(DropReason)
# The chat model's failures, and its answer citing nothing valid (see `Assistant._finish`).
FALLBACK_REASONS: tuple[str, ...] = (*get_args(FailureKind), "uncited")
RATINGS = ("up", "down")


class Metrics:
    """The metrics of one app, in a registry of its own.

    It is the `AnswerLog`'s observer: every answer served is stored, so each is counted
    once, whichever interface served it (the API, its stream, Slack).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        index_stats: Callable[[], IndexStats | None],
        embedder: Callable[[], object | None],
    ) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "blueprints_http_requests",
            "HTTP requests served, by route template and status code",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "blueprints_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a stream's last event)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_event = Histogram(
            "blueprints_http_stream_first_event_seconds",
            "Time from a streaming request's arrival to its first event",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "blueprints_http_requests_in_progress",
            "Requests being served now",
            ["method", "route"],
            registry=registry,
        )
        self.answers = Counter(
            "blueprints_answers",
            "Answers served, by coverage and what composed them",
            ["coverage", "answerer"],
            registry=registry,
        )
        self.citations_dropped = Counter(
            "blueprints_citations_dropped",
            "Citations removed from answers by validation, by reason",
            ["reason"],
            registry=registry,
        )
        self.llm_fallbacks = Counter(
            "blueprints_llm_fallbacks",
            "Chat-model answers replaced by the extractive one, by reason",
            ["reason"],
            registry=registry,
        )
        self.retrieval = Histogram(
            "blueprints_retrieval_seconds",
            "Retrieval and selection of an answer's evidence (after the question's embedding)",
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.embedding = Histogram(
            "blueprints_embedding_seconds",
            "Embedding of a question (a cache hit included)",
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.answer_time = Histogram(
            "blueprints_answer_seconds",
            "Time the assistant took to compose an answer, by answerer",
            ["answerer"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.feedback = Counter(
            "blueprints_feedback",
            "Ratings given (a new vote, or a vote changed to the other rating)",
            ["rating"],
            registry=registry,
        )
        registry.register(IndexCollector(index_stats))
        registry.register(EmbeddingCacheCollector(embedder))
        self._start_at_zero(settings)

    def _start_at_zero(self, settings: Settings) -> None:
        # A series that appears only on its first event hides the rate before it, and an
        # alert on `increase()` misses that first event: every known label set starts at 0.
        answerers = ["extractive"] + ([f"llm:{settings.llm}"] if settings.llm != "none" else [])
        for answerer in answerers:
            self.answer_time.labels(answerer)
            for coverage in COVERAGES:
                self.answers.labels(coverage, answerer)
        for reason in DROP_REASONS:
            self.citations_dropped.labels(reason)
        for reason in FALLBACK_REASONS:
            self.llm_fallbacks.labels(reason)
        for rating in RATINGS:
            self.feedback.labels(rating)

    # --- the AnswerLog's observer

    def answer_served(self, answer: Answer) -> None:
        """Count an answer: coverage, dropped citations, fallback and its steps' times."""
        trace = answer.trace
        self.answers.labels(answer.coverage.value, trace.answerer).inc()
        for reason in trace.dropped_reasons:
            self.citations_dropped.labels(reason).inc()
        if trace.fallback:
            self.llm_fallbacks.labels(trace.fallback).inc()
        timings = answer.timings_ms
        if "embed" in timings:
            self.embedding.observe(timings["embed"] / 1000)
            # "evidence" is timed from the same start as "embed", so it includes it.
            if "evidence" in timings:
                self.retrieval.observe(max(0.0, timings["evidence"] - timings["embed"]) / 1000)
        if "total" in timings:
            self.answer_time.labels(trace.answerer).observe(timings["total"] / 1000)

    def vote_cast(self, receipt: VoteReceipt) -> None:
        """Count a rating given: a new vote, or one changed to the other rating."""
        if receipt.previous != receipt.rating:
            self.feedback.labels(receipt.rating).inc()

    def render(self) -> bytes:
        """The text exposition format of every metric (reads the index: call off the loop)."""
        return generate_latest(self.registry)


class IndexCollector(Collector):
    """Gauges of the index answers are drawn from, read when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], IndexStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """The index's counts, generation and last write time (nothing while unreadable)."""
        try:
            stats = self._stats()
        except Exception:
            # A scrape must not fail with the index: readiness reports that one.
            log.warning("index statistics unavailable for /metrics", exc_info=True)
            return
        if stats is None:
            return
        for name, help_text, value in (
            ("chunks", "Chunks answers are drawn from", stats.chunks),
            ("documents", "Documents in the index (blueprints, summaries)", stats.documents),
            ("roles", "Roles in the catalogue", stats.roles),
            ("generation", "The index generation answers are drawn from", stats.generation),
        ):
            yield GaugeMetricFamily(f"blueprints_index_{name}", help_text, value=value)
        if stats.updated:
            written = datetime.fromisoformat(stats.updated).timestamp()
            yield GaugeMetricFamily(
                "blueprints_index_last_write_timestamp_seconds",
                "When the index was last written (an ingest or a sync), as Unix time",
                value=written,
            )


class EmbeddingCacheCollector(Collector):
    """The question-embedding cache's hits and misses, read from the cache at scrape time."""

    def __init__(self, embedder: Callable[[], object | None]) -> None:
        self._embedder = embedder

    def collect(self) -> Iterable[Metric]:
        """Hits and misses since start-up (0 and 0 when no cache is in front of the model)."""
        embedder = self._embedder()
        hits = misses = 0
        if isinstance(embedder, CachedEmbedder):
            info = embedder.cache_info()
            hits, misses = info.hits, info.misses
        return [
            CounterMetricFamily(
                "blueprints_embedding_cache_hits", "Questions embedded from the cache", hits
            ),
            CounterMetricFamily(
                "blueprints_embedding_cache_misses", "Questions the model had to embed", misses
            ),
        ]


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The template of the route that serves a request (`/v1/roles/{role_id}`), as a label."""
    partial = None
    # FastAPI keeps included routers as nodes of a tree; this walks their effective routes.
    for route in iter_route_contexts(routes):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.path or UNMATCHED_ROUTE
        if match is Match.PARTIAL and partial is None:  # the path, another method: a 405
            partial = route.path
    return partial or UNMATCHED_ROUTE


class MetricsMiddleware:
    """Counts and times each HTTP request by route; a stream also to its first event."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Sequence[BaseRoute]]):
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, recording how long it took and how it ended."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(self.routes(), scope)
        if route in UNTRACKED_PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        metrics = self.metrics
        started = time.perf_counter()
        status = 500
        streaming = first_event_seen = False

        async def send_timed(message: Message) -> None:
            nonlocal status, streaming, first_event_seen
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                streaming = content_type.startswith("text/event-stream")
            elif streaming and not first_event_seen and message.get("body"):
                first_event_seen = True
                metrics.first_event.labels(method, route).observe(time.perf_counter() - started)
            await send(message)

        in_progress = metrics.in_progress.labels(method, route)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_timed)
        finally:
            in_progress.dec()
            metrics.duration.labels(method, route).observe(time.perf_counter() - started)
            metrics.requests.labels(method, route, str(status)).inc()
