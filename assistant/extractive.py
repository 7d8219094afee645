"""The default answerer: composes an answer from the passages' own bullets, rows and sentences.

It needs no LLM. Every item of the answer is quoted from one chunk and followed by its own
citation marker, so each claim can be checked against the exact text it came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from assistant.answering import AnswerContext, Draft, QueryPlan
from assistant.models import Chunk, Passage, RoleCoverage, RoleInfo
from assistant.sections import section_title
from assistant.selection import (
    Item,
    ItemIndex,
    best_by,
    chunk_items,
    heading_overlap,
    keys,
    matches_hint,
    question_keys,
    term_key,
)

_MAX_ITEMS = 40
_SPECIFIC_ITEMS = 6
_SHORT_LIST = 2
# An item is "what the question names" when it holds question words this rare in sum, and
# this share of the rarity of all the question's content words.
SPECIFIC_THRESHOLD = 3.5
SPECIFIC_SHARE = 0.5


def render_item(item: Item) -> str:
    """An item as answer text; a table row leads with its target and frequency.

    `Metric name: MTTR | What it measures: … | Example target / benchmark: < 2 hours |
    Frequency: Monthly` reads `**MTTR**: target < 2 hours; frequency Monthly (what it
    measures: …)`.
    """
    if item.kind != "row":
        return item.quote
    cells = [cell.partition(": ") for cell in item.quote.split(" | ")]
    first = cells[0][2] or cells[0][0]
    leading: list[str] = []
    rest: list[str] = []
    for name, _, value in cells[1:]:
        if not value:
            continue
        lowered = name.lower()
        if "target" in lowered or "benchmark" in lowered:
            leading.insert(0, f"target {value}")
        elif "frequency" in lowered:
            leading.append(f"frequency {value}")
        else:
            rest.append(f"{lowered}: {value}")
    text = f"**{first}**"
    if leading:
        text += ": " + "; ".join(leading)
    if rest:
        text += f" ({'; '.join(rest)})" if leading else ": " + "; ".join(rest)
    return text


class _Composer:
    """Accumulates answer lines and the passage each marker numbers."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.evidence: list[Passage] = []
        self.quotes: dict[int, str] = {}

    def cite(self, item: Item, score: float = 0.0) -> str:
        self.evidence.append(Passage(chunk=item.chunk, score=score))
        number = len(self.evidence)
        self.quotes[number] = item.quote
        return f"[{number}]"

    def bullet(self, item: Item) -> None:
        self.lines.append(f"- {render_item(item)} {self.cite(item)}")

    def draft(self, notes: Sequence[str] = ()) -> Draft:
        return Draft(
            text="\n".join(self.lines).strip(),
            answerer=ExtractiveAnswerer.name,
            quotes=self.quotes,
            notes=list(notes),
            passages=self.evidence,
        )


