"""The gold set: questions with the roles, sections and facts a right answer has."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from assistant.models import AnswerCoverage
from assistant.sections import SECTION_KEYS
from evals.models import EvalError

DEFAULT_GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"


class GoldError(EvalError):
    """The gold file cannot be read as a gold set."""


class GoldQuestion(BaseModel):
    """One gold question.

    `expected_sections` are section keys of full blueprints; a summary-only role is expected
    as a whole. `facts` are groups of acceptable phrasings: a group is recalled when any of
    its phrasings is in the answer.
    """

    id: str = Field(min_length=1)
    turns: list[str] = Field(default_factory=list)
    question: str
    expected_roles: list[str] = Field(default_factory=list)
    expected_sections: list[str] = Field(default_factory=list)
    facts: list[list[str]] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    expected_coverage: AnswerCoverage
    tags: list[str] = Field(min_length=1)

    @field_validator("expected_sections")
    @classmethod
    def _known_sections(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SECTION_KEYS))
        if unknown:
            msg = f"unknown section keys {unknown}; use keys of assistant.sections.SECTION_KEYS"
            raise ValueError(msg)
        return value

    @field_validator("facts")
    @classmethod
    def _non_empty_groups(cls, value: list[list[str]]) -> list[list[str]]:
        if any(not group or not all(p.strip() for p in group) for group in value):
            msg = "every fact group needs at least one non-blank phrasing"
            raise ValueError(msg)
        return value


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a JSONL gold file (one question per line; blank lines are skipped).

    Raises:
        GoldError: A line is not a valid question, or two questions share an id.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"cannot read the gold file {path}: {exc}"
        raise GoldError(msg) from exc
    questions: list[GoldQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(GoldQuestion.model_validate_json(line))
        except ValidationError as exc:
            msg = f"{path}:{number}: not a gold question: {exc}"
            raise GoldError(msg) from exc
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            msg = f"{path}: the id {question.id!r} is used twice; ids must be unique"
            raise GoldError(msg)
        seen.add(question.id)
    if not questions:
        msg = f"{path}: no questions; add one JSON object per line"
        raise GoldError(msg)
    return questions
