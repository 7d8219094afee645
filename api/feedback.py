"""Every answer served, and the 👍/👎 votes on it, in one SQLite file.

Each answer is stored when it is served (its whole JSON, plus the columns one filters
on), so a vote can be traced to the question, the answer and what was retrieved. A vote
needs an answer on record, and a voter has one vote per answer: voting again replaces it.

Several worker processes on one host share the file safely (WAL, a busy timeout, write
transactions that take the lock up front). Workers on several hosts need a shared
database server instead, which is not built yet.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError

from assistant.errors import BlueprintsError
from assistant.models import Answer

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]
Source = Literal["api", "slack", "cli"]
BUSY_TIMEOUT_MS = 5000

# Each migration is a list of statements, applied once, in order, in one transaction.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first release's table, verbatim: files written by it are at version 1 as they are.
    (
        """CREATE TABLE IF NOT EXISTS feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            answer_id TEXT NOT NULL,
            rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
            comment TEXT,
            source TEXT NOT NULL,
            user TEXT,
            created_at TEXT NOT NULL
        )""",
    ),
    # 2: answers kept when served; one vote per voter and answer. Votes from version 1
    # have no voter (NULLs never collide in a unique index) and usually no answer row.
    (
        """CREATE TABLE answers (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('api', 'slack', 'cli')),
            question TEXT NOT NULL,
            standalone_question TEXT NOT NULL,
            coverage TEXT NOT NULL,
            roles TEXT NOT NULL,
            answerer TEXT NOT NULL,
            generation INTEGER,
            answer TEXT NOT NULL
        )""",
        "CREATE INDEX answers_by_time ON answers (created_at)",
        "ALTER TABLE feedback ADD COLUMN voter TEXT",
        "ALTER TABLE feedback ADD COLUMN updated_at TEXT",
        "UPDATE feedback SET updated_at = created_at",
        "CREATE UNIQUE INDEX feedback_one_vote ON feedback (answer_id, voter)",
        "CREATE INDEX feedback_by_time ON feedback (updated_at)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)


class UnknownAnswerError(BlueprintsError):
    """A vote on an answer id that is not on record."""

    def __init__(self, answer_id: str) -> None:
        super().__init__(
            f"No answer {answer_id!r} is on record. Rate the `id` of an answer this server "
            "returned (POST /v1/ask, or the final event of /v1/ask/stream); if the answer "
            "is old or the database was reset, ask again and rate the new answer."
        )
        self.answer_id = answer_id


class Vote(BaseModel):
    """One voter's rating of one answer."""

    id: int
    answer_id: str
    rating: Rating
    comment: str | None = None
    source: str
    user: str | None = None
    voter: str | None = None
    created_at: datetime
    updated_at: datetime


class VoteReceipt(BaseModel):
    """What `AnswerLog.vote` stored."""

    id: int
    answer_id: str
    rating: Rating
    replaced: bool
    previous: Rating | None = None
    """The rating this vote replaced, if it replaced one."""


class AnswerObserver(Protocol):
    """Told of every answer stored and vote cast (the app's metrics)."""

    def answer_served(self, answer: Answer) -> None:
        """An answer is being stored as it is served."""
        ...

    def vote_cast(self, receipt: VoteReceipt) -> None:
        """A vote was recorded."""
        ...


class AnswerRow(BaseModel):
    """The columns of an answer on record that a report counts (not its whole JSON)."""

    id: str
    created_at: datetime
    source: Source
    question: str
    standalone_question: str
    coverage: str
    roles: list[str]
    answerer: str


class StoredAnswer(BaseModel):
    """An answer on record, with the question as it was asked."""

    question: str
    source: Source
    created_at: datetime
    answer: Answer


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _day_start(day: date) -> str:
    # Timestamps are stored as `datetime.isoformat()` in UTC, so they compare as text.
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


_VOTE_FIELDS = (
    "id",
    "answer_id",
    "rating",
    "comment",
    "source",
    "user",
    "voter",
    "created_at",
    "updated_at",
)
_VOTE_COLUMNS = ", ".join(_VOTE_FIELDS)


