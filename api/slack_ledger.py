"""Which Slack deliveries are answered, and by whom: a ledger in SQLite shared by workers.

Slack re-sends an event (`X-Slack-Retry-Num`) when it did not see the acknowledgement in
time: the process restarted, crashed or stalled. Such a retry must be answered when the
first delivery never was, and ignored when its answer was posted or is still being
written by a live process. Every worker on the host claims each delivery here before
answering it and marks it done once the reply is posted; a claim whose owner is dead
passes to whoever receives the next retry.

"Alive" means: the owner's instance row exists (it is deleted on a clean shutdown), its
heartbeat is fresh, and, when it runs on this host, its process exists. The pid check
catches a killed worker at once, so even Slack's immediate retry is answered; the
heartbeat catches a hung one.

Rows are kept for an hour, then deleted: Slack retries an event three times within about
five minutes of the first delivery, so a key older than that will not be seen again, and
an hour leaves ample margin (delays, clock skew) while bounding the table by an hour of
traffic. A cap on the row count is deliberately not used: under a burst it would forget
a posted event inside the retry window and answer it twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_S = 5.0
STALE_AFTER_S = 4 * HEARTBEAT_S  # a few missed beats, not one slow one
KEEP_S = 3600.0
# Claims run before the 3-second acknowledgement: waiting longer for a lock than this
# would make Slack retry; past it, the delivery is answered without a claim.
BUSY_TIMEOUT_MS = 2000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS instances (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('started', 'done')),
        attempts INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS deliveries_by_age ON deliveries (first_seen)",
)


class Claim(StrEnum):
    """What a claim on a delivery found."""

    NEW = "new"  # never seen: answer it
    TAKEN_OVER = "taken_over"  # its first owner died before posting: answer it
    IN_PROGRESS = "in_progress"  # a live process is answering it: ignore
    DONE = "done"  # already answered: ignore

    @property
    def mine(self) -> bool:
        """Whether the claimant now owns the delivery and must answer it."""
        return self in (Claim.NEW, Claim.TAKEN_OVER)


def ledger_path(feedback_path: Path) -> Path:
    """The ledger's file, beside the feedback store: `feedback.slack.sqlite3`.

    A file of its own: it is disposable (delete it at any time, at worst a retry is
    answered twice), and its heartbeats do not churn the file worth backing up.
    """
    return feedback_path.with_suffix(".slack.sqlite3")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class DeliveryLedger:
    """Claims on Slack deliveries in one SQLite file (WAL), for every worker on a host.

    Each instance (one per app in a process) has its own id and heartbeat row. The
    synchronous methods are safe from any thread; the `a`-prefixed ones run them on the
    ledger's own thread, so they never queue behind answers in the default executor.
    """

    def __init__(
        self,
        path: Path,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
        keep_s: float = KEEP_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.keep_s = keep_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.instance_id = ""
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.open()

    def open(self) -> None:
        """Join under a fresh instance id (a no-op when open): an app can start again."""
        with self._lock:
            if self._conn is not None:
                return
            # One connection, guarded by the lock. The wall clock, not a monotonic one:
            # timestamps are compared across processes.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a power cut may lose the last claims (a retry answered twice at
            # worst); an application crash loses nothing.
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            self._conn = conn
            self.instance_id = uuid.uuid4().hex
            with self._transaction() as db:
                self._beat(db, self._clock())

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = f"the Slack delivery ledger {self.path} is closed"
            raise sqlite3.ProgrammingError(msg)
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: what is read inside cannot change
        # before the write, in this process or another one.
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _alive(
        self, host: str | None, pid: int | None, heartbeat_at: float | None, now: float
    ) -> bool:
        if host is None or pid is None or heartbeat_at is None:
            return False  # no instance row: it shut down, or was pruned long ago
        if now - heartbeat_at > self.stale_after_s:
            return False
        return host != self.host or _process_exists(pid)

    def claim(self, key: str) -> Claim:
        """Claim a delivery for this instance, atomically across processes."""
        with self._lock, self._transaction() as db:
            now = self._clock()
            self._beat(db, now)
            row = db.execute(
                "SELECT d.owner, d.state, i.host, i.pid, i.heartbeat_at FROM deliveries d"
                " LEFT JOIN instances i ON i.id = d.owner WHERE d.key = ?",
                (key,),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO deliveries (key, owner, state, attempts, first_seen, updated_at)"
                    " VALUES (?, ?, 'started', 1, ?, ?)",
                    (key, self.instance_id, now, now),
                )
                return Claim.NEW
            owner, state, host, pid, heartbeat_at = row
            if state == "done":
                return Claim.DONE
            if owner == self.instance_id or self._alive(host, pid, heartbeat_at, now):
                return Claim.IN_PROGRESS
            db.execute(
                "UPDATE deliveries SET owner = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE key = ?",
                (self.instance_id, now, key),
            )
            log.info("Slack delivery %s taken over from instance %s, which is gone", key, owner)
            return Claim.TAKEN_OVER

    def finish(self, key: str) -> None:
        """Mark a delivery done: its reply was posted (or there was nothing to reply)."""
        with self._lock:
            self._connection().execute(
                "UPDATE deliveries SET state = 'done', updated_at = ? WHERE key = ?",
                (self._clock(), key),
            )

    def release(self, key: str) -> None:
        """Give up this instance's claim, so the next delivery of `key` is answered."""
        with self._lock:
            self._connection().execute(
                "DELETE FROM deliveries WHERE key = ? AND owner = ? AND state = 'started'",
                (key, self.instance_id),
            )

    def beat(self) -> None:
        """Refresh this instance's heartbeat and delete what is older than `keep_s`."""
        with self._lock, self._transaction() as db:
            now = self._clock()
            self._beat(db, now)
            db.execute("DELETE FROM deliveries WHERE first_seen < ?", (now - self.keep_s,))
            db.execute("DELETE FROM instances WHERE heartbeat_at < ?", (now - self.keep_s,))

    def _beat(self, db: sqlite3.Connection, now: float) -> None:
        # An upsert: the row of an instance thought dead, and pruned, comes back.
        db.execute(
            "INSERT INTO instances (id, host, pid, started_at, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
            (self.instance_id, self.host, self.pid, now, now),
        )

    async def _run(self, fn: Callable[[], T]) -> T:
        self._connection()  # a closed ledger refuses here, before a thread is started for it
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="slack-ledger")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def aclaim(self, key: str) -> Claim:
        """`claim`, off the event loop."""
        return await self._run(partial(self.claim, key))

    async def afinish(self, key: str) -> None:
        """`finish`, off the event loop."""
        await self._run(partial(self.finish, key))

    async def arelease(self, key: str) -> None:
        """`release`, off the event loop."""
        await self._run(partial(self.release, key))

    async def keep_alive(self) -> None:
        """Beat every `heartbeat_s` until cancelled; a failed beat is logged and retried."""
        while True:
            try:
                await self._run(self.beat)
            except sqlite3.Error:
                log.warning("Slack delivery ledger %s: heartbeat failed", self.path, exc_info=True)
            await asyncio.sleep(self.heartbeat_s)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[DeliveryLedger]:
        """Open, and keep the heartbeat going for the duration; on exit, close the ledger."""
        self.open()
        heartbeat = asyncio.create_task(self.keep_alive(), name="slack-ledger-heartbeat")
        try:
            yield self
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            self.close()

    def close(self) -> None:
        """Leave: delete this instance's row, so its unfinished claims pass to others at once."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("DELETE FROM instances WHERE id = ?", (self.instance_id,))
                finally:
                    self._conn.close()
                    self._conn = None
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None
