"""Fixtures of the integration tests: servers on loopback standing in for remote services."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.server import free_port
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
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "chroma run exited early"
            assert time.monotonic() < deadline, "chroma server did not start within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
