"""The chunk store: chunks, their item vectors and the manifest, in Chroma.

One index is four collections: the chunks (text, metadata and the chunk's vector), the vectors
of each chunk's items (a bullet, a table row, a sentence), the documents' packs, and the
manifest (see `assistant.manifest`). A pack holds one version of one document whole, its
chunks and item vectors in one record, keyed by the document and its hash: Chroma spends about
40 µs per record it returns, so reading a document of 110 chunks from its pack takes 2 ms
instead of 16 (its chunks and items one by one, as a store without packs is still read). The
chunk, item and pack collections are named by the manifest's head, so a rebuild can write a
new set and switch to it in one commit. The client is built once and
injected; an embedded client is reopened when another process commits a generation, because
Chroma's embedded vector index does not see other processes' writes.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Condition
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from pydantic import BaseModel

from assistant.errors import StoreUnavailableError
from assistant.manifest import Head, IndexManifest
from assistant.models import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from assistant.settings import Settings

_METADATA_FIELDS = tuple(name for name in Chunk.model_fields if name not in {"id", "text"})
# Chroma's `get` pages through large collections; this keeps each page small.
_PAGE = 2000
_NO_VECTOR = [0.0]
ITEM_DTYPE = np.float16


def open_client(settings: Settings) -> ClientAPI:
    """The embedded store on disk, or a Chroma server when `BLUEPRINTS_CHROMA_URL` is set."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            msg = f"BLUEPRINTS_CHROMA_URL={settings.chroma_url!r} is not an http(s) URL"
            raise StoreUnavailableError(msg)
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 80),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:
            msg = f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            raise StoreUnavailableError(msg) from exc
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)


def open_store(settings: Settings) -> ChunkStore:
    """The configured store; an embedded one can reopen itself to see other processes' writes."""
    reopen = None if settings.chroma_url else (lambda: open_client(settings))
    return ChunkStore(open_client(settings), settings.collection, reopen=reopen)


class _ClientGuard:
    """Any number of calls on the client at once; swapping the client waits for them all."""

    def __init__(self) -> None:
        self._condition = Condition()
        self._active = 0
        self._swapping = False

    @contextmanager
    def using(self) -> Iterator[None]:
        with self._condition:
            while self._swapping:
                self._condition.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                self._condition.notify_all()

    @contextmanager
    def swapping(self) -> Iterator[None]:
        with self._condition:
            while self._swapping:
                self._condition.wait()
            self._swapping = True
            while self._active:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._swapping = False
                self._condition.notify_all()


@dataclass(frozen=True)
class StoredDocument:
    """What the chunk collection holds of one document: its chunk ids and the hashes they carry."""

    chunk_ids: frozenset[str]
    doc_hashes: frozenset[str]
    sources: frozenset[str]


