"""Check the gold set against the corpus, so it cannot rot: `python -m evals.check_gold`.

The corpus is read here with its own small reader (not the ingest parsers), so a parser bug
cannot make a wrong gold entry look right. A fact passes when every one of its phrasings is
in the text of the sections it is expected in (a summary-only role counts as one section).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from assistant.models import AnswerCoverage
from assistant.settings import PROJECT_ROOT
from evals.gold import DEFAULT_GOLD_PATH, GoldQuestion, load_gold
from evals.metrics import heading_key, normalize, role_key

DEFAULT_CORPUS_DIR = PROJECT_ROOT / "data" / "blueprints"
_TITLE_SUFFIX = re.compile(r":\s*Role Blueprint\b.*$")
_LISTING_END = "Read more »"
_SEPARATORS = ("", " ")


# One source text in every way it may be read: HTML inline tags joined with and without a
# space (a fact must survive both); a plain-text block is read one way.
Variants = tuple[str, ...]


@dataclass
class CorpusText:
    """The normalised text of each role, whole and by section key (full blueprints only)."""

    whole: dict[str, list[Variants]] = field(default_factory=lambda: defaultdict(list))
    sections: dict[str, dict[str, Variants]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def full_roles(self) -> set[str]:
        """Keys of the roles with a full (sectioned) blueprint."""
        return set(self.sections)


def read_corpus(corpus_dir: Path) -> CorpusText:
    """Read WordPress post JSON (full blueprints) and listing text files (summaries)."""
    corpus = CorpusText()
    for path in sorted(corpus_dir.iterdir()):
        if path.suffix == ".json":
            _read_wordpress(path, corpus)
        elif path.suffix == ".txt":
            _read_listing(path, corpus)
    return corpus


def _read_wordpress(path: Path, corpus: CorpusText) -> None:
    post = json.loads(path.read_text(encoding="utf-8"))
    role = role_key(_TITLE_SUFFIX.sub("", post["title"]["rendered"]))
    soup = BeautifulSoup(post["content"]["rendered"], "html.parser")
    corpus.whole[role].append(tuple(normalize(soup.get_text(sep)) for sep in _SEPARATORS))
    by_key: dict[str, list[Any]] = defaultdict(list)
    key = ""
    for element in soup.find_all(["h2", "h3", "p", "li", "td", "th"]):
        if element.name == "h2":
            key = heading_key(element.get_text("", strip=True))
        if key:
            by_key[key].append(element)
    for key, elements in by_key.items():
        corpus.sections[role][key] = tuple(
            normalize("\n".join(e.get_text(sep) for e in elements)) for sep in _SEPARATORS
        )


def _read_listing(path: Path, corpus: CorpusText) -> None:
    for block in path.read_text(encoding="utf-8").split(_LISTING_END):
        lines = [line for line in block.strip().splitlines() if line.strip()]
        if lines:
            role = role_key(_TITLE_SUFFIX.sub("", lines[0]))
            corpus.whole[role].append((normalize(block),))


def check_gold(questions: Sequence[GoldQuestion], corpus: CorpusText) -> list[str]:
    """Every problem of the gold set against the corpus (empty when it is sound)."""
    problems: list[str] = []
    for question in questions:
        where = f"{question.id}:"
        roles = [role_key(r) for r in question.expected_roles]
        unknown = [
            r for r, k in zip(question.expected_roles, roles, strict=True) if k not in corpus.whole
        ]
        if unknown:
            problems.append(f"{where} expected roles not in the corpus: {unknown}")
        if question.expected_sections and not corpus.full_roles & set(roles):
            problems.append(
                f"{where} expected_sections given but no expected role is a full blueprint"
            )
        if question.expected_coverage is AnswerCoverage.NOT_FOUND and (question.facts or roles):
            problems.append(f"{where} a not_found question expects no roles and no facts")
        sources = _sources_for(question, roles, corpus)
        for group in question.facts:
            for phrasing in group:
                wanted = normalize(phrasing)
                if not any(all(wanted in v for v in variants) for variants in sources):
                    problems.append(f"{where} fact {phrasing!r} is not in the expected text")
    return problems


def _sources_for(question: GoldQuestion, roles: list[str], corpus: CorpusText) -> list[Variants]:
    """The texts a fact may come from: the expected sections of full roles, else whole roles."""
    if not roles:
        return [v for sources in corpus.whole.values() for v in sources]
    sources: list[Variants] = []
    for role in roles:
        if role in corpus.full_roles and question.expected_sections:
            sections = corpus.sections[role]
            sources.extend(sections[key] for key in question.expected_sections if key in sections)
        else:
            sources.extend(corpus.whole.get(role, []))
    return sources


def main(argv: Sequence[str] = ()) -> int:
    """Check the gold file (first argument, or the bundled one) against the bundled corpus."""
    gold_path = Path(argv[0]) if argv else DEFAULT_GOLD_PATH
    problems = check_gold(load_gold(gold_path), read_corpus(DEFAULT_CORPUS_DIR))
    for problem in problems:
        sys.stderr.write(problem + "\n")
    sys.stderr.write(f"{gold_path}: {len(problems)} problem(s)\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
