"""The assistant facade every interface (CLI, HTTP API, Slack, evals) talks to.

An answer is four steps, each its own module: plan the question (`planning`), find what
answers it in the blueprints of the roles it names (`finding`: their items scored by
`evidence`, as much chosen as it asks for by `selection`), and compose (`extractive`, or a
chat model in `llm`), with citations checked at the end (`citations`). This module wires them
over one pinned snapshot of the index.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING

from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, StatusCode

from assistant import embeddings
from assistant.answering import AnswerContext, Answerer, Draft, Finding
from assistant.citations import validate_citations
from assistant.embeddings import CachedEmbedder, CacheInfo, Embedder
from assistant.errors import EmptyIndexError, OutdatedIndexError, QuestionError
from assistant.extractive import (
    ExtractiveAnswerer,
    catalogue_answer,
    covered_sections,
    partial_answer,
)
from assistant.finding import Finder
from assistant.items import Item, chunk_items
from assistant.manifest import StaleReadError
from assistant.models import (
    Answer,
    AnswerCoverage,
    Passage,
    RetrievedTrace,
    RoleCoverage,
    RoleDetail,
    RoleInfo,
    SectionText,
    StreamEvent,
    Trace,
    Turn,
)
from assistant.planning import Plan
from assistant.selection import Selection, Thresholds, thresholds
from assistant.snapshot import IndexSnapshot, SnapshotReader
from assistant.store import ChunkStore, open_store

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.settings import Settings

__all__ = ["Assistant", "build_assistant", "load_embedder", "open_store"]

log = logging.getLogger(__name__)
# Spans of each answer's steps; a no-op until an OpenTelemetry SDK is configured (see api/).
_TRACER = otel_trace.get_tracer("blueprints.assistant")

# An answer starts again when an ingest commits meanwhile; more commits than this in one
# answer's few milliseconds would be a writer in a loop.
_ATTEMPTS = 3
_WARM_UP_QUESTION = "What KPIs does the role own?"
_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{1,200}>", re.IGNORECASE | re.DOTALL)

_GREETING_TEXT = (
    "Hello! Ask me about a role blueprint, e.g. *What KPIs does the VP of Data and AI own?* "
    "or *Which roles are in the knowledge base?*"
)
_OFF_TOPIC_TEXT = (
    "The knowledge base doesn't cover that: it holds role blueprints (responsibilities, KPIs, "
    "skills, career paths…). Try asking about a role, or list the roles it covers."
)


@dataclass
class _Prepared:
    """Everything decided before the answer's text is composed."""

    asked: str
    question: str
    plan: Plan
    snapshot: IndexSnapshot
    findings: list[Finding] = field(default_factory=list)
    retrieved: list[Passage] = field(default_factory=list)
    coverage: AnswerCoverage = AnswerCoverage.ANSWERED
    draft: Draft | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    fallback: str | None = None


@dataclass(frozen=True)
class IndexStats:
    """The index as readers see it (for readiness probes and metrics)."""

    generation: int
    documents: int
    roles: int
    chunks: int
    updated: str
    """When the head was last committed (ISO 8601, UTC), empty for a new index."""


def load_embedder(settings: Settings) -> CachedEmbedder:
    """The embedding model for writing the index (ingest, evals), loaded once by the caller.

    It may take the time to make the ONNX export when there is none; the query path
    (`build_assistant`) does not, see `assistant.embeddings.load_embedder`.
    """
    return embeddings.load_embedder(settings, allow_export=True)


