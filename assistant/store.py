"""The chunk store: one Chroma collection, through a client built once and injected."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from assistant.errors import BlueprintsError, StoreUnavailableError
from assistant.models import Chunk, RoleCoverage, RoleInfo

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from assistant.settings import Settings

_METADATA_FIELDS = tuple(name for name in Chunk.model_fields if name not in {"id", "text"})
# Chroma's `get` pages through large collections; this keeps each page small.
_PAGE = 2000


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


@dataclass(frozen=True)
class StoredDocument:
    """What the store holds of one document: its hash, source and chunk ids."""

    doc_hash: str
    source: str
    chunk_ids: frozenset[str]


class ChunkStore:
    """Chunks with their embeddings and metadata in one Chroma collection.

    Embeddings are always computed by us and passed in: the collection has no embedding
    function, so Chroma never falls back to its default one (which downloads a model).
    """

    def __init__(self, client: ClientAPI, collection: str, *, embedding_model: str) -> None:
        self._collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedding_model": embedding_model},
        )
        stored_model = (self._collection.metadata or {}).get("embedding_model")
        if stored_model and stored_model != embedding_model:
            msg = (
                f"collection {collection!r} was built with the embedding model {stored_model!r}, "
                f"not {embedding_model!r}: use another BLUEPRINTS_COLLECTION or re-ingest into "
                "an empty store"
            )
            raise BlueprintsError(msg)
        self.name = collection

    def count(self) -> int:
        """How many chunks the store holds."""
        return int(self._collection.count())

    def documents(self) -> dict[str, StoredDocument]:
        """Every stored document by id, with its hash and chunk ids."""
        heads: dict[str, tuple[str, str]] = {}
        ids: dict[str, set[str]] = defaultdict(set)
        for chunk_id, _, meta in self._records(["metadatas"]):
            doc_id = str(meta["doc_id"])
            heads[doc_id] = (str(meta["doc_hash"]), str(meta["source"]))
            ids[doc_id].add(chunk_id)
        return {
            doc: StoredDocument(doc_hash, source, frozenset(ids[doc]))
            for doc, (doc_hash, source) in heads.items()
        }

    def upsert(self, chunks: list[Chunk], embeddings: list[list[float]]) -> None:
        """Write chunks with their embeddings (same order)."""
        if len(chunks) != len(embeddings):
            msg = f"{len(chunks)} chunks but {len(embeddings)} embeddings"
            raise ValueError(msg)
        if not chunks:
            return
        self._collection.upsert(
            ids=[c.id for c in chunks],
            documents=[c.text for c in chunks],
            embeddings=embeddings,  # type: ignore[arg-type]
            metadatas=[_to_metadata(c) for c in chunks],
        )

    def update_metadata(self, chunks: list[Chunk]) -> None:
        """Rewrite the metadata of stored chunks whose text (and so embedding) is unchanged."""
        if chunks:
            self._collection.update(
                ids=[c.id for c in chunks], metadatas=[_to_metadata(c) for c in chunks]
            )

    def delete(self, ids: list[str]) -> None:
        """Remove chunks by id."""
        if ids:
            self._collection.delete(ids=ids)

    def all_chunks(self) -> list[Chunk]:
        """Every chunk, in a stable order (role, section, position)."""
        chunks = [
            _from_record(chunk_id, text, meta)
            for chunk_id, text, meta in self._records(["documents", "metadatas"])
        ]
        chunks.sort(key=lambda c: (c.role_id, c.coverage.value, c.section_number, c.position))
        return chunks

    def query(
        self, embedding: list[float], k: int, role_ids: list[str] | None = None
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity, optionally within some roles."""
        where: dict[str, Any] | None = None
        if role_ids:
            where = {"role_id": {"$in": list(role_ids)}}
        result = self._collection.query(
            query_embeddings=[embedding],  # type: ignore[arg-type]
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

    def roles(self) -> list[RoleInfo]:
        """The role catalogue (see `catalogue_of`)."""
        return catalogue_of(self.all_chunks())

    def _records(self, include: list[str]) -> Iterator[tuple[str, str | None, Any]]:
        """(id, document, metadata) of every chunk, a page at a time."""
        offset = 0
        while True:
            page = self._collection.get(include=include, limit=_PAGE, offset=offset)  # type: ignore[arg-type]
            ids = page["ids"]
            documents: list[str | None] = [*(page["documents"] or [])] or [None] * len(ids)
            yield from zip(ids, documents, page["metadatas"] or [], strict=True)
            if len(ids) < _PAGE:
                return
            offset += _PAGE


def catalogue_of(chunks: list[Chunk]) -> list[RoleInfo]:
    """The role catalogue derived from chunks (a role is full if any of its sources is)."""
    by_role: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_role[chunk.role_id].append(chunk)
    catalogue = [_role_info(role_chunks) for role_chunks in by_role.values()]
    return sorted(catalogue, key=lambda r: r.role.lower())


def _to_metadata(chunk: Chunk) -> dict[str, str | int]:
    data = chunk.model_dump(mode="json", include=set(_METADATA_FIELDS))
    return {key: value for key, value in data.items() if value is not None}


def _from_record(chunk_id: str, text: str | None, meta: Any) -> Chunk:
    return Chunk.model_validate({**dict(meta or {}), "id": chunk_id, "text": text or ""})


def _role_info(chunks: list[Chunk]) -> RoleInfo:
    full = [c for c in chunks if c.coverage is RoleCoverage.FULL]
    primary = full or chunks
    sections: list[str] = []
    for chunk in primary:
        if chunk.section not in sections:
            sections.append(chunk.section)
    summary = next((c for c in chunks if c.section_key == "summary"), primary[0])
    return RoleInfo(
        role=primary[0].role,
        id=primary[0].role_id,
        coverage=RoleCoverage.FULL if full else RoleCoverage.SUMMARY,
        sections=sections,
        source=primary[0].source,
        url=primary[0].url,
        summary=summary.text.split("\n", 1)[-1].strip(),
    )
