"""Show an evaluation (terminal, Markdown, JSON), compare it with the baseline, and gate it."""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from evals.gold import HELDOUT_TAG
from evals.metrics import metric_names
from evals.models import (
    SYSTEMS,
    Baseline,
    Bounds,
    EvalError,
    EvalReport,
    QuestionResult,
    SystemMetrics,
    Thresholds,
)

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_THRESHOLDS_PATH = EVALS_DIR / "thresholds.toml"
DEFAULT_BASELINE_PATH = EVALS_DIR / "baseline.json"
_LATENCY = ("latency_p50_ms", "latency_p95_ms")
# The per-tag tables show these (under short names, to fit a terminal); the overall and the
# held-out tables show every metric.
_TAG_METRICS = {
    "section_hit@{k}": "hit@{k}",
    "citation_precision": "cit. prec.",
    "answer_precision": "ans. prec.",
    "over_count_share": "over count",
    "fact_recall": "fact recall",
    "coverage_accuracy": "coverage",
    "abstention_accuracy": "abstention",
}
_HELDOUT_TITLE = "Held-out (generalisation)"
_HELDOUT_NOTE = (
    "Questions over documents no tuning looks at (fictional roles in other formats, "
    "`evals/fixtures/`). Thresholds are calibrated on the tuning split; these figures say how "
    "the assistant does on blueprints it was not tuned on."
)


