"""The index stays right through typos, crashes, concurrent writers, other processes and upgrades.

Each test here failed on the version before index generations: prune deleted everything on a
mistyped path, a reader kept quoting replaced text while the chunk count stayed the same, a
writer killed between its writes left two versions of a document forever, and so on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.cli import app
from assistant.embeddings import Embedder
from assistant.models import RoleCoverage
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.snapshot import SnapshotReader
from assistant.store import ChunkStore, open_store
from ingest.chunker import chunk_blueprint
from ingest.lock import WriterLock
from ingest.parsers import parse_source
from ingest.pipeline import Ingestor
from tests.conftest import BUNDLED_CORPUS, catalogue
from tests.support.cli_process import CliProcess, cli_env, serving

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LISTING = BUNDLED_CORPUS / "engineering-leadership-roles.listing.txt"
SRE = FIXTURES / "unnumbered-sre.md"
SRE_DOC = "site-reliability-engineer:full"
OLD_TARGET, NEW_TARGET = "< 30% of time", "< 25% of time"
runner = CliRunner()


def ingestor(settings: Settings, embedder: Embedder, store: ChunkStore | None = None) -> Ingestor:
    return Ingestor(store or open_store(settings), embedder, chunk_size=settings.chunk_size)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of sources of the test's own: the 30-role listing and a small full blueprint."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(LISTING, folder / "listing.txt")
    shutil.copy(SRE, folder / "sre.md")
    return folder


def edit_sre(folder: Path) -> None:
    """Change one table cell: same number of chunks, different text."""
    path = folder / "sre.md"
    path.write_text(path.read_text(encoding="utf-8").replace(OLD_TARGET, NEW_TARGET), "utf-8")


def planned_ids(folder: Path, settings: Settings) -> set[str]:
    """The chunk ids the pipeline plans for the SRE blueprint as the folder holds it now."""
    from ingest.pipeline import display_source

    path = folder / "sre.md"
    (blueprint,) = parse_source(path).blueprints
    blueprint = blueprint.model_copy(update={"source": display_source(path)})
    return {c.id for c in chunk_blueprint(blueprint, settings.chunk_size)}


def served_chunks(store: ChunkStore) -> list[str]:
    """The ids of every chunk a reader answers from, each document read from the store."""
    reader = SnapshotReader(store)
    snapshot = reader.current()
    return sorted(
        c.id for d in snapshot.serving_docs() for c in reader.document(snapshot, d).chunks
    )


def sre_text(store: ChunkStore) -> str:
    return "\n".join(c.text for c in store.all_chunks() if c.doc_id == SRE_DOC)


# -- prune is safe by construction ------------------------------------------------------


def test_prune_of_a_mistyped_path_deletes_nothing_and_says_why(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    report = ingestor(tmp_settings, embedder).ingest([corpus.parent / "corpuz"], prune=True)
    assert report.documents_pruned == 0 and report.chunks_deleted == 0
    messages = " ".join(e.message for e in report.errors)
    assert "no such file or folder" in messages and "prune refused" in messages
    assert len(catalogue(open_store(tmp_settings))) == 31


def test_cli_prune_of_a_mistyped_folder_exits_non_zero_and_keeps_the_index(
    tmp_path: Path, corpus: Path
) -> None:
    env = cli_env(tmp_path / "chroma")
    assert runner.invoke(app, ["ingest", str(corpus)], env=env).exit_code == 0
    result = runner.invoke(app, ["ingest", "--prune", str(tmp_path / "corpuz")], env=env)
    assert result.exit_code == 1
    assert "prune refused" in result.output and "no such file or folder" in result.output
    roles = runner.invoke(app, ["roles", "--json"], env=env)
    assert len(json.loads(roles.stdout)) == 31


def test_prune_of_another_folder_keeps_documents_from_elsewhere(
    tmp_settings: Settings, embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus / "listing.txt"])
    saved = tmp_path / "saved-pages"
    saved.mkdir()
    shutil.copy(SRE, saved / "sre.md")
    report = ingestor(tmp_settings, embedder).ingest([saved], prune=True)
    assert report.documents_added == 1 and report.documents_pruned == 0
    assert len(catalogue(open_store(tmp_settings))) == 31


def test_prune_removes_what_is_gone_from_the_folder_it_was_given(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    (corpus / "sre.md").unlink()
    report = ingestor(tmp_settings, embedder).ingest([corpus], prune=True)
    assert report.plan is not None and report.plan.prune == [SRE_DOC]
    assert report.documents_pruned == 1 and report.documents_unchanged == 30
    store = open_store(tmp_settings)
    assert SRE_DOC not in store.stored_documents()
    assert all(r.coverage is RoleCoverage.SUMMARY for r in catalogue(store))


def test_prune_is_refused_while_a_file_in_the_folder_cannot_be_read(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    (corpus / "listing.txt").unlink()
    (corpus / "sre.md").write_text('{"title": {"rendered": "truncated', encoding="utf-8")
    report = ingestor(tmp_settings, embedder).ingest([corpus], prune=True)
    assert report.documents_pruned == 0
    assert any("prune refused" in e.message for e in report.errors)
    assert len(catalogue(open_store(tmp_settings))) == 31


def test_dry_run_lists_what_would_change_and_writes_nothing(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(tmp_path / "chroma")
    runner.invoke(app, ["ingest", str(corpus)], env=env)
    edit_sre(corpus)
    (corpus / "listing.txt").unlink()
    shutil.copy(FIXTURES / "noisy-export-cloud-director.md", corpus / "cloud.md")
    result = runner.invoke(app, ["ingest", "--dry-run", "--prune", "--json", str(corpus)], env=env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert set(plan) == {"add", "update", "prune"}
    assert plan["add"] == ["cloud-director:full"] and plan["update"] == [SRE_DOC]
    assert len(plan["prune"]) == 30
    store = open_store(Settings(_env_file=None, store_dir=tmp_path / "chroma"))  # type: ignore[call-arg]
    assert store.head().generation == 1 and OLD_TARGET in sre_text(store)
    assert len(catalogue(store)) == 31


# -- generations: readers never answer from text that is gone ------------------------------


def test_changing_ingests_commit_generations_and_unchanged_ones_do_not(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    first = ingestor(tmp_settings, embedder).ingest([corpus])
    again = ingestor(tmp_settings, embedder).ingest([corpus])
    edit_sre(corpus)
    changed = ingestor(tmp_settings, embedder).ingest([corpus])
    assert (first.generation, again.generation, changed.generation) == (1, 1, 2)
    change = open_store(tmp_settings).manifest.changes(1, 2)
    assert [(c.generation, c.changed, c.removed) for c in change] == [(2, (SRE_DOC,), ())]


def test_a_reader_answers_from_replaced_text_at_once_with_the_same_chunk_count(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    assistant = Assistant(tmp_settings, open_store(tmp_settings), embedder)
    question = "What is the toil share target of the Site Reliability Engineer?"
    before = assistant.ask(question)
    assert OLD_TARGET in before.answer
    count = open_store(tmp_settings).count()

    edit_sre(corpus)
    ingestor(tmp_settings, embedder).ingest([corpus])  # another store object: another writer
    assert open_store(tmp_settings).count() == count
    after = assistant.ask(question)
    assert NEW_TARGET in after.answer and OLD_TARGET not in after.answer
    assert all(OLD_TARGET not in c.quote for c in after.citations)


def test_an_embedded_reader_sees_what_another_process_committed(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    writer = open_store(tmp_settings)
    ingestor(tmp_settings, embedder, writer).ingest([corpus / "listing.txt"])
    writer.close()  # as when the ingest was another command: this process reads only
    store = open_store(tmp_settings)
    reader = SnapshotReader(store)
    assert SRE_DOC not in reader.current().records
    probe = embedder.embed_query("Define SLOs with service owners")
    assert all(c.doc_id != SRE_DOC for c, _ in store.query(probe, 5))

    code, _, stderr = CliProcess(
        ["ingest", str(corpus / "sre.md")], cli_env(tmp_settings.store_dir)
    ).finish()
    assert code == 0, stderr
    snapshot = reader.current()
    assert snapshot.generation == 2 and SRE_DOC in snapshot.records
    # The vector index was reopened: the other process's chunks are found by similarity.
    assert any(c.doc_id == SRE_DOC for c, _ in store.query(probe, 5))


def test_a_running_server_answers_from_an_ingest_made_by_another_process(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    """`make run` in one terminal, `blueprints ingest` in another: the next answer is new."""
    ingestor(tmp_settings, embedder).ingest([corpus])
    env = cli_env(tmp_settings.store_dir)
    with serving(env) as (base, _):
        question = {"question": "What is the toil share target of the Site Reliability Engineer?"}
        before = httpx.post(f"{base}/v1/ask", json=question, timeout=30).json()
        assert OLD_TARGET in before["answer"]

        edit_sre(corpus)
        code, _, stderr = CliProcess(["ingest", str(corpus)], env).finish()
        assert code == 0, stderr
        after = httpx.post(f"{base}/v1/ask", json=question, timeout=30).json()
        assert NEW_TARGET in after["answer"] and OLD_TARGET not in after["answer"]
        assert all(OLD_TARGET not in c["quote"] for c in after["citations"])


# -- crash-safe re-ingest ---------------------------------------------------------------------


@pytest.mark.parametrize("step", ["after-embed", "after-upsert", "before-delete"])
def test_an_ingest_killed_at_any_write_step_is_repaired_by_the_next_run(
    tmp_settings: Settings, embedder: Embedder, corpus: Path, step: str
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    reader_store = open_store(tmp_settings)
    assistant = Assistant(tmp_settings, reader_store, embedder)
    assistant.ask("What does the Site Reliability Engineer do?")
    old_ids = planned_ids(corpus, tmp_settings)
    edit_sre(corpus)
    new_ids = planned_ids(corpus, tmp_settings)

    killed = CliProcess(["ingest", str(corpus)], cli_env(tmp_settings.store_dir), pause_at=step)
    killed.wait_for(f"PAUSED {step}")
    killed.kill()

    # Meanwhile, readers see one whole version of the document: the old one until the commit.
    reader = SnapshotReader(open_store(tmp_settings))
    snapshot = reader.current()
    served = {c.id for c in reader.document(snapshot, SRE_DOC).chunks}
    expected = new_ids if step == "before-delete" else old_ids
    assert served == expected

    report = ingestor(tmp_settings, embedder).ingest([corpus])
    assert not report.errors
    store = open_store(tmp_settings)
    stored = store.stored_documents()[SRE_DOC]
    assert stored.chunk_ids == new_ids and len(stored.doc_hashes) == 1
    assert NEW_TARGET in sre_text(store) and OLD_TARGET not in sre_text(store)
    answer = assistant.ask("What is the toil share target of the Site Reliability Engineer?")
    assert NEW_TARGET in answer.answer and OLD_TARGET not in answer.answer
    # And the run after that has nothing left to repair.
    assert ingestor(tmp_settings, embedder).ingest([corpus]).documents_unchanged == 31


def test_leftover_chunks_of_a_dead_writer_are_swept_even_for_untouched_documents(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus / "listing.txt"])
    killed = CliProcess(
        ["ingest", str(corpus / "sre.md")],
        cli_env(tmp_settings.store_dir),
        pause_at="after-upsert",
    )
    killed.wait_for("PAUSED after-upsert")
    killed.kill()
    store = open_store(tmp_settings)
    assert SRE_DOC in store.stored_documents()  # written, never committed
    assert SRE_DOC not in SnapshotReader(store).current().records

    # The next writer touches other documents only, and still cleans up.
    report = ingestor(tmp_settings, embedder).ingest([corpus / "listing.txt"])
    assert report.chunks_deleted > 0
    assert SRE_DOC not in open_store(tmp_settings).stored_documents()
    assert not open_store(tmp_settings).head().dirty


# -- upgrades keep the index -----------------------------------------------------------------


def test_a_schema_change_rebuilds_the_index_into_a_new_collection(
    tmp_settings: Settings,
    embedder: Embedder,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    store = open_store(tmp_settings)
    old = store.collection
    monkeypatch.setattr("ingest.pipeline.SCHEMA_VERSION", "a-future-schema")
    report = ingestor(tmp_settings, embedder).ingest([corpus])
    store = open_store(tmp_settings)
    assert store.collection != old and store.head().stamp is not None
    assert store.head().stamp.schema_version == "a-future-schema"
    assert old not in store.physical_collections()
    assert report.documents_unchanged == 31
    assert len(catalogue(store)) == 31


def test_reindex_rebuilds_from_the_stored_blueprint_when_the_source_is_gone(
    tmp_path: Path, corpus: Path
) -> None:
    env = cli_env(tmp_path / "chroma")
    assert runner.invoke(app, ["ingest", str(corpus)], env=env).exit_code == 0
    (corpus / "sre.md").unlink()
    result = runner.invoke(app, ["reindex", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["documents_added"] == 31
    store = open_store(Settings(_env_file=None, store_dir=tmp_path / "chroma"))  # type: ignore[call-arg]
    assert OLD_TARGET in sre_text(store)


def test_a_killed_reindex_leaves_the_old_index_serving(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    ingestor(tmp_settings, embedder).ingest([corpus])
    before = served_chunks(open_store(tmp_settings))
    killed = CliProcess(
        ["reindex"], cli_env(tmp_settings.store_dir), pause_at="rebuild-before-switch"
    )
    killed.wait_for("PAUSED rebuild-before-switch")
    killed.kill()
    store = open_store(tmp_settings)
    assert store.head().generation == 1
    after = served_chunks(store)
    assert after == before
    report = ingestor(tmp_settings, embedder).rebuild()
    assert report.generation == 2
    assert open_store(tmp_settings).physical_collections() == [open_store(tmp_settings).collection]


def test_an_index_from_before_manifests_is_rebuilt_from_its_recorded_sources(
    tmp_settings: Settings, embedder: Embedder, corpus: Path
) -> None:
    from assistant.store import open_client

    ingestor(tmp_settings, embedder).ingest([corpus])
    client = open_client(tmp_settings)
    # What an index of the first version looked like: chunks only.
    client.delete_collection(f"{tmp_settings.collection}-manifest")
    client.delete_collection(f"{tmp_settings.collection}-items")
    assistant = Assistant(tmp_settings, open_store(tmp_settings), embedder)
    with pytest.raises(Exception, match="earlier version"):
        assistant.ask("What does the Site Reliability Engineer do?")

    report = ingestor(tmp_settings, embedder).ingest([corpus])
    assert not report.errors
    store = open_store(tmp_settings)
    assert store.head().stamp is not None and len(catalogue(store)) == 31


# -- one writer at a time -----------------------------------------------------------------------


def test_a_second_writer_waits_for_the_first_and_says_so(tmp_path: Path, corpus: Path) -> None:
    env = cli_env(tmp_path / "chroma")
    holder = CliProcess(["ingest", str(corpus)], env, pause_at="after-embed")
    holder.wait_for("PAUSED after-embed")
    impatient = CliProcess(["ingest", str(corpus)], {**env, "BLUEPRINTS_LOCK_TIMEOUT_S": "1"})
    code, _, stderr = impatient.finish()
    assert code == 1
    assert "another writer holds the index" in stderr and f"pid {holder.process.pid}" in stderr

    waiting = CliProcess(["ingest", str(corpus)], env)
    waiting.wait_for("waiting up to")
    holder.kill()  # the operating system releases a dead writer's lock
    code, _, stderr = waiting.finish()
    assert code == 0, stderr
    assert "31 added" in stderr


def test_the_writer_lock_is_exclusive_within_one_process_too(tmp_path: Path) -> None:
    from ingest.lock import IndexBusyError

    path = tmp_path / "index.lock"
    with WriterLock(path), pytest.raises(IndexBusyError), WriterLock(path, timeout=0):
        pass
    with WriterLock(path, timeout=0):  # released on exit
        pass
