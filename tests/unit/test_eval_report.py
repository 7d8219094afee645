"""The gate, the baseline file and the rendered reports, on a hand-made run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from assistant.models import Citation, RetrievedTrace
from evals.metrics import metric_names
from evals.models import (
    EvalConfig,
    EvalError,
    EvalReport,
    QuestionResult,
    SystemAnswer,
    SystemMetrics,
    Thresholds,
)
from evals.report import (
    DEFAULT_THRESHOLDS_PATH,
    check_gate,
    json_payload,
    load_baseline,
    load_thresholds,
    markdown,
    render,
    save_baseline,
    write_reports,
)
from evals.runner import DEFAULT_CONFIG_PATH, load_config

GATE = Thresholds(min={"fact_recall": 0.9, "section_hit@5": 0.95})


def answer(fact_recall: float, coverage: str = "answered") -> SystemAnswer:
    scores: dict[str, float | None] = dict.fromkeys(metric_names(5), 1.0)
    scores["fact_recall"] = fact_recall
    scores["coverage_accuracy"] = float(coverage == "answered")
    return SystemAnswer(
        coverage=coverage,
        answer="MTTR < 2 hours [1]",
        latency_ms=12.0,
        retrieved=[
            RetrievedTrace(chunk_id="c1", role="VP of Data and AI", section="7) KPIs", score=0.9)
        ],
        cited=[
            Citation(
                n=1,
                role="VP of Data and AI",
                section="7) KPIs",
                source="s",
                quote="q",
                chunk_id="c1",
            )
        ],
        scores=scores,
        missed_facts=[] if fact_recall == 1.0 else [["Semiannual"]],
        must_not_hits=[],
        citation_problems=[],
    )


def run(ours_fact_recall: float) -> EvalReport:
    result = QuestionResult(
        id="kpi-mttr",
        question="What is the MTTR target?",
        turns=[],
        tags=["kpis"],
        expected_roles=["VP of Data and AI"],
        expected_sections=["kpis"],
        expected_coverage="answered",
        ours=answer(ours_fact_recall),
        naive=answer(0.0),
    )
    overall = {"fact_recall": ours_fact_recall, "section_hit@5": 1.0, "latency_p50_ms": 12.0}
    naive = {"fact_recall": 0.0, "section_hit@5": 1.0, "latency_p50_ms": 30.0}
    failures = check_gate(overall, GATE, index_chunks=10)
    return EvalReport(
        created=datetime(2026, 11, 22, tzinfo=UTC),
        gold="gold.jsonl",
        config=EvalConfig(),
        answerer="extractive",
        index_chunks=10,
        questions=1,
        metrics={
            "ours": SystemMetrics(overall=overall, per_tag={"kpis": overall}),
            "naive": SystemMetrics(overall=naive, per_tag={"kpis": naive}),
        },
        baseline=None,
        thresholds=GATE,
        failures=failures,
        results=[result],
        seconds=1.0,
    )


def test_gate_passes_when_every_minimum_is_met() -> None:
    assert check_gate({"fact_recall": 0.9, "section_hit@5": 0.95}, GATE, index_chunks=5) == []


def test_gate_names_each_metric_below_its_minimum() -> None:
    assert check_gate({"fact_recall": 0.5, "section_hit@5": 1.0}, GATE, index_chunks=5) == [
        "fact_recall = 0.500, below the minimum 0.9"
    ]


def test_gate_fails_an_empty_index_and_unmeasured_or_unknown_metrics() -> None:
    failures = check_gate(
        {"fact_recall": None}, Thresholds(min={"fact_recall": 0.9, "recall": 1.0}), index_chunks=0
    )
    assert failures == [
        "the index is empty: run `blueprints ingest` first, or evaluate with --fresh-index",
        "fact_recall: not measured (no question was scored), needs ≥ 0.9",
        "recall: no such metric; thresholds may name fact_recall",
    ]


def test_thresholds_file_reads_the_min_table(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[min]\n"section_hit@5" = 0.95\n', encoding="utf-8")
    assert load_thresholds(path).min == {"section_hit@5": 0.95}
    path.write_text("[min]\nfact_recall = 'high'\n", encoding="utf-8")
    with pytest.raises(EvalError, match="not a valid thresholds file"):
        load_thresholds(path)


def test_committed_configuration_and_thresholds_name_known_metrics() -> None:
    k = load_config(DEFAULT_CONFIG_PATH).k
    assert set(load_thresholds(DEFAULT_THRESHOLDS_PATH).min) <= set(metric_names(k))


def test_baseline_round_trips_and_reports_show_the_change(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert load_baseline(path) is None
    save_baseline(run(0.5), path)
    later = run(1.0).model_copy(update={"baseline": load_baseline(path)})
    text = markdown(later)
    assert "| fact_recall | 1.000 | 0.000 | +0.500 | 0.9 |" in text
    assert "| latency_p50_ms | 12 ms | 30 ms | +0 ms |  |" in text


def test_markdown_lists_failing_questions_with_what_they_missed() -> None:
    text = markdown(run(0.5))
    assert "**Gate: failed.**" in text
    assert "- fact_recall = 0.500, below the minimum 0.9" in text
    assert "- **kpi-mttr**: missed 'Semiannual'" in text
    assert "| kpis | 1 | 1.00 / 1.00 | n/a / n/a | 0.50 / 0.00 | n/a / n/a |" in text


def test_json_payload_has_the_documented_keys(tmp_path: Path) -> None:
    report = run(1.0)
    payload = json_payload(report)
    assert list(payload) == [
        "questions",
        "metrics",
        "baseline",
        "results",
        "thresholds",
        "passed",
        "failures",
    ]
    assert payload["passed"] is True
    write_reports(report, tmp_path)
    assert json.loads((tmp_path / "eval-report.json").read_text())["questions"] == 1
    assert (tmp_path / "eval-report.md").read_text().startswith("# Blueprint Assistant evaluation")


def test_terminal_render_shows_ours_naive_and_the_gate() -> None:
    console = Console(record=True, width=120)
    render(run(0.5), console)
    text = console.export_text()
    assert "fact_recall" in text
    assert "no baseline" in text
    assert "Gate failed:" in text
