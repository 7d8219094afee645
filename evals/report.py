"""Show an evaluation (terminal, Markdown, JSON), compare it with the baseline, and gate it."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from evals.metrics import metric_names
from evals.models import SYSTEMS, Baseline, EvalError, EvalReport, QuestionResult, Thresholds

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_THRESHOLDS_PATH = EVALS_DIR / "thresholds.toml"
DEFAULT_BASELINE_PATH = EVALS_DIR / "baseline.json"
_LATENCY = ("latency_p50_ms", "latency_p95_ms")
# The per-tag tables show these (under short names, to fit a terminal); the overall table
# shows every metric.
_TAG_METRICS = {
    "section_hit@{k}": "hit@{k}",
    "citation_precision": "cit. precision",
    "fact_recall": "fact recall",
    "coverage_accuracy": "coverage",
}


def load_thresholds(path: Path) -> Thresholds:
    """Read the gate's thresholds (a `[min]` table of metric = least value).

    Raises:
        EvalError: The file is missing or malformed.
    """
    try:
        return Thresholds.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        msg = f"{path}: not a valid thresholds file ({exc}); see evals/thresholds.toml"
        raise EvalError(msg) from exc


def load_baseline(path: Path) -> Baseline | None:
    """The committed baseline, or None when there is none yet.

    Raises:
        EvalError: The file exists but is not a baseline.
    """
    if not path.exists():
        return None
    try:
        return Baseline.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        msg = f"{path}: not a valid baseline ({exc}); rewrite it with `eval --update-baseline`"
        raise EvalError(msg) from exc


def save_baseline(report: EvalReport, path: Path) -> Baseline:
    """Record this run's metrics as the accepted baseline."""
    baseline = Baseline(
        created=report.created,
        answerer=report.answerer,
        k=report.config.k,
        questions=report.questions,
        metrics=report.metrics,
    )
    path.write_text(baseline.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return baseline


def check_gate(
    overall: dict[str, float | None], thresholds: Thresholds, index_chunks: int
) -> list[str]:
    """Why the run fails the gate: an empty index, or metrics below their minimum."""
    failures: list[str] = []
    if not index_chunks:
        failures.append(
            "the index is empty: run `blueprints ingest` first, or evaluate with --fresh-index"
        )
    for name, least in thresholds.min.items():
        if name not in overall:
            failures.append(f"{name}: no such metric; thresholds may name {', '.join(overall)}")
            continue
        value = overall[name]
        if value is None:
            failures.append(f"{name}: not measured (no question was scored), needs ≥ {least}")
        elif value < least:
            failures.append(f"{name} = {value:.3f}, below the minimum {least}")
    return failures


def json_payload(report: EvalReport) -> dict[str, object]:
    """The `eval --json` document (`failures` says why `passed` is false)."""
    data = report.model_dump(mode="json")
    return {
        "questions": report.questions,
        "metrics": data["metrics"],
        "baseline": data["baseline"],
        "results": data["results"],
        "thresholds": data["thresholds"],
        "passed": report.passed,
        "failures": report.failures,
    }


def render(report: EvalReport, console: Console) -> None:
    """The overall and per-tag tables, ours against the naive baseline and the baseline file."""
    console.print(_overall_table(report))
    console.print(_tag_table(report))
    if report.passed:
        console.print("[green]Gate passed.[/green]")
    else:
        console.print("[red]Gate failed:[/red]")
        for failure in report.failures:
            console.print(f"  - {failure}")


def write_reports(report: EvalReport, report_dir: Path) -> None:
    """Write `eval-report.md` and `eval-report.json` (per-question rows included)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "eval-report.json").write_text(
        json.dumps(json_payload(report), indent=2) + "\n",
        encoding="utf-8",
    )
    (report_dir / "eval-report.md").write_text(markdown(report), encoding="utf-8")


def markdown(report: EvalReport) -> str:
    """The report as Markdown: summary tables, failing questions, then every question."""
    k = report.config.k
    lines = [
        "# Blueprint Assistant evaluation",
        "",
        f"{report.questions} questions from `{report.gold}`, answerer `{report.answerer}`, "
        f"k = {k}, seed {report.config.seed}, {report.index_chunks} chunks indexed, "
        f"{report.seconds:.0f} s, {_stamp(report.created)}."
        + (f" Baseline of {_stamp(report.baseline.created)}." if report.baseline else ""),
        "",
        "**Gate: passed.**" if report.passed else "**Gate: failed.**",
        *[f"- {failure}" for failure in report.failures],
        "",
        "## Overall",
        "",
        "| Metric | Ours | Naive | Δ ours vs baseline | Minimum |",
        "|---|---|---|---|---|",
    ]
    for name in [*metric_names(k), *_LATENCY]:
        ours = report.metrics["ours"].overall.get(name)
        naive = report.metrics["naive"].overall.get(name)
        least = report.thresholds.min.get(name)
        lines.append(
            f"| {name} | {_fmt(name, ours)} | {_fmt(name, naive)} | {_delta(report, name)} | "
            f"{'' if least is None else least} |"
        )
    tag_metrics = [m.format(k=k) for m in _TAG_METRICS]
    lines += [
        "",
        "## Per tag (ours / naive)",
        "",
        "| Tag | n | " + " | ".join(m.format(k=k) for m in _TAG_METRICS.values()) + " |",
        "|---|---|" + "---|" * len(tag_metrics),
    ]
    for tag, count in _tag_counts(report).items():
        cells = [_pair(report, tag, m) for m in tag_metrics]
        lines.append(f"| {tag} | {count} | " + " | ".join(cells) + " |")
    failing = [r for r in report.results if _shortfalls(r, k)]
    lines += ["", f"## Questions our assistant gets wrong ({len(failing)})", ""]
    lines += [f"- **{r.id}**: {'; '.join(_shortfalls(r, k))}" for r in failing] or ["None."]
    lines += ["", "## Every question", ""]
    for result in report.results:
        lines += _question_section(result, k)
    return "\n".join(lines) + "\n"


def _overall_table(report: EvalReport) -> Table:
    k = report.config.k
    table = Table(
        title=f"Evaluation: {report.questions} questions, answerer {report.answerer}, k={k}"
    )
    for column in ("Metric", "Ours", "Naive", "Δ vs baseline", "Gate"):
        table.add_column(column, justify="left" if column == "Metric" else "right")
    for name in [*metric_names(k), *_LATENCY]:
        ours = report.metrics["ours"].overall.get(name)
        least = report.thresholds.min.get(name)
        gate = ""
        if least is not None:
            met = ours is not None and ours >= least
            gate = f"[{'green' if met else 'red'}]≥ {least}[/]"
        table.add_row(
            name,
            _fmt(name, ours),
            _fmt(name, report.metrics["naive"].overall.get(name)),
            _delta(report, name),
            gate,
        )
    return table


def _tag_table(report: EvalReport) -> Table:
    k = report.config.k
    table = Table(title="Per tag (ours / naive)")
    table.add_column("Tag")
    table.add_column("n", justify="right")
    for label in _TAG_METRICS.values():
        table.add_column(label.format(k=k), justify="right")
    for tag, count in _tag_counts(report).items():
        cells = [_pair(report, tag, m.format(k=k)) for m in _TAG_METRICS]
        table.add_row(tag, str(count), *cells)
    return table


def _tag_counts(report: EvalReport) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in report.results:
        for tag in result.tags:
            counts[tag] = counts.get(tag, 0) + 1
    return dict(sorted(counts.items()))


def _pair(report: EvalReport, tag: str, name: str) -> str:
    ours, naive = (report.metrics[s].per_tag.get(tag, {}).get(name) for s in SYSTEMS)
    return " / ".join("n/a" if v is None else f"{v:.2f}" for v in (ours, naive))


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} ms" if name in _LATENCY else f"{value:.3f}"


def _delta(report: EvalReport, name: str) -> str:
    if report.baseline is None:
        return "no baseline"
    before = report.baseline.metrics["ours"].overall.get(name)
    now = report.metrics["ours"].overall.get(name)
    if before is None or now is None:
        return "n/a"
    change = round(now - before, 3) + 0.0  # no "-0.000" for a rounding-sized change
    return f"{change:+.0f} ms" if name in _LATENCY else f"{change:+.3f}"


def _shortfalls(result: QuestionResult, k: int) -> list[str]:
    """What our answer to one question got wrong, in words."""
    ours = result.ours
    scores = ours.scores
    found: list[str] = []
    if scores["coverage_accuracy"] == 0.0:
        found.append(f"coverage {ours.coverage}, expected {result.expected_coverage}")
    if scores[f"section_hit@{k}"] == 0.0:
        found.append(f"no expected section in the top {k}")
    precision = scores["citation_precision"]
    if precision is not None and precision < 1.0:
        found.append(f"citation precision {precision:.2f}")
    if ours.missed_facts:
        found.append("missed " + ", ".join(repr(g[0]) for g in ours.missed_facts))
    if ours.must_not_hits:
        found.append("says " + ", ".join(repr(p) for p in ours.must_not_hits))
    found.extend(ours.citation_problems)
    if ours.error and ours.coverage != "refused":
        found.append(ours.error)
    return found


def _question_section(result: QuestionResult, k: int) -> list[str]:
    lines = [f"### {result.id} ({', '.join(result.tags)})", ""]
    lines += [f"> (earlier) {turn}" for turn in result.turns]
    lines += [f"> {result.question[:300]}", ""]
    expected = ", ".join(result.expected_roles) or "none"
    if result.expected_sections:
        expected += f" § {', '.join(result.expected_sections)}"
    lines.append(f"Expected: {expected}; coverage {result.expected_coverage}.")
    lines.append("")
    for system in SYSTEMS:
        answer = result.answer_of(system)
        retrieved = "; ".join(f"{r.role} § {r.section}" for r in answer.retrieved[:k]) or "none"
        cited = "; ".join(f"[{c.n}] {c.role} § {c.section}" for c in answer.cited) or "none"
        missed = "; ".join(" | ".join(group) for group in answer.missed_facts) or "none"
        lines += [
            f"- **{system}**: coverage {answer.coverage}, {answer.latency_ms:.0f} ms"
            + (f", error: {answer.error}" if answer.error else ""),
            f"  - retrieved (top {k}): {retrieved}",
            f"  - cited: {cited}",
            f"  - missed facts: {missed}",
        ]
        if answer.must_not_hits:
            lines.append(f"  - must not say, but says: {', '.join(answer.must_not_hits)}")
        if answer.citation_problems:
            lines.append(f"  - citation problems: {'; '.join(answer.citation_problems)}")
    lines.append("")
    return lines


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
