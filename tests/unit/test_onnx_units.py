"""`OnnxEmbedder`'s tokenizing, padding, pooling and batching, and the export's stamp checks.

A tiny ONNX graph (an embedding table looked up by token id) and a word-level tokenizer
stand in for the transformer, so every expected vector is computed by hand.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from pydantic import ValidationError
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from assistant.embeddings import OnnxEmbedder, load_embedder
from assistant.errors import EmbeddingModelError
from assistant.onnx_export import (
    MODEL_FILE,
    STAMP_FILE,
    TOKENIZER_FILE,
    ExportStamp,
    _remove_leftovers,
    export_problem,
    read_stamp,
    source_digest,
    source_fingerprint,
)
from assistant.settings import PROJECT_ROOT, Settings

WORDS = ["[PAD]", "[UNK]", "kpi", "owner", "data", "ai", "vp", "roadmap"]
DIM = 4
# Row n of the table is the hidden state of token n. The padding row is huge, so a vector
# that averaged padding in would be far off.
TABLE = np.array(
    [[1000.0, -1000.0, 1000.0, -1000.0]]
    + [[math.sin(n + d) + 0.1 * d for d in range(DIM)] for n in range(1, len(WORDS))],
    dtype=np.float32,
)


def write_tiny_model(folder: Path) -> tuple[Path, Path]:
    """An ONNX graph that looks token ids up in TABLE, and a whitespace word tokenizer."""
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"], axis=0)],
        "tiny",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            # Declared but unused, like a real export's mask; there is no token_type_ids
            # input, which the embedder must then not feed.
            helper.make_tensor_value_info(
                "attention_mask", TensorProto.INT64, ["batch", "sequence"]
            ),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", DIM]
            )
        ],
        [helper.make_tensor("table", TensorProto.FLOAT, TABLE.shape, TABLE.flatten().tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    model_file = folder / MODEL_FILE
    onnx.save(model, str(model_file))
    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer_file = folder / TOKENIZER_FILE
    tokenizer.save(str(tokenizer_file))
    return model_file, tokenizer_file


def expected(text: str, max_tokens: int) -> list[float]:
    ids = [WORDS.index(w) if w in WORDS else 1 for w in text.split()][:max_tokens]
    mean = TABLE[ids].mean(axis=0)
    return (mean / np.linalg.norm(mean)).tolist()


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    return write_tiny_model(tmp_path)


def embedder(tiny: tuple[Path, Path], **options: int) -> OnnxEmbedder:
    model_file, tokenizer_file = tiny
    values = {"max_seq_length": 5, "batch_size": 64, "workers": 2} | options
    return OnnxEmbedder(model_file, tokenizer_file, name="tiny", **values)


def test_query_vector_is_the_normalised_mean_of_its_token_states(
    tiny: tuple[Path, Path],
) -> None:
    vector = embedder(tiny).embed_query("vp data ai")
    assert vector == pytest.approx(expected("vp data ai", 5), abs=1e-6)
    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-6)


def test_padding_in_a_batch_does_not_leak_into_shorter_texts(tiny: tuple[Path, Path]) -> None:
    texts = ["kpi", "vp data ai roadmap owner", "data ai"]
    vectors = embedder(tiny).embed_documents(texts)
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(expected(text, 5), abs=1e-6)


def test_texts_are_truncated_at_the_window(tiny: tuple[Path, Path]) -> None:
    model = embedder(tiny, max_seq_length=3)
    assert model.embed_query("vp data ai roadmap owner") == pytest.approx(
        model.embed_query("vp data ai"), abs=1e-6
    )
    assert model.embed_query("vp data ai roadmap") != pytest.approx(
        expected("vp data ai roadmap", 5), abs=1e-3
    )


def test_documents_come_back_in_input_order_across_parallel_batches(
    tiny: tuple[Path, Path],
) -> None:
    words = WORDS[2:]
    texts = [" ".join(words[(n + k) % len(words)] for k in range(1 + n % 5)) for n in range(41)]
    # Batches of 3 straddle the groups of equal length, so each mixes indexes out of order.
    model = embedder(tiny, batch_size=3, workers=3)
    vectors = model.embed_documents(texts)
    assert len(vectors) == len(texts)
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(expected(text, 5), abs=1e-6)


def test_empty_inputs(tiny: tuple[Path, Path]) -> None:
    model = embedder(tiny)
    assert model.embed_documents([]) == []
    # An empty text has no tokens at all here (no [CLS]/[SEP]): the zero vector stays zero
    # rather than dividing by zero.
    assert model.embed_query("") == [0.0] * DIM


def test_vectors_are_float32_values_in_python_lists(tiny: tuple[Path, Path]) -> None:
    rows = embedder(tiny).embed_documents(["kpi owner"])
    assert isinstance(rows, list) and isinstance(rows[0], list)
    assert all(type(v) is float for v in rows[0])
    assert rows[0] == np.asarray(rows[0], dtype=np.float32).tolist()


# --- the stamp check -------------------------------------------------------------------


def make_export(tmp_path: Path, name: str = "tiny") -> tuple[Path, Path]:
    """A source folder and an export of it with a stamp that matches."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "config.json").write_text('{"hidden_size": 4}', encoding="utf-8")
    (source / "weights.bin").write_bytes(b"\x01" * 64)
    (source / "README.md").write_text("about the model", encoding="utf-8")
    export = tmp_path / "models" / name
    export.mkdir(parents=True)
    model_file, _ = write_tiny_model(export)
    stamp = ExportStamp(
        format=1,
        model=name,
        source_sha256=source_digest(source),
        source_files=source_fingerprint(source),
        onnx_sha256="0" * 64,
        onnx_bytes=model_file.stat().st_size,
        max_seq_length=5,
        dimension=DIM,
        pad_id=0,
        opset=17,
        fused_operators={},
        tools={},
        probe_texts_sha256="",
        probe_embedding_sha256="",
        max_abs_diff=0.0,
        min_cosine=1.0,
        created_at="2026-12-01T00:00:00+00:00",
    )
    (export / STAMP_FILE).write_text(stamp.model_dump_json(), encoding="utf-8")
    return source, export


