"""The one-time ONNX export of the embedding model, its stamp, and the check that it still fits.

The export is made with torch (and checked against the sentence-transformers model right
away); using it needs only onnxruntime and tokenizers. Everything torch-related is imported
inside `export_onnx_model`, so reading a stamp or checking an export never loads torch.

An export is a folder:

    model.onnx       the transformer in onnxruntime's fused kernels, inputs by name, dynamic
                     batch and sequence axes
    tokenizer.json   the model's fast tokenizer, copied as is
    export.json      the stamp below, written last: a folder without it is not an export
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.errors import EmbeddingModelError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from assistant.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
STAMP_FILE = "export.json"
OPSET = 17
EXPORT_FORMAT = 1
# The bar an export must clear against the sentence-transformers model, per vector component
# and per probe: float32 rounding between two runtimes stays around 1e-6, a wrong tokenizer
# setting or attention mask moves components by 1e-2.
MAX_ABS_DIFF = 1e-4
MIN_COSINE = 0.9999
# Probes that exercise what an export can get wrong: a question, an empty and a one-word text,
# punctuation, numbers and non-Latin script, a table row, and a text longer than any model's
# window (truncation). Embedded in one batch (padding) and one by one (the query path).
PROBE_TEXTS = (
    "What KPIs does the VP of Data and AI own?",
    "",
    "hi",
    "Director of SRE – 30/60/90-day goals: MTTR ≤ 30 min, 99.95% uptime, on-call health.",
    "Müller’s café — naïve résumé; 東京のデータ基盤チーム; Ünïcödé “quotes”.",
    "| KPI | Target | Cadence |\n| --- | --- | --- |\n| Data quality incidents | < 2 | quarterly |",
    " ".join(
        f"Responsibility {n}: own the data platform roadmap, budget and hiring plan."
        for n in range(60)
    ),
)
# An export takes well under a minute; a temporary folder this old was left by a crash.
_LEFTOVER_AGE_S = 3600
# Files of a model folder that say nothing about its vectors.
_IGNORED_SOURCE_FILES = frozenset({"README.md"})


class ExportStamp(BaseModel):
    """What an export was made from, with what, and how closely it matched the torch model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1]
    model: str
    source_sha256: str
    # relative path -> (size, mtime_ns): a stat-only check that the source is unchanged, so
    # a process start does not hash 90 MB of weights; the digest decides when they differ.
    source_files: dict[str, tuple[int, int]]
    onnx_sha256: str
    onnx_bytes: int
    max_seq_length: int
    dimension: int
    pad_id: int
    opset: int
    # onnxruntime's fused kernels the graph was rewritten to (Attention, SkipLayerNorm...).
    fused_operators: dict[str, int]
    tools: dict[str, str]
    probe_texts_sha256: str
    # The export's own probe vectors rounded to 1e-4 (the verification tolerance): two
    # exports with the same digest embed alike.
    probe_embedding_sha256: str
    max_abs_diff: float
    min_cosine: float
    created_at: str


class ProbeCheck(BaseModel):
    """An export's probe vectors beside the torch model's."""

    model_config = ConfigDict(frozen=True)

    max_abs_diff: float
    min_cosine: float
    probe_embedding_sha256: str

    @property
    def passed(self) -> bool:
        """Whether the export is within the tolerances."""
        return self.max_abs_diff <= MAX_ABS_DIFF and self.min_cosine >= MIN_COSINE


def read_stamp(export_dir: Path) -> ExportStamp:
    """The stamp of an export.

    Raises:
        EmbeddingModelError: There is no readable stamp in the folder.
    """
    path = export_dir / STAMP_FILE
    try:
        return ExportStamp.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        msg = f"no ONNX export at {export_dir}"
        raise EmbeddingModelError(msg) from exc
    except (OSError, ValidationError) as exc:
        msg = f"{path} is not a stamp this version understands"
        raise EmbeddingModelError(msg) from exc


