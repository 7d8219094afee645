"""The vocabulary of question understanding, kept as data: one TOML file per kind.

- `sections.toml`: the blueprint template's sections (keys, titles, heading patterns, the
  words a question uses for each, a description to embed);
- `scopes.toml`: phrasings that narrow a section to a subsection ("the first month");
- `roles.toml`: how people spell and abbreviate role titles;
- `questions.toml`: the language of questions themselves (comparison, catalogue, greetings,
  follow-ups, request words).

Each file is validated when it is loaded (at start-up): a typo in a section key or a pattern
that does not compile stops the program with the file and the entry named.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache, cached_property
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from assistant.errors import BlueprintsError
from assistant.text import fold, key_sequence


class VocabularyError(BlueprintsError):
    """A vocabulary file is missing or malformed."""


class Phrases(BaseModel):
    """Phrases compared on their word keys, so inflections match ("measured" ~ "measure")."""

    phrases: list[str]

    @cached_property
    def sequences(self) -> list[tuple[str, ...]]:
        """Each phrase as its sequence of word keys (longest first), duplicates dropped."""
        found = {tuple(key_sequence(p)) for p in self.phrases}
        return sorted((s for s in found if s), key=lambda s: (-len(s), s))


class SectionKind(BaseModel):
    """One section of the blueprint template."""

    key: str = Field(pattern=r"^[a-z_]+$")
    title: str
    headings: list[str] = Field(min_length=1)
    cues: list[str] = Field(min_length=1)
    weak_cues: list[str] = Field(default_factory=list)
    answer_columns: list[str] = Field(default_factory=list)
    description: str

    @field_validator("headings")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                msg = f"heading pattern {pattern!r} does not compile: {exc}"
                raise ValueError(msg) from exc
        return value

    @cached_property
    def cue_sequences(self) -> list[tuple[str, ...]]:
        """The cues as word-key sequences, longest first."""
        return Phrases(phrases=self.cues).sequences

    @cached_property
    def weak_cue_sequences(self) -> list[tuple[str, ...]]:
        """The weak cues as word-key sequences, longest first."""
        return Phrases(phrases=self.weak_cues).sequences


class Scope(BaseModel):
    """A phrasing that narrows a section to one of its subsections."""

    name: str
    section: str
    question: list[str] = Field(min_length=1)
    heading: list[str] = Field(min_length=1)
    names_part: bool = False
    """Whether the phrase names its part as firmly as a section's own words ("the first
    month", "red flags"), rather than in passing as rhythms do ("four days a week")."""
    days: int = 0
    """The day a goal horizon ends on (30, 60, 90): "the first 90 days" spans every horizon
    up to it, and "30-60-90" names three."""


class RoleVocabulary(BaseModel):
    """How role titles are spelled, abbreviated and recognised."""

    phrases: dict[str, str]
    words: dict[str, str]
    typos: dict[str, str]
    ignored: frozenset[str]
    nouns: frozenset[str]
    ranks: list[str]
    qualifiers: list[str]
    alias_markers: list[str]
    acronyms: frozenset[str]


class Catalogue(BaseModel):
    """The words of requests to list, count or filter the roles."""

    nouns: list[str]
    words: frozenset[str]
    full: frozenset[str]
    summary: frozenset[str]


class QuestionVocabulary(BaseModel):
    """The language of questions: comparison, catalogue, greetings, follow-ups, requests."""

    comparison: frozenset[str]
    contrast: frozenset[str]
    catalogue: Catalogue
    greetings: list[str]
    follow_up: list[str]
    request: frozenset[str]
    numbers: dict[str, str]
    time_leads: frozenset[str]


class Vocabulary(BaseModel):
    """Everything question understanding knows about words, validated together."""

    sections: list[SectionKind]
    scopes: list[Scope]
    roles: RoleVocabulary
    questions: QuestionVocabulary

    @model_validator(mode="after")
    def _consistent(self) -> Vocabulary:
        keys = [s.key for s in self.sections]
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        if duplicated:
            msg = f"sections.toml: section keys used twice: {duplicated}"
            raise ValueError(msg)
        unknown = sorted({s.section for s in self.scopes} - set(keys))
        if unknown:
            msg = f"scopes.toml: scopes name sections that sections.toml lacks: {unknown}"
            raise ValueError(msg)
        return self

    @property
    def section_keys(self) -> tuple[str, ...]:
        """The section keys in blueprint order."""
        return tuple(s.key for s in self.sections)

    def section(self, key: str) -> SectionKind | None:
        """One section kind by key."""
        return next((s for s in self.sections if s.key == key), None)


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = f"assistant/vocabulary/{name}: cannot be read ({exc}); reinstall the package"
        raise VocabularyError(msg) from exc


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary, read and validated once per process.

    Raises:
        VocabularyError: a file is missing, is not TOML, or fails validation.
    """
    roles = _read("roles.toml")
    try:
        return Vocabulary(
            sections=_read("sections.toml")["section"],
            scopes=_read("scopes.toml")["scope"],
            roles=RoleVocabulary(
                phrases=roles["phrases"],
                words=roles["words"],
                typos=roles["typos"],
                **roles["titles"],
            ),
            questions=QuestionVocabulary(**_read("questions.toml")),
        )
    except (KeyError, ValidationError) as exc:
        msg = f"assistant/vocabulary: invalid vocabulary: {exc}"
        raise VocabularyError(msg) from exc


_WORD = re.compile(r"(?<![a-z0-9])[a-z]+(?![a-z0-9])")


def numerals(text: str) -> str:
    """Folded text with its number words as digits ("at twelve months" -> "at 12 months")."""
    numbers = vocabulary().questions.numbers
    return _WORD.sub(lambda m: numbers.get(m.group(0), m.group(0)), fold(text))
