"""`blueprints sync` of a 200-post site on the loopback WordPress stand-in, then re-syncs.

Three syncs into a fresh index: the first (every post), one with nothing changed, and one
after two posts were edited; for each, the requests the site received, the seconds, the posts
downloaded and the texts embedded (chunks and their items). Usage, from the repository root:
python -m benchmarks.sync [--posts 200] [--sections 1,2,7 | --sections all]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.embeddings import Embedder
from assistant.service import load_embedder, open_store
from assistant.settings import Settings
from ingest.pipeline import Ingestor
from ingest.sync import SyncReport, sync_site
from ingest.wordpress import POST_FIELDS, WordPressClient
from tests.support.wordpress_stub import Request, WordPressStub


class TimedEmbedder:
    """The real embedder, counting the texts it embeds and the seconds it takes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.texts = 0
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        vectors = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@dataclass
class Run:
    label: str
    report: SyncReport
    seconds: float
    requests: Counter[str]
    texts: int
    embed_seconds: float


KINDS = ("robots.txt", "discovery", "id listing", "posts", "posts by id", "other")


def kind(request: Request) -> str:
    if request.path == "/robots.txt":
        return "robots.txt"
    fields = request.param("_fields")
    if fields == "id":
        return "discovery" if request.param("per_page") == "1" else "id listing"
    if fields == POST_FIELDS:
        return "posts by id" if request.param("include") else "posts"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--sections", default="1,2,7", help="comma-separated, or 'all'")
    args = parser.parse_args()
    sections = None if args.sections == "all" else [int(s) for s in args.sections.split(",")]

    with (
        tempfile.TemporaryDirectory() as tmp,
        WordPressStub(generated=args.posts - 1, bundled=True, sections=sections) as site,
    ):
        settings = Settings(_env_file=None, store_dir=Path(tmp) / "chroma", chroma_url=None)  # type: ignore[call-arg]
        embedder = TimedEmbedder(load_embedder(settings))
        store = open_store(settings)
        ingestor = Ingestor(store, embedder, chunk_size=settings.chunk_size)
        embedder.inner.embed_documents(["warm up"] * 8)

        def run(label: str) -> Run:
            before, texts, embed_seconds = len(site.requests), embedder.texts, embedder.seconds
            started = time.perf_counter()
            with WordPressClient(site.site_url) as client:
                report = sync_site(client, store, ingestor)
            seconds = time.perf_counter() - started
            assert not report.errors, report.errors
            requests = Counter(kind(r) for r in site.requests[before:])
            return Run(
                label,
                report,
                seconds,
                requests,
                embedder.texts - texts,
                embedder.seconds - embed_seconds,
            )

        runs = [run("first sync")]
        runs.append(run("no-change re-sync"))
        site.advance(3600)
        for post_id in site.ids()[:2]:
            site.edit_post(post_id, append="<p>A new paragraph in the last section.</p>")
        runs.append(run("re-sync after 2 edits"))

    print(f"site: {args.posts} posts (sections: {args.sections}), stand-in on loopback\n")
    print(
        "| sync | seconds | requests | posts downloaded | documents written | texts embedded | embedding seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        written = r.report.documents_added + r.report.documents_updated
        detail = ", ".join(f"{r.requests[k]} {k}" for k in KINDS if r.requests[k])
        print(
            f"| {r.label} | {r.seconds:.2f} | {sum(r.requests.values())} ({detail}) | "
            f"{r.report.fetched} | {written} | {r.texts} | {r.embed_seconds:.2f} |"
        )
    first, unchanged, edited = runs
    assert unchanged.texts == 0 and unchanged.report.documents_unchanged == args.posts
    assert edited.report.documents_updated == 2
    print(
        f"\nno-change re-sync: {first.seconds / unchanged.seconds:.0f}x faster than the first; "
        f"re-sync after 2 edits: {first.seconds / edited.seconds:.0f}x"
    )


if __name__ == "__main__":
    main()
