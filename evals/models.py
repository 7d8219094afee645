"""The evaluation's vocabulary: run configuration, thresholds, results, report, baseline."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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
    """The run configuration (`evals/config.toml`)."""

    k: int = Field(default=5, ge=1)
    answerer: str = "extractive"
    seed: int = 0
    naive: NaiveConfig = Field(default_factory=NaiveConfig)

    @property
    def llm(self) -> str:
        """The answerer as a `BLUEPRINTS_LLM` value."""
        return "none" if self.answerer == "extractive" else self.answerer


class Thresholds(BaseModel):
    """The gate (`evals/thresholds.toml`): the least each metric of our assistant may score."""

    min: dict[str, float] = Field(default_factory=dict)


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


class QuestionResult(BaseModel):
    """One gold question and how each system answered it."""

    id: str
    question: str
    turns: list[str]
    tags: list[str]
    expected_roles: list[str]
    expected_sections: list[str]
    expected_coverage: str
    ours: SystemAnswer
    naive: SystemAnswer

    def answer_of(self, system: System) -> SystemAnswer:
        """The answer of one system."""
        return self.ours if system == "ours" else self.naive


class SystemMetrics(BaseModel):
    """A system's metrics over the whole gold set and per tag."""

    overall: dict[str, float | None]
    per_tag: dict[str, dict[str, float | None]]


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