def test_matching_export_has_no_problem_and_loads(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    assert export_problem(export, source, "tiny") is None
    model = OnnxEmbedder.from_export(export)
    assert model.name == "tiny"
    assert model.embed_query("vp data") == pytest.approx(expected("vp data", 5), abs=1e-6)


def test_folder_without_a_stamp_is_no_export(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    (export / STAMP_FILE).unlink()
    assert "no ONNX export at" in (export_problem(export, source, "tiny") or "")
    with pytest.raises(EmbeddingModelError, match="no ONNX export"):
        OnnxEmbedder.from_export(export)


def test_unreadable_or_future_stamp_is_not_understood(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    stamp = json.loads((export / STAMP_FILE).read_text(encoding="utf-8"))
    (export / STAMP_FILE).write_text(json.dumps(stamp | {"format": 2}), encoding="utf-8")
    assert "not a stamp this version understands" in (export_problem(export, source, "tiny") or "")
    (export / STAMP_FILE).write_text("{half a stamp", encoding="utf-8")
    assert "not a stamp this version understands" in (export_problem(export, source, "tiny") or "")


def test_export_of_another_model_does_not_count(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    assert "is an export of 'tiny', not 'other'" in (export_problem(export, source, "other") or "")


def test_truncated_or_missing_model_file_does_not_count(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    data = (export / MODEL_FILE).read_bytes()
    (export / MODEL_FILE).write_bytes(data[:-10])
    assert "not the file the stamp describes" in (export_problem(export, source, "tiny") or "")
    (export / MODEL_FILE).unlink()
    assert "missing" in (export_problem(export, source, "tiny") or "")


def test_touched_but_unchanged_source_still_matches_by_digest(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    weights = source / "weights.bin"
    later = weights.stat().st_mtime_ns + 5_000_000_000
    os.utime(weights, ns=(later, later))
    assert export_problem(export, source, "tiny") is None


def test_changed_source_model_needs_a_new_export(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    (source / "weights.bin").write_bytes(b"\x02" * 64)
    problem = export_problem(export, source, "tiny") or ""
    assert "changed since it was exported" in problem


def test_readme_of_the_source_does_not_matter(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    (source / "README.md").write_text("a longer text about the model", encoding="utf-8")
    assert export_problem(export, source, "tiny") is None


# --- settings and the backend choice ----------------------------------------------------


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_models_dir_defaults_beside_the_default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUEPRINTS_MODELS_DIR", raising=False)
    monkeypatch.delenv("BLUEPRINTS_STORE_DIR", raising=False)
    default = settings()
    assert default.models_dir == PROJECT_ROOT / ".blueprints" / "models"
    assert default.models_dir.parent == default.store_dir.parent
    assert default.onnx_export_dir == default.models_dir / "all-MiniLM-L6-v2"


def test_models_dir_and_backend_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLUEPRINTS_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("BLUEPRINTS_EMBEDDING_BACKEND", "torch")
    monkeypatch.setenv("BLUEPRINTS_EMBEDDING_CACHE_SIZE", "0")
    configured = settings()
    assert configured.models_dir == tmp_path
    assert configured.embedding_backend == "torch"
    assert configured.embedding_cache_size == 0


def test_unknown_backend_and_negative_cache_are_refused() -> None:
    with pytest.raises(ValidationError, match="embedding_backend"):
        settings(embedding_backend="tensorflow")
    with pytest.raises(ValidationError, match="embedding_cache_size"):
        settings(embedding_cache_size=-1)


def test_export_folder_name_is_safe_for_hub_style_model_names(tmp_path: Path) -> None:
    configured = settings(models_dir=tmp_path, embedding_model="sentence-transformers/all-MiniLM")
    assert configured.onnx_export_dir == tmp_path / "sentence-transformers_all-MiniLM"


def test_onnx_backend_without_an_export_says_how_to_make_one(tmp_path: Path) -> None:
    configured = settings(models_dir=tmp_path, embedding_backend="onnx")
    with pytest.raises(EmbeddingModelError, match="blueprints setup-model"):
        load_embedder(configured, allow_export=False)


def test_thorough_check_finds_a_damaged_model_file_of_the_right_size(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    # make_export's stamp holds a made-up digest: only the thorough check looks at it.
    assert export_problem(export, source, "tiny") is None
    assert "is damaged" in (export_problem(export, source, "tiny", thorough=True) or "")
    stamp = read_stamp(export)
    digest = hashlib.sha256((export / MODEL_FILE).read_bytes()).hexdigest()
    (export / STAMP_FILE).write_text(
        stamp.model_copy(update={"onnx_sha256": digest}).model_dump_json(), encoding="utf-8"
    )
    assert export_problem(export, source, "tiny", thorough=True) is None


def test_onnx_backend_with_an_unloadable_export_says_so(tmp_path: Path) -> None:
    source, export = make_export(tmp_path)
    size = (export / MODEL_FILE).stat().st_size
    (export / MODEL_FILE).write_bytes(b"\0" * size)
    configured = settings(
        models_dir=export.parent,
        embedding_model="tiny",
        embedding_model_path=source,
        embedding_backend="onnx",
    )
    with pytest.raises(EmbeddingModelError, match="cannot be loaded"):
        load_embedder(configured, allow_export=False)


def test_folders_left_by_a_killed_export_are_removed_but_not_a_running_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "all-MiniLM-L6-v2"
    stale = tmp_path / ".all-MiniLM-L6-v2.partial-abc"
    running = tmp_path / ".all-MiniLM-L6-v2.partial-def"
    other = tmp_path / ".another-model.partial-abc"
    for folder in (stale, running, other):
        folder.mkdir()
        (folder / MODEL_FILE).write_bytes(b"half")
    long_ago = stale.stat().st_mtime - 2 * 3600
    for folder in (stale, other):
        os.utime(folder, (long_ago, long_ago))
    _remove_leftovers(target)
    assert not stale.exists()
    assert running.exists() and other.exists()
