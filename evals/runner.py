"""Run the gold set through the assistant and the naive baseline, and score both."""

from __future__ import annotations

import logging
import random
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter

import chromadb
from chromadb.config import Settings as ChromaSettings
from pydantic import ValidationError

from assistant.errors import QuestionError
from assistant.models import (
    Answer,
    Blueprint,
    RoleCoverage,
    Turn,
)
from assistant.service import build_assistant, load_embedder, open_store
from assistant.settings import Settings
from evals.gold import GoldQuestion, load_gold
from evals.metrics import (
    FAILED,
    REFUSED,
    Observation,
    aggregate,
    metric_names,
    role_key,
    score_question,
)
from evals.models import (
    SYSTEMS,
    EvalConfig,
    EvalError,
    EvalReport,
    QuestionResult,
    System,
    SystemAnswer,
    SystemMetrics,
)
from evals.naive import NaiveBaseline
from evals.report import (
    DEFAULT_BASELINE_PATH,
    DEFAULT_THRESHOLDS_PATH,
    check_gate,
    load_baseline,
    load_thresholds,
    write_reports,
)
from ingest.errors import SourceError
from ingest.parsers import parse_source
from ingest.pipeline import Ingestor, expand_sources

log = logging.getLogger(__name__)

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_PATH = EVALS_DIR / "config.toml"
# How a system is asked: a question and the conversation so far.
Ask = Callable[[str, Sequence[Turn]], Answer]


def load_config(path: Path) -> EvalConfig:
    """Read the run configuration.

    Raises:
        EvalError: The file is missing or not a valid configuration.
    """
    try:
        return EvalConfig.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        msg = f"{path}: not a valid eval configuration ({exc}); see evals/config.toml"
        raise EvalError(msg) from exc


def run_eval(
    settings: Settings,
    gold_path: Path,
    *,
    fresh_index: bool,
    report_dir: Path | None,
    config_path: Path = DEFAULT_CONFIG_PATH,
    thresholds_path: Path = DEFAULT_THRESHOLDS_PATH,
    baseline_path: Path = DEFAULT_BASELINE_PATH,
) -> EvalReport:
    """Answer every gold question with our assistant and the naive baseline, then score both.

    Args:
        settings: The project settings; the store is used as configured unless `fresh_index`.
        gold_path: The gold set (JSONL).
        fresh_index: Ingest the bundled corpus (`settings.corpus_dir`) into a temporary store
            and evaluate on it, leaving the configured store alone.
        report_dir: Where to write `eval-report.md` and `eval-report.json` (None: nowhere).
        config_path: The run configuration (k, answerer, seed, naive baseline).
        thresholds_path: The gate's thresholds.
        baseline_path: The last accepted metrics, to report changes against (may not exist).

    Raises:
        EvalError: The configuration, the gold set or the corpus cannot be used.
    """
    started = perf_counter()
    config = load_config(config_path)
    thresholds = load_thresholds(thresholds_path)
    baseline = load_baseline(baseline_path)
    questions = load_gold(gold_path)
    _seed(config.seed)
    settings = settings.model_copy(update={"llm": config.llm})
    with tempfile.TemporaryDirectory(prefix="blueprints-eval-") as tmp:
        if fresh_index:
            settings = settings.model_copy(
                update={"store_dir": Path(tmp) / "chroma", "chroma_url": None}
            )
        embedder = load_embedder(settings)
        store = open_store(settings)
        if fresh_index:
            ingested = Ingestor(store, embedder, chunk_size=settings.chunk_size).ingest(
                [settings.corpus_dir]
            )
            if ingested.errors:
                problems = "; ".join(e.message for e in ingested.errors)
                msg = f"the bundled corpus did not ingest cleanly: {problems}"
                raise EvalError(msg)
        assistant = build_assistant(settings, store=store, embedder=embedder)
        index_chunks = assistant.chunk_count()
        results: list[QuestionResult] = []
        if index_chunks:
            naive = NaiveBaseline(
                chromadb.PersistentClient(
                    path=str(Path(tmp) / "naive"),
                    settings=ChromaSettings(anonymized_telemetry=False),
                ),
                embedder,
                chunk_size=config.naive.chunk_size,
                chunk_overlap=config.naive.chunk_overlap,
                top_k=config.naive.top_k,
            )
            naive.index(_blueprints(settings.corpus_dir))
            full_roles = {
                role_key(r.role) for r in assistant.roles() if r.coverage is RoleCoverage.FULL
            }
            texts: dict[System, dict[str, str]] = {
                "ours": {c.id: c.text for c in store.all_chunks()},
                "naive": naive.chunk_texts,
            }
            asks: dict[System, Ask] = {"ours": assistant.ask, "naive": lambda q, _: naive.ask(q)}
            results = [_result(q, asks, texts, full_roles, config.k) for q in questions]
    metrics = {system: _metrics(results, system, config.k) for system in SYSTEMS}
    report = EvalReport(
        created=datetime.now(UTC),
        gold=str(gold_path),
        config=config,
        answerer=assistant.answerer_name,
        index_chunks=index_chunks,
        questions=len(questions),
        metrics=metrics,
        baseline=baseline,
        thresholds=thresholds,
        failures=check_gate(metrics["ours"].overall, thresholds, index_chunks),
        results=results,
        seconds=round(perf_counter() - started, 2),
    )
    if report_dir is not None:
        write_reports(report, report_dir)
    return report


