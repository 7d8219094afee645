"""The assistant facade every interface (CLI, HTTP API, Slack, evals) talks to."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from threading import Lock
from time import perf_counter
from typing import TYPE_CHECKING

from assistant import embeddings
from assistant.answering import AnswerContext, Answerer, Draft, QueryPlan
from assistant.citations import validate_citations
from assistant.embeddings import CachedEmbedder, Embedder
from assistant.errors import EmptyIndexError, QuestionError
from assistant.extractive import ExtractiveAnswerer, catalogue_answer, partial_answer
from assistant.intent import COMPARISON, detect_intent
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
from assistant.retrieval import Corpus, HybridRetriever
from assistant.roles import ROLE_NOUNS, RoleResolver, role_tokens, role_words
from assistant.selection import ItemIndex
from assistant.store import ChunkStore, catalogue_of, open_client
from assistant.text import fold, stem, tokens

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.settings import Settings

log = logging.getLogger(__name__)

# Below this cosine similarity, a question that names no role and no section is off-topic.
OFF_TOPIC_SIMILARITY = 0.35
# Below this, even a question about a section finds nothing relevant.
IRRELEVANT_SIMILARITY = 0.2
# What a summary-only role's summary answers: what it is, why it exists, what it is accountable for.
_SUMMARY_SECTIONS = frozenset({"summary", "mission", "responsibilities"})
_GENERIC_WORDS = frozenset(
    tokens("tell me about know more information info role job position blueprint explain")
)
_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{1,200}>", re.IGNORECASE | re.DOTALL)
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|what about|how about|same for|and for|and the|also)\b|\b(?:they|their|them"
    r"|this role|that role|this person|he|she|his|her|it|those|these|which of)\b"
)


@dataclass
class _Prepared:
    """Everything decided before the answer's text is composed."""

    question: str
    plan: QueryPlan
    passages: list[Passage] = field(default_factory=list)
    coverage: AnswerCoverage = AnswerCoverage.ANSWERED
    draft: Draft | None = None
    index: ItemIndex | None = None
    suggestions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Snapshot:
    """The store's content as of one chunk count: chunks, BM25, catalogue, resolver."""

    count: int
    corpus: Corpus
    catalogue: list[RoleInfo]
    resolver: RoleResolver


