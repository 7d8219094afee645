"""The shared vocabulary: every package speaks in these models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class RoleCoverage(StrEnum):
    """How much of a role's blueprint the knowledge base holds."""

    FULL = "full"
    SUMMARY = "summary"


class AnswerCoverage(StrEnum):
    """Whether the knowledge base answers a question."""

    ANSWERED = "answered"
    PARTIAL = "partial"
    NOT_FOUND = "not_found"


class Table(BaseModel):
    """A table kept whole: a header and rows of cells."""

    header: list[str]
    rows: list[list[str]]


class ListItem(BaseModel):
    """A bullet with its sub-bullets: one item of evidence, never split from its children.

    Levels below the first are flattened, in reading order, into the children of their
    top-level bullet.
    """

    text: str
    children: list[str] = Field(default_factory=list)


class Block(BaseModel):
    """One piece of section content: a paragraph, a bullet list or a table."""

    kind: Literal["paragraph", "bullets", "table"]
    text: str = ""
    items: list[ListItem] = Field(default_factory=list)
    table: Table | None = None

    @field_validator("items", mode="before")
    @classmethod
    def _plain_strings_are_bullets(cls, value: object) -> object:
        """Let a bullet without sub-bullets be given as a plain string."""
        if isinstance(value, list):
            return [{"text": item} if isinstance(item, str) else item for item in value]
        return value


class Section(BaseModel):
    """A numbered section (`h2`) or one of its subsections (`h3`)."""

    number: int
    title: str
    key: str
    subsection: str = ""
    blocks: list[Block] = Field(default_factory=list)

    @property
    def heading(self) -> str:
        """The heading as the blueprint prints it, e.g. `7) KPIs and Productivity Metrics`."""
        return f"{self.number}) {self.title}" if self.number else self.title


class Blueprint(BaseModel):
    """One role's blueprint, full or summary-only, as parsed from one source."""

    role: str
    role_id: str
    coverage: RoleCoverage
    source: str
    url: str = ""
    modified: datetime | None = None
    sections: list[Section]
    post_id: int | None = None
    """The WordPress post `id`, when the blueprint is a post."""
    origin: str = ""
    """The site a post was synced from (its URL); empty for blueprints read from files."""

    @property
    def doc_id(self) -> str:
        """Identity in the store.

        A post synced from a site is that site's post, whatever its title says; otherwise a
        role's full blueprint and its summary are separate documents.
        """
        if self.origin and self.post_id is not None:
            return f"wp:{self.origin}#{self.post_id}"
        return f"{self.role_id}:{self.coverage.value}"


class Chunk(BaseModel):
    """A retrievable unit of text with the metadata that says where it came from."""

    id: str
    text: str
    role: str
    role_id: str
    doc_id: str
    doc_hash: str
    coverage: RoleCoverage
    section: str
    section_key: str
    section_number: int
    subsection: str = ""
    kind: Literal["text", "table"] = "text"
    source: str
    url: str = ""
    modified: str = ""
    content_hash: str
    position: int = 0


class Turn(BaseModel):
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


class Passage(BaseModel):
    """A retrieved chunk with its scores, and the item of it an answer rests on (if one)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    quote: str = ""


class Citation(BaseModel):
    """A numbered source of an answer, with the exact quote it rests on."""

    n: int
    role: str
    section: str
    subsection: str = ""
    source: str
    url: str = ""
    quote: str
    chunk_id: str

    @classmethod
    def of(cls, n: int, chunk: Chunk, quote: str) -> Citation:
        """Citation number `n` of `quote` in `chunk`."""
        return cls(
            n=n,
            role=chunk.role,
            section=chunk.section,
            subsection=chunk.subsection,
            source=chunk.source,
            url=chunk.url,
            quote=quote,
            chunk_id=chunk.id,
        )


class RetrievedTrace(BaseModel):
    """One retrieved chunk as the trace reports it."""

    chunk_id: str
    role: str
    section: str
    subsection: str = ""
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None

    @classmethod
    def of(cls, passage: Passage) -> RetrievedTrace:
        """A retrieved passage as the trace reports it."""
        chunk = passage.chunk
        return cls(
            chunk_id=chunk.id,
            role=chunk.role,
            section=chunk.section,
            subsection=chunk.subsection,
            score=round(passage.score, 6),
            dense_score=_rounded(passage.dense_score),
            lexical_score=_rounded(passage.lexical_score),
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class Trace(BaseModel):
    """How an answer was produced, so a wrong one can be explained."""

    question: str
    standalone_question: str
    generation: int = 0
    roles: list[str] = Field(default_factory=list)
    unknown_roles: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)
    intent: str = "lookup"
    scopes: list[str] = Field(default_factory=list)
    topic: list[str] = Field(default_factory=list)
    answerer: str = "extractive"
    retrieved: list[RetrievedTrace] = Field(default_factory=list)
    dropped_citations: list[str] = Field(default_factory=list)
    dropped_reasons: list[str] = Field(default_factory=list)
    fallback: str | None = Field(
        default=None,
        description="Why a chat model's answer was replaced by the extractive one "
        "(timeout, connection, http, error, uncited), if it was",
    )
    notes: list[str] = Field(default_factory=list)


class Answer(BaseModel):
    """The answer object returned by the CLI (`ask --json`), the API and the Slack app."""

    id: str
    answer: str
    coverage: AnswerCoverage
    roles: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    trace: Trace
    timings_ms: dict[str, float] = Field(default_factory=dict)


class RoleInfo(BaseModel):
    """One role in the catalogue."""

    role: str
    id: str
    coverage: RoleCoverage
    sections: list[str]
    source: str
    url: str = ""
    summary: str = ""
    aliases: list[str] = Field(
        default_factory=list, description="Other titles the blueprint itself gives the role"
    )


class IngestError(BaseModel):
    """A source that could not be ingested, and why."""

    source: str
    message: str


class IngestPlan(BaseModel):
    """What a write would do, by document id (`ingest --dry-run --json`)."""

    add: list[str] = Field(default_factory=list)
    update: list[str] = Field(default_factory=list)
    prune: list[str] = Field(default_factory=list)


class IngestReport(BaseModel):
    """What one `ingest` run did (the `ingest --json` contract)."""

    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_failed: int = 0
    documents_pruned: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    errors: list[IngestError] = Field(default_factory=list)
    seconds: float = 0.0
    generation: int = 0
    plan: IngestPlan | None = Field(default=None, exclude=True)


class SectionText(BaseModel):
    """One section or subsection of a role, as text."""

    section: str
    subsection: str = ""
    text: str


class RoleDetail(RoleInfo):
    """A role with the text of its sections (`GET /v1/roles/{id}`)."""

    content: list[SectionText] = Field(default_factory=list)


class StreamEvent(BaseModel):
    """One event of a streamed answer: text as it comes, then the final, validated answer."""

    kind: Literal["delta", "final"]
    text: str = ""
    answer: Answer | None = None
