"""Fixtures of the integration tests: servers on loopback standing in for remote services."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.server import free_port
from tests.support.cli_process import wait_until_up
from tests.support.wordpress_stub import WordPressStub


@pytest.fixture
def wordpress_site() -> Iterator[WordPressStub]:
    """A WordPress site on loopback: the bundled post and 6 generated blueprints."""
    with WordPressStub(generated=6) as site:
        yield site


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`chroma run` (shipped with the chromadb package) on a free loopback port."""
    chroma = Path(sys.executable).with_name("chroma")
    executable = str(chroma) if chroma.exists() else shutil.which("chroma")
    assert executable, "the chroma CLI ships with chromadb; reinstall with `make setup`"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [executable, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/v2/heartbeat", lambda: process.poll() is None, "chroma run", 60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