def load_thresholds(path: Path) -> Thresholds:
    """Read the gate's thresholds: `[min]`, `[max]`, and `[tag.<tag>.min]`/`[tag.<tag>.max]`.

    Raises:
        EvalError: The file is missing or malformed (an unknown table, a value that is not a
            number).
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


def check_gate(metrics: SystemMetrics, thresholds: Thresholds, index_chunks: int) -> list[str]:
    """Why the run fails the gate: an empty index, or a metric outside its bounds.

    Overall bounds apply to every question, `[tag.<tag>]` bounds to the questions with that
    tag. A bound on a metric or a tag the run did not measure fails too (with the closest
    names), so that a typo cannot switch a threshold off.
    """
    failures: list[str] = []
    if not index_chunks:
        failures.append(
            "the index is empty: run `blueprints ingest` first, or evaluate with --fresh-index"
        )
    failures.extend(_outside(metrics.overall, thresholds, ""))
    for tag, bounds in thresholds.tag.items():
        measured = metrics.per_tag.get(tag)
        if measured is None:
            failures.append(
                f"tag {tag!r}: no question of this run has it{_did_you_mean(tag, metrics.per_tag)}"
                f"; tags here: {', '.join(sorted(metrics.per_tag)) or 'none'}"
            )
            continue
        failures.extend(_outside(measured, bounds, f"{tag}: "))
    return failures


def _outside(measured: dict[str, float | None], bounds: Bounds, scope: str) -> list[str]:
    failures: list[str] = []
    limits = [(n, v, "min") for n, v in bounds.min.items()]
    limits += [(n, v, "max") for n, v in bounds.max.items()]
    for name, limit, kind in limits:
        if name not in measured:
            failures.append(
                f"{scope}{name}: no such metric{_did_you_mean(name, measured)}; "
                f"thresholds may name {', '.join(measured)}"
            )
            continue
        value = measured[name]
        sign = "≥" if kind == "min" else "≤"
        if value is None:
            failures.append(
                f"{scope}{name}: not measured (no question was scored), needs {sign} {limit}"
            )
        elif kind == "min" and value < limit:
            failures.append(f"{scope}{name} = {value:.3f}, below the minimum {limit}")
        elif kind == "max" and value > limit:
            failures.append(f"{scope}{name} = {value:.3f}, above the maximum {limit}")
    return failures


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    """The overall, held-out and per-tag tables, ours against the naive baseline."""
    console.print(_overall_table(report))
    if _has_heldout(report):
        console.print(_heldout_table(report))
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
    split = f" (the {report.split} split only)" if report.split else ""
    lines = [
        "# Blueprint Assistant evaluation",
        "",
        f"{report.questions} questions from `{report.gold}`{split}, answerer "
        f"`{report.answerer}`, k = {k}, seed {report.config.seed}, corpus "
        f"{', '.join(f'`{c}`' for c in report.config.corpus)}, {report.index_chunks} chunks "
        f"indexed, {report.seconds:.0f} s, {_stamp(report.created)}."
        + (f" Baseline of {_stamp(report.baseline.created)}." if report.baseline else ""),
        "",
        "**Gate: passed.**" if report.passed else "**Gate: failed.**",
        *[f"- {failure}" for failure in report.failures],
        "",
        "## Overall",
        "",
        "| Metric | Ours | Naive | Δ ours vs baseline | Gate |",
        "|---|---|---|---|---|",
    ]
    for name in [*metric_names(k), *_LATENCY]:
        ours = report.metrics["ours"].overall.get(name)
        naive = report.metrics["naive"].overall.get(name)
        lines.append(
            f"| {name} | {_fmt(name, ours)} | {_fmt(name, naive)} | {_delta(report, name)} | "
            f"{_bounds(report.thresholds, name)} |"
        )
    if _has_heldout(report):
        lines += [
            "",
            f"## {_HELDOUT_TITLE}",
            "",
            f"{_tag_counts(report)[HELDOUT_TAG]} questions. {_HELDOUT_NOTE}",
            "",
            "| Metric | Ours, held-out | Naive, held-out | Ours, tuning | Gate (held-out) |",
            "|---|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in _heldout_rows(report)]
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
    lines += [
        f"- **{r.id}**{' (held-out)' if r.split == HELDOUT_TAG else ''}: "
        f"{'; '.join(_shortfalls(r, k))}"
        for r in failing
    ] or ["None."]
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
        table.add_row(
            name,
            _fmt(name, ours),
            _fmt(name, report.metrics["naive"].overall.get(name)),
            _delta(report, name),
            _gate_cell(report.thresholds, name, ours),
        )
    return table


def _heldout_table(report: EvalReport) -> Table:
    count = _tag_counts(report)[HELDOUT_TAG]
    table = Table(title=f"{_HELDOUT_TITLE}: {count} questions on documents no tuning looks at")
    for column in ("Metric", "Ours, held-out", "Naive, held-out", "Ours, tuning", "Gate"):
        table.add_column(column, justify="left" if column == "Metric" else "right")
    for row in _heldout_rows(report, console=True):
        table.add_row(*row)
    return table


def _heldout_rows(report: EvalReport, *, console: bool = False) -> list[tuple[str, ...]]:
    bounds = report.thresholds.tag.get(HELDOUT_TAG, Bounds())
    rows: list[tuple[str, ...]] = []
    for name in [*metric_names(report.config.k), *_LATENCY]:
        ours = report.metrics["ours"].per_tag[HELDOUT_TAG].get(name)
        naive = report.metrics["naive"].per_tag[HELDOUT_TAG].get(name)
        tuning = report.metrics["ours"].per_split.get("tuning", {}).get(name)
        gate = _gate_cell(bounds, name, ours) if console else _bounds(bounds, name)
        rows.append((name, _fmt(name, ours), _fmt(name, naive), _fmt(name, tuning), gate))
    return rows


def _tag_table(report: EvalReport) -> Table:
    k = report.config.k
    table = Table(title="Per tag (ours / naive)")
    table.add_column("Tag")
    table.add_column("n", justify="right")
    for label in _TAG_METRICS.values():
        table.add_column(label.format(k=k), justify="right")
    for tag, count in _tag_counts(report).items():
        cells = [_pair(report, tag, m.format(k=k)) for m in _TAG_METRICS]
        table.add_row(f"[bold]{tag}[/bold]" if tag == HELDOUT_TAG else tag, str(count), *cells)
    return table


def _has_heldout(report: EvalReport) -> bool:
    measured = all(HELDOUT_TAG in report.metrics[s].per_tag for s in SYSTEMS)
    return measured and any(HELDOUT_TAG in r.tags for r in report.results)


def _bounds(bounds: Bounds, name: str) -> str:
    """A metric's bounds as the tables print them (`≥ 0.95`, `≤ 0.1`), or nothing."""
    parts = []
    if name in bounds.min:
        parts.append(f"≥ {bounds.min[name]}")
    if name in bounds.max:
        parts.append(f"≤ {bounds.max[name]}")
    return ", ".join(parts)


