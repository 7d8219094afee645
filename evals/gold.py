"""The gold set: questions with the roles, sections, items and facts a right answer has."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from assistant.models import AnswerCoverage
from evals.matching import SECTION_KEYS, heading_name, name_key, role_key
from evals.models import EvalError

DEFAULT_GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"

Split = Literal["tuning", "heldout"]
SPLITS: tuple[Split, ...] = ("tuning", "heldout")
# Questions over documents no tuning may look at (evals/fixtures/) carry this tag.
HELDOUT_TAG = "heldout"
# Questions about what blueprints never cover (pay, location, visa…): the answer must decline.
ABSTAIN_TAG = "abstain"


class GoldError(EvalError):
    """The gold file cannot be read as a gold set."""


class GoldQuestion(BaseModel):
    """One gold question.

    Which passages are relevant:

    - `expected_roles`: the roles a right answer is about.
    - `expected_sections`: keys of the bundled template's sections (`evals.matching.
      TEMPLATE_SECTIONS`), for full blueprints with the template's headings; a summary-only
      role is expected as a whole.
    - `expected_headings`: for blueprints whose headings are not the template's, the section
      headings as printed, by role (`{"Head of Robotics Fleet Operations": ["Key Performance
      Indicators"]}`); numbering, case, dashes and spaces do not count. A role named here is
      judged by these headings and not by `expected_sections`.
    - `expected_subsections`: subsection names as printed (`30-day goals (orientation and
      diagnosis)`), matched case-, dash- and space-insensitively; a relevant cited item must
      sit in one of them.
    - `expected_items`: distinctive substrings of the relevant items (a KPI's name, a tool's
      category); a cited item is relevant when it contains one of them (after `normalize`).

    What a right answer says and how long it is:

    - `facts`: groups of acceptable phrasings; a group is recalled when any phrasing is in the
      answer. `must_not`: phrases a right answer never contains.
    - `expected_count`: the most citations a complete, non-padded answer needs: one per
      top-level bullet (its sub-bullets included), one per table row, one per prose sentence.
      For a broad question it is the size of the section or subsection asked about; for a
      specific one, a few.

    A question is in the held-out split when it has the tag `heldout`, else in the tuning split.
    """

    id: str = Field(min_length=1)
    turns: list[str] = Field(default_factory=list)
    question: str
    expected_roles: list[str] = Field(default_factory=list)
    expected_sections: list[str] = Field(default_factory=list)
    expected_headings: dict[str, list[str]] = Field(default_factory=dict)
    expected_subsections: list[str] = Field(default_factory=list)
    expected_items: list[str] = Field(default_factory=list)
    expected_count: int | None = Field(default=None, ge=1)
    facts: list[list[str]] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    expected_coverage: AnswerCoverage
    tags: list[str] = Field(min_length=1)

    @field_validator("expected_sections")
    @classmethod
    def _known_sections(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SECTION_KEYS))
        if unknown:
            msg = (
                f"unknown section keys {unknown}; use keys of evals.matching.TEMPLATE_SECTIONS, "
                "or name a section by its printed heading in expected_headings"
            )
            raise ValueError(msg)
        return value

    @field_validator("expected_headings")
    @classmethod
    def _named_headings(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for role, headings in value.items():
            if not headings or not all(heading_name(h) for h in headings):
                msg = f"expected_headings[{role!r}] needs at least one non-blank heading"
                raise ValueError(msg)
        return value

    @field_validator("expected_subsections", "expected_items", "must_not")
    @classmethod
    def _no_blanks(cls, value: list[str]) -> list[str]:
        if not all(name_key(v) for v in value):
            msg = "blank entries match everything; remove them"
            raise ValueError(msg)
        return value

    @field_validator("facts")
    @classmethod
    def _non_empty_groups(cls, value: list[list[str]]) -> list[list[str]]:
        if any(not group or not all(p.strip() for p in group) for group in value):
            msg = "every fact group needs at least one non-blank phrasing"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _headings_name_expected_roles(self) -> GoldQuestion:
        roles = {role_key(r) for r in self.expected_roles}
        strays = [r for r in self.expected_headings if role_key(r) not in roles]
        if strays:
            msg = f"expected_headings names roles {strays} that are not in expected_roles"
            raise ValueError(msg)
        return self

    @property
    def split(self) -> Split:
        """`heldout` for questions over the held-out documents, else `tuning`."""
        return "heldout" if HELDOUT_TAG in self.tags else "tuning"

    def headings_for(self, role: str) -> list[str]:
        """The printed headings expected of a role (empty: judge it by `expected_sections`)."""
        wanted = role_key(role)
        return next((h for r, h in self.expected_headings.items() if role_key(r) == wanted), [])


def load_gold(path: Path, split: Split | None = None) -> list[GoldQuestion]:
    """Read a JSONL gold file (one question per line; blank lines are skipped).

    Args:
        path: The gold file.
        split: Only the questions of this split (None: all). Thresholds are calibrated on
            the tuning split only; the held-out split measures generalisation.

    Raises:
        GoldError: A line is not a valid question, two questions share an id, or no question
            is left.
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
    if split is not None:
        questions = [q for q in questions if q.split == split]
    if not questions:
        which = f" in the {split} split" if split else ""
        msg = f"{path}: no questions{which}; add one JSON object per line"
        raise GoldError(msg)
    return questions
