"""The `blueprints` command line: ingest, roles, ask, chat, eval, serve, slack, report."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.feedback_cli import feedback_app
from api.report_cli import report_app
from assistant.collector import collector_paused
from assistant.errors import BlueprintsError
from assistant.models import Answer, IngestPlan, IngestReport, Turn
from assistant.settings import Settings
from evals.cli import eval_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.embeddings import Embedder
    from assistant.store import ChunkStore
    from ingest.pipeline import Ingestor
    from ingest.sync import SyncReport

Report = TypeVar("Report", bound=IngestReport)

app = typer.Typer(
    help="Blueprint Assistant: answers questions about role blueprints, with sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("eval", help="Run the gold question set and gate on the thresholds.")(eval_command)
app.add_typer(feedback_app, name="feedback")
app.add_typer(report_app, name="report")

out = Console()
err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]Configuration error:[/red] {problems}")
        raise typer.Exit(2) from exc


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]Error:[/red] {message}")
    return typer.Exit(code)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders (default: the bundled corpus in data/blueprints)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also remove documents that came from inside these paths and are gone from "
            "them (refused unless every path is read completely).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be added, updated and pruned; write nothing."
        ),
    ] = False,
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty",
            help="Do nothing when the index already has content (but rebuild an index an "
            "earlier version built).",
        ),
    ] = False,
) -> None:
    """Parse, chunk, embed and store blueprints (WordPress JSON, HTML, Markdown, listings)."""
    from assistant.service import load_embedder, open_store

    settings = _settings()
    try:
        store = open_store(settings)
        embedder = load_embedder(settings)
        ingestor = _ingestor(settings, store, embedder, quiet=json_output)
        if if_empty and store.count() > 0 and not dry_run:
            if not ingestor.needs_rebuild():
                if not json_output:
                    err.print("The index already has content; nothing to ingest.")
                return
            paths = []
            report = _run_with_progress(
                lambda on_progress: ingestor.rebuild(on_progress=on_progress), quiet=json_output
            )
        else:
            sources = paths or [settings.corpus_dir]
            report = _run_with_progress(
                lambda on_progress: ingestor.ingest(
                    sources, prune=prune, dry_run=dry_run, on_progress=on_progress
                ),
                quiet=json_output or dry_run,
            )
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    if dry_run:
        _print_plan(report, json_output)
    elif json_output:
        out.print_json(report.model_dump_json())
    else:
        _print_ingest_report(report)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def reindex(
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
) -> None:
    """Rebuild the whole index from its recorded sources, into a new collection.

    The running index keeps answering until the new one is complete and replaces it.
    """
    from assistant.service import load_embedder, open_store

    settings = _settings()
    try:
        store = open_store(settings)
        ingestor = _ingestor(settings, store, load_embedder(settings), quiet=json_output)
        report = _run_with_progress(
            lambda on_progress: ingestor.rebuild(on_progress=on_progress), quiet=json_output
        )
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        out.print_json(report.model_dump_json())
    else:
        _print_ingest_report(report)
    if report.errors:
        raise typer.Exit(1)


def _ingestor(
    settings: Settings, store: ChunkStore, embedder: Embedder, *, quiet: bool
) -> Ingestor:
    """An ingestor that holds the index's writer lock, telling the user when it waits for it."""
    from ingest.lock import WriterLock
    from ingest.pipeline import Ingestor

    def waiting(holder: str) -> None:
        if not quiet:
            err.print(
                f"Another ingest is writing to the index ({holder}); waiting up to "
                f"{settings.lock_timeout_s:g} s for it to finish…"
            )

    lock = WriterLock(settings.lock_path, timeout=settings.lock_timeout_s, on_wait=waiting)
    return Ingestor(store, embedder, chunk_size=settings.chunk_size, lock=lock)


