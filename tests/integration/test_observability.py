"""Metrics, traces and the offline API docs, through the real app over the bundled index."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api.app import create_app
from api.server import free_port
from assistant.embeddings import CachedEmbedder, SentenceTransformerEmbedder
from assistant.service import Assistant, open_store
from assistant.settings import Settings
from tests.support.cli_process import CliProcess, cli_env
from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

KPI_QUESTION = "What KPIs does the VP of Data and AI own?"
PARTIAL_QUESTION = "What are the KPIs of a Head of DevOps?"
OFF_TOPIC = "What does a pastry chef earn in Lisbon?"
# Tracing is on when an endpoint is set; in this process the spans go to the SDK the
# `spans` fixture installs, so nothing is ever sent to this address.
UNUSED_ENDPOINT = "http://127.0.0.1:9"

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_for(
    bundled_settings: Settings, bundled_assistant: Assistant, tmp_path: Path
) -> ClientFactory:
    @asynccontextmanager
    async def open_client(
        assistant: Any = bundled_assistant, embedder: Any = None, **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        update = {"feedback_db": tmp_path / "feedback.sqlite3", "rate_limit_per_minute": 10_000}
        app = create_app(bundled_settings.model_copy(update=update | changes), assistant)
        app.state.embedder = embedder  # what the lifespan records when it builds the assistant
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield client
        finally:
            app.state.answer_log.close()

    return open_client


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def answers(found: dict[tuple[str, frozenset[tuple[str, str]]], float], coverage: str) -> float:
    key = frozenset({"coverage": coverage, "answerer": "extractive"}.items())
    return found[("blueprints_answers_total", key)]


# ---------- metrics ----------


async def test_metrics_after_a_few_questions_and_a_vote_show_coverage_and_the_vote(
    client_for: ClientFactory, bundled_assistant: Assistant
) -> None:
    async with client_for() as client:
        before = scrape((await client.get("/metrics")).text)
        answered = (await client.post("/v1/ask", json={"question": KPI_QUESTION})).json()
        await client.post("/v1/ask", json={"question": OFF_TOPIC})
        await client.post("/v1/ask/stream", json={"question": PARTIAL_QUESTION})
        vote = {"answer_id": answered["id"], "rating": "down", "comment": "wrong table"}
        assert (await client.post("/v1/feedback", json=vote)).status_code == 201
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = scrape(response.text)
    assert [answers(before, c) for c in ("answered", "partial", "not_found")] == [0, 0, 0]
    assert [answers(found, c) for c in ("answered", "partial", "not_found")] == [1, 1, 1]
    assert found[("blueprints_feedback_total", frozenset({"rating": "down"}.items()))] == 1
    assert found[("blueprints_feedback_total", frozenset({"rating": "up"}.items()))] == 0
    ask = frozenset({"method": "POST", "route": "/v1/ask", "status": "200"}.items())
    assert found[("blueprints_http_requests_total", ask)] == 2
    stream = frozenset({"method": "POST", "route": "/v1/ask/stream"}.items())
    assert found[("blueprints_http_stream_first_event_seconds_count", stream)] == 1
    assert found[("blueprints_embedding_seconds_count", frozenset())] >= 2
    stats = bundled_assistant.index_stats()
    assert found[("blueprints_index_chunks", frozenset())] == stats.chunks
    assert found[("blueprints_index_roles", frozenset())] == stats.roles
    assert found[("blueprints_index_generation", frozenset())] == stats.generation
    assert found[("blueprints_index_last_write_timestamp_seconds", frozenset())] > 1.7e9
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in found)


async def test_metrics_need_the_api_key_unless_that_is_turned_off(
    client_for: ClientFactory,
) -> None:
    key = SecretStr("s3cret-key")
    async with client_for(api_key=key) as client:
        missing = await client.get("/metrics")
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-key"})
    async with client_for(api_key=key, metrics_require_key=False) as client:
        open_scrape = await client.get("/metrics")
    assert missing.status_code == 401
    assert right.status_code == open_scrape.status_code == 200
    assert "blueprints_answers_total" in open_scrape.text


async def test_embedding_cache_counters_follow_the_questions_served(
    client_for: ClientFactory, bundled_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    cached = CachedEmbedder(embedder, capacity=16)
    assistant = Assistant(bundled_settings, open_store(bundled_settings), cached)
    async with client_for(assistant=assistant, embedder=cached) as client:
        for question in (KPI_QUESTION, KPI_QUESTION, "What tools does the VP of Data and AI use?"):
            await client.post("/v1/ask", json={"question": question})
        found = scrape((await client.get("/metrics")).text)
    assert found[("blueprints_embedding_cache_hits_total", frozenset())] == 1
    assert found[("blueprints_embedding_cache_misses_total", frozenset())] == 2


# ---------- offline API docs ----------


async def test_docs_and_redoc_load_only_local_assets(client_for: ClientFactory) -> None:
    async with client_for() as client:
        pages = {path: await client.get(path) for path in ("/docs", "/redoc")}
        assets = [
            await client.get(f"/docs-assets/{name}")
            for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
        ]
    for page in pages.values():
        assert page.status_code == 200
        assert "/docs-assets/" in page.text
        assert "cdn" not in page.text.lower()
        assert "fonts.googleapis" not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert [asset.status_code for asset in assets] == [200, 200, 200]
    assert len(assets[0].content) > 500_000  # Swagger UI itself, not a stub


# ---------- traces ----------


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """The process's OpenTelemetry SDK, recording spans in memory (set once per process)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another SDK was installed first"
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


