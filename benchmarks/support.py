"""What the process-level benchmarks share: an index, the CLI's environment, a served process.

Everything runs on loopback and in temporary folders; the ONNX export is the developer's own
(`make setup` makes it, any ingest too).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import cycle, islice
from pathlib import Path
from typing import Any

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


TEMPLATES = (
    "What KPIs does the {role} own?",
    "What are the responsibilities of the {role}?",
    "What should the {role} achieve in the first 90 days?",
    "Which tools does the {role} use?",
    "Who does the {role} work with?",
    "What skills does the {role} need?",
    "What is the career path of the {role}?",
    "What can the {role} decide without approval?",
    "What are the risks for the {role}?",
    "What does the {role} do?",
    "What deliverables does the {role} produce?",
    "How is the {role} evaluated after a year?",
    "What experience should the {role} have?",
    "What red flags should we watch for when hiring the {role}?",
    "What does a typical day of the {role} look like?",
    "What is the mission of the {role}?",
)


def distinct_questions(roles: Sequence[str], count: int) -> list[str]:
    """`count` different questions: templates times roles, in a fixed shuffled order."""
    if not roles:
        sys.exit("no roles to ask about")
    questions = [t.format(role=r) for t in TEMPLATES for r in roles]
    if count > len(questions):
        sys.exit(f"{len(roles)} roles make {len(questions)} questions, not {count}")
    random.Random(len(questions)).shuffle(questions)
    return questions[:count]


def catalogue(url: str) -> list[dict[str, Any]]:
    """The roles a served index holds (`GET /v1/roles`)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        response = client.get("/v1/roles")
        response.raise_for_status()
        roles: list[dict[str, Any]] = response.json()
        return roles


def question_mix(roles: Sequence[dict[str, Any]], count: int) -> list[str]:
    """`count` questions: every other one about a role held as a full blueprint (the answers
    that cost most), the others about any role; all distinct as far as the roles allow.
    """
    full = [r["role"] for r in roles if r["coverage"] == "full"] or [r["role"] for r in roles]
    names = [r["role"] for r in roles]
    about_full = distinct_questions(full, min(count, len(TEMPLATES) * len(full)))
    taken = set(about_full)
    about_any = [
        q
        for q in distinct_questions(names, min(count, len(TEMPLATES) * len(names)))
        if q not in taken
    ]
    mixed = [q for pair in zip(cycle(about_full), about_any, strict=False) for q in pair]
    return list(islice(cycle(mixed), count))


def ask_timed(client: httpx.Client, question: str) -> float:
    """One `/v1/ask`, in ms; fails on anything but a 200."""
    started = time.perf_counter()
    response = client.post("/v1/ask", json={"question": question})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        sys.exit(f"/v1/ask {question!r}: {response.status_code} {response.text[:200]}")
    return elapsed


@dataclass
class Readiness:
    """How a freshly started server did: ready, its first answer, then the usual ones."""

    ready_s: float
    first_ms: float
    p50_ms: float
    p95_ms: float
    rss_mib: float

    @property
    def first_within_p95(self) -> bool:
        """Whether the first answer took no longer than the 95th percentile of the rest."""
        return self.first_ms <= self.p95_ms


def measure_ready(
    env: dict[str, str], log: Path, questions: Sequence[str], *, timeout: float = 600.0
) -> Readiness:
    """Start `blueprints serve`, time `/readyz`, the first question, then the others in turn.

    The questions are distinct, so the question cache never answers for the model.
    """
    with (
        serve_process(env, log, timeout=timeout) as served,
        httpx.Client(base_url=served.url, timeout=120) as client,
    ):
        first = ask_timed(client, questions[0])
        rest = [ask_timed(client, q) for q in questions[1:]]
        rss = rss_mib(served.process.pid)
    return Readiness(
        ready_s=served.ready_s,
        first_ms=first,
        p50_ms=statistics.median(rest),
        p95_ms=percentile(rest, 95),
        rss_mib=rss,
    )