def _run_with_progress(
    run: Callable[[Callable[[str, int, int], None]], Report], *, quiet: bool
) -> Report:
    """Run an ingest or a sync with rich progress bars on a terminal (none when quiet or piped)."""
    if quiet or not err.is_terminal:
        return run(lambda stage, done, total: None)
    labels = {
        "list": "Listing posts",
        "fetch": "Fetching posts",
        "parse": "Parsing",
        "embed": "Embedding",
        "write": "Writing",
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(labels[stage], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        return run(advance)


def _print_plan(report: IngestReport, json_output: bool) -> None:
    plan = report.plan or IngestPlan()
    if json_output:
        out.print_json(plan.model_dump_json())
    else:
        err.print(
            f"Dry run (nothing written): {len(plan.add)} to add, {len(plan.update)} to update, "
            f"{len(plan.prune)} to prune, {report.documents_unchanged} unchanged."
        )
        for label, ids in (("add", plan.add), ("update", plan.update), ("prune", plan.prune)):
            for doc_id in ids:
                err.print(f"  {label:<6} {doc_id}")
    for error in report.errors:
        err.print(f"[red]✗[/red] {error.message}")


def _print_ingest_report(report: IngestReport) -> None:
    err.print(
        f"Documents: {report.documents_added} added, {report.documents_updated} updated, "
        f"{report.documents_unchanged} unchanged, {report.documents_pruned} pruned, "
        f"{report.documents_failed} failed. Chunks: {report.chunks_written} written, "
        f"{report.chunks_deleted} deleted ({report.seconds:.1f} s). "
        f"Index generation {report.generation}."
    )
    for error in report.errors:
        err.print(f"[red]✗[/red] {error.message}")


@app.command("setup-model")
def setup_model(
    force: Annotated[
        bool, typer.Option("--force", help="Export again even when a valid export exists.")
    ] = False,
) -> None:
    """Export the embedding model to ONNX once (fast questions without torch) and verify it."""
    from assistant.embeddings import setup_onnx_model

    settings = _settings()
    try:
        done = setup_onnx_model(settings, force=force)
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    what = "Exported to" if done.created else "Verified the export at"
    out.print(
        f"{done.stamp.model} on ONNX: {what} {done.export_dir} "
        f"(against the torch model: max |difference| {done.check.max_abs_diff:.1e}, "
        f"lowest cosine {done.check.min_cosine:.6f})."
    )


@app.command()
def sync(
    site_url: Annotated[
        str | None,
        typer.Argument(
            help="The WordPress site's address, e.g. https://example.com/blog "
            "(default: BLUEPRINTS_SYNC_URL).",
            show_default=False,
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Only posts WordPress's search finds.")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="Only posts in this category (id or slug); repeatable."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Fetch and parse every post, whatever changed.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be added, updated and pruned; write nothing."
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Also remove documents left outside narrowed --search/--category."
        ),
    ] = False,
) -> None:
    """Pull every blueprint from a WordPress site, then only what changed, into the index.

    Posts deleted from the site (or unpublished) are removed from the index as well.
    """
    from assistant.service import load_embedder, open_store
    from ingest.sync import sync_site, sync_target
    from ingest.wordpress import WordPressClient

    settings = _settings()
    try:
        target = sync_target(settings, site_url, search, category or [])
        store = open_store(settings)
        ingestor = _ingestor(settings, store, load_embedder(settings), quiet=json_output)
        options = target.options(full=full, dry_run=dry_run, prune=prune)
        with WordPressClient(target.url) as site:
            report = _run_with_progress(
                lambda on_progress: sync_site(
                    site, store, ingestor, options, on_progress=on_progress
                ),
                quiet=json_output,
            )
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        data = report.model_dump(mode="json")
        if dry_run:
            data["plan"] = (report.plan or IngestPlan()).model_dump()
        out.print_json(json.dumps(data))
    else:
        _print_sync_report(target.url, report, dry_run=dry_run)
    if report.errors:
        raise typer.Exit(1)


def _print_sync_report(site_url: str, report: SyncReport, *, dry_run: bool) -> None:
    from ingest.sync import describe_ids

    retried = f", {report.retries} retried" if report.retries else ""
    err.print(f"{site_url}: fetched {report.fetched} posts in {report.pages} API pages{retried}.")
    if dry_run:
        _print_plan(report, json_output=False)
    else:
        _print_ingest_report(report)
    if report.deleted_upstream:
        what = "would be pruned" if dry_run else "pruned"
        err.print(f"Gone from the site, {what}: posts {describe_ids(report.deleted_upstream)}.")
    for note in report.notes:
        err.print(f"[yellow]![/yellow] {note}")
    if report.cursor:
        err.print(f"Cursor {report.cursor} (site time): the next sync asks what changed since.")


@app.command()
def roles(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every role in the knowledge base."""
    from assistant.snapshot import SnapshotReader
    from assistant.store import open_store

    settings = _settings()
    try:
        catalogue = SnapshotReader(open_store(settings)).current().catalogue
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        rows = [r.model_dump(mode="json", exclude={"summary"}) for r in catalogue]
        out.print_json(json.dumps(rows))
        return
    if not catalogue:
        raise _fail("The knowledge base is empty: run `blueprints ingest` first.")
    table = Table(title=f"{len(catalogue)} roles")
    for column in ("Role", "Id", "Coverage", "Sections", "Source"):
        table.add_column(column)
    for role in catalogue:
        table.add_row(role.role, role.id, role.coverage.value, str(len(role.sections)), role.source)
    out.print(table)


def _read_history(path: Path | None) -> list[Turn]:
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Turn.model_validate(item) for item in data]
    except (OSError, ValueError, TypeError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        msg = (
            f"{path}: not a conversation ({reason}); expected a JSON list of "
            '{"role": "user"|"assistant", "content": "..."}'
        )
        raise _fail(msg) from exc


def _print_answer(answer: Answer) -> None:
    style = {"answered": "green", "partial": "yellow", "not_found": "red"}[answer.coverage.value]
    out.print(Markdown(answer.answer))
    out.print(f"[{style}]coverage: {answer.coverage.value}[/{style}]")
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
        for citation in answer.citations:
            where = " > ".join(p for p in (citation.section, citation.subsection) if p)
            out.print(f"[{citation.n}] {citation.role} > {where}")
            out.print(f"    “{citation.quote}”", style="dim")
            if citation.url:
                out.print(f"    {citation.url}", style="dim")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    history_json: Annotated[
        Path | None,
        typer.Option("--history-json", help="The conversation so far, as a JSON file."),
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="Ask about this role.")] = None,
) -> None:
    """Answer a question from the blueprints, citing its sources."""
    settings = _settings()
    history = _read_history(history_json)
    try:
        # All of it: the process ends with the answer.
        with collector_paused():
            from assistant.service import build_assistant

            answer = build_assistant(settings).ask(question, history, role)
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        out.print_json(answer.model_dump_json())
    else:
        _print_answer(answer)


@app.command()
def chat(
    role: Annotated[str | None, typer.Option("--role", help="Ask about this role.")] = None,
) -> None:
    """An interactive conversation in the terminal (Ctrl-D or `exit` to leave)."""
    settings = _settings()
    try:
        with collector_paused():
            from assistant.service import build_assistant

            assistant = build_assistant(settings)
    except BlueprintsError as exc:
        raise _fail(str(exc)) from exc
    history: list[Turn] = []
    out.print(
        "Ask about a role blueprint (e.g. [bold]what KPIs does the VP of Data and AI own?[/bold])"
    )
    while True:
        try:
            question = out.input("[bold cyan]you>[/bold cyan] ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if question.lower() in {"exit", "quit", ":q"}:
            return
        if not question:
            continue
        try:
            answer = assistant.ask(question, history, role)
        except BlueprintsError as exc:
            err.print(f"[red]{exc}[/red]")
            continue
        _print_answer(answer)
        history += [
            Turn(role="user", content=question),
            Turn(role="assistant", content=answer.answer),
        ]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API, the web chat and (when configured) the Slack app."""
    with collector_paused():  # the app's lifespan pauses it again while it builds
        from api.server import serve as run_server

    run_server(_settings(), host, port)


@app.command()
def slack(
    socket: Annotated[
        bool, typer.Option("--socket", help="Use Socket Mode (needs SLACK_APP_TOKEN).")
    ] = False,
) -> None:
    """Run the Slack app in Socket Mode, for development behind a firewall."""
    if not socket:
        raise _fail("Over HTTP the Slack app runs inside `blueprints serve`; use --socket here.")
    settings = _settings()
    if not settings.slack_enabled or settings.slack_app_token is None:
        raise _fail("Socket Mode needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN.")
    import asyncio

    from api.feedback import AnswerLog
    from api.slack import run_socket_mode
    from assistant.service import build_assistant

    assistant = build_assistant(settings)
    asyncio.run(run_socket_mode(settings, assistant, AnswerLog(settings.feedback_path)))


def main() -> None:
    """Entry point for `python -m api.cli`."""
    app(prog_name="blueprints")


if __name__ == "__main__":
    main()
