"""`blueprints feedback export`: rated answers as JSONL, through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.feedback import AnswerLog
from tests.unit.test_answer_log import make_answer

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "feedback.sqlite3"
    log = AnswerLog(path)
    for n in (1, 2, 3):
        log.store_answer(make_answer(f"a-{n}"), question=f"asked {n}", source="slack")
    log.vote("a-1", "down", voter="slack:U1", source="slack", user="U1", comment="wrong role")
    log.vote("a-2", "up", voter="slack:U1", source="slack", user="U1")
    log.vote("a-3", "down", voter="slack:U2", source="slack", user="U2")
    log.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE feedback SET updated_at = '2024-12-31T12:00:00+00:00' WHERE id = 3")
    return path


def export(db: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["feedback", "export", *args], env={"BLUEPRINTS_FEEDBACK_DB": str(db)}
    )
    return result.exit_code, result.stdout, result.stderr


def test_export_writes_one_rated_answer_a_line_to_stdout(db: Path) -> None:
    code, out, err = export(db, "--rating", "down")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["id"], line["question"]) for line in lines] == [
        ("a-1", "asked 1"),
        ("a-3", "asked 3"),
    ]
    assert lines[0]["votes"][0]["comment"] == "wrong role"
    assert lines[0]["answer"]["citations"][0]["quote"] == "model quality"
    assert "2 rated answer(s) exported" in err


def test_export_to_a_file_since_a_day(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "candidates.jsonl"
    code, out, err = export(db, "--since", "2025-01-01", "--output", str(target))
    assert code == 0, err
    assert out == ""
    ids = [json.loads(line)["id"] for line in target.read_text(encoding="utf-8").splitlines()]
    assert ids == ["a-1", "a-2"]
    assert str(target) in err


@pytest.mark.parametrize("day", ["2025-13-01", "yesterday", "01/02/2025"])
def test_a_bad_since_is_refused_with_the_format_to_use(db: Path, day: str) -> None:
    code, out, err = export(db, "--since", day)
    assert code == 2
    assert f"'{day}' is not a day: use YYYY-MM-DD" in err
    assert out == ""


def test_a_missing_database_is_explained(tmp_path: Path) -> None:
    code, _, err = export(tmp_path / "nothing-here.sqlite3")
    assert code == 1
    assert "No feedback database" in err
    assert "BLUEPRINTS_FEEDBACK_DB" in err
    assert not (tmp_path / "nothing-here.sqlite3").exists()