def open_store(settings: Settings) -> ChunkStore:
    """The configured Chroma store (embedded on disk, or a server)."""
    return ChunkStore(
        open_client(settings), settings.collection, embedding_model=settings.embedding_model
    )


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
    ) -> None:
        self._settings = settings
        self._store = store
        self._retriever = HybridRetriever(store, embedder, top_k=settings.top_k)
        self._extractive = ExtractiveAnswerer()
        self._answerer: Answerer = answerer or self._extractive
        self._chat_model = chat_model
        self._snapshot_lock = Lock()
        self._snapshot: _Snapshot | None = None

    @property
    def answerer_name(self) -> str:
        """The configured answerer (`extractive` or `llm:<provider>:<model>`)."""
        return self._answerer.name

    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        """Answer one question (raises `QuestionError`, `EmptyIndexError`)."""
        started = perf_counter()
        prepared = self._prepare(question, history, role)
        if prepared.draft is None:
            prepared.draft = self._compose(prepared)
        return self._finish(prepared, started)

    def stream(
        self, question: str, history: Sequence[Turn] = (), role: str | None = None
    ) -> Iterator[StreamEvent]:
        """Answer as a stream: `delta` events with text, then one `final` event with the answer."""
        started = perf_counter()
        prepared = self._prepare(question, history, role)
        if prepared.draft is None and self._answerer is not self._extractive:
            context = self._context(prepared)
            pieces: list[str] = []
            try:
                for piece in self._answerer.stream(context):
                    pieces.append(piece)
                    yield StreamEvent(kind="delta", text=piece)
                prepared.draft = Draft(text="".join(pieces), answerer=self._answerer.name)
            except Exception as exc:  # an LLM failure of any kind ends in the extractive answer
                prepared.draft = self._fallback(prepared, f"the language model failed ({exc})")
            answer = self._finish(prepared, started)
        else:
            if prepared.draft is None:
                prepared.draft = self._compose(prepared)
            answer = self._finish(prepared, started)
            for line in answer.answer.splitlines(keepends=True):
                yield StreamEvent(kind="delta", text=line)
        yield StreamEvent(kind="final", answer=answer)

    def roles(self) -> list[RoleInfo]:
        """The role catalogue."""
        return self._current(allow_empty=True).catalogue

    def role_detail(self, role_id: str) -> RoleDetail | None:
        """One role with the text of its sections, or None when it is not in the store."""
        snapshot = self._current(allow_empty=True)
        info = next((r for r in snapshot.catalogue if r.id == role_id), None)
        if info is None:
            return None
        wanted = RoleCoverage.FULL if info.coverage is RoleCoverage.FULL else RoleCoverage.SUMMARY
        content: list[SectionText] = []
        for chunk in snapshot.corpus.chunks:
            if chunk.role_id != role_id or chunk.coverage is not wanted:
                continue
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
        """How many chunks the index holds (0 when empty)."""
        return self._store.count()

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

    def _current(self, *, allow_empty: bool = False) -> _Snapshot:
        """The snapshot for the store's current content, rebuilt when the chunk count changes."""
        count = self._store.count()
        with self._snapshot_lock:
            if self._snapshot is None or self._snapshot.count != count:
                chunks = self._store.all_chunks()
                catalogue = catalogue_of(chunks)
                self._snapshot = _Snapshot(
                    count, Corpus.of(chunks), catalogue, RoleResolver(catalogue)
                )
            snapshot = self._snapshot
        if not snapshot.count and not allow_empty:
            raise EmptyIndexError(self._settings.chroma_url or str(self._settings.store_dir))
        return snapshot

    def _prepare(self, question: str, history: Sequence[Turn], role: str | None) -> _Prepared:
        started = perf_counter()
        question = self._check(question)
        snapshot = self._current()
        standalone = self._condense(question, history)
        plan, suggestions = self._plan(standalone, history, role, snapshot)
        prepared = _Prepared(
            question=standalone,
            plan=plan,
            suggestions=suggestions,
            index=snapshot.corpus.items,
        )
        prepared.timings["plan"] = _ms(started)
        if standalone != question:
            prepared.notes.append(f"follow-up read as: {standalone}")

        if plan.intent == "greeting":
            return self._not_found(prepared, _GREETING_TEXT)
        if plan.intent == "catalogue":
            return self._catalogue(prepared, snapshot)
        if plan.unknown_roles and not plan.roles:
            names = ", ".join(f"**{r}**" for r in plan.unknown_roles)
            text = f"The knowledge base has no blueprint for {names}."
            if suggestions:
                text += " The closest roles it covers: " + ", ".join(suggestions) + "."
            return self._not_found(prepared, text)

        retrieval_started = perf_counter()
        passages, best = self._retriever.retrieve(plan, snapshot.corpus)
        prepared.timings["retrieve"] = _ms(retrieval_started)
        prepared.passages = passages
        if not plan.roles:
            floor = IRRELEVANT_SIMILARITY if plan.sections else OFF_TOPIC_SIMILARITY
            if best < floor or not passages:
                prepared.notes.append(f"best similarity {best:.2f} below {floor}")
                return self._not_found(prepared, _OFF_TOPIC_TEXT)

        detail = [s for s in plan.sections if s not in _SUMMARY_SECTIONS]
        summary_only = [r for r in plan.roles if r.coverage is RoleCoverage.SUMMARY]
        if summary_only and detail:
            prepared.coverage = AnswerCoverage.PARTIAL
            if len(summary_only) == len(plan.roles):
                summaries = _summaries(snapshot.corpus, summary_only)
                prepared.passages = list(summaries.values())
                prepared.draft = partial_answer(summary_only, detail, summaries)
        return prepared

    def _plan(
        self, question: str, history: Sequence[Turn], explicit_role: str | None, snapshot: _Snapshot
    ) -> tuple[QueryPlan, list[str]]:
        resolver = snapshot.resolver
        resolution = resolver.resolve(question)
        roles, unknown, suggestions = resolution.roles, resolution.unknown, resolution.suggestions
        if explicit_role:
            found = resolver.find(explicit_role)
            if found is None:
                roles, unknown = [], [explicit_role]
                suggestions = resolver.suggest(explicit_role)
            else:
                roles, unknown = [found], []
        intent = detect_intent(_without_role_names(question, roles), len(roles))
        sections = list(intent.sections)

        previous_roles, previous_sections = _previous_topic(history, resolver)
        if history and len(roles) == 1 and COMPARISON.search(fold(question)):
            # "how does that compare with the DevOps Director?" compares with the earlier role.
            roles = [r for r in previous_roles if r not in roles] + roles
            intent = detect_intent(question, len(roles))
        if history and intent.kind not in {"catalogue", "greeting"}:
            if not roles and not unknown and previous_roles:
                roles = previous_roles
                intent = detect_intent(question, len(roles))
            if (
                roles
                and not sections
                and (_FOLLOW_UP.search(fold(question)) or not _content(question, roles))
            ):
                sections = previous_sections
        if roles and not sections and (intent.kind == "compare" or not _content(question, roles)):
            sections = ["summary"]
        plan = QueryPlan(
            question=question,
            roles=roles,
            unknown_roles=unknown,
            sections=sections,
            intent=intent.kind,
            subsections=intent.subsection_hints,
        )
        return plan, suggestions

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

    # -- composition ---------------------------------------------------------------------

    def _compose(self, prepared: _Prepared) -> Draft:
        context = self._context(prepared)
        if self._answerer is self._extractive:
            return self._extractive.answer(context)
        from assistant.llm import LLMError

        try:
            return self._answerer.answer(context)
        except LLMError as exc:
            return self._fallback(prepared, f"the language model failed ({exc})")

    @staticmethod
    def _context(prepared: _Prepared) -> AnswerContext:
        return AnswerContext(prepared.question, prepared.plan, prepared.passages, prepared.index)

    def _fallback(self, prepared: _Prepared, reason: str) -> Draft:
        log.warning("falling back to the extractive answer: %s", reason)
        prepared.notes.append(f"extractive fallback: {reason}")
        context = self._context(prepared)
        draft = self._extractive.answer(context)
        draft.text += (
            "\n\n_The language model's answer was not available or could not be checked "
            "against the sources, so this answer quotes them directly._"
        )
        return draft

    def _finish(self, prepared: _Prepared, started: float) -> Answer:
        assert prepared.draft is not None
        draft = prepared.draft
        validated = validate_citations(draft, draft.passages or prepared.passages)
        if draft.answerer != self._extractive.name and not validated.citations:
            draft = self._fallback(prepared, "its answer cited no passage it was given")
            prepared.notes.extend(validated.dropped)
            validated = validate_citations(draft, draft.passages or prepared.passages)
        coverage = prepared.coverage
        if coverage is not AnswerCoverage.NOT_FOUND and not validated.citations:
            coverage = AnswerCoverage.NOT_FOUND
            validated = validate_citations(Draft(_OFF_TOPIC_TEXT, "extractive"), [])
        plan = prepared.plan
        roles = [r.role for r in plan.roles] or list(
            dict.fromkeys(c.role for c in validated.citations)
        )
        trace = Trace(
            question=prepared.question,
            standalone_question=prepared.question,
            roles=[r.role for r in plan.roles],
            unknown_roles=plan.unknown_roles,
            sections=plan.sections,
            intent=plan.intent,
            answerer=draft.answerer,
            retrieved=[
                RetrievedTrace(
                    chunk_id=p.chunk.id,
                    role=p.chunk.role,
                    section=p.chunk.section,
                    subsection=p.chunk.subsection,
                    score=p.score,
                    dense_score=p.dense_score,
                    lexical_score=p.lexical_score,
                )
                for p in prepared.passages
            ],
            dropped_citations=validated.dropped,
            notes=prepared.notes + draft.notes,
        )
        prepared.timings["total"] = _ms(started)
        return Answer(
            id=uuid.uuid4().hex,
            answer=validated.text,
            coverage=coverage,
            roles=roles,
            citations=validated.citations,
            suggestions=prepared.suggestions,
            trace=trace,
            timings_ms=prepared.timings,
        )

    def _not_found(self, prepared: _Prepared, text: str) -> _Prepared:
        prepared.coverage = AnswerCoverage.NOT_FOUND
        prepared.passages = []
        prepared.draft = Draft(text=text, answerer=self._extractive.name)
        return prepared

    def _catalogue(self, prepared: _Prepared, snapshot: _Snapshot) -> _Prepared:
        catalogue = snapshot.catalogue
        wanted = _catalogue_filter(prepared.question, catalogue)
        if wanted is None:
            roles, title = catalogue, f"The knowledge base covers {len(catalogue)} roles:"
        elif wanted:
            roles, title = wanted, f"{len(wanted)} roles in the knowledge base match:"
        else:
            return self._not_found(prepared, "No role in the knowledge base matches that.")
        summaries = _summaries(snapshot.corpus, roles)
        prepared.passages = list(summaries.values())
        prepared.draft = catalogue_answer(title, roles, summaries)
        return prepared


