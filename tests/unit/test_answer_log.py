"""The answer log: answers on record, one vote per voter, migrations, export, many writers."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from api.feedback import SCHEMA_VERSION, AnswerLog, UnknownAnswerError
from assistant.errors import BlueprintsError
from assistant.models import Answer, AnswerCoverage, Citation, Trace
from assistant.settings import PROJECT_ROOT

# The table the first release wrote, exactly; users have files with it.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    source TEXT NOT NULL,
    user TEXT,
    created_at TEXT NOT NULL
)
"""


def make_answer(answer_id: str = "a-1", question: str = "What KPIs?", **trace: object) -> Answer:
    return Answer(
        id=answer_id,
        answer="Owns the model-quality KPIs [1].",
        coverage=AnswerCoverage.PARTIAL,
        roles=["VP of Data and AI"],
        citations=[
            Citation(
                n=1,
                role="VP of Data and AI",
                section="7) KPIs",
                source="vp.json",
                quote="model quality",
                chunk_id="c-1",
            )
        ],
        trace=Trace.model_validate(
            {"question": question, "standalone_question": f"{question} (VP)", **trace}
        ),
        timings_ms={"total": 12.5},
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "feedback.sqlite3"


@pytest.fixture
def log(path: Path) -> Iterator[AnswerLog]:
    answers = AnswerLog(path)
    yield answers
    answers.close()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


# ---------- answers ----------


def test_a_stored_answer_reads_back_whole_with_the_question_as_asked(log: AnswerLog) -> None:
    answer = make_answer()
    log.store_answer(answer, question="what kpis?", source="slack")
    stored = log.answer("a-1")
    assert stored is not None
    assert stored.answer == answer
    assert (stored.question, stored.source) == ("what kpis?", "slack")
    assert stored.created_at.tzinfo is not None
    assert log.answer("a-2") is None


def test_the_columns_to_filter_on_are_filled(log: AnswerLog, path: Path) -> None:
    answer = make_answer()
    answer.trace.generation = 7
    log.store_answer(answer, question="what kpis?", source="api")
    assert query(
        path,
        "SELECT source, question, standalone_question, coverage, roles, answerer, generation"
        " FROM answers",
    ) == [
        (
            "api",
            "what kpis?",
            "What KPIs? (VP)",
            "partial",
            '["VP of Data and AI"]',
            "extractive",
            7,
        )
    ]
    (stored,) = query(path, "SELECT answer FROM answers")[0]
    assert json.loads(str(stored))["timings_ms"] == {"total": 12.5}


# ---------- votes ----------


def test_a_vote_on_an_unknown_answer_is_refused_with_what_to_do(log: AnswerLog) -> None:
    with pytest.raises(UnknownAnswerError, match="ask again") as refused:
        log.vote("nope", "up", voter="slack:U1", source="slack")
    assert refused.value.answer_id == "nope"
    assert log.votes() == []


def test_a_second_vote_from_the_same_voter_replaces_the_first(log: AnswerLog) -> None:
    log.store_answer(make_answer(), question="q", source="api")
    first = log.vote("a-1", "up", voter="api:k@10.0.0.1", source="api", comment="great")
    second = log.vote("a-1", "down", voter="api:k@10.0.0.1", source="api")
    assert (first.replaced, second.replaced) == (False, True)
    assert second.id == first.id
    [vote] = log.votes("a-1")
    assert (vote.rating, vote.comment, vote.voter) == ("down", None, "api:k@10.0.0.1")
    assert vote.updated_at >= vote.created_at


def test_two_voters_have_a_vote_each(log: AnswerLog) -> None:
    log.store_answer(make_answer(), question="q", source="slack")
    log.vote("a-1", "up", voter="slack:U1", source="slack", user="U1")
    log.vote("a-1", "down", voter="slack:U2", source="slack", user="U2")
    assert sorted((v.user, v.rating) for v in log.votes("a-1")) == [("U1", "up"), ("U2", "down")]


def test_an_unknown_rating_is_refused_by_the_database(log: AnswerLog) -> None:
    log.store_answer(make_answer(), question="q", source="api")
    with pytest.raises(sqlite3.IntegrityError):
        log.vote("a-1", "meh", voter="v", source="api")  # type: ignore[arg-type]


# ---------- the file ----------


def test_a_file_of_the_first_release_keeps_its_votes(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(OLD_SCHEMA)
        db.executemany(
            "INSERT INTO feedback (answer_id, rating, comment, source, user, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("old-1", "up", None, "api", None, "2025-01-02T10:00:00+00:00"),
                ("old-1", "down", "wrong role", "slack", "U9", "2025-01-03T10:00:00+00:00"),
            ],
        )
    log = AnswerLog(path)
    votes = sorted(log.votes(), key=lambda v: v.id)
    assert [(v.id, v.answer_id, v.rating, v.comment, v.user, v.voter) for v in votes] == [
        (1, "old-1", "up", None, None, None),
        (2, "old-1", "down", "wrong role", "U9", None),
    ]
    assert votes[1].updated_at == votes[1].created_at
    log.store_answer(make_answer(), question="q", source="api")
    assert log.vote("a-1", "up", voter="slack:U9", source="slack").id == 3
    log.close()
    AnswerLog(path).close()  # opening again migrates nothing
    assert query(path, "SELECT version FROM schema_version") == [(1,), (2,)]
    assert SCHEMA_VERSION == 2


def test_a_file_from_a_newer_version_is_refused_with_what_to_do(path: Path) -> None:
    AnswerLog(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(BlueprintsError, match="upgrade blueprint-assistant"):
        AnswerLog(path)


def test_the_file_is_in_wal_mode_and_reopens_after_close(log: AnswerLog, path: Path) -> None:
    log.store_answer(make_answer(), question="q", source="api")
    log.close()
    assert query(path, "PRAGMA journal_mode") == [("wal",)]
    log.vote("a-1", "up", voter="v", source="api")  # a closed log opens again (an app restarted)
    assert len(log.votes()) == 1


def test_two_logs_on_one_file_hammered_from_threads_lose_nothing(path: Path) -> None:
    logs = [AnswerLog(path), AnswerLog(path)]
    errors: list[BaseException] = []

    def work(log: AnswerLog, worker: int) -> None:
        try:
            for i in range(40):
                answer_id = f"a-{worker}-{i}"
                log.store_answer(make_answer(answer_id), question="q", source="api")
                log.vote(answer_id, "up", voter=f"v{worker}", source="api")
                log.vote(answer_id, "down", voter=f"v{worker}", source="api")  # replaces
                log.vote(answer_id, "up", voter="shared", source="api")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(logs[n % 2], n)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for log in logs:
        log.close()
    assert errors == []
    assert query(path, "SELECT COUNT(*) FROM answers") == [(240,)]
    assert query(path, "SELECT rating, COUNT(*) FROM feedback GROUP BY rating") == [
        ("down", 240),
        ("up", 240),
    ]


def test_two_processes_writing_at_once_lose_nothing(path: Path) -> None:
    AnswerLog(path).close()
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from api.feedback import AnswerLog
        from tests.unit.test_answer_log import make_answer
        log = AnswerLog(Path({str(path)!r}))
        worker = sys.argv[1]
        for i in range(100):
            log.store_answer(make_answer(f"a-{{worker}}-{{i}}"), question="q", source="api")
            log.vote(f"a-{{worker}}-{{i}}", "up", voter=worker, source="api")
            log.vote(f"a-{{worker}}-{{i}}", "down", voter=worker, source="api")
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(n)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,  # where `tests` imports from
        )
        for n in range(2)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], errors
    assert query(path, "SELECT COUNT(*) FROM answers") == [(200,)]
    assert query(path, "SELECT rating, COUNT(*) FROM feedback GROUP BY rating") == [("down", 200)]