def by_name(exported: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exported.get_finished_spans()}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


async def test_a_request_span_parents_the_assistants_spans(
    client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    async with client_for(otel_endpoint=UNUSED_ENDPOINT) as client:
        response = await client.post("/v1/ask", json={"question": KPI_QUESTION})
        await client.get("/healthz")
    found = by_name(spans)
    request = found["POST /v1/ask"]
    ask = found["blueprints.ask"]
    assert request.kind is SpanKind.SERVER
    assert request.attributes is not None and ask.attributes is not None
    assert request.attributes["blueprints.request_id"] == response.headers["x-request-id"]
    assert request.attributes["blueprints.answer_id"] == response.json()["id"]
    assert request.attributes["http.route"] == "/v1/ask"
    assert parent_of(ask) == request.context.span_id
    steps = ["plan", "embeddings all-MiniLM-L6-v2", "retrieval blueprints", "validation"]
    assert all(parent_of(found[step]) == ask.context.span_id for step in steps)
    assert {span.context.trace_id for span in found.values()} == {request.context.trace_id}
    assert ask.attributes["blueprints.coverage"] == "answered"
    assert ask.attributes["blueprints.answer_id"] == response.json()["id"]
    embeddings = found["embeddings all-MiniLM-L6-v2"].attributes or {}
    assert embeddings["gen_ai.operation.name"] == "embeddings"
    retrieval = found["retrieval blueprints"].attributes or {}
    assert retrieval["gen_ai.operation.name"] == "retrieval"
    assert retrieval["gen_ai.request.top_k"] == 8
    retrieved = [c["chunk_id"] for c in response.json()["trace"]["retrieved"]][:8]
    assert list(retrieval["blueprints.retrieved.ids"]) == retrieved
    assert len(retrieval["blueprints.retrieved.scores"]) == len(retrieved)
    assert "GET /healthz" not in found  # probes are not traced
    # Off by default: no question or answer text anywhere.
    text = json.dumps([dict(span.attributes or {}) for span in found.values()], default=str)
    assert "VP of Data and AI own" not in text
    assert "blueprints.question" not in text


async def test_question_and_answer_text_are_on_the_span_only_when_capture_is_on(
    client_for: ClientFactory,
    spans: InMemorySpanExporter,
    bundled_settings: Settings,
    embedder: SentenceTransformerEmbedder,
) -> None:
    capturing = bundled_settings.model_copy(update={"otel_capture_content": True})
    assistant = Assistant(capturing, open_store(capturing), embedder)
    async with client_for(assistant=assistant, otel_endpoint=UNUSED_ENDPOINT) as client:
        answer = (await client.post("/v1/ask", json={"question": KPI_QUESTION})).json()
    attributes = by_name(spans)["blueprints.ask"].attributes or {}
    assert attributes["blueprints.question"] == KPI_QUESTION
    assert attributes["blueprints.answer"] == answer["answer"]


async def test_a_streamed_answer_is_traced_under_its_request(
    client_for: ClientFactory, spans: InMemorySpanExporter
) -> None:
    async with client_for(otel_endpoint=UNUSED_ENDPOINT) as client:
        response = await client.post("/v1/ask/stream", json={"question": KPI_QUESTION})
    final = json.loads(
        response.text.split("event: final")[1].split("data: ", 1)[1].split("\r\n")[0]
    )
    found = by_name(spans)
    request = found["POST /v1/ask/stream"]
    assert request.attributes is not None
    assert request.attributes["blueprints.answer_id"] == final["id"]
    assert request.attributes["blueprints.request_id"] == response.headers["x-request-id"]
    for step in ("plan", "retrieval blueprints", "validation"):
        assert found[step].context.trace_id == request.context.trace_id


def test_spans_reach_a_real_otlp_receiver_and_the_logs_name_the_same_trace(
    bundled_settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    with OtlpReceiver() as receiver:
        env = cli_env(
            bundled_settings.store_dir,
            BLUEPRINTS_OTEL_ENDPOINT=receiver.endpoint,
            BLUEPRINTS_FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"),
            BLUEPRINTS_LOG_FORMAT="json",
        )
        server = CliProcess(["serve", "--host", "127.0.0.1", "--port", str(port)], env)
        try:
            server.wait_for("API ready")
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/ask", json={"question": KPI_QUESTION}, timeout=60
            )
        finally:
            server.process.send_signal(signal.SIGTERM)  # a graceful stop flushes the batch
            code, _, stderr = server.finish(timeout=60)
        request = receiver.wait_for("POST /v1/ask")
        ask = receiver.wait_for("blueprints.ask")
    assert response.status_code == 200
    # uvicorn stops gracefully, then re-raises the signal: the exit status is the signal's.
    assert code in {0, -signal.SIGTERM}, stderr
    assert "Application shutdown complete" in stderr
    request_id = response.headers["x-request-id"]
    assert request.attributes["blueprints.request_id"] == request_id
    assert request.kind == 2  # SPAN_KIND_SERVER
    assert ask.parent_span_id == request.span_id
    assert ask.trace_id == request.trace_id
    assert request.resource["service.name"] == "blueprint-assistant"
    assert all(r["content-type"] == "application/x-protobuf" for r in receiver.requests)
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [r for r in logged if r.get("request_id") == request_id and r.get("path") == "/v1/ask"]
    assert access, stderr
    assert access[0]["trace_id"] == request.trace_id
