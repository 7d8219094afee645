"""The ONNX export of the real model: made once into a temporary folder, checked against torch.

Nothing here reads the developer's own export in `.blueprints/models`: the session fixture
exports into a folder of its own, through the same `load_embedder` an ingest uses.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from assistant import onnx_export
from assistant.embeddings import (
    CachedEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    load_embedder,
)
from assistant.errors import EmbeddingModelError
from assistant.onnx_export import (
    MODEL_FILE,
    STAMP_FILE,
    TOKENIZER_FILE,
    export_onnx_model,
    export_problem,
    read_stamp,
    source_digest,
)
from assistant.service import open_store
from assistant.settings import PROJECT_ROOT, Settings
from ingest.chunker import chunk_blueprint
from ingest.parsers import parse_source
from tests.conftest import BUNDLED_CORPUS, make_settings

pytestmark = pytest.mark.integration

QUESTIONS = [
    "What KPIs does the VP of Data and AI own?",
    "what should happen in the first 30 days?",
    "Which tools does a data leader use?",
    "Who does the VP of Data and AI report to?",
    "How is the role's success measured after a year?",
]


@pytest.fixture(scope="session")
def onnx_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose models folder holds an export made by this test session."""
    root = tmp_path_factory.mktemp("onnx")
    return make_settings(root / "chroma", models_dir=root / "models")


@pytest.fixture(scope="session")
def onnx_embedder(onnx_settings: Settings) -> CachedEmbedder:
    """What an ingest gets with no export yet: the export is made, then used."""
    assert export_problem(
        onnx_settings.onnx_export_dir, bundled_model_path(), onnx_settings.embedding_model
    )
    return load_embedder(onnx_settings, allow_export=True)


@pytest.fixture(scope="session")
def chunk_texts() -> list[str]:
    """Chunks of the bundled corpus as an ingest embeds them: every fourth by length."""
    texts = [
        chunk.text
        for path in sorted(BUNDLED_CORPUS.iterdir())
        for blueprint in parse_source(path).blueprints
        for chunk in chunk_blueprint(blueprint, 1000)
    ]
    return sorted(texts, key=len)[::4]


def assert_same_vectors(ours: list[list[float]], reference: list[list[float]]) -> None:
    a = np.asarray(ours, dtype=np.float32)
    b = np.asarray(reference, dtype=np.float32)
    assert a.shape == b.shape
    assert float(np.abs(a - b).max()) <= onnx_export.MAX_ABS_DIFF
    assert float(np.sum(a * b, axis=1).min()) >= onnx_export.MIN_COSINE


def test_ingest_path_makes_the_export_and_uses_it(
    onnx_embedder: CachedEmbedder, onnx_settings: Settings
) -> None:
    assert isinstance(onnx_embedder.inner, OnnxEmbedder)
    assert onnx_embedder.name == "all-MiniLM-L6-v2"
    export = onnx_settings.onnx_export_dir
    assert sorted(p.name for p in export.iterdir()) == sorted(
        [MODEL_FILE, TOKENIZER_FILE, STAMP_FILE]
    )
    # Nothing half-written is left beside it.
    assert [p.name for p in onnx_settings.models_dir.iterdir()] == [export.name]
    assert export_problem(export, bundled_model_path(), "all-MiniLM-L6-v2") is None


def test_stamp_records_the_source_tools_and_the_verification(
    onnx_embedder: CachedEmbedder, onnx_settings: Settings
) -> None:
    stamp = read_stamp(onnx_settings.onnx_export_dir)
    source = bundled_model_path()
    configured = json.loads((source / "sentence_bert_config.json").read_text(encoding="utf-8"))
    assert stamp.model == "all-MiniLM-L6-v2"
    assert stamp.source_sha256 == source_digest(source)
    assert stamp.max_seq_length == configured["max_seq_length"]
    assert stamp.dimension == 384
    assert stamp.opset == 17
    assert {"torch", "transformers", "sentence-transformers", "onnx", "onnxruntime"} <= set(
        stamp.tools
    )
    assert stamp.max_abs_diff <= onnx_export.MAX_ABS_DIFF
    assert stamp.min_cosine >= onnx_export.MIN_COSINE
    assert len(stamp.probe_embedding_sha256) == 64


def test_onnx_vectors_match_torch_on_the_corpus_chunks(
    onnx_embedder: CachedEmbedder, embedder: SentenceTransformerEmbedder, chunk_texts: list[str]
) -> None:
    # Chunks of all lengths in one call: sorted, padded and split into parallel batches.
    assert_same_vectors(
        onnx_embedder.embed_documents(chunk_texts), embedder.embed_documents(chunk_texts)
    )


def test_onnx_question_vectors_match_torch(
    onnx_embedder: CachedEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    ours = [onnx_embedder.embed_query(q) for q in QUESTIONS]
    assert_same_vectors(ours, [embedder.embed_query(q) for q in QUESTIONS])
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-5 for v in ours)


