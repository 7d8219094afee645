"""Several `blueprints serve` processes over one Chroma server: what one writes, all answer from.

Two real servers on loopback share one `chroma run`; a `blueprints ingest` process writes to
it as an operator's job would. Each server sees the new generation on its next request.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BUNDLED_CORPUS
from tests.support.cli_process import CliProcess, cli_env, serving

pytestmark = pytest.mark.integration

VP = BUNDLED_CORPUS / "vp-of-data-and-ai.wordpress.json"
LISTING = BUNDLED_CORPUS / "engineering-leadership-roles.listing.txt"
KPI_QUESTION = "What KPIs does the VP of Data and AI own?"


@pytest.fixture
def shared_env(chroma_server: str, tmp_path: Path) -> dict[str, str]:
    """The environment of every process of one deployment: one Chroma server, one collection."""
    return cli_env(
        tmp_path / "local" / "chroma",  # only the writer lock and the answer log live here
        BLUEPRINTS_CHROMA_URL=chroma_server,
        BLUEPRINTS_COLLECTION=f"shared-{tmp_path.name[-20:]}",
        BLUEPRINTS_RATE_LIMIT_PER_MINUTE="100000",
        BLUEPRINTS_LOG_FORMAT="text",
    )


def ingest(env: dict[str, str], *args: str) -> None:
    """`blueprints ingest …` as its own process, against the shared store."""
    code, stdout, stderr = CliProcess(["ingest", *args], env).finish()
    assert code == 0, stdout + stderr


def roles(url: str) -> dict[str, str]:
    """Role title -> coverage, as the server lists them."""
    response = httpx.get(f"{url}/v1/roles", timeout=30)
    assert response.status_code == 200, response.text
    return {r["role"]: r["coverage"] for r in response.json()}


def ask(url: str, question: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_an_ingest_into_the_shared_store_reaches_every_server_on_its_next_request(
    shared_env: dict[str, str],
) -> None:
    ingest(shared_env, str(LISTING))
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(shared_env))[0] for _ in range(2)]
        for url in urls:
            assert "VP of Data and AI" not in roles(url)
            before = ask(url, KPI_QUESTION)
            assert before["coverage"] == "not_found"
        generation = ask(urls[0], KPI_QUESTION)["trace"]["generation"]

        ingest(shared_env, str(VP))

        for url in urls:
            assert roles(url)["VP of Data and AI"] == "full"
            answer = ask(url, KPI_QUESTION)
            assert answer["coverage"] == "answered"
            assert answer["trace"]["generation"] == generation + 1
            assert answer["citations"]
            assert {c["role"] for c in answer["citations"]} == {"VP of Data and AI"}
        # Both answer from the same generation with the same evidence.
        first, second = (ask(url, KPI_QUESTION) for url in urls)
        assert [c["quote"] for c in first["citations"]] == [c["quote"] for c in second["citations"]]


def test_a_pruned_role_disappears_from_every_server(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(VP, corpus / VP.name)
    shutil.copy(LISTING, corpus / LISTING.name)
    ingest(shared_env, str(corpus))
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(shared_env))[0] for _ in range(2)]
        assert all(roles(url)["VP of Data and AI"] == "full" for url in urls)

        (corpus / VP.name).unlink()
        ingest(shared_env, str(corpus), "--prune")

        for url in urls:
            assert "VP of Data and AI" not in roles(url)
            assert ask(url, KPI_QUESTION)["coverage"] == "not_found"