class Assistant:
    """Answers questions about the blueprints in a store.

    Thread-safe: one instance serves every request of a process.
    """

    def __init__(
        self,
        settings: Settings,
        store: ChunkStore,
        embedder: Embedder,
        answerer: Answerer | None = None,
        chat_model: BaseChatModel | None = None,
        *,
        limits: Thresholds | None = None,
    ) -> None:
        """Wire the parts; `limits` are selection's thresholds (the calibrated ones if None)."""
        self._settings = settings
        self._store = store
        self._embedder = embedder
        self._extractive = ExtractiveAnswerer()
        self._answerer: Answerer = answerer or self._extractive
        self._chat_model = chat_model
        self._reader = SnapshotReader(store)
        self._finder = Finder(self._reader, store, limits or thresholds(), settings.top_k)

    @property
    def answerer_name(self) -> str:
        """The configured answerer (`extractive` or `llm:<provider>:<model>`)."""
        return self._answerer.name

    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        """Answer one question (raises `QuestionError`, `EmptyIndexError`)."""
        started = perf_counter()
        with _TRACER.start_as_current_span("blueprints.ask") as span:
            for _ in range(_ATTEMPTS):
                prepared = self._prepare(question, history, role)
                if prepared.draft is None:
                    prepared.draft = self._compose(prepared)
                # An ingest committed while we answered: the quotes may be of text now gone.
                if self._reader.is_current(prepared.snapshot):
                    break
                log.info("the index moved during an answer; answering again from the new one")
            answer = self._finish(prepared, started)
            self._describe(span, answer)
            return answer

    def _describe(self, span: otel_trace.Span, answer: Answer) -> None:
        """What an answer's span tells: coverage, roles, generation; its text if allowed."""
        span.set_attribute("blueprints.coverage", answer.coverage.value)
        span.set_attribute("blueprints.answerer", answer.trace.answerer)
        span.set_attribute("blueprints.generation", answer.trace.generation)
        span.set_attribute("blueprints.roles", answer.roles)
        span.set_attribute("blueprints.answer_id", answer.id)
        if self._settings.otel_capture_content:
            span.set_attribute("blueprints.question", answer.trace.question)
            span.set_attribute("blueprints.answer", answer.answer)

    def stream(
        self, question: str, history: Sequence[Turn] = (), role: str | None = None
    ) -> Iterator[StreamEvent]:
        """Answer as a stream: `delta` events with text, then one `final` event with the answer."""
        started = perf_counter()
        prepared = self._prepare(question, history, role)
        if prepared.draft is None and self._answerer is not self._extractive:
            context = self._context(prepared)
            pieces: list[str] = []
            from assistant.llm import LLMError

            try:
                for piece in self._answerer.stream(context):
                    pieces.append(piece)
                    yield StreamEvent(kind="delta", text=piece)
                prepared.draft = Draft(text="".join(pieces), answerer=self._answerer.name)
            except LLMError as exc:
                prepared.draft = self._fallback(
                    prepared, exc.kind, f"the language model failed ({exc})"
                )
            answer = self._finish(prepared, started)
        else:
            if prepared.draft is None:
                prepared.draft = self._compose(prepared)
            answer = self._finish(prepared, started)
            for line in answer.answer.splitlines(keepends=True):
                yield StreamEvent(kind="delta", text=line)
        yield StreamEvent(kind="final", answer=answer)

    def warm_up(self, budget_s: float = 1.0) -> None:
        """Do now what the first questions would otherwise wait for (a server, before ready).

        Reads the snapshot, runs the model once and plans a question (the vocabulary's tables
        are built on first use), then reads documents into the reader's cache, full
        blueprints first, until `budget_s` is spent or the cache is full: a small index is
        all in memory before the first question, a large one starts with what the budget
        allows and reads the rest when asked.
        """
        started = perf_counter()
        snapshot = self._current(allow_empty=True)
        # Through `embed_documents`: the question cache neither keeps nor counts it.
        self._embedder.embed_documents([_WARM_UP_QUESTION])
        snapshot.planner.plan(_WARM_UP_QUESTION)
        docs = sorted(
            snapshot.serving_docs(),
            key=lambda d: snapshot.records[d].coverage is not RoleCoverage.FULL,
        )
        for doc_id in docs[: self._reader.cache_size]:
            if perf_counter() - started > budget_s:
                break
            try:
                self._reader.document(snapshot, doc_id)
            except StaleReadError:  # an ingest committed meanwhile: the next question reads
                break

    def roles(self) -> list[RoleInfo]:
        """The role catalogue."""
        return self._current(allow_empty=True).catalogue

    def role_detail(self, role_id: str) -> RoleDetail | None:
        """One role with the text of its sections, or None when it is not in the store."""
        snapshot = self._current(allow_empty=True)
        info = next((r for r in snapshot.catalogue if r.id == role_id), None)
        if info is None:
            return None
        index = self._reader.document(snapshot, snapshot.serving[role_id][0])
        content: list[SectionText] = []
        for chunk in index.chunks:
            body = chunk.text.split("\n", 1)[-1]
            last = content[-1] if content else None
            if last and (last.section, last.subsection) == (chunk.section, chunk.subsection):
                last.text += "\n" + body
            else:
                content.append(
                    SectionText(section=chunk.section, subsection=chunk.subsection, text=body)
                )
        return RoleDetail(**info.model_dump(), content=content)

    def chunk_count(self) -> int:
        """How many chunks the documents answers are drawn from hold (0 when empty)."""
        snapshot = self._current(allow_empty=True)
        return sum(len(snapshot.records[d].chunk_ids) for d in snapshot.serving_docs())

    def question_cache(self) -> CacheInfo | None:
        """How the question-embedding cache has fared, when there is one."""
        if isinstance(self._embedder, CachedEmbedder):
            return self._embedder.cache_info()
        return None

    def generation(self) -> int:
        """The index generation answers are drawn from."""
        return self._current(allow_empty=True).generation

    def index_stats(self) -> IndexStats:
        """What the index answers from: counts, its generation and when it was last written."""
        snapshot = self._current(allow_empty=True)
        served = snapshot.serving_docs()
        return IndexStats(
            generation=snapshot.generation,
            documents=len(snapshot.records),
            roles=len(snapshot.catalogue),
            chunks=sum(len(snapshot.records[d].chunk_ids) for d in served),
            updated=self._store.head().updated,
        )

    # -- preparation -------------------------------------------------------------------

    def _check(self, question: str) -> str:
        # Markup pasted into a question (from a web page, or an attack) is not part of it.
        question = " ".join(_MARKUP.sub(" ", question).split())
        if not question:
            msg = "The question is empty: ask about a role, e.g. 'What KPIs does the VP own?'"
            raise QuestionError(msg)
        limit = self._settings.max_question_chars
        if len(question) > limit:
            msg = f"The question is {len(question)} characters; the limit is {limit}. Shorten it."
            raise QuestionError(msg)
        return question

    def _current(self, *, allow_empty: bool = False) -> IndexSnapshot:
        """The snapshot of the index's committed generation."""
        snapshot = self._reader.current()
        if snapshot.empty and not allow_empty:
            where = self._settings.chroma_url or str(self._settings.store_dir)
            if self._store.count():
                raise OutdatedIndexError(where)
            raise EmptyIndexError(where)
        return snapshot

    def _prepare(self, question: str, history: Sequence[Turn], role: str | None) -> _Prepared:
        for _ in range(_ATTEMPTS):
            try:
                return self._prepare_once(question, history, role)
            except StaleReadError as exc:
                log.info("the index moved while reading it (%s); answering again", exc)
        return self._prepare_once(question, history, role)

    def _prepare_once(self, question: str, history: Sequence[Turn], role: str | None) -> _Prepared:
        started = perf_counter()
        asked = self._check(question)
        snapshot = self._current()
        standalone = self._condense(asked, history)
        with _TRACER.start_as_current_span("plan") as span:
            plan = snapshot.planner.plan(standalone, history, role)
            span.set_attribute("blueprints.kind", plan.kind)
            span.set_attribute("blueprints.sections", plan.sections)
            span.set_attribute("blueprints.generation", snapshot.generation)
        prepared = _Prepared(asked, standalone, plan, snapshot, notes=list(plan.notes))
        if standalone != asked:
            prepared.notes.append(f"follow-up read as: {standalone}")
        prepared.timings["plan"] = _ms(started)

        if plan.kind == "greeting":
            return _declined(prepared, _GREETING_TEXT)
        if plan.kind == "catalogue":
            return self._catalogue(prepared)
        if plan.unknown_roles and not plan.roles:
            names = ", ".join(f"**{r}**" for r in plan.unknown_roles)
            if plan.ambiguous:
                fits = " or ".join(f"**{r}**" for r in plan.suggestions)
                return _declined(prepared, f"Which {names} do you mean: {fits}?")
            text = f"The knowledge base has no blueprint for {names}."
            if plan.suggestions:
                text += " The closest roles it covers: " + ", ".join(plan.suggestions) + "."
            return _declined(prepared, text)

        evidence_started = perf_counter()
        # Named as the OpenTelemetry GenAI conventions name an embeddings call.
        with _TRACER.start_as_current_span(f"embeddings {self._embedder.name}") as span:
            span.set_attribute("gen_ai.operation.name", "embeddings")
            # No registered provider runs a local model: the library that defines it.
            span.set_attribute("gen_ai.provider.name", "sentence_transformers")
            span.set_attribute("gen_ai.request.model", self._embedder.name)
            query = self._embedder.embed_query(plan.residual)
        prepared.timings["embed"] = _ms(evidence_started)
        collection = self._settings.collection
        with _TRACER.start_as_current_span(f"retrieval {collection}") as span:
            span.set_attribute("gen_ai.operation.name", "retrieval")
            span.set_attribute("gen_ai.data_source.id", collection)
            span.set_attribute("gen_ai.request.top_k", float(self._settings.top_k))
            if plan.roles:
                self._answer_roles(prepared, query)
            else:
                self._answer_any_role(prepared, query)
            retrieved = _distinct(prepared.retrieved)[: self._settings.top_k]
            span.set_attribute("blueprints.retrieved.ids", [p.chunk.id for p in retrieved])
            span.set_attribute("blueprints.retrieved.scores", [p.score for p in retrieved])
        prepared.timings["evidence"] = _ms(evidence_started)
        return prepared

    def _answer_roles(self, prepared: _Prepared, query: list[float]) -> None:
        """Evidence from the blueprints of the roles the question names."""
        found = self._finder.for_roles(prepared.snapshot, prepared.plan, query)
        prepared.retrieved.extend(found.retrieved)
        prepared.notes.extend(found.notes)
        prepared.findings = found.findings
        if found.partial:
            prepared.coverage = AnswerCoverage.PARTIAL
            if not found.findings:
                prepared.findings = found.partial
                prepared.draft = partial_answer(found.partial, found.missing)
                return
            prepared.findings = found.findings + found.partial
            prepared.notes.append(
                "only a summary of " + ", ".join(f.role.role for f in found.partial)
            )
        if not prepared.findings:
            _declined(prepared, _not_covered(prepared, found.declined))

    def _answer_any_role(self, prepared: _Prepared, query: list[float]) -> None:
        """A question that names no role: the items of the closest blueprints that hold it."""
        found = self._finder.for_any_role(prepared.snapshot, prepared.plan, query)
        prepared.retrieved.extend(found.retrieved)
        prepared.findings = found.findings
        if not prepared.findings:
            prepared.notes.append("no role named and no blueprint holds the topic")
            _declined(prepared, _OFF_TOPIC_TEXT)

    def _condense(self, question: str, history: Sequence[Turn]) -> str:
        """With an LLM, rewrite a follow-up into a standalone question (else keep it)."""
        if not history or self._chat_model is None:
            return question
        from assistant.llm import LLMError, condense_question

        try:
            return self._check(condense_question(self._chat_model, history, question))
        except (LLMError, QuestionError) as exc:
            log.warning("condensing the follow-up failed, carrying the topic over instead: %s", exc)
            return question

    def _catalogue(self, prepared: _Prepared) -> _Prepared:
        snapshot = prepared.snapshot
        wanted = prepared.plan.catalogue_filter
        roles = wanted.apply(snapshot.catalogue) if wanted else snapshot.catalogue
        if not roles:
            return _declined(prepared, "No role in the knowledge base matches that.")
        if len(roles) == len(snapshot.catalogue):
            title = f"The knowledge base covers {len(roles)} roles:"
        else:
            total = len(snapshot.catalogue)
            title = f"{len(roles)} of the {total} roles in the knowledge base match:"
        summaries = self._summary_items(snapshot, roles)
        prepared.retrieved = [Passage(chunk=i.chunk, score=1.0) for i in summaries.values()]
        prepared.draft = catalogue_answer(title, roles, summaries)
        return prepared

    def _summary_items(self, snapshot: IndexSnapshot, roles: list[RoleInfo]) -> dict[str, Item]:
        """Each role's first summary item, to cite its catalogue entry to (one store read)."""
        first: dict[str, str] = {}
        for record in snapshot.records.values():
            if record.role_id in first and record.coverage is not RoleCoverage.SUMMARY:
                continue
            if record.chunk_ids:
                first[record.role_id] = record.chunk_ids[0]
        wanted = [first[r.id] for r in roles if r.id in first]
        found: dict[str, Item] = {}
        for chunk in self._store.chunks(wanted):
            owner = snapshot.records.get(chunk.doc_id)
            items = chunk_items(chunk)
            if owner is not None and items:
                found[owner.role_id] = items[0]
        return found

    # -- composition ---------------------------------------------------------------------

    def _compose(self, prepared: _Prepared) -> Draft:
        context = self._context(prepared)
        if self._answerer is self._extractive:
            return self._extractive.answer(context)
        from assistant.llm import LLMError

        provider, _, model = self._answerer.name.removeprefix("llm:").partition(":")
        with _TRACER.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", provider)
            span.set_attribute("gen_ai.request.model", model)
            try:
                return self._answerer.answer(context)
            except LLMError as exc:
                span.set_attribute("error.type", exc.kind)
                span.set_status(StatusCode.ERROR, str(exc))
                return self._fallback(prepared, exc.kind, f"the language model failed ({exc})")

    @staticmethod
    def _context(prepared: _Prepared) -> AnswerContext:
        return AnswerContext(prepared.question, prepared.plan, prepared.findings)

    def _fallback(self, prepared: _Prepared, kind: str, reason: str) -> Draft:
        log.warning("falling back to the extractive answer: %s", reason)
        prepared.notes.append(f"extractive fallback: {reason}")
        prepared.fallback = kind
        draft = self._extractive.answer(self._context(prepared))
        draft.text += (
            "\n\n_The language model's answer was not available or could not be checked "
            "against the sources, so this answer quotes them directly._"
        )
        return draft

    def _finish(self, prepared: _Prepared, started: float) -> Answer:
        assert prepared.draft is not None
        draft = prepared.draft
        passages = self._context(prepared).passages if draft.passages is None else draft.passages
        with _TRACER.start_as_current_span("validation") as span:
            validated = validate_citations(draft, passages)
            dropped, reasons = list(validated.dropped), list(validated.reasons)
            if draft.answerer != self._extractive.name and not validated.citations:
                draft = self._fallback(prepared, "uncited", "its answer cited no passage given")
                validated = validate_citations(draft, draft.passages or [])
                dropped += validated.dropped
                reasons += validated.reasons
            span.set_attribute("blueprints.citations", len(validated.citations))
            span.set_attribute("blueprints.citations_dropped", len(dropped))
        coverage = prepared.coverage
        if coverage is not AnswerCoverage.NOT_FOUND and not validated.citations:
            coverage = AnswerCoverage.NOT_FOUND
            validated = validate_citations(Draft(_OFF_TOPIC_TEXT, "extractive"), [])
        plan = prepared.plan
        roles = [r.role for r in plan.roles] or list(
            dict.fromkeys(c.role for c in validated.citations)
        )
        trace = Trace(
            question=prepared.asked,
            standalone_question=prepared.question,
            generation=prepared.snapshot.generation,
            roles=[r.role for r in plan.roles],
            unknown_roles=plan.unknown_roles,
            sections=plan.sections,
            intent=plan.kind,
            scopes=[s.name for s in plan.scopes],
            topic=list(plan.terms.values()),
            answerer=draft.answerer,
            retrieved=[RetrievedTrace.of(p) for p in _distinct(prepared.retrieved)],
            dropped_citations=dropped,
            dropped_reasons=list(reasons),
            fallback=prepared.fallback,
            notes=prepared.notes + draft.notes,
        )
        prepared.timings["total"] = _ms(started)
        return Answer(
            id=uuid.uuid4().hex,
            answer=validated.text,
            coverage=coverage,
            roles=roles,
            citations=validated.citations,
            suggestions=plan.suggestions,
            trace=trace,
            timings_ms=prepared.timings,
        )


