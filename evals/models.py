"""The evaluation's vocabulary: run configuration, thresholds, results, report, baseline."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import BlueprintsError
from assistant.models import Citation, RetrievedTrace

System = Literal["ours", "naive"]
SYSTEMS: tuple[System, ...] = ("ours", "naive")


class EvalError(BlueprintsError):
    """The evaluation cannot run as configured."""


class NaiveConfig(BaseModel):
    """The naive baseline's textbook settings."""

    chunk_size: int = Field(default=1000, ge=100)
    chunk_overlap: int = Field(default=100, ge=0)
    top_k: int = Field(default=4, ge=1)


class EvalConfig(BaseModel):
    """The run configuration (`evals/config.toml`).

    `corpus` is what the gold set is written against: the sources (files or folders, relative
    to the project root) that `--fresh-index` ingests, the naive baseline indexes and
    `evals/check_gold.py` reads.
    """

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=5, ge=1)
    answerer: str = "extractive"
    seed: int = 0
    corpus: list[str] = Field(default_factory=lambda: ["data/blueprints"], min_length=1)
    naive: NaiveConfig = Field(default_factory=NaiveConfig)

    def corpus_paths(self, root: Path) -> list[Path]:
        """The corpus sources as paths under the project root."""
        return [root / source for source in self.corpus]

    @property
    def llm(self) -> str:
        """The answerer as a `BLUEPRINTS_LLM` value."""
        return "none" if self.answerer == "extractive" else self.answerer


class Bounds(BaseModel):
    """The least (`min`) and the most (`max`) each named metric may score."""

    model_config = ConfigDict(extra="forbid")

    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)


class Thresholds(Bounds):
    """The gate (`evals/thresholds.toml`): bounds over the whole gold set, and per tag.

    `[min]` and `[max]` apply to our assistant's metrics over every question; `[tag.<tag>.min]`
    and `[tag.<tag>.max]` to its metrics over the questions with that tag.
    """

    tag: dict[str, Bounds] = Field(default_factory=dict)


class SystemAnswer(BaseModel):
    """One system's answer to one question, with its scores and what it missed."""

    coverage: str
    answer: str
    error: str | None = None
    latency_ms: float
    retrieved: list[RetrievedTrace]
    cited: list[Citation]
    scores: dict[str, float | None]
    missed_facts: list[list[str]]
    must_not_hits: list[str]
    citation_problems: list[str]
    cited_items: int = 0


class QuestionResult(BaseModel):
    """One gold question and how each system answered it."""

    id: str
    question: str
    turns: list[str]
    tags: list[str]
    split: str = "tuning"
    expected_roles: list[str]
    expected_sections: list[str]
    expected_headings: dict[str, list[str]] = Field(default_factory=dict)
    expected_subsections: list[str] = Field(default_factory=list)
    expected_items: list[str] = Field(default_factory=list)
    expected_count: int | None = None
    expected_coverage: str
    ours: SystemAnswer
    naive: SystemAnswer

    def answer_of(self, system: System) -> SystemAnswer:
        """The answer of one system."""
        return self.ours if system == "ours" else self.naive


class SystemMetrics(BaseModel):
    """A system's metrics over the whole gold set, per tag, and per split (tuning, held-out)."""

    overall: dict[str, float | None]
    per_tag: dict[str, dict[str, float | None]]
    per_split: dict[str, dict[str, float | None]] = Field(default_factory=dict)


class Baseline(BaseModel):
    """The last accepted metrics (`evals/baseline.json`), which runs are compared with."""

    created: datetime
    answerer: str
    k: int
    questions: int
    metrics: dict[System, SystemMetrics]


class EvalReport(BaseModel):
    """Everything one evaluation run measured, and whether it passed the gate."""

    created: datetime
    gold: str
    split: str | None = None
    config: EvalConfig
    answerer: str
    index_chunks: int
    questions: int
    metrics: dict[System, SystemMetrics]
    baseline: Baseline | None
    thresholds: Thresholds
    failures: list[str]
    results: list[QuestionResult]
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether every threshold was met (and the index was not empty)."""
        return not self.failures
