"""OpenTelemetry tracing, off unless `BLUEPRINTS_OTEL_ENDPOINT` is set.

The assistant emits its spans through the OpenTelemetry API (`assistant/service.py`);
this module installs the SDK that records them, once per process, and gives each HTTP
request a server span (FastAPI instrumentation) that parents them.

Spans leave over OTLP/HTTP with protobuf bodies, to `<endpoint>/v1/traces`: the protocol
the OpenTelemetry spec makes the SDK default, served by every collector and vendor on
port 4318, and plain HTTP through proxies; the gRPC exporter would add a second protocol
stack for nothing. When the process already has an SDK (e.g. under
`opentelemetry-instrument`, or in tests), spans go to that one instead.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from assistant.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "blueprint-assistant"
# Probes and scrapes every few seconds would drown the traces of questions.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (`http://host:4318`)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def build_provider(settings: Settings) -> TracerProvider:
    """A tracer provider exporting in batches over OTLP/HTTP to the configured endpoint."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert settings.otel_endpoint is not None
    try:
        release = version("blueprint-assistant")
    except PackageNotFoundError:  # run from a source tree that was never installed
        release = "unknown"
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: SERVICE, SERVICE_VERSION: release})
    )
    exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def install(settings: Settings) -> TracerProvider | None:
    """The process's tracer provider, installed on first use; None when tracing is off."""
    if not settings.otel_endpoint:
        return None
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = build_provider(settings)
    trace.set_tracer_provider(provider)
    log.info(
        "tracing on: spans to %s (question and answer text %s)",
        traces_url(settings.otel_endpoint),
        "included" if settings.otel_capture_content else "left out",
    )
    return provider


def instrument(app: FastAPI, provider: TracerProvider) -> None:
    """A server span for each request, named by its route, parent of the assistant's spans."""
    # The stable HTTP attribute names (`http.request.method`, `url.path`…), not the old ones
    # the instrumentation still emits by default; read when it first instruments.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        # A span per ASGI message of a streamed answer says nothing the request's does not.
        exclude_spans=["receive", "send"],
    )


def current_trace_id() -> str | None:
    """The id of the trace being recorded, as backends show it (32 hex digits), if any."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
