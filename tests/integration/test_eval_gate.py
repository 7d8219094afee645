"""`blueprints eval` end to end on the eval corpus: the gate passes, fails and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.service import open_store
from assistant.settings import PROJECT_ROOT, Settings
from evals.cli import eval_command
from evals.config import load_config
from evals.gold import DEFAULT_GOLD_PATH, load_gold
from ingest.pipeline import Ingestor
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

# One of each kind the gate must get right: a section, a follow-up, `partial`, `not_found`,
# a question over a held-out fixture, and one that must be declined.
TINY = (
    "vp-kpis",
    "followup-kpis",
    "partial-director-devops-kpis",
    "unknown-vp-marketing",
    "hr-goals-30",
    "abstain-office",
)


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(eval_command)
    return app


@pytest.fixture(scope="module")
def eval_settings(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Settings:
    """A store holding the eval corpus (bundled corpus and fixtures), ingested once."""
    settings = make_settings(tmp_path_factory.mktemp("eval-corpus") / "chroma")
    corpus = load_config().corpus_paths(PROJECT_ROOT)
    report = Ingestor(open_store(settings), embedder, chunk_size=settings.chunk_size).ingest(corpus)
    assert not report.errors, report.errors
    return settings


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


def test_tiny_gold_set_passes_the_committed_gate(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    eval_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, eval_settings)
    report_dir = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["--gold", str(tiny_gold), "--json", "--report", str(report_dir)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["passed"] is True
    assert payload["questions"] == len(TINY)
    assert sorted(r["id"] for r in payload["results"]) == sorted(TINY)
    ours = payload["metrics"]["ours"]
    assert ours["overall"]["citation_validity"] == 1.0
    assert ours["overall"]["coverage_accuracy"] == 1.0
    assert ours["overall"]["abstention_accuracy"] == 1.0
    assert ours["overall"]["over_count_share"] == 0.0
    assert ours["per_tag"]["heldout"]["fact_recall"] == 1.0
    assert set(ours["per_split"]) == {"tuning", "heldout"}
    # The naive baseline never says `not_found` or `partial`, and never abstains.
    naive = payload["metrics"]["naive"]["overall"]
    assert naive["coverage_accuracy"] == 0.5
    assert naive["abstention_accuracy"] == 0.0
    text = (report_dir / "eval-report.md").read_text()
    assert "## Held-out (generalisation)" in text
    assert "## Questions our assistant gets wrong (0)" in text


def test_bounds_missed_overall_and_per_tag_fail_the_gate_and_say_which(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    eval_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, eval_settings)
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(
        '[min]\nfact_recall = 1.5\n"section_hit@5" = 0.5\n'
        "[max]\ncitation_validity = 0.5\n"
        "[tag.heldout.min]\ncoverage_accuracy = 1.5\n"
        "[tag.abstain.max]\nabstention_accuracy = 0.5\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--gold", str(tiny_gold), "--json", "--thresholds", str(thresholds)]
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["passed"] is False
    assert payload["failures"] == [
        "fact_recall = 1.000, below the minimum 1.5",
        "citation_validity = 1.000, above the maximum 0.5",
        "heldout: coverage_accuracy = 1.000, below the minimum 1.5",
        "abstain: abstention_accuracy = 1.000, above the maximum 0.5",
    ]
    assert "fact_recall" in result.stderr


def test_tuning_split_leaves_the_held_out_questions_out_and_the_gate_says_so(
    cli: typer.Typer,
    tiny_gold: Path,
    eval_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, eval_settings)
    result = CliRunner().invoke(cli, ["--gold", str(tiny_gold), "--json", "--split", "tuning"])
    payload = json.loads(result.stdout)
    assert "hr-goals-30" not in {r["id"] for r in payload["results"]}
    assert payload["questions"] == len(TINY) - 1
    assert result.exit_code == 1
    assert payload["failures"] == [
        "tag 'heldout': no question of this run has it; tags here: abstain, follow-up, kpis, "
        "not-found, partial, section, summary-role"
    ]


def test_update_baseline_records_the_run_and_the_next_run_compares_with_it(
    cli: typer.Typer,
    tiny_gold: Path,
    tmp_path: Path,
    eval_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(monkeypatch, eval_settings)
    baseline = tmp_path / "baseline.json"
    args = ["--gold", str(tiny_gold), "--json", "--baseline", str(baseline)]
    first = CliRunner().invoke(cli, [*args, "--update-baseline"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["baseline"] is None
    second = CliRunner().invoke(cli, args)
    recorded = json.loads(second.stdout)["baseline"]
    assert recorded["questions"] == len(TINY)
    assert recorded["metrics"]["ours"]["overall"]["fact_recall"] == 1.0
    assert recorded["metrics"]["ours"]["per_split"]["heldout"]["fact_recall"] == 1.0


def test_empty_store_fails_the_gate(
    cli: typer.Typer, tiny_gold: Path, tmp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_store(monkeypatch, tmp_settings)
    result = CliRunner().invoke(cli, ["--gold", str(tiny_gold)])
    assert result.exit_code == 1
    assert "the index is empty" in result.output
