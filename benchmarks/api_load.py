"""`/v1/ask` under load: a `blueprints serve` process, loaded from this (separate) process.

    python -m benchmarks.api_load                    # bundled corpus, both backends
    python -m benchmarks.api_load --clients 8 --requests 400 --json
    python -m benchmarks.api_load --url http://127.0.0.1:8000 --clients 8

Without `--url`, it indexes the bundled corpus in a temporary folder and starts the real
server (`blueprints serve`) per embedding backend (ONNX, the default, and the
sentence-transformers torch path), twice each:

- with the question cache off (`BLUEPRINTS_EMBEDDING_CACHE_SIZE=0`), every request embeds:
  `--requests` questions over `--clients` connections (the throughput figure), then one
  client at a time (the latency without queueing). Half the questions are about the roles
  held as full blueprints (the answers that cost most), half about any role.
- with the cache on (the default size), the same eight questions over and over, as a team
  asks what it asks: the cache's effect, and its hit rate as the server's `/readyz` reports it.

It never sends load anywhere but loopback, and exits non-zero when any request fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from benchmarks.support import (
    BACKENDS,
    catalogue,
    cli_env,
    index_settings,
    ingest_bundled,
    load_average,
    percentile,
    question_mix,
    rss_mib,
    serve_process,
)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REPEATED = [
    "What KPIs does the VP of Data and AI own?",
    "What are the responsibilities of an Engineering Manager?",
    "Who does the VP of Data and AI work with?",
    "What skills does a Head of DevOps need?",
    "Which roles are in the knowledge base?",
    "What is the career path of a VP of Data and AI?",
    "What does a Director of Platform Engineering do?",
    "What should the VP of Data and AI achieve in the first 90 days?",
]


async def load(
    url: str, questions: Sequence[str], clients: int, api_key: str | None = None
) -> dict[str, float]:
    """Every question once, over `clients` concurrent connections; latencies in ms."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(questions)

    async def worker(client: httpx.AsyncClient) -> None:
        for question in queue:
            started = time.perf_counter()
            try:
                response = await client.post("/v1/ask", json={"question": question})
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:120]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=120
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - started
    for error in errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies), 1),
        "errors": len(errors),
    }


def question_cache(url: str) -> dict[str, Any]:
    """What the server's `/readyz` says of its question cache."""
    readiness = httpx.get(f"{url}/readyz", timeout=30).json()
    cache: dict[str, Any] = readiness.get("question_cache") or {}
    return cache


def uncached(url: str, clients: int, requests: int, api_key: str | None) -> dict[str, Any]:
    """Throughput and single-client latency on a server whose every request embeds."""
    questions = question_mix(catalogue(url), requests + 100)
    asyncio.run(load(url, questions[-20:], 2, api_key))  # warm-up, not counted
    return {
        "loaded": asyncio.run(load(url, questions[:requests], clients, api_key)),
        "single": asyncio.run(load(url, questions[requests : requests + 80], 1, api_key)),
    }


def repeated(url: str, clients: int, requests: int, api_key: str | None) -> dict[str, Any]:
    """The same eight questions again and again, and the question cache's hit rate."""
    before = question_cache(url)
    questions = [REPEATED[i % len(REPEATED)] for i in range(requests)]
    result: dict[str, Any] = asyncio.run(load(url, questions, clients, api_key))
    after = question_cache(url)
    if before and after:
        hits = after["hits"] - before["hits"]
        asked = hits + after["misses"] - before["misses"]
        result["cache_hit_rate"] = round(hits / asked, 3) if asked else 0.0
    result["cache"] = after
    return result


PHASES = {
    "loaded": "no cache, N clients",
    "single": "no cache, 1 client",
    "repeated": "cache, repeated",
}


def show(label: str, figures: dict[str, Any]) -> None:
    for phase, title in PHASES.items():
        if phase not in figures:
            continue
        f = figures[phase]
        rate = f.get("cache_hit_rate")
        extra = f", question-cache hit rate {rate:.0%}" if rate is not None else ""
        print(
            f"  {label:>5} {title:>20}: {f['requests']} requests, {f['rps']:.1f} req/s, "
            f"p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms, max {f['max_ms']:.1f} ms, "
            f"errors {f['errors']}{extra}"
        )
    if "rss_mib" in figures:
        print(f"  {label:>5} server RSS after the loads: {figures['rss_mib']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=400, help="requests per loaded phase")
    parser.add_argument("--api-key", help="the server's key, with --url")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    results: dict[str, Any] = {"clients": args.clients, "load_average_before": load_average()}
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            sys.exit(f"refusing to load {args.url}: only 127.0.0.1/localhost/::1 are allowed")
        results["server"] = {
            **uncached(args.url, args.clients, args.requests, args.api_key),
            "repeated": repeated(args.url, args.clients, args.requests, args.api_key),
        }
    else:
        with tempfile.TemporaryDirectory(prefix="bench-api-load-") as tmp:
            root = Path(tmp)
            settings = index_settings(root)
            ingest_bundled(settings)
            for backend in BACKENDS:
                # The limiter would turn a load test into a 429 test.
                env = cli_env(settings, backend, BLUEPRINTS_RATE_LIMIT_PER_MINUTE=str(10**9))
                off = {**env, "BLUEPRINTS_EMBEDDING_CACHE_SIZE": "0"}
                with serve_process(off, root / f"serve-{backend}.log") as served:
                    results[backend] = uncached(served.url, args.clients, args.requests, None)
                    results[backend]["rss_mib"] = round(rss_mib(served.process.pid), 1)
                with serve_process(env, root / f"serve-{backend}-cached.log") as served:
                    results[backend]["repeated"] = repeated(
                        served.url, args.clients, args.requests, None
                    )
        onnx, torch = results["onnx"]["loaded"], results["torch"]["loaded"]
        results["onnx_over_torch_rps"] = round(onnx["rps"] / torch["rps"], 2)
    results["load_average_after"] = load_average()

    if args.json:
        print(json.dumps(results))
    else:
        print(
            f"/v1/ask, {args.clients} clients, load average {results['load_average_before']} "
            f"before, {results['load_average_after']} after"
        )
        for label in ("server", *BACKENDS):
            if label in results:
                show(label, results[label])
        if "onnx_over_torch_rps" in results:
            print(f"  throughput without the cache, onnx / torch: {results['onnx_over_torch_rps']}")
    failed = [
        phase
        for label in ("server", *BACKENDS)
        if label in results
        for phase in PHASES
        if phase in results[label] and results[label][phase]["errors"]
    ]
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