class AnswerLog:
    """Answers and votes in one SQLite file (WAL), safe to share between threads and processes."""

    def __init__(self, path: Path, observer: AnswerObserver | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._observer = observer
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._migrate(self._connection())

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # The timeout first: switching to WAL takes a lock another worker may hold.
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL (no fsync per commit) for answers, on every ask's path: a power cut may
        # lose the last few, which only makes a vote on them a 404. Votes commit FULL.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _connection(self) -> sqlite3.Connection:
        # One connection guarded by the lock (writes are rare and tiny; SQLite serialises
        # writers anyway), reopened after `close` so an app can be started again.
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _durably(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        # FULL: a vote acknowledged to the user survives a power cut, not only a crash (and
        # its fsync of the journal makes the answers written before it durable too).
        conn.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction(conn) as db:
                yield db
        finally:
            conn.execute("PRAGMA synchronous=NORMAL")

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: what is read inside cannot change
        # before the write, and a reader never has to upgrade to a writer (which fails
        # at once, without waiting, when another connection writes).
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._transaction(conn) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            (version,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            ).fetchone()
            if version > SCHEMA_VERSION:
                msg = (
                    f"{self.path} has schema version {version}, newer than this program's "
                    f"({SCHEMA_VERSION}): upgrade blueprint-assistant, or point "
                    "BLUEPRINTS_FEEDBACK_DB at another file"
                )
                raise BlueprintsError(msg)
            for number, statements in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (number, _now()))
                log.info("%s: migrated to schema version %d", self.path, number)

    def store_answer(self, answer: Answer, *, question: str, source: Source) -> None:
        """Keep an answer as it was served, with the question as it was asked."""
        # Before the write: an answer served is counted even if it cannot be kept.
        self._notify(lambda observer: observer.answer_served(answer))
        trace = answer.trace
        row = (
            answer.id,
            _now(),
            source,
            question,
            trace.standalone_question,
            answer.coverage.value,
            json.dumps(answer.roles),
            trace.answerer,
            trace.generation,
            answer.model_dump_json(),
        )
        with self._lock:
            self._connection().execute(
                "INSERT INTO answers (id, created_at, source, question, standalone_question,"
                " coverage, roles, answerer, generation, answer)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                row,
            )

    def answer(self, answer_id: str) -> StoredAnswer | None:
        """An answer on record, or None (unknown, or no longer readable as an `Answer`)."""
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT question, source, created_at, answer FROM answers WHERE id = ?",
                    (answer_id,),
                )
                .fetchone()
            )
        if row is None:
            return None
        question, source, created_at, answer = row
        try:
            return StoredAnswer(
                question=question,
                source=source,
                created_at=created_at,
                answer=Answer.model_validate_json(answer),
            )
        except ValidationError:
            log.warning("Answer %s on record no longer matches the Answer model", answer_id)
            return None

    def vote(
        self,
        answer_id: str,
        rating: Rating,
        *,
        voter: str,
        source: str,
        user: str | None = None,
        comment: str | None = None,
    ) -> VoteReceipt:
        """Record `voter`'s rating of an answer, replacing their earlier one.

        Raises:
            UnknownAnswerError: no answer with this id is on record.
        """
        now = _now()
        with self._lock, self._durably(self._connection()) as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise UnknownAnswerError(answer_id)
            earlier = db.execute(
                "SELECT id, rating FROM feedback WHERE answer_id = ? AND voter = ?",
                (answer_id, voter),
            ).fetchone()
            if earlier is None:
                cursor = db.execute(
                    "INSERT INTO feedback (answer_id, rating, comment, source, user, voter,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (answer_id, rating, comment, source, user, voter, now, now),
                )
                vote_id = int(cursor.lastrowid or 0)
            else:
                vote_id = int(earlier[0])
                db.execute(
                    "UPDATE feedback SET rating = ?, comment = ?, source = ?, user = ?,"
                    " updated_at = ? WHERE id = ?",
                    (rating, comment, source, user, now, vote_id),
                )
        receipt = VoteReceipt(
            id=vote_id,
            answer_id=answer_id,
            rating=rating,
            replaced=earlier is not None,
            previous=earlier[1] if earlier else None,
        )
        self._notify(lambda observer: observer.vote_cast(receipt))
        return receipt

    def _notify(self, event: Callable[[AnswerObserver], None]) -> None:
        if self._observer is None:
            return
        try:
            event(self._observer)
        except Exception:  # counting must never cost an answer or a vote
            log.exception("the answer log's observer failed")

    def votes(self, answer_id: str | None = None, limit: int = 100) -> list[Vote]:
        """The most recently cast or changed votes (on one answer, or on all), newest first."""
        where, params = ("WHERE answer_id = ?", (answer_id,)) if answer_id else ("", ())
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT {_VOTE_COLUMNS} FROM feedback {where}"
                    " ORDER BY updated_at DESC, id DESC LIMIT ?",
                    (*params, limit),
                )
                .fetchall()
            )
        return [Vote.model_validate(dict(zip(_VOTE_FIELDS, row, strict=True))) for row in rows]

    def answers_since(self, since: date | None = None) -> list[AnswerRow]:
        """Every answer served on or after `since` (UTC), oldest first, without its JSON."""
        where, params = ("WHERE created_at >= ?", (_day_start(since),)) if since else ("", ())
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, created_at, source, question, standalone_question, coverage,"
                f" roles, answerer FROM answers {where} ORDER BY created_at, id",
                params,
            ).fetchall()
        fields = ("id", "created_at", "source", "question", "standalone_question", "coverage")
        return [
            AnswerRow(
                **dict(zip(fields, row[:6], strict=True)), roles=json.loads(row[6]), answerer=row[7]
            )
            for row in rows
        ]

    def export(
        self, *, rating: Rating | None = None, since: date | None = None
    ) -> Iterator[dict[str, Any]]:
        """Answers that have votes, oldest first, each as a JSON-ready dict with its votes.

        `rating` keeps answers with at least one vote of that rating, `since` those with a
        vote cast or changed on or after that day (UTC); together, a vote meeting both.
        Votes from before answers were stored have no answer to go with and are left out.
        Reads on a connection of its own, in one snapshot, so the log stays usable meanwhile.
        """
        conditions, params = ["f.answer_id = a.id"], list[str]()
        if rating is not None:
            conditions.append("f.rating = ?")
            params.append(rating)
        if since is not None:
            conditions.append("f.updated_at >= ?")
            params.append(_day_start(since))
        query = (
            "SELECT a.id, a.created_at, a.source, a.question, a.standalone_question,"
            " a.coverage, a.roles, a.answerer, a.generation, a.answer FROM answers a"
            f" WHERE EXISTS (SELECT 1 FROM feedback f WHERE {' AND '.join(conditions)})"
            " ORDER BY a.created_at, a.id"
        )
        with closing(self._connect()) as db:
            db.execute("BEGIN")  # one snapshot for the answers and their votes
            for row in db.execute(query, params):
                (answer_id, created, source, question, standalone, coverage, roles) = row[:7]
                answerer, generation, answer = row[7:]
                votes = db.execute(
                    f"SELECT {_VOTE_COLUMNS} FROM feedback"
                    " WHERE answer_id = ? ORDER BY created_at, id",
                    (answer_id,),
                ).fetchall()
                yield {
                    "id": answer_id,
                    "created_at": created,
                    "source": source,
                    "question": question,
                    "standalone_question": standalone,
                    "coverage": coverage,
                    "roles": json.loads(roles),
                    "answerer": answerer,
                    "generation": generation,
                    # Who voted is kept out: the voter key holds a client address.
                    "votes": [
                        {
                            field: value
                            for field, value in zip(_VOTE_FIELDS, vote, strict=True)
                            if field not in {"id", "answer_id", "voter"}
                        }
                        for vote in votes
                    ],
                    "answer": json.loads(answer),
                }
            db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (the file stays; the next call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