class ExtractiveAnswerer:
    """Grounded answers without an LLM.

    A question that names something specific ("the MTTR target", "vector databases") gets the
    few items that contain it; a question about a section ("KPIs", "first 30 days") gets the
    section's items, narrowed to the subsections its words name.
    """

    name = "extractive"

    def answer(self, context: AnswerContext) -> Draft:
        """Compose the answer for a lookup or a comparison."""
        composer = _Composer()
        plan = context.plan
        index = context.index or ItemIndex(p.chunk for p in context.passages)
        heading_keys, content_keys = question_keys(context.question, plan.roles)
        content_keys -= {term_key(h) for h in plan.subsections}
        for role in plan.roles:
            passages = [p for p in context.passages if p.chunk.role_id == role.id]
            if not passages:
                continue
            if len(plan.roles) > 1:
                composer.lines.append(f"**{role.role}**")
            listed, narrowed = _list_chunks(passages, plan, heading_keys)
            specific: list[Item] = []
            if role.coverage is RoleCoverage.FULL:
                specific = _specific_items(passages, plan, index, heading_keys, content_keys)
            # A specific match inside the subsection the question names, or inside a short
            # list, is covered by listing it; in a long section, the matches say more.
            covered = specific and specific[0].chunk in listed
            if specific and not (covered and (narrowed or len(listed) <= _SHORT_LIST)):
                _write_items(composer, role.role, specific)
            else:
                _write_list(composer, role, listed)
            composer.lines.append("")
        if not plan.roles:
            items = _specific_items(
                context.passages, plan, index, heading_keys, content_keys, strict=False
            )
            _write_items(composer, None, items)
        return composer.draft()

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer line by line (it is composed at once; streaming keeps one interface)."""
        yield from self.answer(context).text.splitlines(keepends=True)


def _specific_items(
    passages: list[Passage],
    plan: QueryPlan,
    index: ItemIndex,
    heading_keys: set[str],
    content_keys: set[str],
    *,
    strict: bool = True,
) -> list[Item]:
    """The few items that contain what the question names, best first.

    Strict (a role is named): only when an item holds enough of the question's rarer words,
    else [] and the caller lists a section instead.
    """
    weights = index.weights
    # Words the corpus never uses cannot be matched by any item, so they do not count.
    wanted = sum(weights.weight(k) for k in content_keys if weights.known(k))
    scored: list[tuple[float, float, int, Item]] = []
    order = 0
    for rank, passage in enumerate(passages):
        bonus = 0.5 * heading_overlap(heading_keys, passage.chunk) - 0.05 * rank
        if passage.chunk.section_key in plan.sections:
            bonus += 1.0
        for item, item_keys in index.items(passage.chunk):
            content = weights.score(content_keys, item_keys)
            # An item whose topic (a row's first cell, a bullet's first words) is the match
            # is about it; one that mentions it in passing is not.
            topic = 1.0 if content_keys & keys(_topic(item)) else 0.0
            scored.append((content + bonus + topic if content else 0.0, content, order, item))
            order += 1
    if not scored:
        return []
    best = max(scored, key=lambda r: (r[0], -r[2]))
    if strict and (best[1] < SPECIFIC_THRESHOLD or best[1] < SPECIFIC_SHARE * wanted):
        return []
    # A question whose words name a heading ("red flags") asks for what is under it.
    named = max(
        (
            weights.score(content_keys, keys(f"{p.chunk.section} {p.chunk.subsection}"))
            for p in passages
            if p.chunk.section_key in plan.sections
        ),
        default=0.0,
    )
    if strict and named >= 0.6 * best[1]:
        return []
    if best[0] <= 0:  # nothing matched at all: the best passage's first items
        return [item for *_, item in scored[:_SPECIFIC_ITEMS]]
    # Close runners-up from the best item's section; other sections' matches are noise.
    section = best[3].chunk.section
    chosen = sorted(
        (r for r in scored if r[0] >= 0.75 * best[0] and r[3].chunk.section == section),
        key=lambda r: (-r[0], r[2]),
    )
    items = [item for *_, item in chosen[:_SPECIFIC_ITEMS]]
    return _with_sub_items(items, index)


def _topic(item: Item) -> str:
    if item.kind == "row":
        return item.quote.split(" | ", 1)[0]
    return " ".join(item.quote.split()[:5])


def _with_sub_items(items: list[Item], index: ItemIndex) -> list[Item]:
    """A lead-in item ("Deliver early wins, such as:") brings the items listed under it."""
    result: list[Item] = []
    for item in items:
        if item in result:
            continue
        result.append(item)
        if not item.quote.endswith(":"):
            continue
        following = [i for i, _ in index.items(item.chunk)]
        for sub in following[following.index(item) + 1 :]:
            if sub.quote.endswith(":"):
                break
            if sub not in result:
                result.append(sub)
    return result


def _list_chunks(
    passages: list[Passage], plan: QueryPlan, heading_keys: set[str]
) -> tuple[list[Chunk], bool]:
    """The chunks of the section a list question asks for, in order.

    The flag tells whether they were narrowed to subsections the question names.
    """
    chunks = [p.chunk for p in passages]
    in_sections = [c for c in chunks if c.section_key in plan.sections]
    if not in_sections:
        # No section named, but a time hint ("after a year") names a subsection.
        in_sections = [c for c in chunks if matches_hint(c, plan.subsections)]
    if in_sections:
        chunks = in_sections
    # Several candidate sections: keep the one whose headings name the question's words,
    # else (no section intent at all) the best-ranked passage's section.
    by_section: dict[str, float] = {}
    for chunk in chunks:
        overlap = heading_overlap(heading_keys, chunk)
        by_section[chunk.section] = max(by_section.get(chunk.section, 0), overlap)
    if max(by_section.values(), default=0) > 0:
        keep = best_by(by_section, share=1.0)
    elif in_sections:
        keep = set(by_section)
    else:
        keep = {chunks[0].section}
    chunks = [c for c in chunks if c.section in keep]

    # Subsections the question names: by a hint ("first 30 days") or by the words of their
    # titles (the section's own title words say nothing about which subsection is meant).
    by_subsection = {
        c.subsection: float(len((heading_keys - keys(c.section)) & keys(c.subsection)))
        + (2.0 if matches_hint(c, plan.subsections) else 0.0)
        for c in chunks
    }
    narrowed = len(set(by_subsection.values())) > 1
    if narrowed:
        wanted = best_by(by_subsection)
        chunks = [c for c in chunks if c.subsection in wanted]
    return sorted(chunks, key=lambda c: c.position), narrowed


def _write_items(composer: _Composer, role: str | None, items: list[Item]) -> None:
    if role is not None:
        composer.lines.append(f"From the **{role}** blueprint:")
        composer.lines.append("")
    for item in items:
        where = ", ".join(p for p in (item.chunk.section, item.chunk.subsection) if p)
        label = f"{item.chunk.role}, {where}" if role is None else where
        composer.lines.append(f"- {render_item(item)} ({label}) {composer.cite(item)}")


def _write_list(composer: _Composer, role: RoleInfo, chunks: list[Chunk]) -> None:
    if not chunks:
        return
    named = ", ".join(f"*{h}*" for h in dict.fromkeys(c.section for c in chunks))
    composer.lines.append(f"From the **{role.role}** blueprint ({named}):")
    composer.lines.append("")
    current: str | None = None
    count = 0
    for chunk in chunks:
        if chunk.subsection != current:
            current = chunk.subsection
            if chunk.subsection:
                composer.lines.append(f"**{chunk.subsection}**")
        for item in chunk_items(chunk):
            if count >= _MAX_ITEMS:
                return
            composer.bullet(item)
            count += 1


def partial_answer(
    roles: list[RoleInfo], sections: list[str], summaries: dict[str, Passage]
) -> Draft:
    """Summary-only roles asked for detail: say what is missing, cite what there is."""
    composer = _Composer()
    missing = ", ".join(section_title(key) for key in sections) or "that detail"
    for role in roles:
        summary = summaries.get(role.id)
        if role.coverage is RoleCoverage.FULL or summary is None:
            continue
        composer.lines.append(
            f"The knowledge base has only a summary of the **{role.role}** blueprint, so it "
            f"does not cover its {missing}. Here is what the summary says:"
        )
        composer.lines.append("")
        for item in chunk_items(summary.chunk):
            composer.bullet(item)
        composer.lines.append("")
    names = " and ".join(r.role for r in roles if r.coverage is RoleCoverage.SUMMARY)
    composer.lines.append(
        f"To answer this fully, ingest the full {names} blueprint "
        "(`blueprints ingest <file or folder>`)."
    )
    return composer.draft()


def catalogue_answer(title: str, roles: list[RoleInfo], summaries: dict[str, Passage]) -> Draft:
    """A complete list of catalogue roles, each cited to its summary."""
    composer = _Composer()
    composer.lines.append(title)
    composer.lines.append("")
    for role in roles:
        summary = summaries.get(role.id)
        detail = "full blueprint" if role.coverage is RoleCoverage.FULL else "summary only"
        marker = ""
        if summary is not None:
            items = chunk_items(summary.chunk)
            if items:
                marker = " " + composer.cite(items[0])
        composer.lines.append(f"- **{role.role}** ({detail}){marker}")
    return composer.draft()
