"""What readers answer from: one generation of the index, caught up when the head moves.

A snapshot is immutable: an answer pins one and never sees another generation's text. The
reader checks the head (one small read) before each answer; when another writer (in this
process or another, on this host or another through a Chroma server) has committed since, it
reads only the documents the new generations changed, and reopens an embedded client so its
vector index sees the new chunks.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from assistant.collector import Settler
from assistant.corpus import DocumentIndex
from assistant.manifest import DocumentRecord, MissingGenerationError, StaleReadError
from assistant.models import Chunk, RoleCoverage, RoleInfo
from assistant.planning import Planner
from assistant.roles import RoleResolver, declared_aliases, role_key
from assistant.store import ChunkStore

log = logging.getLogger(__name__)

_RETRIES = 5


@dataclass(frozen=True)
class IndexSnapshot:
    """The index at one committed generation.

    `serving` names, per role, the documents answers come from: a role's full blueprint
    shadows its summary (and the newest full blueprint any other), so they never compete.
    """

    generation: int
    collection: str
    records: Mapping[str, DocumentRecord]
    catalogue: list[RoleInfo]
    resolver: RoleResolver
    planner: Planner
    serving: Mapping[str, tuple[str, ...]]

    @property
    def empty(self) -> bool:
        """Whether the index holds no document."""
        return not self.records

    def serving_docs(self, role_ids: list[str] | None = None) -> list[str]:
        """The documents that answer for these roles (for every role when None)."""
        roles = self.serving if role_ids is None else {r: self.serving.get(r, ()) for r in role_ids}
        return [doc for docs in roles.values() for doc in docs]


class SnapshotReader:
    """Keeps the current snapshot of one store, and the documents read lately; thread-safe.

    Documents are read when a question first needs them and kept (up to `cache_size`, the
    least recently used go first) while their version stays current, so a large index costs
    memory in proportion to the roles people ask about, not to its size.
    """

    def __init__(self, store: ChunkStore, *, cache_size: int = 256) -> None:
        self._store = store
        self._lock = Lock()
        self._snapshot: IndexSnapshot | None = None
        self._documents: OrderedDict[tuple[str, str], DocumentIndex] = OrderedDict()
        self._documents_lock = Lock()
        self._cache_size = cache_size
        # Cached documents are most of a server's objects: out of the collector's walks.
        self._settler = Settler(thaw_every=max(1, cache_size))

    @property
    def cache_size(self) -> int:
        """How many documents the reader keeps in memory."""
        return self._cache_size

    def current(self) -> IndexSnapshot:
        """The snapshot of the committed head, caught up first if the head moved."""
        head = self._store.head()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == head.generation:
            return snapshot
        with self._lock:
            for _ in range(_RETRIES):
                try:
                    return self._refresh()
                except (StaleReadError, MissingGenerationError) as exc:
                    log.info("index moved while reading it (%s); reading again", exc)
            return self._refresh(full=True)

    def is_current(self, snapshot: IndexSnapshot) -> bool:
        """Whether no generation was committed since `snapshot`."""
        return self._store.head().generation == snapshot.generation

    def document(self, snapshot: IndexSnapshot, doc_id: str) -> DocumentIndex:
        """A document of the snapshot, with its items and their vectors.

        Raises:
            StaleReadError: the store no longer holds the snapshot's version (a writer swept
                it after committing a newer one): take the current snapshot and ask again.
        """
        record = snapshot.records[doc_id]
        key = (doc_id, record.doc_hash)
        with self._documents_lock:
            cached = self._documents.get(key)
            if cached is not None:
                self._documents.move_to_end(key)
                return cached
        packed = self._store.pack(doc_id, record.doc_hash)
        if packed is not None and [c.id for c in packed[0]] == record.chunk_ids:
            stored, vectors = packed
        else:  # written before packs, or swept by a writer meanwhile
            stored = self._store.chunks(record.chunk_ids)
            vectors = self._store.item_vectors(record.chunk_ids)
        chunks = [_as_recorded(c, record) for c in stored]
        if len(chunks) != len(record.chunk_ids):
            raise StaleReadError(doc_id, snapshot.generation)
        index = DocumentIndex.build(record, chunks, vectors)
        with self._documents_lock:
            self._documents[key] = index
            while len(self._documents) > self._cache_size:
                self._documents.popitem(last=False)
        self._settler.settle()
        return index

    def _refresh(self, *, full: bool = False) -> IndexSnapshot:
        head = self._store.head()
        previous = self._snapshot
        if previous is not None and previous.generation == head.generation:
            return previous
        if previous is not None and head.generation != self._store.written:
            # Another process wrote: an embedded client must reopen to see it. (A write
            # through this very store, as the background sync makes, is seen already.)
            self._store.reopen()
            head = self._store.head()
        if head.collection and head.collection != self._store.collection:
            self._store.use(head.collection)
        manifest = self._store.manifest
        if previous is None or full or previous.collection != self._store.collection:
            records = dict(manifest.documents(head.generation).records)
        else:
            records = dict(previous.records)
            changed: set[str] = set()
            for change in manifest.changes(previous.generation, head.generation):
                changed.update(change.changed)
                changed.update(change.removed)
            for doc_id in changed:
                records.pop(doc_id, None)
            records.update(manifest.documents(head.generation, changed).records)
        if self._store.head().generation != head.generation:
            raise StaleReadError("head", head.generation)
        serving = _serving(records)
        catalogue = _catalogue(records, serving)
        resolver = RoleResolver(catalogue)
        snapshot = IndexSnapshot(
            generation=head.generation,
            collection=self._store.collection,
            records=records,
            catalogue=catalogue,
            resolver=resolver,
            planner=Planner(catalogue, resolver),
            serving=serving,
        )
        self._snapshot = snapshot
        return snapshot


def _as_recorded(chunk: Chunk, record: DocumentRecord) -> Chunk:
    """A chunk with its document's fields as the record has them at this generation.

    A chunk whose text two versions share is one record in the store, whose document fields
    (hash, URL, source) a writer updates before it commits; the record is what was committed.
    """
    return chunk.model_copy(
        update={
            "doc_hash": record.doc_hash,
            "url": record.url,
            "source": record.source,
            "modified": record.modified,
        }
    )


def _serving(records: Mapping[str, DocumentRecord]) -> dict[str, tuple[str, ...]]:
    """Per role, the one document answers come from: the newest full blueprint, else a summary.

    A full blueprint also stands in for a summary that spells its title another way ("Director
    of SRE" in a listing, "Director of Site Reliability Engineering" synced from the blog),
    unless a summary under its own title exists: then the listing holds the two as two roles.
    """
    by_role: dict[str, list[DocumentRecord]] = defaultdict(list)
    for record in records.values():
        by_role[record.role_id].append(record)
    full_only = {
        role_key(candidates[0].role): role_id
        for role_id, candidates in by_role.items()
        if all(r.coverage is RoleCoverage.FULL for r in candidates)
    }
    serving: dict[str, tuple[str, ...]] = {}
    for role_id, candidates in by_role.items():
        full = [r for r in candidates if r.coverage is RoleCoverage.FULL]
        if not full and full_only.get(role_key(candidates[0].role), role_id) != role_id:
            continue
        best = max(full or candidates, key=lambda r: (r.modified, r.generation, r.doc_id))
        serving[role_id] = (best.doc_id,)
    return serving


def _catalogue(
    records: Mapping[str, DocumentRecord], serving: Mapping[str, tuple[str, ...]]
) -> list[RoleInfo]:
    """One entry per role, described by the document that serves it.

    Its aliases are the other titles the document's summary gives the role.
    """
    summaries: dict[str, str] = {}
    for record in records.values():
        if record.coverage is RoleCoverage.SUMMARY and record.summary:
            summaries.setdefault(record.role_id, record.summary)
            summaries.setdefault(role_key(record.role), record.summary)
    catalogue = []
    for role_id, docs in serving.items():
        record = records[docs[0]]
        own = role_key(record.role)
        catalogue.append(
            RoleInfo(
                role=record.role,
                id=role_id,
                coverage=record.coverage,
                sections=record.sections,
                source=record.source,
                url=record.url,
                summary=summaries.get(role_id) or summaries.get(own) or record.summary,
                aliases=[a for a in declared_aliases(record.summary) if role_key(a) != own],
            )
        )
    return sorted(catalogue, key=lambda r: r.role.lower())