def test_text_past_the_window_is_truncated_at_256_word_pieces_like_torch(
    onnx_embedder: CachedEmbedder, embedder: SentenceTransformerEmbedder
) -> None:
    # The model's tokenizer.json says 128: an embedder that kept that would differ from torch
    # on any text between 128 and 256 word pieces, and ignore words the torch model reads.
    words = " ".join(f"deliverable{n} roadmap" for n in range(100))
    longer = words + " and then a different ending about budgets and hiring"
    ours = onnx_embedder.embed_documents([words, longer, words[:600]])
    assert ours[0] == pytest.approx(ours[1], abs=1e-6)
    assert_same_vectors(ours, embedder.embed_documents([words, longer, words[:600]]))


def test_an_index_built_with_torch_answers_onnx_questions_alike(
    onnx_embedder: CachedEmbedder,
    embedder: SentenceTransformerEmbedder,
    bundled_settings: Settings,
) -> None:
    store = open_store(bundled_settings)
    for question in QUESTIONS:
        by_torch = [c.id for c, _ in store.query(embedder.embed_query(question), 8)]
        by_onnx = [c.id for c, _ in store.query(onnx_embedder.embed_query(question), 8)]
        assert by_onnx == by_torch, question


def test_query_path_never_imports_torch(
    onnx_embedder: CachedEmbedder, onnx_settings: Settings
) -> None:
    question = QUESTIONS[0]
    script = textwrap.dedent(
        """
        import json, sys
        import api.cli, assistant.service
        from assistant.embeddings import load_embedder
        from assistant.settings import Settings

        embedder = load_embedder(Settings(_env_file=None), allow_export=False)
        vector = embedder.embed_query(sys.argv[1])
        print(json.dumps({
            "backend": type(embedder.inner).__name__,
            "vector": vector,
            "loaded": sorted(m for m in ("torch", "sentence_transformers", "transformers")
                             if m in sys.modules),
        }))
        """
    )
    env = dict(
        os.environ,
        BLUEPRINTS_MODELS_DIR=str(onnx_settings.models_dir),
        BLUEPRINTS_STORE_DIR=str(onnx_settings.store_dir),
        BLUEPRINTS_EMBEDDING_BACKEND="auto",
    )
    env.pop("BLUEPRINTS_EMBEDDING_MODEL_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", script, question],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["backend"] == "OnnxEmbedder"
    assert result["loaded"] == []
    assert result["vector"] == pytest.approx(onnx_embedder.embed_query(question), abs=1e-6)


def test_without_an_export_the_query_path_falls_back_to_torch_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "chroma", models_dir=tmp_path / "models")
    with caplog.at_level(logging.WARNING, logger="assistant.embeddings"):
        fallback = load_embedder(settings, allow_export=False)
    assert isinstance(fallback.inner, SentenceTransformerEmbedder)
    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("assistant")
    ]
    assert len(warnings) == 1
    assert "blueprints setup-model" in warnings[0].getMessage()
    assert not (tmp_path / "models").exists()


def test_torch_backend_ignores_a_valid_export(
    onnx_embedder: CachedEmbedder, onnx_settings: Settings
) -> None:
    settings = onnx_settings.model_copy(update={"embedding_backend": "torch"})
    assert isinstance(
        load_embedder(settings, allow_export=False).inner, SentenceTransformerEmbedder
    )


def test_failed_verification_keeps_the_old_export_and_leaves_nothing_behind(
    onnx_embedder: CachedEmbedder,
    onnx_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "models" / "all-MiniLM-L6-v2"
    shutil.copytree(onnx_settings.onnx_export_dir, target)
    before = (target / STAMP_FILE).read_bytes()
    # A tolerance no export can meet stands in for an export that came out wrong.
    monkeypatch.setattr(onnx_export, "MAX_ABS_DIFF", -1.0)
    with pytest.raises(EmbeddingModelError, match="does not reproduce the torch model"):
        export_onnx_model(bundled_model_path(), target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert (target / STAMP_FILE).read_bytes() == before
    assert export_problem(target, bundled_model_path(), "all-MiniLM-L6-v2") is None


def test_setup_model_verifies_an_existing_export_and_says_where(
    onnx_embedder: CachedEmbedder, onnx_settings: Settings
) -> None:
    stamp_before = read_stamp(onnx_settings.onnx_export_dir)
    result = CliRunner().invoke(
        app,
        ["setup-model"],
        env={
            "BLUEPRINTS_MODELS_DIR": str(onnx_settings.models_dir),
            "BLUEPRINTS_EMBEDDING_BACKEND": "auto",
        },
    )
    assert result.exit_code == 0, result.output
    # The console wraps long lines, paths included.
    output = "".join(result.output.split())
    assert output.startswith("all-MiniLM-L6-v2onONNX:Verifiedtheexportat")
    assert str(onnx_settings.onnx_export_dir) in output
    assert read_stamp(onnx_settings.onnx_export_dir) == stamp_before