class ChunkStore:
    """One index: chunk and item collections named by the manifest's head, and the manifest.

    Embeddings are always computed by us and passed in: no collection has an embedding
    function, so Chroma never falls back to its default one (which downloads a model).
    Thread-safe: `reopen` and `use` wait for the calls in flight on the old client.
    """

    def __init__(
        self,
        client: ClientAPI,
        collection: str,
        *,
        reopen: Callable[[], ClientAPI] | None = None,
        physical: str | None = None,
    ) -> None:
        self.name = collection
        self._client = client
        self._reopen = reopen
        self._guard = _ClientGuard()
        # The last generation committed through this store: its client has seen it already.
        self.written = -1
        self.manifest = IndexManifest(client, f"{collection}-manifest")
        self._chunks: Collection
        self._items: Collection
        self._packs: Collection
        self._physical = ""
        self._switch(physical or self.manifest.head().collection or collection)

    @property
    def collection(self) -> str:
        """The physical chunk collection in use."""
        return self._physical

    def use(self, physical: str) -> None:
        """Read and write the chunk and item collections of `physical` from now on."""
        with self._guard.swapping():
            self._switch(physical)

    def _switch(self, physical: str) -> None:
        self._chunks = self._client.get_or_create_collection(
            name=physical, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self._items = self._client.get_or_create_collection(
            name=f"{physical}-items", embedding_function=None
        )
        self._packs = self._client.get_or_create_collection(
            name=f"{physical}-docs", embedding_function=None
        )
        self._physical = physical

    def sibling(self, physical: str) -> ChunkStore:
        """A store on the same client and manifest, reading and writing other collections."""
        return ChunkStore(self._client, self.name, physical=physical)

    def close(self) -> None:
        """Release the client (an embedded store's files stay as they are)."""
        with self._guard.swapping():
            _close(self._client)

    def reopen(self) -> None:
        """See writes other processes made (embedded client only; a server sees them anyway).

        Chroma shares one embedded system per path within a process: it reloads from disk
        only once every client of the path is closed, so a process keeps one store per path.
        """
        if self._reopen is None:
            return
        with self._guard.swapping():
            _close(self._client)
            self._client = self._reopen()
            self.manifest = IndexManifest(self._client, self.manifest.name)
            self._switch(self.manifest.head().collection or self.name)

    def head(self) -> Head:
        """The manifest's committed head."""
        with self._guard.using():
            return self.manifest.head()

    def write_head(self, head: Head) -> None:
        """Commit a head, and remember that this store's client wrote that generation."""
        with self._guard.using():
            self.manifest.write_head(head)
            self.written = head.generation

    def drop(self, physical: str) -> None:
        """Delete a physical chunk collection and its items (after a rebuild replaced it)."""
        for name in (physical, f"{physical}-items", f"{physical}-docs"):
            try:
                self._client.delete_collection(name)
            except Exception:  # already gone: a crash after a switch left nothing to drop
                continue

    def physical_collections(self) -> list[str]:
        """The chunk collections of this index in the store (the one in use and leftovers)."""
        names = [c if isinstance(c, str) else c.name for c in self._client.list_collections()]
        prefix = f"{self.name}-r"
        return sorted(n for n in names if n == self.name or _is_rebuild(n, prefix))

    # -- chunks --------------------------------------------------------------------------

    def count(self) -> int:
        """How many chunks the collection in use holds (stale leftovers included)."""
        return int(self._chunks.count())

    def stored_documents(self) -> dict[str, StoredDocument]:
        """Every document the chunk collection holds chunks of, with their ids and hashes."""
        ids: dict[str, set[str]] = defaultdict(set)
        hashes: dict[str, set[str]] = defaultdict(set)
        sources: dict[str, set[str]] = defaultdict(set)
        for chunk_id, _, meta in self._records(["metadatas"]):
            doc_id = str(meta["doc_id"])
            ids[doc_id].add(chunk_id)
            hashes[doc_id].add(str(meta["doc_hash"]))
            sources[doc_id].add(str(meta["source"]))
        return {
            doc: StoredDocument(
                frozenset(ids[doc]), frozenset(hashes[doc]), frozenset(sources[doc])
            )
            for doc in ids
        }

    def upsert(
        self,
        chunks: Sequence[Chunk],
        embeddings: Sequence[Sequence[float]],
        item_vectors: Sequence[np.ndarray] | None = None,
    ) -> None:
        """Write chunks with their embeddings and the vectors of their items (same order)."""
        if len(chunks) != len(embeddings) or (
            item_vectors is not None and len(item_vectors) != len(chunks)
        ):
            msg = f"{len(chunks)} chunks but {len(embeddings)} embeddings"
            raise ValueError(msg)
        for start in range(0, len(chunks), _PAGE):
            page = list(chunks[start : start + _PAGE])
            with self._guard.using():
                if item_vectors is not None:
                    self._items.upsert(
                        ids=[c.id for c in page],
                        documents=[encode_vectors(v) for v in item_vectors[start : start + _PAGE]],
                        metadatas=[{"doc_id": c.doc_id} for c in page],
                        embeddings=[_NO_VECTOR] * len(page),  # type: ignore[arg-type]
                    )
                self._chunks.upsert(
                    ids=[c.id for c in page],
                    documents=[c.text for c in page],
                    embeddings=[list(e) for e in embeddings[start : start + _PAGE]],  # type: ignore[arg-type]
                    metadatas=[_to_metadata(c) for c in page],
                )

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        """Rewrite the metadata of stored chunks whose text (and so embedding) is unchanged."""
        for start in range(0, len(chunks), _PAGE):
            page = list(chunks[start : start + _PAGE])
            with self._guard.using():
                self._chunks.update(
                    ids=[c.id for c in page], metadatas=[_to_metadata(c) for c in page]
                )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks (and their item vectors) by id."""
        for start in range(0, len(ids), _PAGE):
            page = list(ids[start : start + _PAGE])
            with self._guard.using():
                self._chunks.delete(ids=page)
                self._items.delete(ids=page)

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids that the collection holds, in the order asked."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(ids), _PAGE):
            with self._guard.using():
                page = self._chunks.get(
                    ids=list(ids[start : start + _PAGE]), include=["documents", "metadatas"]
                )
            for chunk_id, text, meta in zip(
                page["ids"], page["documents"] or [], page["metadatas"] or [], strict=True
            ):
                found[chunk_id] = _from_record(chunk_id, text, meta)
        return [found[i] for i in ids if i in found]

    def item_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The item vectors of these chunks, by chunk id (missing for chunks that have none)."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), _PAGE):
            with self._guard.using():
                page = self._items.get(ids=list(ids[start : start + _PAGE]), include=["documents"])
            for chunk_id, body in zip(page["ids"], page["documents"] or [], strict=True):
                if body:
                    found[chunk_id] = decode_vectors(body)
        return found

    # -- document packs ------------------------------------------------------------------

    def write_pack(
        self,
        doc_id: str,
        doc_hash: str,
        chunks: Sequence[Chunk],
        item_vectors: Mapping[str, np.ndarray],
    ) -> None:
        """Keep one version of a document whole: its chunks and their item vectors."""
        pack = _Pack(
            chunks=list(chunks),
            items={
                c.id: encode_vectors(item_vectors[c.id]) for c in chunks if c.id in item_vectors
            },
        )
        with self._guard.using():
            self._packs.upsert(
                ids=[pack_id(doc_id, doc_hash)],
                documents=[pack.model_dump_json()],
                metadatas=[{"doc_id": doc_id}],
                embeddings=[_NO_VECTOR],  # type: ignore[arg-type]
            )

    def pack(self, doc_id: str, doc_hash: str) -> tuple[list[Chunk], dict[str, np.ndarray]] | None:
        """A document version's chunks and item vectors, if its pack is stored."""
        with self._guard.using():
            found = self._packs.get(ids=[pack_id(doc_id, doc_hash)], include=["documents"])
        documents = found["documents"] or []
        if not documents or not documents[0]:
            return None
        pack = _Pack.model_validate_json(documents[0])
        return pack.chunks, {i: decode_vectors(body) for i, body in pack.items.items() if body}

    def pack_ids(self) -> set[str]:
        """The ids of every stored pack."""
        ids: set[str] = set()
        offset = 0
        while True:
            with self._guard.using():
                page = self._packs.get(include=[], limit=_PAGE, offset=offset)
            ids.update(page["ids"])
            if len(page["ids"]) < _PAGE:
                return ids
            offset += _PAGE

    def delete_packs(self, ids: Sequence[str]) -> None:
        """Remove packs by id (see `pack_id`)."""
        for start in range(0, len(ids), _PAGE):
            with self._guard.using():
                self._packs.delete(ids=list(ids[start : start + _PAGE]))

    def all_chunks(self) -> list[Chunk]:
        """Every chunk of the collection in use, in a stable order (role, section, position)."""
        chunks = [
            _from_record(chunk_id, text, meta)
            for chunk_id, text, meta in self._records(["documents", "metadatas"])
        ]
        chunks.sort(key=lambda c: (c.role_id, c.coverage.value, c.section_number, c.position))
        return chunks

    def query(
        self, embedding: Sequence[float], k: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity, optionally within some documents."""
        where: dict[str, Any] | None = None
        if doc_ids:
            where = {"doc_id": {"$in": list(doc_ids)}}
        with self._guard.using():
            result = self._chunks.query(
                query_embeddings=[list(embedding)],  # type: ignore[arg-type]
                n_results=k,
                where=where,
                include=["documents", "metadatas", "distances"],
            )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            (_from_record(i, d, m), 1.0 - float(dist))
            for i, d, m, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]

    def _records(self, include: list[str]) -> Iterator[tuple[str, str | None, Any]]:
        """(id, document, metadata) of every chunk, a page at a time."""
        offset = 0
        while True:
            with self._guard.using():
                page = self._chunks.get(include=include, limit=_PAGE, offset=offset)  # type: ignore[arg-type]
            ids = page["ids"]
            documents: list[str | None] = [*(page["documents"] or [])] or [None] * len(ids)
            yield from zip(ids, documents, page["metadatas"] or [], strict=True)
            if len(ids) < _PAGE:
                return
            offset += _PAGE


class _Pack(BaseModel):
    """What a document pack holds (see the module docstring)."""

    chunks: list[Chunk]
    items: dict[str, str]


def pack_id(doc_id: str, doc_hash: str) -> str:
    """The id of a document version's pack: the hash covers every chunk and document field."""
    return f"{doc_id}@{doc_hash}"


def encode_vectors(vectors: np.ndarray) -> str:
    """Item vectors as stored: float16, row-major, base64, with the row count up front."""
    matrix = np.asarray(vectors, dtype=ITEM_DTYPE)
    rows = matrix.shape[0] if matrix.ndim == 2 else 0
    return f"{rows}:" + base64.b64encode(matrix.tobytes()).decode("ascii")


def decode_vectors(body: str) -> np.ndarray:
    """The inverse of `encode_vectors` (float32, one row per item)."""
    rows, _, data = body.partition(":")
    flat = np.frombuffer(base64.b64decode(data), dtype=ITEM_DTYPE).astype(np.float32)
    count = int(rows)
    return flat.reshape(count, -1) if count else flat.reshape(0, 0)


def _close(client: ClientAPI) -> None:
    close = getattr(client, "close", None)  # embedded and HTTP clients have it; the API type not
    if close is not None:
        close()


def _is_rebuild(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


def _to_metadata(chunk: Chunk) -> dict[str, str | int]:
    data = chunk.model_dump(mode="json", include=set(_METADATA_FIELDS))
    return {key: value for key, value in data.items() if value is not None}


def _from_record(chunk_id: str, text: str | None, meta: Any) -> Chunk:
    return Chunk.model_validate({**dict(meta or {}), "id": chunk_id, "text": text or ""})
