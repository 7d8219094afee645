"""Check the gold set against the corpus, so it cannot rot: `python -m evals.check_gold`.

The corpus is read by the judge's own reader (`evals/corpus.py`, not the ingest parsers), so a
parser bug cannot make a wrong gold entry look right. What is checked:

- every expected role is in the corpus, every expected section, heading and subsection is one
  of that role's, and only full blueprints are expected by section;
- every phrasing of every fact is in the text of the expected sections (a summary-only role,
  or a full role with no sections given, counts as one text);
- every expected item is a substring of an item of the expected sections (and subsections),
  and the items they match fit in `expected_count` (so that they are distinctive);
- `expected_count` is no more than the expected passages can give (one citation per bullet
  or row, one per sentence of prose);
- `not_found` questions expect nothing, `abstain` questions are `not_found`, and only
  held-out (or catalogue) questions expect the held-out fixtures' roles.

`python -m evals.check_gold --sizes ROLE` prints how many items each section and subsection
of a role holds, which is what a broad question's `expected_count` is.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.models import AnswerCoverage
from assistant.settings import PROJECT_ROOT
from evals.config import load_config
from evals.corpus import CorpusText, Item, ReadSection, RoleText, Variants, read_corpus
from evals.gold import ABSTAIN_TAG, DEFAULT_GOLD_PATH, HELDOUT_TAG, GoldQuestion, load_gold
from evals.matching import TEMPLATE_SECTIONS, heading_name, name_key, normalize, role_key

# A catalogue question lists every role, held-out ones included: their names are public.
CATALOGUE_TAG = "catalogue"


def default_corpus() -> CorpusText:
    """The corpus the eval configuration (`evals/config.toml`) lists."""
    return read_corpus(load_config().corpus_paths(PROJECT_ROOT))


@dataclass
class _Scope:
    """What one expected role contributes: texts for facts, items for items and counts."""

    texts: list[Variants] = field(default_factory=list)
    sections: list[ReadSection] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def check_gold(questions: Sequence[GoldQuestion], corpus: CorpusText) -> list[str]:
    """Every problem of the gold set against the corpus (empty when it is sound)."""
    problems: list[str] = []
    for question in questions:
        problems.extend(f"{question.id}: {p}" for p in _check_question(question, corpus))
    return problems


def _check_question(question: GoldQuestion, corpus: CorpusText) -> list[str]:
    problems: list[str] = []
    roles = [role_key(r) for r in question.expected_roles]
    unknown = [r for r in question.expected_roles if role_key(r) not in corpus.roles]
    if unknown:
        problems.append(f"expected roles not in the corpus: {unknown}")
    if question.expected_sections and not corpus.full_roles & set(roles):
        problems.append("expected_sections given but no expected role is a full blueprint")
    problems.extend(_check_kind(question, roles, corpus))
    scopes: list[_Scope] = []
    for role in question.expected_roles:
        text = corpus.roles.get(role_key(role))
        if text is not None:
            scope, found = _scope(question, role, text)
            scopes.append(scope)
            problems.extend(found)
    texts = [t for s in scopes for t in s.texts] or [
        v for text in corpus.roles.values() for v in text.whole
    ]
    for group in question.facts:
        for phrasing in group:
            wanted = normalize(phrasing)
            if not any(all(wanted in v for v in variants) for variants in texts):
                problems.append(f"fact {phrasing!r} is not in the expected text")
    problems.extend(_check_subsections(question, scopes))
    if scopes:
        problems.extend(_check_items_and_count(question, scopes))
    return problems


def _check_items_and_count(question: GoldQuestion, scopes: list[_Scope]) -> list[str]:
    """Items are in the expected (sub)sections and distinctive; the count is attainable."""
    problems: list[str] = []
    subsections = {name_key(s) for s in question.expected_subsections}
    items = [
        item
        for scope in scopes
        for item in (
            [i for s in scope.sections for i in s.items(subsections)]
            if subsections and scope.sections
            else scope.items
        )
    ]
    wanted = [normalize(i) for i in question.expected_items]
    for expected, phrase in zip(question.expected_items, wanted, strict=True):
        if not any(all(phrase in r for r in item.readings) for item in items):
            problems.append(f"item {expected!r} is in no item of the expected (sub)sections")
    count = question.expected_count
    if count is None:
        return problems
    size = sum(item.units for item in items)
    if count > size:
        problems.append(
            f"expected_count {count} is more than the {size} citable items of the expected passages"
        )
    relevant = sum(i.units for i in items if any(all(p in r for r in i.readings) for p in wanted))
    if relevant > count:
        problems.append(
            f"expected_items match {relevant} citable items, more than expected_count {count}: "
            "make them more distinctive, or raise the count"
        )
    return problems


def _check_kind(question: GoldQuestion, roles: list[str], corpus: CorpusText) -> list[str]:
    """The rules of `not_found`, `abstain` and held-out questions."""
    problems: list[str] = []
    if question.expected_coverage is AnswerCoverage.NOT_FOUND:
        if question.facts or roles:
            problems.append("a not_found question expects no roles and no facts")
        if question.expected_items or question.expected_subsections or question.expected_count:
            problems.append("a not_found question cites nothing: no items, subsections or count")
    elif ABSTAIN_TAG in question.tags:
        problems.append("an abstain question must expect not_found")
    heldout = sorted(r for r in question.expected_roles if role_key(r) in corpus.heldout_roles)
    if heldout and HELDOUT_TAG not in question.tags and CATALOGUE_TAG not in question.tags:
        problems.append(
            f"expects the held-out roles {heldout}: tag it {HELDOUT_TAG!r} (only catalogue "
            "questions in the tuning split may name held-out roles)"
        )
    return problems


def _scope(question: GoldQuestion, role: str, text: RoleText) -> tuple[_Scope, list[str]]:
    """The passages one expected role contributes, and what is wrong with asking for them."""
    problems: list[str] = []
    headings = question.headings_for(role)
    if headings:
        if not text.full:
            return _Scope(), [f"expected_headings given for {role}, which has no full blueprint"]
        sections = []
        for heading in headings:
            found = [s for s in text.sections if s.name == heading_name(heading)]
            if not found:
                printed = "; ".join(s.heading for s in text.sections)
                problems.append(f"{role} has no section {heading!r}; its headings: {printed}")
            sections.extend(found)
    elif text.full and question.expected_sections:
        sections = []
        for key in question.expected_sections:
            found = [s for s in text.sections if s.key == key]
            if not found:
                problems.append(
                    f"{role} has no {TEMPLATE_SECTIONS[key]!r} section; name its sections by "
                    "their headings in expected_headings"
                )
            sections.extend(found)
    elif text.full:
        return _Scope(list(text.whole), list(text.sections), text.items()), problems
    else:
        return _Scope(list(text.whole), [], list(text.summary)), problems
    items = [i for s in sections for i in s.items()]
    return _Scope([s.text() for s in sections], sections, items), problems


def _check_subsections(question: GoldQuestion, scopes: list[_Scope]) -> list[str]:
    if not question.expected_subsections:
        return []
    sections = [s for scope in scopes for s in scope.sections]
    if not sections:
        return ["expected_subsections given but no expected role is a full blueprint"]
    names = {n for s in sections for n in s.subsection_names()}
    return [
        f"subsection {wanted!r} is not under the expected sections"
        for wanted in question.expected_subsections
        if name_key(wanted) not in names
    ]


def sizes(corpus: CorpusText, role: str) -> list[str]:
    """How many citable items each section and subsection of a role holds, as lines."""
    text = corpus.roles.get(role_key(role))
    if text is None:
        return [f"{role}: not in the corpus"]
    lines = [f"{text.name}: {sum(i.units for i in text.items())} items"]
    for section in text.sections:
        key = f" [{section.key}]" if section.key else ""
        lines.append(f"  {section.heading}{key}: {sum(i.units for i in section.items())}")
        for part in section.parts:
            if part.name:
                lines.append(f"    {part.name}: {sum(i.units for i in part.items)}")
    if text.summary:
        lines.append(f"  (summary): {sum(i.units for i in text.summary)}")
    return lines


def main(argv: Sequence[str] = ()) -> int:
    """Check the gold file (first argument, or the bundled one) against the eval corpus."""
    corpus = default_corpus()
    if argv and argv[0] == "--sizes":
        for role in argv[1:]:
            sys.stdout.write("\n".join(sizes(corpus, role)) + "\n")
        return 0
    gold_path = Path(argv[0]) if argv else DEFAULT_GOLD_PATH
    problems = check_gold(load_gold(gold_path), corpus)
    for problem in problems:
        sys.stderr.write(problem + "\n")
    sys.stderr.write(f"{gold_path}: {len(problems)} problem(s)\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
