"""Calibrate answer selection's thresholds on the tuning split: `python -m evals.calibrate`.

The thresholds of `assistant/selection.py` (how much of a question's topic an item must hold,
how close in meaning a paraphrase must be, when an unknown word makes a question one no
blueprint covers...) are chosen here, by coordinate search over a small grid of each, on the
gold questions of the *tuning* split only. The held-out split is never read: it measures what
the calibrated assistant does on blueprints and questions nothing was fitted to.

The objective is the mean of the tuning split's fact recall, answer precision, citation
precision, coverage accuracy, abstention accuracy and the share of answers within their
expected size (1 - over_count_share): every way an answer can be wrong counts alike. With
`--write` the best thresholds and how they were found go to `assistant/calibration.toml`.
"""

from __future__ import annotations

import argparse
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from assistant.selection import Thresholds
from assistant.service import Assistant, load_embedder, open_store
from assistant.settings import PROJECT_ROOT, Settings
from evals.config import DEFAULT_CONFIG_PATH, load_config
from evals.corpus import read_corpus
from evals.gold import DEFAULT_GOLD_PATH, GoldQuestion, load_gold
from evals.metrics import aggregate, metric_names
from evals.models import EvalError
from evals.runner import ask_and_score
from ingest.pipeline import Ingestor

CALIBRATION_PATH = PROJECT_ROOT / "assistant" / "calibration.toml"
OBJECTIVE = (
    "fact_recall",
    "answer_precision",
    "citation_precision",
    "coverage_accuracy",
    "abstention_accuracy",
)
# The values each threshold is tried at (the current value is always tried too).
GRID: dict[str, tuple[float, ...]] = {
    "topic_share": (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7),
    "part_share": (0.15, 0.2, 0.25, 0.3, 0.35, 0.45),
    "topic_floor": (0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
    "topic_dense": (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35),
    "runner_up": (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0),
    "max_items": (3, 4, 5, 6, 8),
    "dense_answer": (0.35, 0.4, 0.45, 0.5, 0.55, 0.6),
    "dense_incidental": (0.35, 0.4, 0.45, 0.5, 0.55, 0.6),
}


@dataclass(frozen=True)
class Trial:
    """One set of thresholds and how the tuning split scored with it."""

    thresholds: Thresholds
    metrics: dict[str, float | None]

    @property
    def objective(self) -> float:
        """The mean of the objective metrics and the share of answers within their size."""
        values = [self.metrics.get(name) or 0.0 for name in OBJECTIVE]
        values.append(1.0 - (self.metrics.get("over_count_share") or 0.0))
        return sum(values) / len(values)


class TuningRun:
    """The tuning split asked of assistants that differ only in their thresholds."""

    def __init__(self, settings: Settings, questions: Sequence[GoldQuestion], corpus: list[Path]):
        self._settings = settings
        self._questions = questions
        self._embedder = load_embedder(settings)
        self._store = open_store(settings)
        report = Ingestor(self._store, self._embedder, chunk_size=settings.chunk_size).ingest(
            corpus
        )
        if report.errors:
            msg = "the eval corpus did not ingest cleanly: " + "; ".join(
                e.message for e in report.errors
            )
            raise EvalError(msg)
        self._full_roles = read_corpus(corpus).full_roles
        self._texts = {c.id: c.text for c in self._store.all_chunks()}
        self._k = load_config(DEFAULT_CONFIG_PATH).k

    def trial(self, thresholds: Thresholds) -> Trial:
        """Every tuning question answered with these thresholds, and the split's metrics."""
        assistant = Assistant(self._settings, self._store, self._embedder, limits=thresholds)
        answers = [
            ask_and_score(q, assistant.ask, self._full_roles, self._texts, self._k)
            for q in self._questions
        ]
        metrics = aggregate(
            [a.scores for a in answers], metric_names(self._k), [a.latency_ms for a in answers]
        )
        return Trial(thresholds, metrics)


def search(run: TuningRun, start: Thresholds, rounds: int = 2) -> tuple[Trial, list[Trial]]:
    """Coordinate search: each threshold in turn moves to its best grid value, `rounds` times."""
    best = run.trial(start)
    tried = [best]
    for _ in range(rounds):
        improved = False
        for name, values in GRID.items():
            current = getattr(best.thresholds, name)
            for value in sorted(set(values) | {current}):
                if value == current:
                    continue
                candidate = best.thresholds.model_copy(update={name: value})
                trial = run.trial(candidate)
                tried.append(trial)
                if trial.objective > best.objective + 1e-9:
                    best, improved = trial, True
        if not improved:
            break
    return best, tried


def render(best: Trial, questions: int, trials: int) -> str:
    """`assistant/calibration.toml` for the chosen thresholds, with how they were found."""
    lines = [
        "# Thresholds of answer selection (assistant/selection.py), calibrated by",
        "# `python -m evals.calibrate --write` on the tuning split of evals/gold.jsonl only",
        "# (the held-out split is never read): coordinate search over the grid in",
        "# evals/calibrate.py, maximising the mean of the tuning split's fact recall, answer",
        "# precision, citation precision, coverage and abstention accuracy, and share of answers",
        "# within their expected size. Do not edit by hand: run the calibration again.",
        "[thresholds]",
    ]
    for name, value in best.thresholds.model_dump().items():
        lines.append(f"{name} = {value}")
    lines += [
        "",
        "[provenance]",
        f'calibrated = "{datetime.now(UTC).date().isoformat()}"',
        f"tuning_questions = {questions}",
        f"trials = {trials}",
        f"objective = {best.objective:.4f}",
    ]
    for name in (*OBJECTIVE, "over_count_share"):
        value = best.metrics.get(name)
        if value is not None:
            lines.append(f"{name} = {value}")
    return "\n".join(lines) + "\n"


@contextmanager
def _scratch_settings() -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="blueprints-calibrate-") as tmp:
        yield Settings(_env_file=None, store_dir=Path(tmp) / "chroma", chroma_url=None, llm="none")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the calibration; print the best thresholds (and write them with `--write`)."""
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__)
    parser.add_argument("--write", action="store_true", help="write assistant/calibration.toml")
    parser.add_argument("--rounds", type=int, default=2, help="passes of the coordinate search")
    args = parser.parse_args(argv)
    questions = load_gold(DEFAULT_GOLD_PATH, "tuning")
    corpus = load_config(DEFAULT_CONFIG_PATH).corpus_paths(PROJECT_ROOT)
    current = tomllib.loads(
        resources.files("assistant").joinpath("calibration.toml").read_text(encoding="utf-8")
    )["thresholds"]
    with _scratch_settings() as settings:
        run = TuningRun(settings, questions, corpus)
        best, tried = search(run, Thresholds.model_validate(current), args.rounds)
    text = render(best, len(questions), len(tried))
    print(text)  # noqa: T201 - a command-line tool
    if args.write:
        CALIBRATION_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
