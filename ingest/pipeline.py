"""Sources -> blueprints -> chunks -> embeddings -> Chroma, as committed generations.

A document (one role's full blueprint or summary, or one synced post) is unchanged only when the
store holds exactly its planned chunks, all carrying its hash, and its manifest record has that
hash; anything else is written again, so a crash at any step is repaired by the next run. A
write commits a new generation (see `assistant.manifest`): new chunks first, then the records,
then the head; stale chunks are deleted only after the commit, so readers always find a whole
version of every document.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.embeddings import Embedder
from assistant.items import ITEMS_VERSION, chunk_items, embedding_text
from assistant.manifest import Change, DocumentRecord, Head, IndexStamp
from assistant.models import Blueprint, Chunk, IngestError, IngestPlan, IngestReport
from assistant.settings import PROJECT_ROOT
from assistant.store import ChunkStore, StoredDocument, pack_id
from ingest.chunker import CHUNKER_VERSION, chunk_blueprint
from ingest.errors import SourceError
from ingest.lock import WriterLock
from ingest.parsers import parse_source

log = logging.getLogger(__name__)

Stage = Literal["parse", "embed", "write"]
ProgressCallback = Callable[[Stage, int, int], None]
"""Called with (stage, done, total) as work advances."""

# What the stored chunks and item vectors are made of: a change means a rebuild.
SCHEMA_VERSION = f"chunks-{CHUNKER_VERSION}.items-{ITEMS_VERSION}"
# Embedded once per write to stamp the index with its embedder (and to detect a change).
PROBE_TEXT = "A probe sentence that fingerprints the embedding model of this index."
# A test-only hook: `BLUEPRINTS_PAUSE_AT=<step>` stops the process at that write step, so a
# fault-injection test can kill it there (tests/integration/test_data_safety.py, test_sync.py).
PAUSE_ENV = "BLUEPRINTS_PAUSE_AT"
_EMBED_BATCH = 256


@dataclass
class _Plan:
    """What one run will do to one document."""

    blueprint: Blueprint
    chunks: list[Chunk]
    record: DocumentRecord | None
    stored: StoredDocument | None
    new_chunks: list[Chunk] = field(default_factory=list)
    embeddings: list[list[float]] = field(default_factory=list)
    item_vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def doc_hash(self) -> str:
        return self.chunks[0].doc_hash

    @property
    def unchanged(self) -> bool:
        stored = self.stored
        return (
            self.record is not None
            and self.record.doc_hash == self.doc_hash
            and stored is not None
            and stored.chunk_ids == {c.id for c in self.chunks}
            and stored.doc_hashes == {self.doc_hash}
        )


@dataclass(frozen=True)
class Sources:
    """What a set of paths yielded: blueprints, and whether every path was read completely."""

    blueprints: list[Blueprint]
    errors: list[IngestError]

    @property
    def complete(self) -> bool:
        """Whether every given path existed and every file in it was read without a problem."""
        return not self.errors


def display_source(path: Path) -> str:
    """A source path that does not depend on the working directory."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(resolved)


def source_path(source: str) -> Path:
    """The absolute path a recorded source names (relative ones are under the project)."""
    path = Path(source)
    return path if path.is_absolute() else PROJECT_ROOT / path


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


def read_sources(paths: Sequence[Path], progress: ProgressCallback | None = None) -> Sources:
    """Parse every file under `paths`; a later source of the same document supersedes an earlier.

    Never raises for a bad file: every problem becomes an `IngestError` naming it.
    """
    tick = progress or (lambda stage, done, total: None)
    files, errors = expand_sources(paths)
    blueprints: dict[str, Blueprint] = {}
    for done, path in enumerate(files, start=1):
        source = display_source(path)
        try:
            parsed = parse_source(path)
        except SourceError as exc:
            errors.append(IngestError(source=source, message=str(exc)))
            tick("parse", done, len(files))
            continue
        # A partly readable source (a list of posts with a broken one) is incomplete: its
        # problems are errors, so a prune is refused rather than dropping the broken post.
        errors.extend(IngestError(source=source, message=str(p)) for p in parsed.problems)
        for blueprint in parsed.blueprints:
            blueprint = blueprint.model_copy(update={"source": source})
            previous = blueprints.get(blueprint.doc_id)
            if previous is None or _newer(blueprint, previous):
                if previous is not None:
                    log.info("%s: %s supersedes %s", blueprint.doc_id, source, previous.source)
                blueprints[blueprint.doc_id] = blueprint
        tick("parse", done, len(files))
    return Sources(list(blueprints.values()), errors)