def export_problem(
    export_dir: Path, source_model_dir: Path, name: str, *, thorough: bool = False
) -> str | None:
    """Why the export in `export_dir` cannot stand in for the model, or None when it can.

    Cheap, for every process start: file sizes and times, and a digest of the source only
    when those changed. `thorough` also hashes model.onnx against the stamp (for setup).
    """
    try:
        stamp = read_stamp(export_dir)
    except EmbeddingModelError as exc:
        return str(exc)
    if stamp.model != name:
        return f"{export_dir} is an export of {stamp.model!r}, not {name!r}"
    model = export_dir / MODEL_FILE
    if not model.is_file() or model.stat().st_size != stamp.onnx_bytes:
        return f"{model} is missing or not the file the stamp describes"
    if not (export_dir / TOKENIZER_FILE).is_file():
        return f"{export_dir / TOKENIZER_FILE} is missing"
    if thorough and _file_digest(model) != stamp.onnx_sha256:
        return f"{model} is damaged (its digest is not the stamp's)"
    if not source_model_dir.is_dir():
        return f"the source model {source_model_dir} is missing"
    if source_fingerprint(source_model_dir) == stamp.source_files:
        return None
    if source_digest(source_model_dir) == stamp.source_sha256:
        return None
    return f"the model at {source_model_dir} changed since it was exported to {export_dir}"


