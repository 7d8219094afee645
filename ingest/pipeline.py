"""Sources -> blueprints -> chunks -> embeddings -> Chroma, idempotently.

A document (one role's full blueprint, or its summary) is keyed by `doc_id` and its content
hash: an unchanged document costs nothing, a changed one gets its new chunks written before its
stale ones are removed (and rolled back if writing fails), so the store always holds one whole
version of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.embeddings import Embedder
from assistant.models import Blueprint, Chunk, IngestError, IngestReport
from assistant.settings import PROJECT_ROOT
from assistant.store import ChunkStore, StoredDocument
from ingest.chunker import chunk_blueprint
from ingest.errors import SourceError
from ingest.parsers import parse_source

log = logging.getLogger(__name__)

Stage = Literal["parse", "embed", "write"]
ProgressCallback = Callable[[Stage, int, int], None]
"""Called with (stage, done, total) as work advances."""


@dataclass
class _Plan:
    """What one run will do to one document."""

    blueprint: Blueprint
    chunks: list[Chunk]
    stored: StoredDocument | None
    new_chunks: list[Chunk] = field(default_factory=list)
    embeddings: list[list[float]] = field(default_factory=list)


def display_source(path: Path) -> str:
    """A source path that does not depend on the working directory."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(resolved)


def expand_sources(paths: Iterable[Path]) -> tuple[list[Path], list[IngestError]]:
    """Files under the given files and folders (hidden files skipped), and paths that fail."""
    files: list[Path] = []
    errors: list[IngestError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(IngestError(source=str(path), message=f"{path}: folder has no files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append(IngestError(source=str(path), message=f"{path}: no such file or folder"))
    return files, errors


class Ingestor:
    """Ingests blueprint sources into a `ChunkStore` with an `Embedder` (both injected)."""

    def __init__(self, store: ChunkStore, embedder: Embedder, *, chunk_size: int) -> None:
        self._store = store
        self._embedder = embedder
        self._chunk_size = chunk_size

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest files and folders; every bad file is reported, the others still ingested."""
        started = time.perf_counter()
        progress = on_progress or (lambda stage, done, total: None)
        report = IngestReport()
        files, path_errors = expand_sources(paths)
        report.errors.extend(path_errors)

        blueprints, failed_sources = self._parse(files, report, progress)
        stored = self._store.documents()
        plans = [
            _Plan(bp, chunk_blueprint(bp, self._chunk_size), stored.get(bp.doc_id))
            for bp in blueprints.values()
        ]
        changed = [
            p for p in plans if p.stored is None or p.stored.doc_hash != p.chunks[0].doc_hash
        ]
        report.documents_unchanged = len(plans) - len(changed)

        self._embed(changed, progress)
        for done, plan in enumerate(changed, start=1):
            self._write(plan, report)
            progress("write", done, len(changed))

        if prune:
            self._prune(stored, set(blueprints), failed_sources, report)
        report.documents_failed = len(report.errors)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _parse(
        self, files: list[Path], report: IngestReport, progress: ProgressCallback
    ) -> tuple[dict[str, Blueprint], set[str]]:
        blueprints: dict[str, Blueprint] = {}
        failed: set[str] = set()
        for done, path in enumerate(files, start=1):
            source = display_source(path)
            try:
                parsed = parse_source(path)
            except SourceError as exc:
                report.errors.append(IngestError(source=source, message=str(exc)))
                failed.add(source)
                progress("parse", done, len(files))
                continue
            for problem in parsed.problems:
                report.errors.append(IngestError(source=source, message=str(problem)))
            if parsed.problems:
                # Documents of a post that failed this time are kept, not pruned.
                failed.add(source)
            for blueprint in parsed.blueprints:
                blueprint = blueprint.model_copy(update={"source": source})
                previous = blueprints.get(blueprint.doc_id)
                if previous is None or _newer(blueprint, previous):
                    if previous is not None:
                        log.info("%s: %s supersedes %s", blueprint.doc_id, source, previous.source)
                    blueprints[blueprint.doc_id] = blueprint
            progress("parse", done, len(files))
        return blueprints, failed

    def _embed(self, plans: list[_Plan], progress: ProgressCallback) -> None:
        """Embed every new chunk of every changed document in full batches, before any write."""
        for plan in plans:
            kept = plan.stored.chunk_ids if plan.stored else frozenset()
            plan.new_chunks = [c for c in plan.chunks if c.id not in kept]
        pending = [c for p in plans for c in p.new_chunks]
        # Longest first across all documents, as SentenceTransformer orders one call: batches
        # of alike lengths pad least, and the progress bar still moves every few hundred.
        order = sorted(range(len(pending)), key=lambda i: -len(pending[i].text))
        by_position: dict[int, list[float]] = {}
        batch = 256
        for start in range(0, len(order), batch):
            indexes = order[start : start + batch]
            embedded = self._embedder.embed_documents([pending[i].text for i in indexes])
            by_position.update(zip(indexes, embedded, strict=True))
            progress("embed", len(by_position), len(pending))
        vectors = [by_position[i] for i in range(len(pending))]
        offset = 0
        for plan in plans:
            plan.embeddings = vectors[offset : offset + len(plan.new_chunks)]
            offset += len(plan.new_chunks)

    def _write(self, plan: _Plan, report: IngestReport) -> None:
        kept_ids = plan.stored.chunk_ids if plan.stored else frozenset()
        new_ids = {c.id for c in plan.chunks}
        try:
            self._store.upsert(plan.new_chunks, plan.embeddings)
        except Exception as exc:
            # The new chunks have ids the old version does not use: removing them restores it.
            self._store.delete([c.id for c in plan.new_chunks if c.id not in kept_ids])
            message = f"{plan.blueprint.source}: writing {plan.blueprint.role} failed: {exc}"
            log.warning(message)
            report.errors.append(IngestError(source=plan.blueprint.source, message=message))
            return
        # Chunks whose text did not change keep their embeddings; only their metadata moves on.
        self._store.update_metadata([c for c in plan.chunks if c.id in kept_ids])
        stale = sorted(kept_ids - new_ids)
        self._store.delete(stale)
        report.chunks_written += len(plan.new_chunks)
        report.chunks_deleted += len(stale)
        if plan.stored is None:
            report.documents_added += 1
        else:
            report.documents_updated += 1

    def _prune(
        self,
        stored: dict[str, StoredDocument],
        present: set[str],
        failed_sources: set[str],
        report: IngestReport,
    ) -> None:
        for doc_id, document in stored.items():
            # A document whose source failed to parse this time is kept, not pruned.
            if doc_id in present or document.source in failed_sources:
                continue
            self._store.delete(sorted(document.chunk_ids))
            report.chunks_deleted += len(document.chunk_ids)
            report.documents_pruned += 1


def _newer(candidate: Blueprint, current: Blueprint) -> bool:
    if candidate.modified and current.modified:
        return candidate.modified >= current.modified
    return True