def build_assistant(
    settings: Settings, *, store: ChunkStore | None = None, embedder: Embedder | None = None
) -> Assistant:
    """Build the heavy objects once (model, Chroma client, answerer) and wire them.

    A caller that already holds the store or the loaded model passes it in.
    """
    from assistant.llm import LLMAnswerer, build_chat_model

    store = store or open_store(settings)
    embedder = embedder or embeddings.load_embedder(settings, allow_export=False)
    chat_model = build_chat_model(settings)
    answerer = LLMAnswerer(chat_model, settings) if chat_model is not None else None
    return Assistant(settings, store, embedder, answerer, chat_model)


_GREETING_TEXT = (
    "Hello! Ask me about a role blueprint, e.g. *What KPIs does the VP of Data and AI own?* "
    "or *Which roles are in the knowledge base?*"
)
_OFF_TOPIC_TEXT = (
    "The knowledge base doesn't cover that: it holds role blueprints (responsibilities, KPIs, "
    "skills, career paths…). Try asking about a role, or list the roles it covers."
)


def _ms(started: float) -> float:
    return round((perf_counter() - started) * 1000, 2)


def _content(question: str, roles: list[RoleInfo]) -> list[str]:
    """The question's words beyond the role names and generic filler."""
    names = role_words(roles)
    return [
        t
        for t in tokens(question)
        if t not in names and t not in _GENERIC_WORDS and t not in ROLE_NOUNS
    ]


