"""Ingestion with the real model and a real Chroma on disk."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.items import chunk_items
from assistant.manifest import DocumentRecord
from assistant.models import Chunk, RoleCoverage
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChunkStore, open_client, open_store, pack_id
from ingest.pipeline import Ingestor
from tests.conftest import BUNDLED_CORPUS, catalogue
from tests.support.embedders import CountingEmbedder

pytestmark = pytest.mark.integration

WORDPRESS = BUNDLED_CORPUS / "vp-of-data-and-ai.wordpress.json"
LISTING = BUNDLED_CORPUS / "engineering-leadership-roles.listing.txt"
VP_DOC = "vp-of-data-and-ai:full"
POSTS_LIST = Path(__file__).resolve().parents[1] / "fixtures" / "posts-list.wordpress.json"


@pytest.fixture
def counting(embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def ingestor(settings: Settings, embedder: object, store: ChunkStore | None = None) -> Ingestor:
    return Ingestor(store or open_store(settings), embedder, chunk_size=settings.chunk_size)  # type: ignore[arg-type]


def test_bundled_corpus_gives_31_roles_one_full(bundled_settings: Settings) -> None:
    roles = catalogue(open_store(bundled_settings))
    assert len(roles) == 31
    full = [r for r in roles if r.coverage is RoleCoverage.FULL]
    assert [r.role for r in full] == ["VP of Data and AI"]
    assert len(full[0].sections) == 20
    assert {"Director of SRE", "Director of Site Reliability Engineering"} <= {
        r.role for r in roles
    }


def test_kpi_rows_are_whole_and_readable_in_chunks(bundled_settings: Settings) -> None:
    chunks = open_store(bundled_settings).all_chunks()
    kpi_rows = [
        line
        for c in chunks
        if c.section_key == "kpis" and c.kind == "table"
        for line in c.text.split("\n")[1:]
    ]
    assert len(kpi_rows) == 22
    assert any(
        "Metric name: MTTR for data/AI incidents" in row
        and "Tier-1 MTTR < 2 hours" in row
        and row.endswith("Frequency: Monthly")
        for row in kpi_rows
    )
    assert all(c.text.startswith(f"{c.role} > ") for c in chunks)


def test_reingest_unchanged_corpus_embeds_and_writes_nothing(
    tmp_settings: Settings, counting: CountingEmbedder
) -> None:
    first = ingestor(tmp_settings, counting).ingest([BUNDLED_CORPUS])
    assert first.documents_added == 31 and first.chunks_written > 50
    embedded = counting.embedded
    count = open_store(tmp_settings).count()

    again = ingestor(tmp_settings, counting).ingest([BUNDLED_CORPUS])
    assert (again.documents_unchanged, again.documents_added, again.documents_updated) == (31, 0, 0)
    assert again.chunks_written == 0 and again.chunks_deleted == 0
    assert counting.embedded == embedded
    assert open_store(tmp_settings).count() == count


def test_changed_document_replaces_its_chunks_without_duplicates(
    tmp_settings: Settings, counting: CountingEmbedder, tmp_path: Path
) -> None:
    source = tmp_path / "vp.json"
    shutil.copy(WORDPRESS, source)
    ingestor(tmp_settings, counting).ingest([source])
    store = open_store(tmp_settings)
    before = {c.id: c for c in store.all_chunks()}
    embedded = counting.embedded

    post = json.loads(source.read_text(encoding="utf-8"))
    post["content"]["rendered"] = post["content"]["rendered"].replace(
        "Tier-1 MTTR &lt; 2 hours", "Tier-1 MTTR &lt; 90 minutes"
    )
    source.write_text(json.dumps(post), encoding="utf-8")
    report = ingestor(tmp_settings, counting).ingest([source])

    assert (
        report.documents_updated == 1 and report.chunks_written == 1 and report.chunks_deleted == 1
    )
    after = store.all_chunks()
    (changed,) = [c for c in after if c.id not in before]
    # Only the changed chunk is embedded again, with its items.
    assert counting.embedded == embedded + 1 + len(chunk_items(changed))
    assert len(after) == len(before)
    texts = "\n".join(c.text for c in after)
    assert "Tier-1 MTTR < 90 minutes" in texts and "Tier-1 MTTR < 2 hours" not in texts
    assert len({c.doc_hash for c in after}) == 1


def test_prune_removes_documents_no_longer_in_the_sources(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(WORDPRESS, folder)
    shutil.copy(LISTING, folder)
    ingestor(tmp_settings, embedder).ingest([folder])
    (folder / LISTING.name).unlink()
    report = ingestor(tmp_settings, embedder).ingest([folder], prune=True)
    assert report.documents_pruned == 30
    assert [r.role for r in catalogue(open_store(tmp_settings))] == ["VP of Data and AI"]


def test_without_prune_other_documents_stay(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    ingestor(tmp_settings, embedder).ingest([WORDPRESS, LISTING])
    report = ingestor(tmp_settings, embedder).ingest([WORDPRESS])
    assert report.documents_pruned == 0
    assert len(catalogue(open_store(tmp_settings))) == 31


class FailingStore(ChunkStore):
    """A real store whose writes fail after the first batch has gone in."""

    def upsert(
        self,
        chunks: Sequence[Chunk],
        embeddings: Sequence[Sequence[float]],
        item_vectors: Sequence[np.ndarray] | None = None,
    ) -> None:
        super().upsert(
            chunks[:1], embeddings[:1], None if item_vectors is None else item_vectors[:1]
        )
        raise RuntimeError("disk full")


def test_failed_write_leaves_the_previous_version_intact(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    source = tmp_path / "vp.json"
    shutil.copy(WORDPRESS, source)
    ingestor(tmp_settings, embedder).ingest([source])
    before = sorted((c.id, c.text) for c in open_store(tmp_settings).all_chunks())

    post = json.loads(source.read_text(encoding="utf-8"))
    post["content"]["rendered"] = post["content"]["rendered"].replace("Quarterly", "Every quarter")
    source.write_text(json.dumps(post), encoding="utf-8")
    failing = FailingStore(open_client(tmp_settings), tmp_settings.collection)
    report = ingestor(tmp_settings, embedder, failing).ingest([source])

    assert report.documents_failed == 1 and "disk full" in report.errors[0].message
    assert sorted((c.id, c.text) for c in open_store(tmp_settings).all_chunks()) == before


def test_bad_files_are_reported_and_the_rest_ingested(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(LISTING, folder / "listing.txt")
    (folder / "truncated.json").write_text('{"title": {"rendered": "VP', encoding="utf-8")
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    report = ingestor(tmp_settings, embedder).ingest([folder, tmp_path / "missing.html"])
    assert report.documents_added == 30
    failed = {Path(e.source).name for e in report.errors}
    assert failed == {"truncated.json", "empty.md", "image.bin", "missing.html"}
    assert report.documents_failed == 4
    assert all(e.message for e in report.errors)


def test_reingesting_a_heading_only_version_of_a_stored_role_does_not_abort(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([POSTS_LIST])
    store = open_store(tmp_settings)
    before = sorted((c.id, c.text) for c in store.all_chunks())
    emptied = tmp_path / "head-of-devops.md"
    emptied.write_text(
        "# Head of DevOps\n\n## 1) Role Summary\n\n## 6) Goals, Objectives, and Milestones\n\n"
        "## 7) KPIs and Productivity Metrics\n",
        encoding="utf-8",
    )
    report = ingestor(tmp_settings, embedder).ingest([emptied, LISTING])
    assert report.documents_added == 30
    assert [Path(e.source).name for e in report.errors] == ["head-of-devops.md"]
    # The stored full blueprint is untouched; the listing's summaries joined it.
    full = sorted((c.id, c.text) for c in store.all_chunks() if c.coverage is RoleCoverage.FULL)
    assert full == before


def test_prune_keeps_the_stored_version_of_a_post_that_broke(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    source = tmp_path / "posts.json"
    shutil.copy(POSTS_LIST, source)
    ingestor(tmp_settings, embedder).ingest([source])
    posts = json.loads(source.read_text(encoding="utf-8"))
    posts[1]["content"]["rendered"] = "<p>Draft: content coming soon.</p>"
    source.write_text(json.dumps(posts), encoding="utf-8")
    report = ingestor(tmp_settings, embedder).ingest([source], prune=True)
    assert report.documents_pruned == 0 and report.documents_failed == 1
    assert "post 2 (id 202, Director of SRE" in report.errors[0].message
    roles = {r.role for r in catalogue(open_store(tmp_settings))}
    assert roles == {"Head of DevOps", "Director of SRE"}


# ---------- document packs ----------


def _record(store: ChunkStore, doc_id: str) -> DocumentRecord:
    return store.manifest.documents(store.head().generation).records[doc_id]


def test_each_document_is_packed_with_its_chunks_and_item_vectors(
    tmp_settings: Settings, counting: CountingEmbedder
) -> None:
    ingestor(tmp_settings, counting).ingest([WORDPRESS])
    store = open_store(tmp_settings)
    record = _record(store, VP_DOC)
    packed = store.pack(VP_DOC, record.doc_hash)
    assert packed is not None
    chunks, vectors = packed
    assert chunks == store.chunks(record.chunk_ids)
    stored = store.item_vectors(record.chunk_ids)
    assert vectors.keys() == stored.keys() and len(vectors) == len(chunks)
    for chunk_id, matrix in stored.items():
        assert np.array_equal(vectors[chunk_id], matrix)


def test_a_changed_document_gets_a_new_pack_and_its_old_one_goes(
    tmp_settings: Settings, counting: CountingEmbedder, tmp_path: Path
) -> None:
    source = tmp_path / "vp.json"
    shutil.copy(WORDPRESS, source)
    ingestor(tmp_settings, counting).ingest([source])
    store = open_store(tmp_settings)
    old = _record(store, VP_DOC)
    post = json.loads(source.read_text(encoding="utf-8"))
    post["content"]["rendered"] = post["content"]["rendered"].replace(
        "Tier-1 MTTR &lt; 2 hours", "Tier-1 MTTR &lt; 90 minutes"
    )
    source.write_text(json.dumps(post), encoding="utf-8")
    ingestor(tmp_settings, counting, store).ingest([source])

    new = _record(store, VP_DOC)
    assert store.pack_ids() == {pack_id(VP_DOC, new.doc_hash)} != {pack_id(VP_DOC, old.doc_hash)}
    chunks, vectors = store.pack(VP_DOC, new.doc_hash) or ([], {})
    # The unchanged chunks' item vectors are carried into the new pack, not embedded again.
    assert [c.id for c in chunks] == new.chunk_ids and vectors.keys() == set(new.chunk_ids)
    assert any("Tier-1 MTTR < 90 minutes" in c.text for c in chunks)


def test_a_pruned_document_leaves_no_pack(
    tmp_settings: Settings, counting: CountingEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(WORDPRESS, folder / "vp.json")
    shutil.copy(LISTING, folder / "listing.txt")
    store = open_store(tmp_settings)
    ingestor(tmp_settings, counting, store).ingest([folder])
    assert len(store.pack_ids()) == 31
    (folder / "vp.json").unlink()
    ingestor(tmp_settings, counting, store).ingest([folder], prune=True)
    assert len(store.pack_ids()) == 30
    assert not any(i.startswith(f"{VP_DOC}@") for i in store.pack_ids())


def test_a_stopped_writers_orphan_pack_is_swept_by_the_next_write(
    tmp_settings: Settings, counting: CountingEmbedder
) -> None:
    store = open_store(tmp_settings)
    ingestor(tmp_settings, counting, store).ingest([WORDPRESS])
    record = _record(store, VP_DOC)
    chunks, vectors = store.pack(VP_DOC, record.doc_hash) or ([], {})
    store.write_pack(VP_DOC, "0" * 64, chunks, vectors)  # as a writer that died would leave it
    store.write_head(store.head().model_copy(update={"dirty": True}))
    ingestor(tmp_settings, counting, store).ingest([LISTING])
    assert pack_id(VP_DOC, "0" * 64) not in store.pack_ids()
    assert pack_id(VP_DOC, record.doc_hash) in store.pack_ids()


def test_a_store_without_packs_answers_the_same_from_its_chunks(
    tmp_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    store = open_store(tmp_settings)
    ingestor(tmp_settings, embedder, store).ingest([BUNDLED_CORPUS])
    question = "What KPIs does the VP of Data and AI own?"
    packed = Assistant(tmp_settings, store, embedder).ask(question)
    # As an index written before packs existed: every document is read chunk by chunk.
    store.delete_packs(sorted(store.pack_ids()))
    unpacked = Assistant(tmp_settings, store, embedder).ask(question)
    assert unpacked.answer == packed.answer
    assert unpacked.citations == packed.citations


def test_a_rebuild_packs_every_document(tmp_settings: Settings, counting: CountingEmbedder) -> None:
    store = open_store(tmp_settings)
    ingestor(tmp_settings, counting, store).ingest([BUNDLED_CORPUS])
    store.delete_packs(sorted(store.pack_ids()))
    ingestor(tmp_settings, counting, store).rebuild()
    records = store.manifest.documents(store.head().generation).records
    assert store.pack_ids() == {pack_id(d, r.doc_hash) for d, r in records.items()}
