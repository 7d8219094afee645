"""Bounded load on the HTTP API over loopback, compared with in-process `Assistant.ask`.

    .venv/bin/python benchmarks/api_load.py --ingest-bundled
    .venv/bin/python benchmarks/api_load.py --url http://127.0.0.1:8000 --clients 8

Without `--url` it serves the app with uvicorn on a free 127.0.0.1 port; it never sends load
anywhere but loopback. It exits non-zero when any request fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlparse

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import httpx

from api.app import create_app
from api.server import running_in_thread
from assistant.service import Assistant, build_assistant
from assistant.settings import PROJECT_ROOT, Settings

QUESTIONS = [
    "What KPIs does the VP of Data and AI own?",
    "What are the responsibilities of an Engineering Manager?",
    "Who does the VP of Data and AI report to?",
    "What skills does a Head of DevOps need?",
    "Which roles are in the knowledge base?",
    "What is the career path of a VP of Data and AI?",
    "What does a Director of Platform Engineering do?",
    "How is the data team of a VP of Data and AI organised?",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def bundled_settings(store: Path) -> Settings:
    """Settings over a fresh store holding the bundled corpus."""
    from assistant.service import load_embedder, open_store
    from ingest.pipeline import Ingestor

    settings = Settings(_env_file=None, store_dir=store / "chroma", chroma_url=None, llm="none")  # type: ignore[call-arg]
    report = Ingestor(
        open_store(settings), load_embedder(settings), chunk_size=settings.chunk_size
    ).ingest([PROJECT_ROOT / "data" / "blueprints"])
    if report.errors:
        sys.exit(f"ingest failed: {report.errors}")
    return settings


@contextmanager
def serving(settings: Settings, assistant: Assistant) -> Iterator[str]:
    """The app under uvicorn on a free loopback port."""
    # The limiter would turn a load test into a 429 test.
    app = create_app(
        settings.model_copy(update={"rate_limit_per_minute": 10**9}), assistant=assistant
    )
    with running_in_thread(app) as url:
        yield url


async def load(
    url: str, clients: int, requests: int, stream: bool, api_key: str | None
) -> dict[str, float]:
    """`requests` questions over `clients` concurrent connections; latencies in ms."""
    path = "/v1/ask/stream" if stream else "/v1/ask"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            started = time.perf_counter()
            try:
                response = await client.post(path, json={"question": QUESTIONS[i % len(QUESTIONS)]})
                ok = response.status_code == 200 and (not stream or "event: final" in response.text)
                if not ok:
                    errors.append(f"{response.status_code} {response.text[:120]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:
        for question in QUESTIONS[:2]:  # warm-up, not counted
            await client.post(path, json={"question": question})
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - started
    for error in errors[:5]:
        print(f"  error: {error}")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "max": max(latencies),
        "errors": len(errors),
    }


def in_process_p50(assistant: Assistant, rounds: int) -> float:
    """The median of `assistant.ask` over the same questions, in ms."""
    latencies = []
    for _ in range(rounds):
        for question in QUESTIONS:
            started = time.perf_counter()
            assistant.ask(question)
            latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=200, help="requests per phase")
    parser.add_argument(
        "--stream", action="store_true", help="load /v1/ask/stream instead of /v1/ask"
    )
    parser.add_argument(
        "--ingest-bundled", action="store_true", help="index the bundled corpus in a temp dir"
    )
    parser.add_argument("--api-key", default=os.environ.get("BLUEPRINTS_API_KEY"))
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        sys.exit(f"refusing to load {args.url}: only 127.0.0.1/localhost/::1 are allowed")

    with tempfile.TemporaryDirectory() as tmp:
        settings = bundled_settings(Path(tmp)) if args.ingest_bundled else Settings()
        feedback_db = Path(tmp) / "feedback.sqlite3"
        settings = settings.model_copy(update={"feedback_db": feedback_db, "api_key": None})
        assistant = build_assistant(settings)
        if not assistant.chunk_count():
            sys.exit("the index is empty: run `blueprints ingest` or pass --ingest-bundled")
        baseline = in_process_p50(assistant, rounds=5)

        with serving(settings, assistant) if not args.url else nullcontext(args.url) as url:
            api_key = args.api_key if args.url else None
            single = asyncio.run(load(url, 1, min(args.requests, 50), args.stream, api_key))
            loaded = asyncio.run(load(url, args.clients, args.requests, args.stream, api_key))

    endpoint = "/v1/ask/stream" if args.stream else "/v1/ask"
    print(f"endpoint {endpoint} at {url}, {os.cpu_count()} CPUs")
    print(f"in-process assistant.ask p50: {baseline:.1f} ms")
    for label, result in (("1 client", single), (f"{args.clients} clients", loaded)):
        print(
            f"{label:>11}: {result['requests']:.0f} requests, {result['rps']:.1f} req/s, "
            f"p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, max {result['max']:.1f} ms, "
            f"errors {result['errors']:.0f}"
        )
    print(f"HTTP p50 / in-process p50 (1 client): {single['p50'] / baseline:.2f}")
    if single["errors"] or loaded["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
