"""The metrics: families and label sets from start-up, what an answer and a vote count."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import get_args

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.feedback import AnswerLog, VoteReceipt
from api.metrics import (
    DROP_REASONS,
    FALLBACK_REASONS,
    LATENCY_BUCKETS,
    UNMATCHED_ROUTE,
    Metrics,
    MetricsMiddleware,
)
from assistant.citations import DropReason
from assistant.embeddings import CachedEmbedder
from assistant.models import Answer, AnswerCoverage, Trace
from assistant.service import IndexStats
from assistant.settings import Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

STATS = IndexStats(
    generation=7, documents=31, roles=29, chunks=141, updated="2026-01-02T03:04:05+00:00"
)


def settings(**changes: object) -> Settings:
    return Settings(_env_file=None, **changes)  # type: ignore[call-arg]


def samples(metrics: Metrics) -> Samples:
    """Every sample of a scrape: (name, labels) -> value."""
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def make_metrics(
    stats: IndexStats | None = STATS, embedder: object | None = None, **changes: object
) -> Metrics:
    return Metrics(settings(**changes), index_stats=lambda: stats, embedder=lambda: embedder)


def make_answer(
    coverage: AnswerCoverage = AnswerCoverage.ANSWERED,
    timings: dict[str, float] | None = None,
    **trace: object,
) -> Answer:
    return Answer(
        id="a-1",
        answer="Owns KPIs [1].",
        coverage=coverage,
        trace=Trace.model_validate({"question": "q", "standalone_question": "q", **trace}),
        timings_ms={"plan": 1.0, "embed": 4.0, "evidence": 24.0, "total": 30.0}
        if timings is None
        else timings,
    )


# ---------- from start-up ----------


def test_every_rag_label_set_is_present_at_zero_from_start_up() -> None:
    found = samples(make_metrics(llm="openai:gpt-4o-mini"))
    for answerer in ("extractive", "llm:openai:gpt-4o-mini"):
        for coverage in ("answered", "partial", "not_found"):
            assert (
                value(found, "blueprints_answers_total", coverage=coverage, answerer=answerer) == 0
            )
    for reason in ("out_of_range", "unsupported", "quote"):
        assert value(found, "blueprints_citations_dropped_total", reason=reason) == 0
    for reason in ("timeout", "connection", "http", "error", "uncited"):
        assert value(found, "blueprints_llm_fallbacks_total", reason=reason) == 0
    for rating in ("up", "down"):
        assert value(found, "blueprints_feedback_total", rating=rating) == 0
    assert value(found, "blueprints_retrieval_seconds_count") == 0
    assert value(found, "blueprints_embedding_seconds_count") == 0
    assert value(found, "blueprints_embedding_cache_hits_total") == 0
    assert value(found, "blueprints_embedding_cache_misses_total") == 0


def test_the_label_values_are_the_ones_the_assistant_reports() -> None:
    # The drop reasons are the validator's own type; the fallbacks the LLM's failure kinds
    # plus the one `Assistant._finish` adds for an answer that cited nothing.
    assert set(DROP_REASONS) == set(get_args(DropReason))
    assert set(FALLBACK_REASONS) == {"timeout", "connection", "http", "error", "uncited"}


def test_an_extractive_server_declares_no_llm_answerer() -> None:
    found = samples(make_metrics())
    answerers = {
        dict(labels)["answerer"] for name, labels in found if name == "blueprints_answers_total"
    }
    assert answerers == {"extractive"}


def test_index_gauges_are_read_at_scrape_time() -> None:
    stats = [STATS]
    metrics = Metrics(settings(), index_stats=lambda: stats[0], embedder=lambda: None)
    first = samples(metrics)
    stats[0] = IndexStats(generation=8, documents=32, roles=30, chunks=150, updated=STATS.updated)
    second = samples(metrics)
    assert [
        value(first, f"blueprints_index_{n}")
        for n in ("chunks", "documents", "roles", "generation")
    ] == [141, 31, 29, 7]
    assert [
        value(second, f"blueprints_index_{n}")
        for n in ("chunks", "documents", "roles", "generation")
    ] == [150, 32, 30, 8]
    assert value(first, "blueprints_index_last_write_timestamp_seconds") == 1767323045.0


def test_an_unreadable_or_missing_index_leaves_its_gauges_out_and_the_scrape_works() -> None:
    def broken() -> IndexStats:
        raise RuntimeError("chroma is down")

    for metrics in (
        Metrics(settings(), index_stats=broken, embedder=lambda: None),
        make_metrics(stats=None),
    ):
        names = {name for name, _ in samples(metrics)}
        assert "blueprints_answers_total" in names
        assert not any(name.startswith("blueprints_index_") for name in names)


def test_an_index_never_written_has_no_last_write_time() -> None:
    empty = IndexStats(generation=0, documents=0, roles=0, chunks=0, updated="")
    found = samples(make_metrics(stats=empty))
    assert value(found, "blueprints_index_chunks") == 0
    assert not any(name == "blueprints_index_last_write_timestamp_seconds" for name, _ in found)


class _Vectors:
    name = "fake"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t))] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text))]


def test_embedding_cache_hits_and_misses_come_from_the_cache() -> None:
    cache = CachedEmbedder(_Vectors(), capacity=8)
    metrics = make_metrics(embedder=cache)
    for question in ("kpis?", "kpis?", "tools?", "kpis?"):
        cache.embed_query(question)
    found = samples(metrics)
    assert value(found, "blueprints_embedding_cache_hits_total") == 2
    assert value(found, "blueprints_embedding_cache_misses_total") == 2


# ---------- answers and votes ----------


def test_an_answer_counts_its_coverage_drops_fallback_and_step_times() -> None:
    metrics = make_metrics(llm="ollama:llama3.1")
    metrics.answer_served(
        make_answer(
            AnswerCoverage.PARTIAL,
            answerer="extractive",
            dropped_reasons=["quote", "out_of_range", "quote"],
            fallback="timeout",
        )
    )
    found = samples(metrics)
    assert value(found, "blueprints_answers_total", coverage="partial", answerer="extractive") == 1
    assert value(found, "blueprints_answers_total", coverage="answered", answerer="extractive") == 0
    assert value(found, "blueprints_citations_dropped_total", reason="quote") == 2
    assert value(found, "blueprints_citations_dropped_total", reason="out_of_range") == 1
    assert value(found, "blueprints_llm_fallbacks_total", reason="timeout") == 1
    assert value(found, "blueprints_llm_fallbacks_total", reason="uncited") == 0
    assert value(found, "blueprints_embedding_seconds_sum") == pytest.approx(0.004)
    # Evidence is timed from the embedding's start: retrieval is what comes after it.
    assert value(found, "blueprints_retrieval_seconds_sum") == pytest.approx(0.020)
    assert value(found, "blueprints_answer_seconds_sum", answerer="extractive") == pytest.approx(
        0.030
    )


def test_an_answer_declined_before_retrieval_times_no_retrieval() -> None:
    metrics = make_metrics()
    metrics.answer_served(
        make_answer(AnswerCoverage.NOT_FOUND, timings={"plan": 1.0, "total": 2.0})
    )
    found = samples(metrics)
    assert (
        value(found, "blueprints_answers_total", coverage="not_found", answerer="extractive") == 1
    )
    assert value(found, "blueprints_retrieval_seconds_count") == 0
    assert value(found, "blueprints_embedding_seconds_count") == 0


def test_a_vote_counts_when_new_or_changed_not_when_only_its_comment_changes() -> None:
    metrics = make_metrics()
    base = {"id": 1, "answer_id": "a-1"}
    metrics.vote_cast(VoteReceipt(**base, rating="down", replaced=False))
    metrics.vote_cast(
        VoteReceipt(**base, rating="down", replaced=True, previous="down")
    )  # a reason
    metrics.vote_cast(VoteReceipt(**base, rating="up", replaced=True, previous="down"))
    found = samples(metrics)
    assert value(found, "blueprints_feedback_total", rating="down") == 1
    assert value(found, "blueprints_feedback_total", rating="up") == 1


def test_the_answer_log_tells_its_observer_of_answers_and_votes(tmp_path: Path) -> None:
    metrics = make_metrics()
    log = AnswerLog(tmp_path / "feedback.sqlite3", observer=metrics)
    log.store_answer(make_answer(), question="q", source="api")
    first = log.vote("a-1", "up", voter="v", source="api")
    again = log.vote("a-1", "up", voter="v", source="api", comment="still good")
    log.close()
    found = samples(metrics)
    assert (first.previous, again.previous) == (None, "up")
    assert value(found, "blueprints_answers_total", coverage="answered", answerer="extractive") == 1
    assert value(found, "blueprints_feedback_total", rating="up") == 1


def test_a_failing_observer_costs_neither_the_answer_nor_the_vote(tmp_path: Path) -> None:
    class Broken:
        def answer_served(self, answer: Answer) -> None:
            raise RuntimeError("boom")

        def vote_cast(self, receipt: VoteReceipt) -> None:
            raise RuntimeError("boom")

    log = AnswerLog(tmp_path / "feedback.sqlite3", observer=Broken())
    log.store_answer(make_answer(), question="q", source="api")
    receipt = log.vote("a-1", "down", voter="v", source="api")
    assert log.answer("a-1") is not None
    assert receipt.rating == "down"
    log.close()


# ---------- HTTP ----------


def traffic_app(metrics: Metrics) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.routes)
    return app


async def test_requests_are_counted_by_route_template_and_status_probes_left_out() -> None:
    metrics = make_metrics()
    app = traffic_app(metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for item in ("a", "b", "c"):
            assert (await c.get(f"/items/{item}")).status_code == 200
        assert (await c.post("/items/a")).status_code == 405
        assert (await c.get("/nowhere/at/all")).status_code == 404
        assert (await c.get("/healthz")).status_code == 200
    found = samples(metrics)
    requests = "blueprints_http_requests_total"
    assert value(found, requests, method="GET", route="/items/{item_id}", status="200") == 3
    assert value(found, requests, method="POST", route="/items/{item_id}", status="405") == 1
    assert value(found, requests, method="GET", route=UNMATCHED_ROUTE, status="404") == 1
    assert not any(dict(labels).get("route") == "/healthz" for _, labels in found)
    duration = "blueprints_http_request_duration_seconds"
    assert value(found, f"{duration}_count", method="GET", route="/items/{item_id}") == 3
    buckets = [
        float(dict(labels)["le"])
        for name, labels in found
        if name == f"{duration}_bucket"
        and dict(labels)["route"] == "/items/{item_id}"
        and dict(labels)["method"] == "GET"
    ]
    assert sorted(buckets)[:-1] == list(LATENCY_BUCKETS)  # and +Inf
    assert (
        value(found, "blueprints_http_requests_in_progress", method="GET", route="/items/{item_id}")
        == 0
    )


def test_latency_buckets_are_a_few_milliseconds_apart_up_to_a_tenth_of_a_second() -> None:
    fine = [b for b in LATENCY_BUCKETS if b <= 0.1]
    assert len(fine) >= 12
    assert max(b - a for a, b in pairwise(fine)) <= 0.01 + 1e-9


async def test_a_stream_is_timed_to_its_first_event_and_to_its_end_apart() -> None:
    metrics = make_metrics()
    labels = {"method": "GET", "route": "/stream"}
    seen: dict[str, Samples] = {}

    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        seen["before the first event"] = samples(metrics)
        await send({"type": "http.response.body", "body": b"event: delta\n\n", "more_body": True})
        seen["after the first event"] = samples(metrics)
        await send({"type": "http.response.body", "body": b"event: final\n\n"})

    class Stream:  # a plain ASGI app: a Route calls it as it is
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await stream(scope, receive, send)

    app = FastAPI()
    app.router.routes.append(Route("/stream", Stream()))
    middleware = MetricsMiddleware(app, metrics, routes=lambda: app.routes)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    await middleware(scope, receive, send)  # type: ignore[arg-type]
    after = samples(metrics)

    first_event = "blueprints_http_stream_first_event_seconds_count"
    assert (first_event, frozenset(labels.items())) not in seen["before the first event"]
    assert value(seen["after the first event"], first_event, **labels) == 1
    assert (
        value(seen["after the first event"], "blueprints_http_requests_in_progress", **labels) == 1
    )
    assert value(after, "blueprints_http_request_duration_seconds_count", **labels) == 1
    assert value(after, "blueprints_http_requests_in_progress", **labels) == 0
    assert value(after, first_event, **labels) == 1  # not once per event
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 2]
