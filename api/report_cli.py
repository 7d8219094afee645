"""`blueprints report usage`: what people asked and how it went, from the answer log."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.feedback_cli import _day, opened_answer_log
from api.usage import Gap, UsageReport, build_report
from api.usage_page import COVERAGE_LABELS, render_page

report_app = typer.Typer(help="Reports on how the assistant is used.", no_args_is_help=True)


@report_app.command("usage")
def usage(
    since: Annotated[
        date | None,
        typer.Option(
            parser=_day, help="Only questions asked (and votes cast) on or after this day (UTC)."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the report with its charts as an HTML page here."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Questions per day, coverage, the knowledge gaps, 👎 answers and top roles."""
    # The CLI's error reporting; late, because api.cli imports this module.
    from api.cli import _fail, err, out

    with opened_answer_log("No answer log at {path}: nothing was asked yet") as log:
        report = build_report(log, since)
    if html is not None:
        try:
            html.write_text(render_page(report), encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {html}: {exc.strerror}") from exc
        err.print(f"Report written to {html}")
    if json_output:
        out.print_json(report.model_dump_json())
        return
    for table in _tables(report):
        out.print(table)


def _tables(report: UsageReport) -> list[Table]:
    total = report.questions
    summary = Table(title=f"Usage from {report.since or 'the start'} to {report.until} (UTC)")
    for column in ("Questions", *COVERAGE_LABELS.values(), "👍", "👎"):
        summary.add_column(column, justify="right")
    summary.add_row(
        str(total),
        *(_share(report.coverage.get(key, 0), total) for key in COVERAGE_LABELS),
        str(report.votes.get("up", 0)),
        str(report.votes.get("down", 0)),
    )
    days = Table(title="Questions per day")
    for column in ("Day", *COVERAGE_LABELS.values()):
        days.add_column(column, justify="right")
    for day in report.per_day:
        if day.total:
            days.add_row(str(day.day), str(day.answered), str(day.partial), str(day.not_found))
    tables = [summary, days]
    tables += [_gaps("Not found: the gaps to fill", report.not_found)]
    tables += [_gaps("Answered only in part", report.partial)]
    downvotes = Table(title="Answers rated 👎", show_lines=True)
    for column in ("When", "Question", "Reason", "Coverage", "Answerer"):
        downvotes.add_column(column)
    for vote in report.downvotes:
        downvotes.add_row(
            f"{vote.voted_at:%Y-%m-%d %H:%M}",
            vote.question,
            vote.comment or "—",
            vote.coverage.value,
            vote.answerer + (f" (fell back: {vote.fallback})" if vote.fallback else ""),
        )
    roles = Table(title="Roles asked about most")
    roles.add_column("Role")
    roles.add_column("Questions", justify="right")
    for role in report.top_roles:
        roles.add_row(role.role, str(role.count))
    return [*tables, downvotes, roles]


def _gaps(title: str, gaps: list[Gap]) -> Table:
    table = Table(title=title)
    table.add_column("Question")
    table.add_column("Asked", justify="right")
    table.add_column("Roles")
    table.add_column("Last asked")
    for gap in gaps:
        table.add_row(
            gap.question, str(gap.count), ", ".join(gap.roles) or "—", f"{gap.last_asked:%Y-%m-%d}"
        )
    return table


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.0f}%)" if total else "0"
