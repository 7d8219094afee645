"""The same ingest-and-ask flow on the embedded store and on a real Chroma server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.server import free_port
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.models import AnswerCoverage
from assistant.service import Assistant, open_store
from assistant.settings import Settings
from ingest.pipeline import Ingestor
from tests.conftest import BUNDLED_CORPUS, catalogue, make_settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["embedded", "server"])
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        # A collection of this test's own on the shared server.
        return make_settings(
            tmp_path / "unused", chroma_url=url, collection=f"t-{tmp_path.name[-20:]}"
        )
    return make_settings(tmp_path / "chroma")


def test_ingest_reingest_and_ask_on_each_backend(
    backend_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    store = open_store(backend_settings)
    ingestor = Ingestor(store, embedder, chunk_size=backend_settings.chunk_size)
    first = ingestor.ingest([BUNDLED_CORPUS])
    assert first.documents_added == 31 and not first.errors
    assert len(catalogue(store)) == 31

    again = ingestor.ingest([BUNDLED_CORPUS])
    assert again.documents_unchanged == 31 and again.chunks_written == 0

    answer = Assistant(backend_settings, store, embedder).ask(
        "What KPIs does the VP of Data and AI own?"
    )
    assert answer.coverage is AnswerCoverage.ANSWERED
    assert "Tier-1 MTTR < 2 hours" in answer.answer


def test_unreachable_server_url_is_a_clear_error() -> None:
    from assistant.errors import StoreUnavailableError

    settings = make_settings(Path("/nonexistent"), chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnavailableError, match="cannot reach the Chroma server"):
        open_store(settings)