def build_assistant(
    settings: Settings, *, store: ChunkStore | None = None, embedder: Embedder | None = None
) -> Assistant:
    """Build the heavy objects once (model, Chroma client, answerer) and wire them.

    A caller that already holds the store or the loaded model passes it in.
    """
    store = store or open_store(settings)
    embedder = embedder or embeddings.load_embedder(settings, allow_export=False)
    if settings.llm_provider is None:
        # LangChain's chat-model machinery takes a third of a second to import: not for
        # the extractive answerer.
        return Assistant(settings, store, embedder)
    from assistant.llm import LLMAnswerer, build_chat_model

    chat_model = build_chat_model(settings)
    answerer = LLMAnswerer(chat_model, settings) if chat_model is not None else None
    return Assistant(settings, store, embedder, answerer, chat_model)


def _declined(prepared: _Prepared, text: str) -> _Prepared:
    prepared.coverage = AnswerCoverage.NOT_FOUND
    prepared.findings = []
    prepared.draft = Draft(text=text, answerer=ExtractiveAnswerer.name)
    return prepared


def _not_covered(prepared: _Prepared, declined: list[tuple[RoleInfo, Selection]]) -> str:
    """What the named roles' blueprints do not cover, and what they do."""
    lines = []
    for role, selection in declined:
        missing = ", ".join(f"*{m}*" for m in selection.missing) or "that"
        record = prepared.snapshot.records[prepared.snapshot.serving[role.id][0]]
        if role.coverage is RoleCoverage.SUMMARY:
            covers = "The knowledge base holds only its summary."
        else:
            covers = f"It covers: {covered_sections(record.sections)}."
        lines.append(f"The **{role.role}** blueprint does not cover {missing}. {covers}")
    return "\n\n".join(lines) or _OFF_TOPIC_TEXT


def _distinct(passages: Sequence[Passage]) -> list[Passage]:
    seen: set[str] = set()
    unique = []
    for passage in passages:
        if passage.chunk.id not in seen:
            seen.add(passage.chunk.id)
            unique.append(passage)
    return unique


def _ms(started: float) -> float:
    return round((perf_counter() - started) * 1000, 2)