def _without_role_names(question: str, roles: list[RoleInfo]) -> str:
    """The question without its role names: "Director of Platform Engineering" is no platform."""
    names = role_words(roles)
    return " ".join(w for w in fold(question).split() if stem(w.strip("?,.!:;'\"")) not in names)


def _previous_topic(
    history: Sequence[Turn], resolver: RoleResolver
) -> tuple[list[RoleInfo], list[str]]:
    """The roles and sections the conversation was last about (latest user turn first)."""
    roles: list[RoleInfo] = []
    sections: list[str] = []
    for turn in reversed(history):
        if turn.role != "user":
            continue
        if not roles:
            roles = resolver.resolve(turn.content).roles
        if not sections:
            sections = detect_intent(_without_role_names(turn.content, roles), len(roles)).sections
        if roles and sections:
            break
    return roles, [s for s in sections if s != "summary"] or sections


def _summaries(corpus: Corpus, roles: list[RoleInfo]) -> dict[str, Passage]:
    """Each role's summary chunk (the first one), as a passage."""
    found: dict[str, Passage] = {}
    ids = {r.id for r in roles}
    for chunk in corpus.chunks:
        if chunk.role_id in ids and chunk.section_key == "summary" and chunk.role_id not in found:
            found[chunk.role_id] = Passage(chunk=chunk, score=1.0)
    return {r.id: found[r.id] for r in roles if r.id in found}


_LEVELS = {
    "director": "director",
    "head": "head",
    "manager": "manager",
    "vp": "vp",
    "vice president": "vp",
    "global": "global",
}


def _catalogue_filter(question: str, catalogue: list[RoleInfo]) -> list[RoleInfo] | None:
    """The catalogue roles a listing question narrows to, or None for all of them."""
    words = [
        t
        for t in role_tokens(question)
        if t not in _GENERIC_WORDS
        and t
        not in {
            "which",
            "what",
            "list",
            "all",
            "every",
            "how",
            "many",
            "level",
            "cover",
            "covered",
            "knowledge",
            "base",
            "blueprint",
            "role",
            "roles",
            "name",
            "show",
            "are",
            "there",
            "do",
            "you",
            "have",
            "in",
            "is",
            "kb",
            "job",
            "title",
            "position",
            "related",
            "about",
            "any",
        }
        and len(t) > 1
    ]
    if "full" in words:
        return [r for r in catalogue if r.coverage is RoleCoverage.FULL]
    if "summary" in words:
        return [r for r in catalogue if r.coverage is RoleCoverage.SUMMARY]
    if not words:
        return None
    matched = [r for r in catalogue if set(words) & set(role_tokens(r.role))]
    return matched
