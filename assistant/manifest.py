"""The index manifest: generations, document records and stamps, kept in the store itself.

Every successful write to the index commits a *generation*: an increasing integer with the ids
of the documents it changed. Readers pin one generation and see every document as it was in
it, so an answer never mixes two generations, and a reader at generation G catches up to H by
reading only the documents that generations G+1..H changed.

The manifest is a small Chroma collection beside the chunks (so it works the same on the
embedded store and on a Chroma server shared by several hosts). It holds:

- `head`: the committed generation, the physical chunk collection in use, and the stamp of
  the index schema and the embedder that built it;
- `gen:<n>`: what generation n changed and removed;
- `doc:<id>`: each document's record, with its last two versions, so a reader still pinned
  to the previous generation finds its version while a writer commits the next one;
- `bp:<id>`: each document's parsed blueprint, what `reindex` rebuilds from when its source
  file is gone;
- `cursor:<origin>`: where the last sync of a site stopped.

A writer commits in this order: new chunks, document records (new version first), the
generation record, the head (the commit point), and only then deletes stale chunks. A crash
anywhere leaves the last committed generation whole; the next writer repairs the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from assistant.models import Blueprint, RoleCoverage

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

# Manifest records need a vector; a one-dimensional zero stands in (never queried).
_NO_VECTOR = [0.0]
_HEAD = "head"
_PAGE = 500


class DocumentRecord(BaseModel):
    """What the index holds of one document at one generation."""

    doc_id: str
    doc_hash: str
    generation: int
    deleted: bool = False
    role: str = ""
    role_id: str = ""
    coverage: RoleCoverage = RoleCoverage.FULL
    source: str = ""
    source_path: str = ""
    origin: str = ""
    post_id: int | None = None
    url: str = ""
    modified: str = ""
    chunk_ids: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)
    summary: str = ""

    def tombstone(self, generation: int) -> DocumentRecord:
        """This record marked deleted as of `generation`."""
        return self.model_copy(update={"generation": generation, "deleted": True})


class IndexStamp(BaseModel):
    """What built the index: the schema of its chunks and items, and the embedder."""

    schema_version: str
    embedder: str
    probe: list[float] = Field(default_factory=list)

    def matches(self, other: IndexStamp) -> bool:
        """Same schema, same embedder, and probe vectors equal within rounding."""
        if (self.schema_version, self.embedder) != (other.schema_version, other.embedder):
            return False
        if len(self.probe) != len(other.probe):
            return False
        cosine = sum(a * b for a, b in zip(self.probe, other.probe, strict=True))
        return cosine >= 0.999


class Head(BaseModel):
    """The committed state of the index."""

    generation: int = 0
    collection: str = ""
    stamp: IndexStamp | None = None
    updated: str = ""
    # Set by a writer before it touches anything, cleared when it has cleaned up: a writer
    # that finds it set knows the last one died and sweeps orphaned chunks.
    dirty: bool = False


@dataclass(frozen=True)
class Change:
    """What one generation did: documents written (new or changed) and removed."""

    generation: int
    changed: tuple[str, ...]
    removed: tuple[str, ...]


class IndexManifest:
    """The manifest collection of one index (see the module docstring)."""

    def __init__(self, client: ClientAPI, name: str) -> None:
        self.name = name
        self._collection: Collection = client.get_or_create_collection(
            name=name, embedding_function=None
        )

    # -- head ----------------------------------------------------------------------------

    def head(self) -> Head:
        """The committed head (generation 0 and no collection for a new index)."""
        found = self._collection.get(ids=[_HEAD], include=["documents"])
        documents = found["documents"] or []
        if not documents or not documents[0]:
            return Head()
        return Head.model_validate_json(documents[0])

    def write_head(self, head: Head) -> None:
        """Replace the head (the commit point of a generation)."""
        head = head.model_copy(update={"updated": _now()})
        self._put([_HEAD], [head.model_dump_json()], [{"kind": "head"}])

    # -- generations ---------------------------------------------------------------------

    def write_change(self, change: Change) -> None:
        """Record what a generation changed (before its head is written)."""
        body = json.dumps({"changed": change.changed, "removed": change.removed, "at": _now()})
        metadata = {"kind": "gen", "generation": change.generation}
        self._put([_gen_id(change.generation)], [body], [metadata])

    def changes(self, after: int, upto: int) -> list[Change]:
        """The committed changes of generations `after`+1 .. `upto`, oldest first.

        A generation whose record is missing (written by a version before generations were
        recorded) is returned as None-like: callers treat a gap as "reload everything".
        """
        if upto <= after:
            return []
        ids = [_gen_id(n) for n in range(after + 1, upto + 1)]
        found = self._collection.get(ids=ids, include=["documents"])
        by_id = dict(zip(found["ids"], found["documents"] or [], strict=True))
        changes: list[Change] = []
        for n, record_id in zip(range(after + 1, upto + 1), ids, strict=True):
            body = by_id.get(record_id)
            if body is None:
                raise MissingGenerationError(n)
            data = json.loads(body)
            changes.append(Change(n, tuple(data["changed"]), tuple(data["removed"])))
        return changes

    # -- documents -----------------------------------------------------------------------

    def write_documents(self, records: Sequence[DocumentRecord], committed: int) -> None:
        """Write new versions of documents; the version readers at `committed` see is kept."""
        if not records:
            return
        current = self._versions([r.doc_id for r in records])
        ids, bodies, metadatas = [], [], []
        for record in records:
            kept = [v for v in current.get(record.doc_id, []) if v.generation <= committed]
            versions = [record, *kept[:1]]
            ids.append(_doc_id(record.doc_id))
            bodies.append(json.dumps([v.model_dump(mode="json") for v in versions]))
            metadatas.append(
                {"kind": "doc", "doc_id": record.doc_id, "generation": record.generation}
            )
        for start in range(0, len(ids), _PAGE):
            end = start + _PAGE
            self._put(ids[start:end], bodies[start:end], metadatas[start:end])

    def documents(self, generation: int, doc_ids: Iterable[str] | None = None) -> RecordsView:
        """Each document as it was at `generation` (deleted ones left out).

        Raises:
            StaleReadError: a document's version for `generation` is gone: a writer committed
                two generations since; read the head again.
        """
        wanted = None if doc_ids is None else list(doc_ids)
        versions = self._versions(wanted)
        found: dict[str, DocumentRecord] = {}
        for doc_id, history in versions.items():
            visible = next((v for v in history if v.generation <= generation), None)
            if visible is None:
                # One version only: the document is newer than `generation`. Two newer
                # versions: the one `generation` saw was dropped while we read.
                if len(history) == 1:
                    continue
                raise StaleReadError(doc_id, generation)
            if not visible.deleted:
                found[doc_id] = visible
        return RecordsView(generation, found)

    def scrub_uncommitted(self, committed: int) -> list[str]:
        """Drop versions a dead writer wrote past `committed`; return the documents touched."""
        touched: list[str] = []
        emptied: list[str] = []
        kept: list[DocumentRecord] = []
        for doc_id, history in self._versions(None).items():
            committed_versions = [v for v in history if v.generation <= committed]
            if len(committed_versions) == len(history):
                continue
            touched.append(doc_id)
            if committed_versions:
                kept.extend(committed_versions[:1])
            else:
                emptied.append(doc_id)
        if kept:
            self._put(
                [_doc_id(r.doc_id) for r in kept],
                [json.dumps([r.model_dump(mode="json")]) for r in kept],
                [{"kind": "doc", "doc_id": r.doc_id, "generation": r.generation} for r in kept],
            )
        self.forget_documents(emptied)
        return touched

    def forget_documents(self, doc_ids: Sequence[str]) -> None:
        """Drop the records (and stored blueprints) of documents removed for good."""
        if doc_ids:
            self._collection.delete(ids=[_doc_id(d) for d in doc_ids])
            self._collection.delete(ids=[_blueprint_id(d) for d in doc_ids])

    # -- blueprints ----------------------------------------------------------------------

    def write_blueprints(self, blueprints: Sequence[Blueprint]) -> None:
        """Keep each document's parsed blueprint, to rebuild from when its source is gone."""
        for start in range(0, len(blueprints), _PAGE):
            page = blueprints[start : start + _PAGE]
            self._put(
                [_blueprint_id(b.doc_id) for b in page],
                [b.model_dump_json() for b in page],
                [{"kind": "blueprint", "doc_id": b.doc_id} for b in page],
            )

    def blueprint(self, doc_id: str) -> Blueprint | None:
        """The stored blueprint of a document, if any."""
        found = self._collection.get(ids=[_blueprint_id(doc_id)], include=["documents"])
        documents = found["documents"] or []
        return Blueprint.model_validate_json(documents[0]) if documents else None

    # -- sync cursors --------------------------------------------------------------------

    def cursor(self, origin: str) -> dict[str, Any] | None:
        """What the last sync of `origin` recorded, if any."""
        found = self._collection.get(ids=[_cursor_id(origin)], include=["documents"])
        documents = found["documents"] or []
        return dict(json.loads(documents[0])) if documents else None

    def write_cursor(self, origin: str, cursor: Mapping[str, Any]) -> None:
        """Record where a sync of `origin` stopped."""
        self._put([_cursor_id(origin)], [json.dumps(dict(cursor))], [{"kind": "cursor"}])

    # -- plumbing ------------------------------------------------------------------------

    def _versions(self, doc_ids: list[str] | None) -> dict[str, list[DocumentRecord]]:
        result: dict[str, list[DocumentRecord]] = {}
        for record_id, body in self._bodies(doc_ids):
            history = [DocumentRecord.model_validate(v) for v in json.loads(body)]
            result[record_id.removeprefix("doc:")] = history
        return result

    def _bodies(self, doc_ids: list[str] | None) -> Iterator[tuple[str, str]]:
        if doc_ids is not None:
            for start in range(0, len(doc_ids), _PAGE):
                ids = [_doc_id(d) for d in doc_ids[start : start + _PAGE]]
                found = self._collection.get(ids=ids, include=["documents"])
                yield from zip(found["ids"], found["documents"] or [], strict=True)
            return
        offset = 0
        while True:
            found = self._collection.get(
                where={"kind": "doc"}, include=["documents"], limit=_PAGE, offset=offset
            )
            yield from zip(found["ids"], found["documents"] or [], strict=True)
            if len(found["ids"]) < _PAGE:
                return
            offset += _PAGE

    def _put(self, ids: list[str], bodies: list[str], metadatas: list[dict[str, Any]]) -> None:
        self._collection.upsert(
            ids=ids,
            documents=bodies,
            metadatas=metadatas,  # type: ignore[arg-type]
            embeddings=[_NO_VECTOR] * len(ids),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class RecordsView:
    """The document records visible at one generation."""

    generation: int
    records: dict[str, DocumentRecord]


class MissingGenerationError(LookupError):
    """A generation's change record is not in the manifest."""

    def __init__(self, generation: int) -> None:
        super().__init__(f"generation {generation} has no change record")
        self.generation = generation


class StaleReadError(RuntimeError):
    """The version of a document a reader needs was superseded twice while it read."""

    def __init__(self, doc_id: str, generation: int) -> None:
        super().__init__(f"{doc_id}: no version at generation {generation} any more")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _gen_id(generation: int) -> str:
    return f"gen:{generation:012d}"


def _doc_id(doc_id: str) -> str:
    return f"doc:{doc_id}"


def _blueprint_id(doc_id: str) -> str:
    return f"bp:{doc_id}"


def _cursor_id(origin: str) -> str:
    return f"cursor:{origin}"