def _gate_cell(bounds: Bounds, name: str, value: float | None) -> str:
    """The bounds, green when the value is within them, red when not."""
    text = _bounds(bounds, name)
    if not text:
        return ""
    met = value is not None and value >= bounds.min.get(name, value)
    met = met and value is not None and value <= bounds.max.get(name, value)
    return f"[{'green' if met else 'red'}]{text}[/]"


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
    if scores.get("abstention_accuracy") == 0.0:
        found.append(f"did not abstain (coverage {ours.coverage}, {len(ours.cited)} cited)")
    elif scores["coverage_accuracy"] == 0.0:
        found.append(f"coverage {ours.coverage}, expected {result.expected_coverage}")
    if scores[f"section_hit@{k}"] == 0.0:
        found.append(f"no expected section in the top {k}")
    precision = scores["citation_precision"]
    if precision is not None and precision < 1.0:
        found.append(f"citation precision {precision:.2f}")
    items = scores.get("answer_precision")
    if items is not None and items < 1.0:
        found.append(f"answer precision {items:.2f}")
    if scores.get("over_count_share") == 1.0:
        found.append(f"cites {ours.cited_items} items, needs at most {result.expected_count}")
    if ours.missed_facts:
        found.append("missed " + ", ".join(repr(g[0]) for g in ours.missed_facts))
    if ours.must_not_hits:
        found.append("says " + ", ".join(repr(p) for p in ours.must_not_hits))
    found.extend(ours.citation_problems)
    if ours.error and ours.coverage != "refused":
        found.append(ours.error)
    return found


def _expected(result: QuestionResult) -> str:
    roles = []
    for role in result.expected_roles or ["none"]:
        headings = result.expected_headings.get(role)
        if headings:
            role += f" § {', '.join(headings)}"
        elif result.expected_sections and role != "none":
            role += f" § {', '.join(result.expected_sections)}"
        roles.append(role)
    expected = "; ".join(roles)
    if result.expected_subsections:
        expected += f" › {', '.join(result.expected_subsections)}"
    if result.expected_items:
        expected += f"; items {', '.join(repr(i) for i in result.expected_items)}"
    if result.expected_count is not None:
        expected += f"; at most {result.expected_count} cited"
    return expected


def _question_section(result: QuestionResult, k: int) -> list[str]:
    heldout = " — held-out" if result.split == HELDOUT_TAG else ""
    lines = [f"### {result.id} ({', '.join(result.tags)}){heldout}", ""]
    lines += [f"> (earlier) {turn}" for turn in result.turns]
    lines += [f"> {result.question[:300]}", ""]
    lines.append(f"Expected: {_expected(result)}; coverage {result.expected_coverage}.")
    lines.append("")
    for system in SYSTEMS:
        answer = result.answer_of(system)
        retrieved = "; ".join(f"{r.role} § {r.section}" for r in answer.retrieved[:k]) or "none"
        cited = "; ".join(
            f"[{c.n}] {c.role} § {c.section}" + (f" › {c.subsection}" if c.subsection else "")
            for c in answer.cited
        )
        missed = "; ".join(" | ".join(group) for group in answer.missed_facts) or "none"
        lines += [
            f"- **{system}**: coverage {answer.coverage}, {answer.cited_items} items cited, "
            f"{answer.latency_ms:.0f} ms" + (f", error: {answer.error}" if answer.error else ""),
            f"  - retrieved (top {k}): {retrieved}",
            f"  - cited: {cited or 'none'}",
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
