"""The `blueprints` CLI as a real process, for tests that kill it or run two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.server import free_port
from assistant.settings import PROJECT_ROOT
from ingest.pipeline import PAUSE_ENV


def cli_env(store_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI process on a store of the test's own."""
    env = {
        **os.environ,
        "BLUEPRINTS_STORE_DIR": str(store_dir),
        "BLUEPRINTS_LLM": "none",
        "BLUEPRINTS_CHROMA_URL": "",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    env.pop(PAUSE_ENV, None)
    env.update(extra)
    return env


class CliProcess:
    """A running `python -m api.cli …`, its stderr collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], *, pause_at: str | None = None):
        if pause_at:
            env = {**env, PAUSE_ENV: pause_at}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 180.0) -> None:
        """Wait until stderr shows `text` (fails if the process ends first)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                if any(text in line for line in self.lines):
                    return
                msg = f"process ended ({self.process.returncode}) before {text!r}:\n{self.stderr}"
                raise AssertionError(msg)
            if time.monotonic() > deadline:
                msg = f"no {text!r} within {timeout} s:\n{self.stderr}"
                raise AssertionError(msg)
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no `finally`, exactly what a crash or an OOM kill does."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, timeout: float = 300.0) -> tuple[int, str, str]:
        """Wait for the process; its exit code, stdout and stderr."""
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return self.process.returncode, stdout, self.stderr

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return "".join(self.lines)


def wait_until_up(url: str, alive: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Poll `url` until it answers 200; fail if `alive()` turns false or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert alive(), f"{what} exited before it was up"
        assert time.monotonic() < deadline, f"{what} was not up within {timeout:.0f} s"
        time.sleep(0.1)


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, CliProcess]]:
    """`blueprints serve` on a free loopback port, ready, until the block ends."""
    port = free_port()
    server = CliProcess(["serve", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{url}/readyz", lambda: server.process.poll() is None, "serve")
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{server.stderr}") from None
        yield url, server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
