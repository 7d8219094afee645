"""One writer at a time: an exclusive lock on a file beside the index.

The lock is an `flock` on an open file, so the operating system releases it when the holder
exits for any reason: a killed ingest never blocks the next one. The holder writes who it is
into the file, which is what a waiting writer tells its user.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from assistant.errors import BlueprintsError

_POLL_S = 0.2


class IndexBusyError(BlueprintsError):
    """Another writer held the index for longer than this one was willing to wait."""


class WriterLock:
    """An exclusive, process-wide lock on one index (a context manager).

    Args:
        path: The lock file (created if missing; it stays after release).
        timeout: Seconds to wait for another writer before giving up (0: do not wait).
        on_wait: Called once, with a description of the holder, when the lock is taken.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = 600.0,
        on_wait: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._timeout = timeout
        self._on_wait = on_wait
        self._clock = clock
        self._file: IO[str] | None = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        deadline = self._clock() + self._timeout
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _describe(handle)
                if self._clock() >= deadline:
                    handle.close()
                    msg = (
                        f"another writer holds the index ({holder}) and did not finish within "
                        f"{self._timeout:g} s; try again when it is done"
                    )
                    raise IndexBusyError(msg) from None
                if not told and self._on_wait is not None:
                    self._on_wait(holder)
                    told = True
                time.sleep(_POLL_S)
        handle.seek(0)
        handle.truncate()
        command = [os.path.basename(sys.argv[0]), *sys.argv[1:]] if sys.argv else []
        holder_info = {
            "pid": os.getpid(),
            "command": " ".join(command),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        handle.write(json.dumps(holder_info))
        handle.flush()
        self._file = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.flush()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _describe(handle: IO[str]) -> str:
    """Who holds the lock, from what the holder wrote into the file."""
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a process that has not said who it is"
    return f"pid {info.get('pid')}, `{info.get('command', '?')}`, since {info.get('since', '?')}"