def _seed(seed: int) -> None:
    """Seed the RNGs an answerer may sample from, so runs repeat."""
    import torch

    random.seed(seed)
    torch.manual_seed(seed)


def _blueprints(corpus_dir: Path) -> list[Blueprint]:
    """The corpus as the ingest parsers read it, for the naive baseline."""
    files, errors = expand_sources([corpus_dir])
    problems = [e.message for e in errors]
    blueprints: list[Blueprint] = []
    for path in files:
        try:
            parsed = parse_source(path)
        except SourceError as exc:
            problems.append(str(exc))
            continue
        blueprints.extend(parsed.blueprints)
        problems.extend(str(problem) for problem in parsed.problems)
    if problems:
        msg = f"the naive baseline cannot read the corpus: {'; '.join(problems)}"
        raise EvalError(msg)
    return blueprints


def _result(
    question: GoldQuestion,
    asks: dict[System, Ask],
    texts: dict[System, dict[str, str]],
    full_roles: set[str],
    k: int,
) -> QuestionResult:
    answers = {s: _answer(question, asks[s], full_roles, texts[s], k) for s in SYSTEMS}
    return QuestionResult(
        id=question.id,
        question=question.question,
        turns=question.turns,
        tags=question.tags,
        expected_roles=question.expected_roles,
        expected_sections=question.expected_sections,
        expected_coverage=question.expected_coverage.value,
        ours=answers["ours"],
        naive=answers["naive"],
    )


def _answer(
    question: GoldQuestion,
    ask: Ask,
    full_roles: set[str],
    chunk_texts: dict[str, str],
    k: int,
) -> SystemAnswer:
    """Ask a question (after its earlier turns), time the last ask, and score the answer."""
    history: list[Turn] = []
    error: str | None = None
    started = perf_counter()
    try:
        for turn in question.turns:
            earlier = ask(turn, history)
            history += [
                Turn(role="user", content=turn),
                Turn(role="assistant", content=earlier.answer),
            ]
        started = perf_counter()
        answer = ask(question.question, history)
        observed = Observation.of(answer)
    except QuestionError as exc:
        error, observed = str(exc), Observation("", REFUSED)
    except Exception as exc:  # one crashing question is a failed row, not a lost run
        log.exception("%s: the question raised", question.id)
        error, observed = f"{type(exc).__name__}: {exc}", Observation("", FAILED)
    latency_ms = (perf_counter() - started) * 1000
    scored = score_question(question, observed, full_roles=full_roles, chunk_texts=chunk_texts, k=k)
    return SystemAnswer(
        coverage=observed.coverage,
        answer=observed.text,
        error=error,
        latency_ms=round(latency_ms, 2),
        retrieved=list(observed.retrieved),
        cited=list(observed.citations),
        scores=scored.scores,
        missed_facts=scored.missed_facts,
        must_not_hits=scored.must_not_hits,
        citation_problems=scored.citation_problems,
    )


def _metrics(results: Sequence[QuestionResult], system: System, k: int) -> SystemMetrics:
    names = metric_names(k)

    def summary(rows: Sequence[QuestionResult]) -> dict[str, float | None]:
        answers = [r.answer_of(system) for r in rows]
        return aggregate([a.scores for a in answers], names, [a.latency_ms for a in answers])

    tags = sorted({t for r in results for t in r.tags})
    return SystemMetrics(
        overall=summary(results),
        per_tag={tag: summary([r for r in results if tag in r.tags]) for tag in tags},
    )
