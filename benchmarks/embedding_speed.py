"""Embedding speed: the ONNX export against the sentence-transformers torch model, in one run.

Query latency (p50/p95 over distinct short questions, in alternating blocks so all see
the same load), the largest difference between their vectors, batch-64 throughput on ~300-token
texts cut from the bundled corpus and on the corpus's own chunks (per second, and per
CPU-second of the process), and cold start (a fresh process importing, loading and
embedding one question) for each backend. Two variants of the ONNX embedder are timed beside
the default to show why it is set up as it is: two intra-op threads, and runs of 64 texts.

Usage: python benchmarks/embedding_speed.py [--questions 200] [--texts 128] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.embeddings import OnnxEmbedder, SentenceTransformerEmbedder, source_model_path
from assistant.onnx_export import TOKENIZER_FILE, export_onnx_model, export_problem
from assistant.settings import PROJECT_ROOT, Settings
from ingest.chunker import chunk_blueprint
from ingest.parsers import parse_source

CORPUS = PROJECT_ROOT / "data" / "blueprints"
ROLES = [
    "the VP of Data and AI",
    "a Director of SRE",
    "the Head of DevOps",
    "a DevOps Manager",
    "a Cloud Director",
    "the CTO",
    "an Engineering Manager",
    "a Platform Lead",
    "the VP of Engineering",
    "a Security Director",
]
TOPICS = [
    "What KPIs does {} own?",
    "What should {} achieve in the first 30 days?",
    "Which tools does {} use?",
    "Who does {} report to?",
    "What can {} decide alone?",
    "How is {} measured after a year?",
    "What are the red flags when hiring {}?",
    "Where does {} go next in their career?",
    "What does {} deliver each quarter?",
    "Which stakeholders does {} work with?",
    "What risks does {} manage?",
    "What skills does {} need?",
    "What does a day look like for {}?",
    "What budget does {} control?",
    "What is the mission of {}?",
    "How does {} run on-call?",
    "What experience should {} have?",
    "What goes on the scorecard of {}?",
    "What are the 90-day goals of {}?",
    "How big is the team of {}?",
]
COLD_START = """
import json, sys, time
started = time.perf_counter()
from assistant.embeddings import load_embedder
from assistant.settings import Settings
embedder = load_embedder(Settings(_env_file=None), allow_export=False)
embedder.embed_query("What KPIs does the VP of Data and AI own?")
print(json.dumps({"seconds": time.perf_counter() - started, "backend": type(embedder.inner).__name__,
                  "torch_loaded": "torch" in sys.modules}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def questions(count: int) -> list[str]:
    made = [topic.format(role) for topic, role in itertools.product(TOPICS, ROLES)]
    return made[:count]


def corpus_windows(tokenizer_file: Path, count: int, tokens: int = 300) -> list[str]:
    """Windows of `tokens` word pieces over the bundled corpus's chunk texts.

    They overlap: the corpus holds one full blueprint, about 17,000 word pieces.
    """
    from tokenizers import Tokenizer

    text = "\n\n".join(
        chunk.text
        for path in sorted(CORPUS.iterdir())
        for blueprint in parse_source(path)
        for chunk in chunk_blueprint(blueprint, 1000)
    )
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    offsets = list(tokenizer.encode(text, add_special_tokens=False).offsets)
    stride = max(1, (len(offsets) - tokens) // count)
    return [
        text[offsets[start][0] : offsets[start + tokens - 1][1]]
        for start in range(0, len(offsets) - tokens, stride)
    ][:count]


def time_queries(
    embedders: dict[str, OnnxEmbedder | SentenceTransformerEmbedder],
    texts: list[str],
    block: int = 20,
) -> tuple[dict[str, list[float]], dict[str, list[list[float]]]]:
    """Each backend embeds every question, in alternating blocks.

    Blocks rather than one question each in turn: a backend's idle threads spin for a
    while after a run (torch's OpenMP, onnxruntime's pool), which would land on whichever
    backend runs next. An untimed question opens each block for the same reason; the
    alternation still spreads the machine's load over all backends.
    """
    latencies: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, list[list[float]]] = {name: [] for name in embedders}
    for start in range(0, len(texts), block):
        for name, embedder in embedders.items():
            embedder.embed_query("an untimed question to start the block")
            for text in texts[start : start + block]:
                started = time.perf_counter()
                vector = embedder.embed_query(text)
                latencies[name].append((time.perf_counter() - started) * 1000)
                vectors[name].append(vector)
    return latencies, vectors


def cold_start(backend: str, models_dir: Path) -> dict[str, object]:
    env = dict(
        os.environ,
        BLUEPRINTS_EMBEDDING_BACKEND=backend,
        BLUEPRINTS_MODELS_DIR=str(models_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD_START],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    inside = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, **inside}


def max_diff(a: list[list[float]], b: list[list[float]]) -> tuple[float, float]:
    x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return float(np.abs(x - y).max()), float(np.sum(x * y, axis=1).min())


def chunk_texts() -> list[str]:
    """The bundled corpus's chunks, as an ingest embeds them (mixed lengths)."""
    return [
        chunk.text
        for path in sorted(CORPUS.iterdir())
        for blueprint in parse_source(path)
        for chunk in chunk_blueprint(blueprint, 1000)
    ]


def time_batches(
    embedders: dict[str, OnnxEmbedder | SentenceTransformerEmbedder],
    texts: list[str],
    rounds: int,
) -> dict[str, object]:
    """Texts per second and per CPU-second, each backend handed the texts 64 at a time.

    Per CPU-second of this process: on a shared machine the wall-clock rate moves with
    other people's jobs, the work each backend needs per text much less.
    """
    rate: dict[str, list[float]] = {name: [] for name in embedders}
    per_cpu: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, list[list[float]]] = {}
    for embedder in embedders.values():
        embedder.embed_documents(texts[:16])
    for _ in range(rounds):
        for name, embedder in embedders.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            vectors[name] = [
                v
                for i in range(0, len(texts), 64)
                for v in embedder.embed_documents(texts[i : i + 64])
            ]
            rate[name].append(len(texts) / (time.perf_counter() - started))
            per_cpu[name].append(len(texts) / (time.process_time() - cpu_started))
    diff, cosine = max_diff(vectors["onnx"], vectors["torch"])
    return {
        "texts": len(texts),
        "texts_per_s": {name: statistics.median(v) for name, v in rate.items()},
        "texts_per_cpu_second": {name: statistics.median(v) for name, v in per_cpu.items()},
        "max_abs_diff": diff,
        "min_cosine": cosine,
    }


def run(args: argparse.Namespace, models_dir: Path) -> dict[str, object]:
    settings = Settings(_env_file=None, models_dir=models_dir)  # type: ignore[call-arg]
    source, export = source_model_path(settings), settings.onnx_export_dir
    if export_problem(export, source, settings.embedding_model) is not None:
        export_onnx_model(source, export, name=settings.embedding_model)
    onnx = OnnxEmbedder.from_export(export)
    onnx_2_threads = OnnxEmbedder.from_export(export, intra_op_threads=2)
    onnx_runs_of_64 = OnnxEmbedder.from_export(export, batch_size=64)
    torch = SentenceTransformerEmbedder(source, name=settings.embedding_model, batch_size=64)
    asked = questions(args.questions)

    for embedder in (onnx, onnx_2_threads, torch):
        for question in asked[:10]:
            embedder.embed_query(question)
    latencies, vectors = time_queries(
        {"onnx": onnx, "onnx_2_intra_op_threads": onnx_2_threads, "torch": torch}, asked
    )
    query_diff, query_cosine = max_diff(vectors["onnx"], vectors["torch"])

    batch_embedders: dict[str, OnnxEmbedder | SentenceTransformerEmbedder] = {
        "onnx": onnx,
        "onnx_runs_of_64": onnx_runs_of_64,
        "torch": torch,
    }
    windows = time_batches(
        batch_embedders, corpus_windows(export / TOKENIZER_FILE, args.texts), args.rounds
    )
    chunks = time_batches(batch_embedders, chunk_texts(), args.rounds)

    cold: dict[str, list[dict[str, object]]] = {"onnx": [], "torch": []}
    for _ in range(args.rounds):
        for backend in ("onnx", "torch"):
            cold[backend].append(cold_start(backend, models_dir))

    def summary(values: list[float]) -> dict[str, float]:
        return {"p50_ms": statistics.median(values), "p95_ms": percentile(values, 0.95)}

    query = {name: summary(values) for name, values in latencies.items()}
    return {
        "questions": len(asked),
        "query_latency": query,
        "query_speedup_p50": query["torch"]["p50_ms"] / query["onnx"]["p50_ms"],
        "query_speedup_p95": query["torch"]["p95_ms"] / query["onnx"]["p95_ms"],
        "query_max_abs_diff": query_diff,
        "query_min_cosine": query_cosine,
        "batch_300_word_pieces": windows,
        "batch_corpus_chunks": chunks,
        "cold_start_s": {
            backend: statistics.median(float(str(r["wall_s"])) for r in runs)
            for backend, runs in cold.items()
        },
        "cold_start_backend": {backend: runs[0]["backend"] for backend, runs in cold.items()},
        "cold_start_torch_loaded": {
            backend: any(bool(r["torch_loaded"]) for r in runs) for backend, runs in cold.items()
        },
        "cpus": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg()[0],
    }


def report(result: dict[str, object]) -> None:
    q = result["query_latency"]
    c = result["cold_start_s"]
    loaded = result["cold_start_torch_loaded"]
    assert isinstance(q, dict) and isinstance(c, dict) and isinstance(loaded, dict)
    print(f"questions: {result['questions']} distinct, one at a time, in alternating blocks")
    for name, row in q.items():
        print(f"  {name:28s} p50 {row['p50_ms']:6.2f} ms   p95 {row['p95_ms']:6.2f} ms")
    print(
        f"  torch / onnx                 p50 {result['query_speedup_p50']:6.2f}x    "
        f"p95 {result['query_speedup_p95']:6.2f}x   (target >= 2.5x)"
    )
    print(
        f"  max |onnx - torch| {result['query_max_abs_diff']:.2e}, "
        f"lowest cosine {result['query_min_cosine']:.6f}"
    )
    for key, title in (
        ("batch_300_word_pieces", "texts of 300 word pieces (the model reads 256)"),
        ("batch_corpus_chunks", "bundled corpus chunks (as an ingest embeds them)"),
    ):
        batch = result[key]
        assert isinstance(batch, dict)
        print(f"{batch['texts']} {title}, handed over 64 at a time:")
        for name, rate in batch["texts_per_s"].items():
            per_cpu = batch["texts_per_cpu_second"][name]
            print(f"  {name:28s} {rate:7.1f} texts/s   {per_cpu:7.1f} texts per CPU-second")
        print(
            f"  max |onnx - torch| {batch['max_abs_diff']:.2e}, "
            f"lowest cosine {batch['min_cosine']:.6f}"
        )
    print("cold start (fresh process: import, load, embed one question):")
    for backend, seconds in c.items():
        print(f"  {backend:28s} {seconds:6.2f} s   (torch imported: {loaded[backend]})")
    print(f"cpus {result['cpus']}, load average at the end {result['load_average']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    project = Settings(_env_file=None)  # type: ignore[call-arg]
    if export_problem(project.onnx_export_dir, source_model_path(project), project.embedding_model):
        # No valid export of the developer's: make one for this run only.
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args, Path(tmp))
    else:
        result = run(args, project.models_dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
