"""`blueprints feedback`: the answers people rated, out of the answer log for review."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.feedback import AnswerLog
from assistant.errors import BlueprintsError

feedback_app = typer.Typer(help="Answers people rated, for review.", no_args_is_help=True)


class _Rating(StrEnum):
    up = "up"
    down = "down"


@contextmanager
def opened_answer_log(missing: str) -> Iterator[AnswerLog]:
    """The CLI's answer log, open for the block, or a CLI error saying why there is none.

    `missing` says what a log not created yet means, with `{path}` where it was looked for.
    """
    # The CLI's own settings and error reporting; late, because api.cli imports this module.
    from api.cli import _fail, _settings

    path = _settings().feedback_path
    if not path.exists():
        raise _fail(f"{missing.format(path=path)}, or BLUEPRINTS_FEEDBACK_DB points elsewhere.")
    try:
        log = AnswerLog(path)
    except (BlueprintsError, sqlite3.Error) as exc:
        raise _fail(f"{path}: {exc}") from exc
    try:
        yield log
    finally:
        log.close()


def _day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()  # a day, not a time
    except ValueError:
        msg = f"{value!r} is not a day: use YYYY-MM-DD, e.g. 2025-03-01"
        raise typer.BadParameter(msg) from None


@feedback_app.command("export")
def feedback_export(
    rating: Annotated[
        _Rating | None, typer.Option(help="Only answers with a vote of this rating.")
    ] = None,
    since: Annotated[
        date | None,
        typer.Option(parser=_day, help="Only answers voted on this day (UTC) or later."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write rated answers as JSONL, one answer with its votes a line (gold-set candidates)."""
    # The CLI's error reporting; late, because api.cli imports this module.
    from api.cli import _fail, err

    with opened_answer_log("No feedback database at {path}: nothing was rated yet") as log:
        lines = log.export(rating=rating.value if rating else None, since=since)
        count = 0
        try:
            with open(output, "w", encoding="utf-8") if output else nullcontext(sys.stdout) as sink:
                for line in lines:
                    sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                    count += 1
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}") from exc
    err.print(f"{count} rated answer(s) exported" + (f" to {output}" if output else ""))
