"""Durable 👍/👎 feedback on answers, shared by the HTTP API and the Slack app."""

from __future__ import annotations

import builtins
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

Rating = Literal["up", "down"]

_SCHEMA = """
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


class FeedbackRecord(BaseModel):
    """One stored rating of an answer."""

    id: int
    answer_id: str
    rating: Rating
    comment: str | None = None
    source: str
    user: str | None = None
    created_at: datetime


class FeedbackStore:
    """Feedback in one SQLite file (WAL), safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._connection().execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        # One connection guarded by the lock (writes are rare and tiny; SQLite serialises
        # writers anyway), reopened after `close` so an app can be started again.
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a rating acknowledged to the user survives a power cut, not only a crash.
            self._conn.execute("PRAGMA synchronous=FULL")
        return self._conn

    def record(
        self,
        answer_id: str,
        rating: Rating,
        comment: str | None = None,
        source: str = "api",
        user: str | None = None,
    ) -> int:
        """Store one rating and return its id."""
        created = datetime.now(UTC).isoformat()
        with self._lock:
            cursor = self._connection().execute(
                "INSERT INTO feedback (answer_id, rating, comment, source, user, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (answer_id, rating, comment, source, user, created),
            )
        return int(cursor.lastrowid or 0)

    def list(self, limit: int = 100) -> builtins.list[FeedbackRecord]:
        """The most recent ratings, newest first."""
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT id, answer_id, rating, comment, source, user, created_at"
                    " FROM feedback ORDER BY id DESC LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        fields = ("id", "answer_id", "rating", "comment", "source", "user", "created_at")
        return [FeedbackRecord.model_validate(dict(zip(fields, row, strict=True))) for row in rows]

    def close(self) -> None:
        """Close the connection (the file stays; the next call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
