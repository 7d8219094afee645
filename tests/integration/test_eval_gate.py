"""`blueprints eval` end to end on the bundled index: a passing run, a missed threshold, an empty store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.settings import Settings
from evals.cli import eval_command
from evals.gold import DEFAULT_GOLD_PATH, load_gold

pytestmark = pytest.mark.integration

# One of each kind the gate must get right: a section, a follow-up, `partial`, `not_found`.
TINY = ("vp-kpis", "followup-kpis", "partial-director-devops-kpis", "unknown-vp-marketing")


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(eval_command)
    return app


@pytest.fixture
def tiny_gold(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    questions = [q for q in load_gold(DEFAULT_GOLD_PATH) if q.id in TINY]
    assert len(questions) == len(TINY)
    path.write_text("".join(q.model_dump_json() + "\n" for q in questions), encoding="utf-8")
    return path


def use_store(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point `Settings()` (what the command reads) at a store, with the extractive answerer."""
    monkeypatch.setenv("BLUEPRINTS_STORE_DIR", str(settings.store_dir))
    monkeypatch.setenv("BLUEPRINTS_COLLECTION", settings.collection)
    monkeypatch.setenv("BLUEPRINTS_CHROMA_URL", "")
    monkeypatch.setenv("BLUEPRINTS_LLM", "none")


def test_tiny_gold_set_passes_the_gate_on_the_bundled_index(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    bundled_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, bundled_settings)
    report_dir = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["--gold", str(tiny_gold), "--json", "--report", str(report_dir)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is True
    assert payload["questions"] == len(TINY)
    assert sorted(r["id"] for r in payload["results"]) == sorted(TINY)
    ours = payload["metrics"]["ours"]["overall"]
    assert ours["citation_validity"] == 1.0
    assert ours["coverage_accuracy"] == 1.0
    # The naive baseline never says `not_found` or `partial`.
    assert payload["metrics"]["naive"]["overall"]["coverage_accuracy"] == 0.5
    assert (
        "## Questions our assistant gets wrong (0)" in (report_dir / "eval-report.md").read_text()
    )


def test_impossible_threshold_fails_the_gate_and_says_which(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    bundled_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, bundled_settings)
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text('[min]\nfact_recall = 1.5\n"section_hit@5" = 0.5\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--gold", str(tiny_gold), "--json", "--thresholds", str(thresholds)]
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["passed"] is False
    assert payload["failures"] == ["fact_recall = 1.000, below the minimum 1.5"]
    assert "fact_recall" in result.stderr


def test_update_baseline_records_the_run_and_the_next_run_compares_with_it(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    bundled_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, bundled_settings)
    baseline = tmp_path / "baseline.json"
    args = ["--gold", str(tiny_gold), "--json", "--baseline", str(baseline)]
    first = CliRunner().invoke(cli, [*args, "--update-baseline"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["baseline"] is None
    second = CliRunner().invoke(cli, args)
    recorded = json.loads(second.stdout)["baseline"]
    assert recorded["questions"] == len(TINY)
    assert recorded["metrics"]["ours"]["overall"]["fact_recall"] == 1.0


def test_empty_store_fails_the_gate(
    cli: typer.Typer, tiny_gold: Path, tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_store(monkeypatch, tmp_settings)
    result = CliRunner().invoke(cli, ["--gold", str(tiny_gold)])
    assert result.exit_code == 1
    assert "the index is empty" in result.output