def inside(path: Path, roots: Collection[Path]) -> bool:
    """Whether `path` is one of `roots` or lies in a folder among them."""
    return any(path == root or path.is_relative_to(root) for root in roots)


class Ingestor:
    """Writes blueprints into a `ChunkStore` with an `Embedder` (both injected).

    Args:
        store: The index.
        embedder: Embeds chunks and their items.
        chunk_size: Upper bound of a chunk, in characters.
        lock: Held around every write, so concurrent writers serialise (None: the caller
            guarantees there is no other writer, as tests on a private store do).
    """

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        *,
        chunk_size: int,
        lock: WriterLock | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._chunk_size = chunk_size
        self._lock = lock
        self._stamp: IndexStamp | None = None

    # -- entry points --------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        dry_run: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest files and folders; every bad file is reported, the others still ingested.

        With `prune`, documents that came from inside `paths` and are no longer found there
        are removed, but only when every path was read completely: one unreadable source and
        nothing is pruned (the report says why).
        """
        started = time.perf_counter()
        sources = read_sources(paths, on_progress)
        roots = {p.resolve() for p in paths}
        with self._locked():
            head = self._prepare()
            committed = self._committed(head)
            remove: list[str] = []
            refused = ""
            if prune:
                if sources.complete:
                    present = {b.doc_id for b in sources.blueprints}
                    remove = [
                        doc_id
                        for doc_id, record in committed.items()
                        if doc_id not in present
                        and not record.origin
                        and inside(_record_path(record), roots)
                    ]
                else:
                    refused = (
                        f"prune refused: {len(sources.errors)} source(s) could not be read "
                        "completely, so nothing was removed; fix them and run again"
                    )
            report = self._write(
                head, committed, sources.blueprints, remove, dry_run=dry_run, progress=on_progress
            )
        report.errors[:0] = sources.errors
        report.documents_failed = len(report.errors)
        if refused:
            report.errors.append(IngestError(source=", ".join(map(str, paths)), message=refused))
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def write(
        self,
        blueprints: Sequence[Blueprint],
        *,
        remove: Collection[str] = (),
        dry_run: bool = False,
        cursor: tuple[str, Mapping[str, Any]] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Write documents and remove others, as one generation (the primitive under sync).

        `cursor` (origin, data) is recorded once the generation is committed, and only when
        every document was written: a cursor past a document that failed would skip it.
        """
        started = time.perf_counter()
        with self._locked():
            head = self._prepare()
            committed = self._committed(head)
            report = self._write(
                head, committed, blueprints, remove, dry_run=dry_run, progress=on_progress
            )
            report.documents_failed = len(report.errors)
            if cursor is not None and not dry_run and not report.errors:
                self._store.manifest.write_cursor(*cursor)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def rebuild(self, *, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Rebuild the whole index into a new collection from its recorded sources.

        Each document is read again from its source file when that still holds it, else from
        the blueprint stored when it was ingested. The new collection replaces the old one in
        one commit, only once it is complete.
        """
        started = time.perf_counter()
        with self._locked():
            report = self._rebuild(self._repaired_head(), on_progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def needs_rebuild(self) -> bool:
        """Whether the index was built by another schema or embedder than this version's."""
        head = self._store.head()
        if head.stamp is None:
            return self._store.count() > 0
        return not head.stamp.matches(self.stamp())

    # -- preparation ---------------------------------------------------------------------

    def _locked(self) -> WriterLock | _NoLock:
        return self._lock or _NoLock()

    def stamp(self) -> IndexStamp:
        """What this version builds: its schema and its embedder, fingerprinted on a probe."""
        if self._stamp is None:
            probe = [round(v, 5) for v in self._embedder.embed_query(PROBE_TEXT)]
            self._stamp = IndexStamp(
                schema_version=SCHEMA_VERSION, embedder=self._embedder.name, probe=probe
            )
        return self._stamp

    def _repaired_head(self) -> Head:
        """The head, after dropping what a writer that died before its commit left behind."""
        head = self._store.head()
        if head.dirty:
            touched = self._store.manifest.scrub_uncommitted(head.generation)
            if touched:
                log.warning("repaired %d document record(s) a stopped ingest left", len(touched))
        return head

    def _prepare(self) -> Head:
        """The head to write on: repaired, and rebuilt first if another version built it."""
        head = self._repaired_head()
        if self.needs_rebuild():
            log.warning("the index was built by another version: rebuilding it first")
            self._rebuild(head, None)
            head = self._store.head()
        return head

    def _committed(self, head: Head) -> dict[str, DocumentRecord]:
        return self._store.manifest.documents(head.generation).records

    # -- the write -----------------------------------------------------------------------

    def _write(
        self,
        head: Head,
        committed: Mapping[str, DocumentRecord],
        blueprints: Sequence[Blueprint],
        remove: Collection[str],
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
    ) -> IngestReport:
        tick = progress or (lambda stage, done, total: None)
        report = IngestReport(generation=head.generation)
        stored = self._store.stored_documents()
        plans: list[_Plan] = []
        for blueprint in blueprints:
            chunks = chunk_blueprint(blueprint, self._chunk_size)
            if not chunks:
                message = f"{blueprint.source}: {blueprint.role} has no text to index; skipped"
                report.errors.append(IngestError(source=blueprint.source, message=message))
                continue
            doc_id = blueprint.doc_id
            plans.append(_Plan(blueprint, chunks, committed.get(doc_id), stored.get(doc_id)))
        changed = [p for p in plans if not p.unchanged]
        removed = sorted(set(remove) & (set(committed) - {p.blueprint.doc_id for p in plans}))
        report.documents_unchanged = len(plans) - len(changed)
        report.plan = IngestPlan(
            add=sorted(p.blueprint.doc_id for p in changed if p.record is None),
            update=sorted(p.blueprint.doc_id for p in changed if p.record is not None),
            prune=removed,
        )
        if dry_run:
            return report
        if not changed and not removed and not head.dirty:
            return report

        self._embed(changed, tick)
        generation = head.generation + 1
        self._store.write_head(head.model_copy(update={"dirty": True}))
        pause("after-embed")
        written: list[_Plan] = []
        for done, plan in enumerate(changed, start=1):
            if self._write_chunks(plan, report):
                written.append(plan)
            tick("write", done, len(changed))
        changed = written
        pause("after-upsert")
        records = [_record(p, generation) for p in changed]
        records += [committed[doc_id].tombstone(generation) for doc_id in removed]
        self._store.manifest.write_documents(records, head.generation)
        self._store.manifest.write_blueprints([p.blueprint for p in changed])
        self._store.manifest.write_change(
            Change(generation, tuple(p.blueprint.doc_id for p in changed), tuple(removed))
        )
        self._store.write_head(
            head.model_copy(
                update={
                    "generation": generation,
                    "collection": self._store.collection,
                    "dirty": True,
                    "stamp": self.stamp(),
                }
            )
        )
        pause("before-delete")
        current = {r.doc_id: r for r in records if not r.deleted}
        report.chunks_deleted = self._sweep(current, committed, stored, removed, full=head.dirty)
        self._store.manifest.forget_documents(removed)
        self._store.write_head(self._store.head().model_copy(update={"dirty": False}))
        report.documents_added = sum(p.record is None for p in changed)
        report.documents_updated = len(changed) - report.documents_added
        report.documents_pruned = len(removed)
        report.generation = generation
        return report

    def _write_chunks(self, plan: _Plan, report: IngestReport) -> bool:
        """Write one document's new chunks; on failure take them out again and report it."""
        kept = plan.stored.chunk_ids if plan.stored else frozenset()
        try:
            self._store.upsert(plan.new_chunks, plan.embeddings, plan.item_vectors)
            # Chunks whose text did not change keep their vectors; their metadata moves on.
            unchanged = [c for c in plan.chunks if c.id in kept]
            self._store.update_metadata(unchanged)
            vectors = self._store.item_vectors([c.id for c in unchanged])
            vectors.update(zip((c.id for c in plan.new_chunks), plan.item_vectors, strict=True))
            self._store.write_pack(plan.blueprint.doc_id, plan.doc_hash, plan.chunks, vectors)
        except Exception as exc:
            # Not committed, so readers never see them; removing them now saves the sweep.
            self._store.delete([c.id for c in plan.new_chunks if c.id not in kept])
            message = f"{plan.blueprint.source}: writing {plan.blueprint.role} failed: {exc}"
            log.warning(message)
            report.errors.append(IngestError(source=plan.blueprint.source, message=message))
            return False
        report.chunks_written += len(plan.new_chunks)
        return True

    def _embed(self, plans: list[_Plan], progress: ProgressCallback) -> None:
        """Embed every new chunk and its items, in batches across all documents, before writing."""
        for plan in plans:
            kept = plan.stored.chunk_ids if plan.stored else frozenset()
            plan.new_chunks = [c for c in plan.chunks if c.id not in kept]
        # One flat list of texts: each new chunk, then its items.
        texts: list[str] = []
        spans: list[tuple[int, int]] = []
        for plan in plans:
            for chunk in plan.new_chunks:
                items = [embedding_text(i) for i in chunk_items(chunk)]
                spans.append((len(texts), len(items)))
                texts.append(chunk.text)
                texts.extend(items)
        # Longest first, as SentenceTransformer orders one call: batches of alike lengths pad
        # least, and the progress bar still moves every few hundred texts.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), _EMBED_BATCH):
            indexes = order[start : start + _EMBED_BATCH]
            embedded = self._embedder.embed_documents([texts[i] for i in indexes])
            for index, vector in zip(indexes, embedded, strict=True):
                vectors[index] = vector
            progress("embed", min(start + _EMBED_BATCH, len(order)), len(order))
        spans_iter = iter(spans)
        for plan in plans:
            plan.embeddings, plan.item_vectors = [], []
            for _ in plan.new_chunks:
                start, count = next(spans_iter)
                plan.embeddings.append(vectors[start])
                plan.item_vectors.append(
                    np.asarray(vectors[start + 1 : start + 1 + count], dtype=np.float32)
                )

    def _sweep(
        self,
        current: Mapping[str, DocumentRecord],
        committed: Mapping[str, DocumentRecord],
        stored: Mapping[str, StoredDocument],
        removed: Sequence[str],
        *,
        full: bool,
    ) -> int:
        """Delete the chunks and packs no committed record names.

        Those are the old versions of what was written and removed or, after a stopped writer
        (`full`), every orphan in the collection.
        """
        if full:
            live = {d: r for d, r in committed.items() if d not in removed} | dict(current)
            named = {i for r in live.values() for i in r.chunk_ids}
            present = {i for s in self._store.stored_documents().values() for i in s.chunk_ids}
            stale = sorted(present - named)
            packs = {pack_id(d, r.doc_hash) for d, r in live.items()}
            stale_packs = sorted(self._store.pack_ids() - packs)
        else:
            stale, stale_packs = [], []
            for doc_id, record in current.items():
                before = stored.get(doc_id)
                if before is not None:
                    stale.extend(sorted(before.chunk_ids - set(record.chunk_ids)))
                previous = committed.get(doc_id)
                if previous is not None and previous.doc_hash != record.doc_hash:
                    stale_packs.append(pack_id(doc_id, previous.doc_hash))
            for doc_id in removed:
                before = stored.get(doc_id)
                stale.extend(sorted(before.chunk_ids) if before else committed[doc_id].chunk_ids)
                stale_packs.append(pack_id(doc_id, committed[doc_id].doc_hash))
        self._store.delete(stale)
        self._store.delete_packs(stale_packs)
        return len(stale)

    # -- rebuild -------------------------------------------------------------------------

    def _rebuild(self, head: Head, progress: ProgressCallback | None) -> IngestReport:
        tick = progress or (lambda stage, done, total: None)
        report = IngestReport(generation=head.generation)
        previous = self._committed(head) if head.stamp else {}
        if head.stamp is None:
            blueprints, errors = self._legacy_blueprints()
        else:
            blueprints, errors = self._recorded_blueprints(previous)
        report.errors.extend(errors)
        generation = head.generation + 1
        target = f"{self._store.name}-r{generation}"
        self._store.drop(target)  # a rebuild that died before its switch left it half-written
        # Written beside the collection in use: readers keep answering from it until the switch.
        building = self._store.sibling(target)
        plans = []
        for blueprint in blueprints:
            chunks = chunk_blueprint(blueprint, self._chunk_size)
            if chunks:
                plans.append(_Plan(blueprint, chunks, None, None))
        self._embed(plans, tick)
        for done, plan in enumerate(plans, start=1):
            building.upsert(plan.new_chunks, plan.embeddings, plan.item_vectors)
            vectors = dict(zip((c.id for c in plan.new_chunks), plan.item_vectors, strict=True))
            building.write_pack(plan.blueprint.doc_id, plan.doc_hash, plan.chunks, vectors)
            report.chunks_written += len(plan.new_chunks)
            tick("write", done, len(plans))
        pause("rebuild-before-switch")
        records = [_record(p, generation) for p in plans]
        gone = sorted(set(previous) - {r.doc_id for r in records})
        records += [previous[d].tombstone(generation) for d in gone]
        self._store.manifest.write_documents(records, head.generation)
        self._store.manifest.write_blueprints([p.blueprint for p in plans])
        self._store.manifest.write_change(
            Change(generation, tuple(p.blueprint.doc_id for p in plans), tuple(gone))
        )
        self._store.write_head(Head(generation=generation, collection=target, stamp=self.stamp()))
        old = self._store.collection
        self._store.use(target)
        self._store.manifest.forget_documents(gone)
        for leftover in self._store.physical_collections():
            if leftover != target:
                self._store.drop(leftover)
        report.documents_added = len(plans)
        report.documents_pruned = len(gone)
        report.generation = generation
        log.info("rebuilt %d documents into %s (was %s)", len(plans), target, old)
        return report

    def _recorded_blueprints(
        self, committed: Mapping[str, DocumentRecord]
    ) -> tuple[list[Blueprint], list[IngestError]]:
        """Every committed document, re-read from its source file or else from the manifest."""
        by_file: dict[Path, list[str]] = {}
        for doc_id, record in committed.items():
            if not record.origin:
                by_file.setdefault(_record_path(record), []).append(doc_id)
        found: dict[str, Blueprint] = {}
        errors: list[IngestError] = []
        reread = read_sources([p for p in by_file if p.is_file()])
        for blueprint in reread.blueprints:
            if blueprint.doc_id in committed:
                found[blueprint.doc_id] = blueprint
        for doc_id, record in committed.items():
            if doc_id in found:
                continue
            stored = self._store.manifest.blueprint(doc_id)
            if stored is not None:
                found[doc_id] = stored
            else:
                message = (
                    f"{record.source}: {record.role} cannot be rebuilt (its source is gone and "
                    "no copy was kept); ingest it again"
                )
                errors.append(IngestError(source=record.source, message=message))
        return list(found.values()), errors

    def _legacy_blueprints(self) -> tuple[list[Blueprint], list[IngestError]]:
        """An index from before manifests: re-read the sources its chunks name."""
        sources = {s for d in self._store.stored_documents().values() for s in d.sources}
        paths = [source_path(s) for s in sorted(sources)]
        missing = [p for p in paths if not p.exists()]
        errors = [
            IngestError(
                source=str(p), message=f"{p}: recorded source is gone; its documents are dropped"
            )
            for p in missing
        ]
        read = read_sources([p for p in paths if p.exists()])
        return read.blueprints, errors + read.errors


class _NoLock:
    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _record(plan: _Plan, generation: int) -> DocumentRecord:
    blueprint = plan.blueprint
    summary = next((c for c in plan.chunks if c.section_key == "summary"), plan.chunks[0])
    return DocumentRecord(
        doc_id=blueprint.doc_id,
        doc_hash=plan.doc_hash,
        generation=generation,
        role=blueprint.role,
        role_id=blueprint.role_id,
        coverage=blueprint.coverage,
        source=blueprint.source,
        source_path=str(source_path(blueprint.source)) if not blueprint.origin else "",
        origin=blueprint.origin,
        post_id=blueprint.post_id,
        url=blueprint.url,
        modified=blueprint.modified.isoformat() if blueprint.modified else "",
        chunk_ids=[c.id for c in plan.chunks],
        sections=list(dict.fromkeys(c.section for c in plan.chunks)),
        summary=summary.text.split("\n", 1)[-1].strip(),
    )


def _record_path(record: DocumentRecord) -> Path:
    return Path(record.source_path) if record.source_path else source_path(record.source)


def _newer(candidate: Blueprint, current: Blueprint) -> bool:
    if candidate.modified and current.modified:
        return candidate.modified >= current.modified
    return True


def pause(step: str) -> None:
    """Stop here when a fault-injection test asked to (see `PAUSE_ENV`)."""
    if os.environ.get(PAUSE_ENV) == step:
        log.warning("paused at %s (%s)", step, PAUSE_ENV)
        sys.stderr.write(f"PAUSED {step}\n")  # the test waits for this line
        sys.stderr.flush()
        signal.pause()
