"""The assistant at 1,000 blueprints beside the bundled corpus, in one run.

    python -m benchmarks.scale --blueprints 1000
    python -m benchmarks.scale --blueprints 1000 --json
    python -m benchmarks.scale --blueprints 1000 --keep /tmp/scale-index   # build once, reuse

Two indexes: the bundled corpus alone, and the bundled corpus plus `--blueprints` synthetic
full blueprints (see `benchmarks/synthetic.py`: the bundled blueprint's 20 sections under
other titles, varied section by section; embeddings of texts identical up to the title are
reused). For each, with the real server (`blueprints serve`, ONNX, question cache off so every
question embeds):

- ready: process start to the first 200 of `/readyz`, then the first answer;
- ask p50/p95 over `--questions` distinct questions, one at a time, half of them about roles
  held as full blueprints, half about any role (at 1,000 blueprints nearly every question is
  about a role no earlier question read, so its document is read from the store);
- resident memory of the server after those questions (chunk text, item vectors and all);
- the first answer after another process changed one document (the server catches up);

and in this process, on the same stores: reading the snapshot from scratch, catching up
after a one-document change, and role resolution per question.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from assistant.settings import Settings
from benchmarks.support import (
    ask_timed,
    cli_env,
    index_settings,
    ingest_bundled,
    load_average,
    percentile,
    question_mix,
    rss_mib,
    serve_process,
)
from benchmarks.synthetic import (
    ReusingEmbedder,
    batches,
    bundled_blueprint,
    edited,
    synthetic_blueprints,
    title_pattern,
)

BATCH = 100


def build_large(settings: Settings, count: int) -> dict[str, Any]:
    """The bundled corpus plus `count` synthetic blueprints, written as a sync writes pages."""
    from assistant.service import load_embedder, open_store
    from ingest.pipeline import Ingestor

    ingest_bundled(settings)
    store = open_store(settings)
    embedder = ReusingEmbedder(load_embedder(settings), title_pattern())
    ingestor = Ingestor(store, embedder, chunk_size=settings.chunk_size)
    started = time.perf_counter()
    for page in batches(list(synthetic_blueprints(count)), BATCH):
        report = ingestor.write(page)
        if report.errors:
            sys.exit(f"writing synthetic blueprints failed: {report.errors[:3]}")
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": round(seconds, 1), "texts": embedder.asked, "embedded": embedder.embedded}


@contextmanager
def reading(settings: Settings) -> Iterator[Any]:
    """A store and a snapshot reader on it, in this process."""
    from assistant.snapshot import SnapshotReader
    from assistant.store import open_store

    store = open_store(settings)
    try:
        yield store, SnapshotReader(store)
    finally:
        store.close()


def change_one(settings: Settings, edit: int) -> None:
    """Edit the bundled full blueprint (in both indexes) from this process: another writer."""
    from assistant.service import load_embedder, open_store
    from ingest.pipeline import Ingestor

    store = open_store(settings)
    Ingestor(store, load_embedder(settings), chunk_size=settings.chunk_size).write(
        [edited(bundled_blueprint(), edit)]
    )
    store.close()


def in_process(settings: Settings, questions: list[str]) -> dict[str, Any]:
    """Snapshot from scratch, catch-up after a one-document change, role resolution."""
    from assistant.service import load_embedder
    from ingest.pipeline import Ingestor

    figures: dict[str, Any] = {}
    with reading(settings) as (store, reader):
        started = time.perf_counter()
        snapshot = reader.current()
        figures["snapshot_load_ms"] = round((time.perf_counter() - started) * 1000, 1)
        resolve = []
        for question in questions:
            started = time.perf_counter()
            snapshot.resolver.resolve(question)
            resolve.append((time.perf_counter() - started) * 1000)
        figures["resolve_p50_ms"] = round(statistics.median(resolve), 3)
        figures["resolve_p95_ms"] = round(percentile(resolve, 95), 3)
        ingestor = Ingestor(store, load_embedder(settings), chunk_size=settings.chunk_size)
        rebuilds = []
        for edit in range(3):
            ingestor.write([edited(bundled_blueprint(), 100 + edit)])
            started = time.perf_counter()
            reader.current()
            rebuilds.append((time.perf_counter() - started) * 1000)
        figures["rebuild_ms"] = round(statistics.median(rebuilds), 1)
    return figures


def served(settings: Settings, questions: list[str], log: Path) -> dict[str, Any]:
    """Ready, first answer, p50/p95, RSS, and the first answer after another writer's change."""
    env = cli_env(
        settings,
        "onnx",
        BLUEPRINTS_RATE_LIMIT_PER_MINUTE=str(10**9),
        BLUEPRINTS_EMBEDDING_CACHE_SIZE="0",
    )
    with (
        serve_process(env, log, timeout=600) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        first = ask_timed(client, questions[0])
        latencies = [ask_timed(client, q) for q in questions[1:]]
        rss = rss_mib(server.process.pid)
        change_one(settings, 1)
        after_change = ask_timed(client, questions[1])
        chunks = client.get("/readyz").json()["chunks"]
    return {
        "ready_s": round(server.ready_s, 2),
        "first_ms": round(first, 1),
        "ask_p50_ms": round(statistics.median(latencies), 1),
        "ask_p95_ms": round(percentile(latencies, 95), 1),
        "rss_mib": round(rss, 1),
        "after_change_ms": round(after_change, 1),
        "chunks": chunks,
    }


def catalogue_of(settings: Settings) -> list[dict[str, Any]]:
    with reading(settings) as (_, reader):
        return [r.model_dump(mode="json") for r in reader.current().catalogue]


def measure(settings: Settings, count: int, log: Path) -> dict[str, Any]:
    roles = catalogue_of(settings)
    questions = question_mix(roles, count + 1)
    figures = served(settings, questions, log)
    figures.update(in_process(settings, questions))
    figures["roles"] = len(roles)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blueprints", type=int, default=1000, help="synthetic blueprints")
    parser.add_argument("--questions", type=int, default=200, help="questions per index")
    parser.add_argument("--keep", type=Path, help="build the large index here, or reuse it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        bundled = index_settings(root / "bundled")
        ingest_bundled(bundled)
        large_root = args.keep or root / "large"
        large = index_settings(large_root)
        build: dict[str, Any] = {"reused": True}
        if not (large_root / "chroma").exists():
            build = build_large(large, args.blueprints)
        small = measure(bundled, args.questions, root / "serve-bundled.log")
        big = measure(large, args.questions, root / "serve-large.log")

    result = {
        "blueprints": args.blueprints,
        "documents": big["roles"],
        "chunks": big["chunks"],
        "chunks_bundled": small["chunks"],
        "load_average": load_average(),
        "build": build,
        **{k: v for k, v in big.items() if k not in {"roles", "chunks"}},
        **{f"{k}_bundled": v for k, v in small.items() if k not in {"roles", "chunks"}},
    }
    result["ask_p95_ratio"] = round(result["ask_p95_ms"] / result["ask_p95_ms_bundled"], 2)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.blueprints} synthetic blueprints ({result['chunks']} chunks served) beside the "
        f"bundled corpus ({result['chunks_bundled']} chunks); load {result['load_average']}"
    )
    if not build.get("reused"):
        print(
            f"  built in {build['seconds']:.0f} s: {build['texts']} texts, "
            f"{build['embedded']} embedded for real"
        )
    rows = [
        ("server ready", "ready_s", "s"),
        ("first answer", "first_ms", "ms"),
        ("ask p50", "ask_p50_ms", "ms"),
        ("ask p95", "ask_p95_ms", "ms"),
        ("server RSS", "rss_mib", "MiB"),
        ("answer after a change", "after_change_ms", "ms"),
        ("snapshot from scratch", "snapshot_load_ms", "ms"),
        ("catch-up after a change", "rebuild_ms", "ms"),
        ("role resolution p50", "resolve_p50_ms", "ms"),
        ("role resolution p95", "resolve_p95_ms", "ms"),
    ]
    print(f"  {'':<26}{'bundled':>12}{args.blueprints:>12}")
    for label, key, unit in rows:
        print(f"  {label:<26}{result[key + '_bundled']:>9} {unit:<3}{result[key]:>9} {unit}")
    print(f"  ask p95 ratio: {result['ask_p95_ratio']}")


if __name__ == "__main__":
    main()
