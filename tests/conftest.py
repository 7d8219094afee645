"""Shared fixtures: settings on temporary stores, the real embedding model, the bundled index."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.models import RoleInfo
from assistant.service import Assistant
from assistant.settings import PROJECT_ROOT, Settings
from assistant.snapshot import SnapshotReader
from assistant.store import ChunkStore, open_store

BUNDLED_CORPUS = PROJECT_ROOT / "data" / "blueprints"


def make_settings(store_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and `.env`."""
    values: dict[str, object] = {
        "store_dir": store_dir,
        "chroma_url": None,
        "llm": "none",
        "feedback_db": store_dir.parent / "feedback.sqlite3",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def catalogue(store: ChunkStore) -> list[RoleInfo]:
    """The roles a reader of the store sees at its committed generation."""
    return SnapshotReader(store).current().catalogue


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 on torch, loaded once per test session.

    The torch model, whatever export the developer has: it is the reference the ONNX
    export is checked against (tests/integration/test_onnx_embedder.py).
    """
    return SentenceTransformerEmbedder.from_settings(make_settings(Path("/nonexistent")))


@pytest.fixture(scope="session")
def bundled_settings(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Settings:
    """Settings whose store holds the bundled corpus, ingested once per session."""
    from ingest.pipeline import Ingestor

    settings = make_settings(tmp_path_factory.mktemp("bundled") / "chroma")
    report = Ingestor(open_store(settings), embedder, chunk_size=settings.chunk_size).ingest(
        [BUNDLED_CORPUS]
    )
    assert not report.errors, report.errors
    return settings


@pytest.fixture(scope="session")
def bundled_assistant(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder
) -> Assistant:
    """An extractive assistant over the bundled corpus."""
    return Assistant(bundled_settings, open_store(bundled_settings), embedder)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings on an empty store of this test's own."""
    yield make_settings(tmp_path / "chroma")
