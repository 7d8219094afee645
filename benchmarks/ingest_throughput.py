"""Ingest throughput beside the embedder's raw `embed_documents` on the same texts, in one run.

An ingest embeds each chunk and each item of it (issue 9's item vectors): the raw encode is
timed on exactly those texts, chunks then items, so the ratio is what parsing, chunking and
writing add to the embedding the index needs. The chunk-only ratio is printed as well. Also
times a re-ingest of the unchanged corpus. Usage: python benchmarks/ingest_throughput.py
[--copies N] [--backend onnx|torch]  (N copies of the full blueprint, renamed, so there is
enough text to time; the ONNX export by default, as an ingest uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from assistant.items import chunk_items, embedding_text
from assistant.service import load_embedder, open_store
from assistant.settings import PROJECT_ROOT, Settings
from ingest.chunker import chunk_blueprint
from ingest.parsers import parse_source
from ingest.pipeline import Ingestor

CORPUS = PROJECT_ROOT / "data" / "blueprints"


def build_corpus(folder: Path, copies: int) -> None:
    """The bundled corpus plus renamed copies of the full blueprint."""
    for source in CORPUS.iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    post = json.loads((CORPUS / "vp-of-data-and-ai.wordpress.json").read_text(encoding="utf-8"))
    for n in range(2, copies + 1):
        copy = dict(post, title={"rendered": f"VP of Data and AI Copy {n}: Role Blueprint"})
        (folder / f"copy-{n}.json").write_text(json.dumps(copy), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--backend", choices=("onnx", "torch"), default="onnx")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        corpus.mkdir()
        build_corpus(corpus, args.copies)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            store_dir=root / "chroma",
            chroma_url=None,
            embedding_backend=args.backend,
        )
        embedder = load_embedder(settings)
        chunks = [
            chunk
            for path in sorted(corpus.iterdir())
            for blueprint in parse_source(path).blueprints
            for chunk in chunk_blueprint(blueprint, settings.chunk_size)
        ]
        texts = [chunk.text for chunk in chunks]
        items = [embedding_text(item) for chunk in chunks for item in chunk_items(chunk)]
        embedder.embed_documents(texts[:64])  # warm up

        started = time.perf_counter()
        embedder.embed_documents(texts)
        raw_seconds = time.perf_counter() - started
        started = time.perf_counter()
        embedder.embed_documents(items)
        items_seconds = time.perf_counter() - started

        ingestor = Ingestor(open_store(settings), embedder, chunk_size=settings.chunk_size)
        first = ingestor.ingest([corpus])
        again = ingestor.ingest([corpus])

    raw_rate = len(texts) / raw_seconds
    ingest_rate = first.chunks_written / first.seconds
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.backend}, {args.copies} copies of the full blueprint, load {load}")
    every = raw_seconds + items_seconds
    print(f"chunks:                      {len(texts)} (and {len(items)} items)")
    print(f"raw encode, chunks only:     {raw_rate:8.1f} chunks/s ({raw_seconds:.2f} s)")
    print(f"raw encode, chunks + items:  {len(texts) / every:8.1f} chunks/s ({every:.2f} s)")
    print(f"ingest (parse+chunk+embed+write): {ingest_rate:8.1f} chunks/s ({first.seconds:.2f} s)")
    print(f"ingest / raw encode of the same texts: {every / first.seconds:8.2f}")
    print(f"ingest / raw encode of the chunks alone: {ingest_rate / raw_rate:8.2f}")
    print(
        f"unchanged re-ingest:         {again.seconds:.3f} s, {first.seconds / again.seconds:.1f}x faster"
    )
    assert again.chunks_written == 0


if __name__ == "__main__":
    main()