def export_onnx_model(
    source_model_dir: Path,
    target_dir: Path,
    *,
    name: str | None = None,
    reference: SentenceTransformerEmbedder | None = None,
) -> ExportStamp:
    """Export a sentence-transformers model to ONNX, verify it, and move it into place.

    The export is written to a temporary folder beside `target_dir` and renamed into place
    only once verified, so a crash never leaves a half export that looks complete. An
    export already at `target_dir` is replaced.

    Args:
        source_model_dir: A sentence-transformers model folder (Transformer, mean pooling).
        target_dir: Where the export goes.
        name: The model's name, recorded in the stamp (default: the target folder's name).
        reference: The torch model to verify against, when the caller has it loaded.

    Returns:
        The stamp of the new export.

    Raises:
        EmbeddingModelError: The model cannot be exported (unsupported modules, a missing
            package) or the export does not reproduce the torch model's vectors.
    """
    name = name or target_dir.name
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target_dir)
    work = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.partial-", dir=target_dir.parent))
    try:
        # mkdtemp makes the folder private; the export is as readable as the index beside it.
        work.chmod(0o755)
        stamp = _export_into(source_model_dir, work, name, reference)
        _move_into_place(work, target_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("exported %s to %s (max |diff| %.2g)", name, target_dir, stamp.max_abs_diff)
    return stamp


def verify_onnx_export(onnx: OnnxEmbedder, reference: SentenceTransformerEmbedder) -> ProbeCheck:
    """Embed the probe texts with the export and with the torch model, and compare.

    The export embeds them in one padded batch and one by one (the query path); the worst
    of the two is reported.
    """
    import numpy as np

    expected = np.asarray(reference.embed_documents(list(PROBE_TEXTS)), dtype=np.float32)
    batched = np.asarray(onnx.embed_documents(list(PROBE_TEXTS)), dtype=np.float32)
    single = np.asarray([onnx.embed_query(t) for t in PROBE_TEXTS], dtype=np.float32)
    diff = max(float(np.abs(expected - batched).max()), float(np.abs(expected - single).max()))
    cosine = min(
        float(np.sum(expected * batched, axis=1).min()),
        float(np.sum(expected * single, axis=1).min()),
    )
    return ProbeCheck(
        max_abs_diff=diff, min_cosine=cosine, probe_embedding_sha256=_probe_digest(batched)
    )


def _export_into(
    source: Path, work: Path, name: str, reference: SentenceTransformerEmbedder | None
) -> ExportStamp:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import onnx
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        msg = f"exporting the embedding model needs {exc.name}: reinstall with `make setup`"
        raise EmbeddingModelError(msg) from exc

    from assistant.embeddings import OnnxEmbedder, SentenceTransformerEmbedder

    if not source.is_dir():
        msg = f"embedding model not found at {source}; reinstall with `make setup`"
        raise EmbeddingModelError(msg)
    model = SentenceTransformer(str(source), device="cpu")
    _check_exportable(source, list(model))
    tokenizer = model.tokenizer
    # sentence-transformers types its modules as torch's `Module`, which hides the model's
    # own methods from mypy.
    transformer: Any = model[0]
    bert = transformer.auto_model
    # The eager attention exports as the plain MatMul/Softmax pattern onnxruntime fuses into
    # its Attention kernel; the SDPA path exports with NaN guards that block the fusion and
    # cost about a third of the batch throughput.
    bert.set_attn_implementation("eager")
    bert.eval()

    class _ByKeyword(torch.nn.Module):
        """transformers 5 takes the inputs by keyword only; the exporter passes them in order."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            output = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = output.last_hidden_state
            return hidden

    # A padded batch, so the trace keeps the attention mask rather than a shortcut taken
    # for an all-ones mask.
    sample = tokenizer(list(PROBE_TEXTS[:2]), padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    inputs = {n: sample[n] if n in sample else torch.zeros_like(sample["input_ids"]) for n in names}
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    model_file = work / MODEL_FILE
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is the legacy one and that some shapes become
        # constants where transformers checks them; the verification below is the real check.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _ByKeyword(bert),
            (),
            str(model_file),
            kwargs=inputs,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    onnx.checker.check_model(str(model_file))
    fused = _fuse(model_file, bert.config)
    shutil.copyfile(source / TOKENIZER_FILE, work / TOKENIZER_FILE)

    max_seq_length = _max_seq_length(model.max_seq_length, bert.config, tokenizer)
    pad_id = int(tokenizer.pad_token_id or 0)
    exported = OnnxEmbedder(
        model_file, work / TOKENIZER_FILE, name=name, max_seq_length=max_seq_length, pad_id=pad_id
    )
    reference = reference or SentenceTransformerEmbedder(source, name=name)
    check = verify_onnx_export(exported, reference)
    if not check.passed:
        msg = (
            f"the ONNX export of {name} does not reproduce the torch model (max |difference| "
            f"{check.max_abs_diff:.2g}, allowed {MAX_ABS_DIFF:g}; lowest cosine "
            f"{check.min_cosine:.6f}, needed {MIN_COSINE}); nothing was kept. The torch "
            "model still works: set BLUEPRINTS_EMBEDDING_BACKEND=torch"
        )
        raise EmbeddingModelError(msg)
    stamp = ExportStamp(
        format=EXPORT_FORMAT,
        model=name,
        source_sha256=source_digest(source),
        source_files=source_fingerprint(source),
        onnx_sha256=_file_digest(model_file),
        onnx_bytes=model_file.stat().st_size,
        max_seq_length=max_seq_length,
        dimension=len(exported.embed_query(PROBE_TEXTS[0])),
        pad_id=pad_id,
        opset=OPSET,
        fused_operators=fused,
        tools=_tool_versions(),
        probe_texts_sha256=hashlib.sha256("\0".join(PROBE_TEXTS).encode()).hexdigest(),
        probe_embedding_sha256=check.probe_embedding_sha256,
        max_abs_diff=check.max_abs_diff,
        min_cosine=check.min_cosine,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    # Written last: a folder without its stamp is never taken for an export.
    (work / STAMP_FILE).write_text(stamp.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return stamp


def _fuse(model_file: Path, config: Any) -> dict[str, int]:
    """Rewrite a BERT graph into onnxruntime's fused kernels; the fusions made, by kind.

    Attention, SkipLayerNormalization, BiasGelu and EmbedLayerNormalization do in one kernel
    what the exported graph does in dozens of small ops: about 7% less CPU per text in a
    batch, which brings the export level with torch's MKL kernels. Python-side fusions
    only (opt_level 0); the session applies its own graph optimizations at load.
    """
    if getattr(config, "model_type", None) != "bert":
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(model_file),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
        opt_level=0,
    )
    fused = model_file.with_suffix(".fused.onnx")
    model.save_model_to_file(str(fused))
    fused.replace(model_file)
    counts: dict[str, int] = model.get_fused_operator_statistics()
    return {kind: n for kind, n in counts.items() if n}


def _check_exportable(source: Path, modules: list[object]) -> None:
    """Only what `OnnxEmbedder` computes: a transformer, mean pooling, optional normalisation.

    Checked by class name, which sentence-transformers 5 and 6 share across module moves.
    """
    kinds = [type(m).__name__ for m in modules]
    pooling = modules[1] if len(modules) > 1 else None
    mode = getattr(pooling, "pooling_mode", None)
    if not isinstance(mode, str) and hasattr(pooling, "get_pooling_mode_str"):
        mode = pooling.get_pooling_mode_str()
    if kinds[:2] != ["Transformer", "Pooling"] or mode != "mean" or set(kinds[2:]) - {"Normalize"}:
        msg = (
            f"{source}: only Transformer + mean Pooling (+ Normalize) models can be exported, "
            f"this one has {', '.join(kinds)} (pooling {mode}); set "
            "BLUEPRINTS_EMBEDDING_BACKEND=torch"
        )
        raise EmbeddingModelError(msg)


def _max_seq_length(configured: int | None, config: object, tokenizer: object) -> int:
    """The window sentence-transformers uses, within what the model can take at all.

    sentence_bert_config.json says 256 for MiniLM; tokenizer.json itself says 128 and the
    position embeddings allow 512: the first is what the torch model truncates at.
    """
    limits = [
        value
        for value in (
            configured,
            getattr(config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        )
        if isinstance(value, int) and value > 0
    ]
    if not limits:
        msg = "the model declares no maximum sequence length (sentence_bert_config.json)"
        raise EmbeddingModelError(msg)
    return min(limits)


def _tool_versions() -> dict[str, str]:
    versions = {}
    for package in (
        "torch",
        "transformers",
        "sentence-transformers",
        "onnx",
        "onnxruntime",
        "tokenizers",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def _move_into_place(work: Path, target: Path) -> None:
    """Rename the finished export to `target`, replacing an older export there."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    try:
        work.rename(target)
    except OSError:
        # Another process put its export there first; when it is whole, ours is redundant.
        if not (target / STAMP_FILE).is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(target: Path) -> None:
    """Delete what an export killed half-way left beside `target`.

    Only folders older than any export takes, so one running in another process is spared.
    """
    cutoff = time.time() - _LEFTOVER_AGE_S
    for prefix in (f".{target.name}.partial-", f".{target.name}.old-"):
        for folder in target.parent.glob(f"{glob.escape(prefix)}*"):
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def _source_files(source: Path) -> list[Path]:
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file()
        and p.name not in _IGNORED_SOURCE_FILES
        and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )


def source_fingerprint(source: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of each file of a model folder, by relative path."""
    fingerprint = {}
    for path in _source_files(source):
        info = path.stat()
        fingerprint[path.relative_to(source).as_posix()] = (info.st_size, info.st_mtime_ns)
    return fingerprint


def source_digest(source: Path) -> str:
    """A SHA-256 over the names and contents of a model folder's files."""
    digest = hashlib.sha256()
    for path in _source_files(source):
        digest.update(path.relative_to(source).as_posix().encode())
        digest.update(bytes.fromhex(_file_digest(path)))
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _probe_digest(vectors: npt.NDArray[np.float32]) -> str:
    import numpy as np

    rounded = np.rint(vectors.astype(np.float64) * 1e4).astype(np.int32)
    return hashlib.sha256(rounded.tobytes()).hexdigest()
