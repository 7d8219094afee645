"""Finding what answers a planned question, blueprint by blueprint, in one snapshot.

For each role the question names, its serving blueprint is read (`SnapshotReader.document`),
its items scored (`evidence`) and as much chosen as the question asks for (`selection`). A
role known only by its summary answers from the summary, or says what it lacks; a question
that names no role is answered from the blueprints of the chunks closest to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.answering import Finding
from assistant.corpus import DocumentIndex
from assistant.evidence import Scored, read_in, score_items, unsupported_terms
from assistant.items import Item
from assistant.models import Passage, RoleCoverage, RoleInfo
from assistant.planning import Plan
from assistant.sections import section_title
from assistant.selection import Selection, Thresholds, select
from assistant.snapshot import IndexSnapshot, SnapshotReader
from assistant.store import ChunkStore

# What a summary-only role's summary answers: what it is, why it exists, what it owns.
SUMMARY_SECTIONS = frozenset({"summary", "mission", "responsibilities"})
# A question that names no role is answered from the documents of its closest chunks.
_GLOBAL_CHUNKS = 30
_GLOBAL_DOCUMENTS = 3


@dataclass
class Found:
    """What the blueprints gave for one question.

    `findings` answer it; `partial` are roles known only as summaries asked for more (with
    `missing`, what they lack); `declined` the roles whose blueprint does not hold it;
    `retrieved` the passages looked at, for the trace; `notes` why each choice was made.
    """

    findings: list[Finding] = field(default_factory=list)
    partial: list[Finding] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    declined: list[tuple[RoleInfo, Selection]] = field(default_factory=list)
    retrieved: list[Passage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Finder:
    """Finds the items that answer planned questions in the snapshots of one store."""

    def __init__(
        self, reader: SnapshotReader, store: ChunkStore, limits: Thresholds, top_k: int
    ) -> None:
        self._reader = reader
        self._store = store
        self._limits = limits
        self._top_k = top_k

    def for_roles(self, snapshot: IndexSnapshot, plan: Plan, query: list[float]) -> Found:
        """Evidence from the blueprints of the roles the question names."""
        found = Found()
        for role in plan.roles:
            self._from_role(snapshot, plan, role, query, found)
        return found

    def for_any_role(self, snapshot: IndexSnapshot, plan: Plan, query: list[float]) -> Found:
        """A question that names no role: the items of the closest blueprints that hold it."""
        found = Found()
        for index, scored, selection in self._closest_documents(snapshot, plan, query):
            found.retrieved.extend(_ranked(scored, selection.items, self._top_k))
            # With no role named, only items that spell the topic answer it: a passage merely
            # close in meaning ("pays the most" and "VP of Payments") is no answer.
            if selection.kind != "items" or (plan.terms and selection.by_meaning):
                continue
            best = max((s.dense for s in scored if s.item in selection.items), default=0.0)
            if plan.terms or best >= self._limits.dense_answer:
                role = next(r for r in snapshot.catalogue if r.id == index.record.role_id)
                found.findings.append(Finding(role, selection.items))
        return found

    def _from_role(
        self,
        snapshot: IndexSnapshot,
        asked: Plan,
        role: RoleInfo,
        query: list[float],
        found: Found,
    ) -> None:
        index = self._reader.document(snapshot, snapshot.serving[role.id][0])
        plan = read_in(index, asked)
        if plan is not asked:
            topic = ", ".join(plan.terms.values()) or "none"
            found.notes.append(
                f"{role.role}: read against the blueprint as {plan.sections}, topic {topic}"
            )
        scored = score_items(index, plan, query)
        if role.coverage is RoleCoverage.SUMMARY:
            found.retrieved.extend(_ranked(scored, [], self._top_k))
            if plan.terms and not self._held_by_any_blueprint(snapshot, plan, query):
                # Not even a full blueprint says it: "partial" would promise what none has.
                missing = [*plan.terms.values()]
                found.declined.append((role, Selection("abstain", missing=missing)))
                return
            detail = [s for s in plan.sections if s not in SUMMARY_SECTIONS]
            if detail or unsupported_terms(plan, index.words):
                found.partial.append(Finding(role, index.items, whole_part=True))
                found.missing = [section_title(s) for s in detail] or [*plan.terms.values()]
            else:
                found.findings.append(Finding(role, index.items, whole_part=True))
            return
        selection = select(index, plan, scored, self._limits)
        found.retrieved.extend(_ranked(scored, selection.items, self._top_k))
        found.notes.extend(f"{role.role}: {note}" for note in selection.notes)
        if selection.kind == "abstain":
            found.declined.append((role, selection))
        else:
            found.findings.append(
                Finding(role, selection.items, whole_part=selection.kind == "part")
            )

    def _held_by_any_blueprint(
        self, snapshot: IndexSnapshot, plan: Plan, query: list[float]
    ) -> bool:
        """Whether a full blueprint holds the question's topic (what a summary cannot tell)."""
        documents = self._closest_documents(snapshot, plan, query, full=True)
        return any(
            selection.kind != "abstain" and not (plan.terms and selection.by_meaning)
            for _, _, selection in documents
        )

    def _closest_documents(
        self, snapshot: IndexSnapshot, plan: Plan, query: list[float], *, full: bool = False
    ) -> list[tuple[DocumentIndex, list[Scored], Selection]]:
        """The documents of the chunks closest to the question, each with its selection."""
        serving = {
            d: set(snapshot.records[d].chunk_ids)
            for d in snapshot.serving_docs()
            if not full or snapshot.records[d].coverage is RoleCoverage.FULL
        }
        # Hits the snapshot does not hold (a newer generation's, a shadowed summary, leftovers
        # of a stopped ingest) are not answered from.
        hits = [
            chunk
            for chunk, _ in self._store.query(
                query, _GLOBAL_CHUNKS, list(serving) if full else None
            )
            if chunk.id in serving.get(chunk.doc_id, ())
        ]
        found = []
        for doc_id in list(dict.fromkeys(chunk.doc_id for chunk in hits))[:_GLOBAL_DOCUMENTS]:
            index = self._reader.document(snapshot, doc_id)
            read = read_in(index, plan)
            scored = score_items(index, read, query)
            found.append((index, scored, select(index, read, scored, self._limits)))
        return found


def _ranked(scored: Sequence[Scored], chosen: Sequence[Item], top_k: int) -> list[Passage]:
    """A document's chunks as the trace reports retrieval.

    The chunks answered from come first, in answer order, then the others by their best item
    (similarity plus topic share).
    """
    best: dict[str, Passage] = {}
    for entry in scored:
        value = entry.dense + entry.lexical
        chunk = entry.item.chunk
        if chunk.id not in best or value > best[chunk.id].score:
            best[chunk.id] = Passage(
                chunk=chunk, score=value, dense_score=entry.dense, lexical_score=entry.lexical
            )
    first = list(dict.fromkeys(item.chunk.id for item in chosen))
    rest = sorted((p for i, p in best.items() if i not in first), key=lambda p: -p.score)
    lead = max((p.score for p in best.values()), default=0.0) + 1.0
    ordered = [best[i].model_copy(update={"score": lead}) for i in first if i in best] + rest
    return ordered[: max(top_k, len(first))]