# ---------- export ----------


def test_export_keeps_rated_answers_by_rating_and_day(log: AnswerLog, path: Path) -> None:
    for n in range(1, 5):
        log.store_answer(
            make_answer(f"a-{n}", f"question {n}"), question=f"asked {n}", source="api"
        )
    log.vote("a-1", "down", voter="v1", source="slack", user="U1", comment="wrong section")
    log.vote("a-1", "up", voter="v2", source="api")
    log.vote("a-2", "up", voter="v1", source="api")
    log.vote("a-3", "down", voter="v1", source="api")
    # a-4 has no vote; a-3's vote is from last year.
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE feedback SET updated_at = '2024-06-30T23:59:59+00:00' WHERE answer_id = 'a-3'"
        )
        db.execute(OLD_SCHEMA)
        db.execute(
            "INSERT INTO feedback (answer_id, rating, source, created_at, updated_at)"
            " VALUES ('legacy', 'down', 'api', '2024-01-01', '2024-01-01')"
        )

    def ids(**filters: object) -> list[str]:
        return [line["id"] for line in log.export(**filters)]  # type: ignore[arg-type]

    assert ids() == ["a-1", "a-2", "a-3"]
    assert ids(rating="down") == ["a-1", "a-3"]
    assert ids(rating="up") == ["a-1", "a-2"]
    assert ids(since=date(2024, 7, 1)) == ["a-1", "a-2"]
    assert ids(since=date(2024, 6, 30)) == ["a-1", "a-2", "a-3"]
    assert ids(rating="down", since=date(2024, 7, 1)) == ["a-1"]

    [line] = log.export(rating="down", since=date(2024, 7, 1))
    assert json.loads(json.dumps(line)) == line  # JSON-ready as it is
    assert (line["question"], line["standalone_question"]) == ("asked 1", "question 1 (VP)")
    assert (line["coverage"], line["roles"], line["answerer"]) == (
        "partial",
        ["VP of Data and AI"],
        "extractive",
    )
    assert Answer.model_validate(line["answer"]) == make_answer("a-1", "question 1")
    assert [(v["rating"], v["comment"], v["user"], v["source"]) for v in line["votes"]] == [
        ("down", "wrong section", "U1", "slack"),
        ("up", None, None, "api"),
    ]
    assert "voter" not in line["votes"][0]  # a client address stays in the database
