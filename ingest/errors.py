"""Errors raised while reading sources."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import BlueprintsError


class SourceError(BlueprintsError):
    """A source file that cannot be read as a blueprint.

    The message always starts with the file name and ends with what to do about it.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class SyncError(BlueprintsError):
    """A site that cannot be synced as asked.

    The message always starts with the URL concerned and ends with what to try.
    """

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem
