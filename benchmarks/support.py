"""What the process-level benchmarks share: an index, the CLI's environment, a served process.

Everything runs on loopback and in temporary folders; the ONNX export is the developer's own
(`make setup` makes it, any ingest too).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from assistant.settings import PROJECT_ROOT, Settings

BUNDLED_CORPUS = PROJECT_ROOT / "data" / "blueprints"
BIN = Path(sys.executable).parent
BACKENDS = ("onnx", "torch")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def index_settings(root: Path, **overrides: object) -> Settings:
    """Settings on a store under `root`, isolated from the developer's environment and `.env`."""
    values: dict[str, object] = {
        "store_dir": root / "chroma",
        "chroma_url": None,
        "llm": "none",
        "feedback_db": root / "feedback.sqlite3",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def ingest_bundled(settings: Settings) -> None:
    """Index the bundled corpus (ONNX embedder; the export is made if missing)."""
    from assistant.service import load_embedder, open_store
    from ingest.pipeline import Ingestor

    store = open_store(settings)
    report = Ingestor(store, load_embedder(settings), chunk_size=settings.chunk_size).ingest(
        [BUNDLED_CORPUS]
    )
    store.close()
    if report.errors:
        sys.exit(f"the bundled corpus did not ingest: {report.errors}")


def cli_env(settings: Settings, backend: str, **extra: str) -> dict[str, str]:
    """The environment of a `blueprints` process on `settings`' store with one backend."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("BLUEPRINTS_") and not key.startswith("SLACK_")
    }
    env.update(
        {
            "BLUEPRINTS_STORE_DIR": str(settings.store_dir),
            "BLUEPRINTS_FEEDBACK_DB": str(settings.feedback_path),
            "BLUEPRINTS_MODELS_DIR": str(settings.models_dir),
            "BLUEPRINTS_LLM": "none",
            "BLUEPRINTS_EMBEDDING_BACKEND": backend,
            "BLUEPRINTS_LOG_FORMAT": "text",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
    )
    if settings.chroma_url:
        env["BLUEPRINTS_CHROMA_URL"] = settings.chroma_url
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    from api.server import free_port as find

    return find("127.0.0.1")


def rss_mib(pid: int) -> float:
    """A process's resident memory, in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Served:
    """A `blueprints serve` process: its address, and how long it took to become ready."""

    url: str
    process: subprocess.Popen[bytes]
    ready_s: float
    log: Path


@contextmanager
def serve_process(
    env: dict[str, str], log: Path, *, timeout: float = 300.0, args: Sequence[str] = ()
) -> Iterator[Served]:
    """Start `blueprints serve` on a free loopback port; yields once `/readyz` says 200.

    `ready_s` runs from the moment the process is started to the first 200 of `/readyz`.
    """
    port = free_port()
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BIN / "blueprints"), "serve", "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            ready_s = _wait_ready(url, process, started, timeout, log)
            yield Served(url, process, ready_s, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(
    url: str, process: subprocess.Popen[bytes], started: float, timeout: float, log: Path
) -> float:
    with httpx.Client(base_url=url, timeout=5) as client:
        while True:
            if process.poll() is not None:
                sys.exit(f"blueprints serve exited ({process.returncode}):\n{log.read_text()}")
            try:
                if client.get("/readyz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > timeout:
                sys.exit(f"blueprints serve not ready after {timeout:.0f} s:\n{log.read_text()}")
            time.sleep(0.01)


def load_average() -> str:
    """The machine's 1, 5 and 15-minute load averages, as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
