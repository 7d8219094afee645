"""`blueprints eval`: run the gold set, print the comparison, and gate on the thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from assistant.errors import BlueprintsError
from assistant.settings import Settings
from evals.gold import DEFAULT_GOLD_PATH, SPLITS
from evals.report import (
    DEFAULT_BASELINE_PATH,
    DEFAULT_THRESHOLDS_PATH,
    json_payload,
    render,
    save_baseline,
)


def eval_command(
    gold: Annotated[Path, typer.Option(help="The gold question set (JSONL).")] = DEFAULT_GOLD_PATH,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the metrics and every result as JSON.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write eval-report.md and eval-report.json to this folder."),
    ] = None,
    fresh_index: Annotated[
        bool,
        typer.Option(
            "--fresh-index",
            help="Ingest the eval corpus (bundled corpus and held-out fixtures, as listed in "
            "evals/config.toml) into a temporary index and use that.",
        ),
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(
            help="Only this split of the gold set: 'tuning' (to calibrate without looking at "
            "the held-out questions) or 'heldout'."
        ),
    ] = None,
    update_baseline: Annotated[
        bool,
        typer.Option("--update-baseline", help="Accept this run's metrics as the baseline."),
    ] = False,
    thresholds: Annotated[
        Path, typer.Option(help="The gate's thresholds (TOML).")
    ] = DEFAULT_THRESHOLDS_PATH,
    baseline: Annotated[
        Path, typer.Option(help="The accepted metrics to compare with (and to update).")
    ] = DEFAULT_BASELINE_PATH,
) -> None:
    """Answer the gold set with the assistant and the naive baseline; exit 1 below a threshold."""
    err = Console(stderr=True)
    if split is not None and split not in SPLITS:
        err.print(f"[red]Error:[/red] --split must be one of {', '.join(SPLITS)}, not {split!r}")
        raise typer.Exit(2)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]Configuration error:[/red] {problems}")
        raise typer.Exit(2) from exc
    from evals.runner import run_eval  # Chroma, the model and the baseline: only when run

    try:
        with err.status("Running the gold set…"):
            result = run_eval(
                settings,
                gold,
                fresh_index=fresh_index,
                report_dir=report,
                split=split,
                thresholds_path=thresholds,
                baseline_path=baseline,
            )
    except BlueprintsError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from exc

    if json_output:
        typer.echo(json.dumps(json_payload(result), indent=2))
        for failure in result.failures:
            err.print(f"[red]Gate:[/red] {failure}")
    else:
        render(result, Console())
    if report is not None:
        err.print(f"Report written to {report}/eval-report.md and eval-report.json")
    if update_baseline:
        if result.index_chunks:
            save_baseline(result, baseline)
            err.print(f"Baseline written to {baseline}")
        else:
            err.print("[yellow]Baseline not updated:[/yellow] nothing was measured.")
    if not result.passed:
        raise typer.Exit(1)
