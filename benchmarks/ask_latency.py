"""Extractive `ask` latency (in process, warm) beside the machine's floor, in one run.

The floor is one query embedding plus one raw Chroma query (top-k) for the same question.
Usage: python benchmarks/ask_latency.py [--rounds N] [--backend onnx|torch]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from assistant.service import Assistant, load_embedder, open_store
from assistant.settings import PROJECT_ROOT, Settings
from ingest.pipeline import Ingestor

QUESTIONS = [
    "What KPIs does the VP of Data and AI own?",
    "What should the VP of Data and AI achieve in the first 30 days?",
    "Which orchestration tools does the VP of Data and AI use?",
    "What can the VP of Data and AI decide without approval?",
    "Where can a VP of Data and AI go next in their career?",
    "What red flags should we watch for when hiring a VP of Data and AI?",
    "What's the MTTR target for data incidents?",
    "What KPIs does a Director of SRE own?",
    "How does a DevOps Director differ from a DevOps Manager?",
    "What does the Head of DevOps do?",
    "What KPIs does the VP of Marketing own?",
    "What is the capital of France?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # No question cache: the floor and every ask must pay for the model, or the rounds
        # after the first would time dictionary look-ups.
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            store_dir=Path(tmp) / "chroma",
            chroma_url=None,
            embedding_cache_size=0,
            embedding_backend=args.backend,
        )
        embedder = load_embedder(settings)
        store = open_store(settings)
        Ingestor(store, embedder, chunk_size=settings.chunk_size).ingest(
            [PROJECT_ROOT / "data" / "blueprints"]
        )
        assistant = Assistant(settings, store, embedder)
        for question in QUESTIONS:  # warm up both paths
            assistant.ask(question)
            store.query(embedder.embed_query(question), settings.top_k)

        ours: list[float] = []
        floor: list[float] = []
        # Interleaved, so both see the same machine load.
        for _ in range(args.rounds):
            for question in QUESTIONS:
                started = time.perf_counter()
                store.query(embedder.embed_query(question), settings.top_k)
                floor.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                assistant.ask(question)
                ours.append((time.perf_counter() - started) * 1000)

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"questions x rounds: {len(QUESTIONS)} x {args.rounds}, {args.backend}, load {load}")
    print(
        f"floor (embed + raw Chroma query): p50 {statistics.median(floor):6.1f} ms  p95 {percentile(floor, 0.95):6.1f} ms"
    )
    print(
        f"ask (extractive, warm):           p50 {statistics.median(ours):6.1f} ms  p95 {percentile(ours, 0.95):6.1f} ms"
    )
    print(
        f"ratio ask / floor:                p50 {statistics.median(ours) / statistics.median(floor):6.2f}   p95 {percentile(ours, 0.95) / percentile(floor, 0.95):6.2f}"
    )


if __name__ == "__main__":
    main()
