"""The naive baseline: textbook LangChain RAG over the same blueprints, for comparison.

Each blueprint's plain text (headings are just lines of it) is split by
`RecursiveCharacterTextSplitter` (chunks do not carry their heading path; tables split
anywhere), embedded with the same model into its own Chroma collection, and the top passages
by similarity are returned as the answer, each cited. It reads no history, resolves no roles
and never says `not_found`. A chunk is attributed to the section it overlaps most, so the same
citation metrics apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.models import (
    Answer,
    AnswerCoverage,
    Block,
    Blueprint,
    Chunk,
    Citation,
    Passage,
    RetrievedTrace,
    Trace,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from assistant.embeddings import Embedder

NAIVE_COLLECTION = "naive-baseline"


@dataclass(frozen=True)
class SectionSpan:
    """Where one section (or subsection) sits in a blueprint's plain text."""

    start: int
    end: int
    section: str
    subsection: str


def plain_text(blueprint: Blueprint) -> tuple[str, list[SectionSpan]]:
    """A blueprint as plain text (headings, paragraphs, bullets, table rows) with section spans."""
    parts: list[str] = [blueprint.role]
    spans: list[SectionSpan] = []
    offset = len(blueprint.role) + 1
    printed_heading = ""
    for section in blueprint.sections:
        lines: list[str] = []
        if section.heading != printed_heading:
            lines.append(section.heading)
            printed_heading = section.heading
        if section.subsection:
            lines.append(section.subsection)
        lines.extend(line for block in section.blocks for line in _block_lines(block))
        text = "\n".join(lines)
        spans.append(SectionSpan(offset, offset + len(text), section.heading, section.subsection))
        parts.append(text)
        offset += len(text) + 1
    return "\n".join(parts), spans


def _block_lines(block: Block) -> list[str]:
    if block.kind == "table" and block.table is not None:
        rows = [block.table.header, *block.table.rows]
        return [" ".join(cell for cell in row if cell) for row in rows]
    if block.kind == "bullets":
        return [line for item in block.items for line in (item.text, *item.children)]
    return [block.text]


def _owner(spans: Sequence[SectionSpan], start: int, end: int) -> SectionSpan | None:
    """The span a chunk at [start, end) overlaps most (None when it overlaps none)."""
    best, best_overlap = None, 0
    for span in spans:
        overlap = min(end, span.end) - max(start, span.start)
        if overlap > best_overlap:
            best, best_overlap = span, overlap
    return best


class LangChainEmbeddings(Embeddings):
    """One of our embedders as LangChain's `Embeddings`, for LangChain's Chroma wrapper.

    Ours do not subclass it: importing `Embeddings` pulls in LangChain's runnables, a third
    of a second of every cold `blueprints ask`.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages with the wrapped embedder."""
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one question with the wrapped embedder."""
        return self.embedder.embed_query(text)


class NaiveBaseline:
    """Fixed-size chunks, top-k similarity, the passages themselves as the answer."""

    name = "naive"

    def __init__(
        self,
        client: ClientAPI,
        embedder: Embedder,
        *,
        collection: str = NAIVE_COLLECTION,
        chunk_size: int = 1000,
        chunk_overlap: int = 100,
        top_k: int = 4,
    ) -> None:
        # A stale collection from an earlier run would mix old chunks into this one.
        if any(c.name == collection for c in client.list_collections()):
            client.delete_collection(collection)
        self._store = Chroma(
            client=client,
            collection_name=collection,
            embedding_function=LangChainEmbeddings(embedder),
            collection_metadata={"hnsw:space": "cosine"},
        )
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True
        )
        self._top_k = top_k
        self.chunk_texts: dict[str, str] = {}
        self._chunks: dict[str, Chunk] = {}

    def index(self, blueprints: Sequence[Blueprint]) -> int:
        """Split and embed the blueprints; returns how many chunks were written."""
        documents: list[Document] = []
        for blueprint in blueprints:
            text, spans = plain_text(blueprint)
            for piece in self._splitter.create_documents([text]):
                start = int(piece.metadata["start_index"])
                span = _owner(spans, start, start + len(piece.page_content))
                chunk_id = f"naive:{blueprint.doc_id}:{len(documents)}"
                piece.metadata = {
                    "chunk_id": chunk_id,
                    "role": blueprint.role,
                    "section": span.section if span else "",
                    "subsection": span.subsection if span else "",
                    "source": blueprint.source,
                    "url": blueprint.url,
                }
                documents.append(piece)
                self.chunk_texts[chunk_id] = piece.page_content
                self._chunks[chunk_id] = Chunk(
                    id=chunk_id,
                    text=piece.page_content,
                    role=blueprint.role,
                    role_id=blueprint.role_id,
                    doc_id=blueprint.doc_id,
                    doc_hash="",
                    coverage=blueprint.coverage,
                    section=span.section if span else "",
                    section_key="",
                    section_number=0,
                    subsection=span.subsection if span else "",
                    source=blueprint.source,
                    url=blueprint.url,
                    content_hash="",
                )
        if documents:
            self._store.add_documents(documents, ids=[d.metadata["chunk_id"] for d in documents])
        return len(documents)

    def ask(self, question: str) -> Answer:
        """The top passages, cited `[1]..[k]`, always as `answered`."""
        found = self._store.similarity_search_with_relevance_scores(question, k=self._top_k)
        hits = [(self._chunks[doc.metadata["chunk_id"]], score) for doc, score in found]
        citations = [
            Citation.of(n, chunk, chunk.text) for n, (chunk, _) in enumerate(hits, start=1)
        ]
        retrieved = [RetrievedTrace.of(Passage(chunk=chunk, score=score)) for chunk, score in hits]
        return Answer(
            id=uuid.uuid4().hex,
            answer="\n\n".join(f"{c.quote} [{c.n}]" for c in citations),
            coverage=AnswerCoverage.ANSWERED,
            roles=list(dict.fromkeys(c.role for c in citations)),
            citations=citations,
            trace=Trace(
                question=question,
                standalone_question=question,
                answerer=self.name,
                retrieved=retrieved,
            ),
        )
