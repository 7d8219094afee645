"""`blueprints sync` against a WordPress stand-in on loopback, into a real index.

Small corpora: the stand-in's generated posts keep 3 of the bundled post's 20 sections
(summary, mission, KPIs), so a post embeds in a few seconds with the real model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from assistant.embeddings import Embedder
from assistant.items import chunk_items
from assistant.manifest import DocumentRecord
from assistant.models import AnswerCoverage, Chunk, IngestReport, RoleCoverage
from assistant.roles import role_key
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.snapshot import SnapshotReader
from assistant.store import ChunkStore, open_client, open_store
from ingest.chunker import chunk_blueprint
from ingest.errors import SyncError
from ingest.parsers import parse_wordpress_post
from ingest.pipeline import Ingestor
from ingest.sync import SyncOptions, SyncReport, SyncState, site_origin, stored_state, sync_site
from ingest.wordpress import POST_FIELDS, WordPressClient
from tests.conftest import BUNDLED_CORPUS, catalogue
from tests.support.cli_process import CliProcess, cli_env
from tests.support.embedders import CountingEmbedder
from tests.support.wordpress_stub import Fault, Request, WordPressStub

pytestmark = pytest.mark.integration

SECTIONS = (1, 2, 7)
LISTING = BUNDLED_CORPUS / "engineering-leadership-roles.listing.txt"
KPI_QUESTION = "what KPIs does a Director of SRE own?"
EDIT = "<p>Quarterly reliability reviews now include the error-budget burn of every tier.</p>"
runner = CliRunner()


class Syncs:
    """Syncs of one site into one store, run in this process, counting what is embedded."""

    def __init__(self, site: WordPressStub, settings: Settings, embedder: Embedder) -> None:
        self.site = site
        self.settings = settings
        self.store = open_store(settings)
        self.embedder = CountingEmbedder(embedder)
        self.ingestor = Ingestor(self.store, self.embedder, chunk_size=settings.chunk_size)
        self.sleeps: list[float] = []

    @property
    def origin(self) -> str:
        return site_origin(self.site.site_url)

    def __call__(self, *, page_size: int = 100, **options: object) -> SyncReport:
        with WordPressClient(
            self.site.site_url,
            page_size=page_size,
            timeout=1.0,
            max_retries=4,
            sleep=self.sleeps.append,
            rng=random.Random(3),
        ) as client:
            return sync_site(client, self.store, self.ingestor, SyncOptions(**options))

    def records(self) -> dict[int, DocumentRecord]:
        """The committed documents of the site, by post id."""
        records = self.store.manifest.documents(self.store.head().generation).records
        return {r.post_id: r for r in records.values() if r.origin == self.origin and r.post_id}

    def state(self) -> SyncState | None:
        return stored_state(self.store, self.origin)

    def doc_id(self, post_id: int) -> str:
        return f"wp:{self.origin}#{post_id}"


@pytest.fixture
def site() -> Iterator[WordPressStub]:
    """A small blog: 3 role blueprints (Platform Engineering, Information Security, SRE)."""
    with WordPressStub(generated=3, bundled=False, sections=SECTIONS) as stub:
        yield stub


@pytest.fixture
def sync(site: WordPressStub, tmp_settings: Settings, embedder: Embedder) -> Syncs:
    return Syncs(site, tmp_settings, embedder)


def planned_chunks(site: WordPressStub, post_id: int, chunk_size: int) -> dict[str, Chunk]:
    """The chunks the pipeline plans for a post as the site serves it now."""
    post = site.post(post_id)
    blueprint = parse_wordpress_post(post, source=post["link"], origin=site_origin(site.site_url))
    return {c.id: c for c in chunk_blueprint(blueprint, chunk_size)}


def texts_of(chunks: list[Chunk]) -> int:
    """How many texts embedding these chunks takes: each chunk and each of its items."""
    return sum(1 + len(chunk_items(c)) for c in chunks)


def kind(request: Request) -> str:
    """What a request to the stand-in was for."""
    if request.path == "/robots.txt":
        return "robots"
    if request.route == "/wp/v2/categories":
        return "categories"
    fields = request.param("_fields")
    if fields == "id":
        return "discover" if request.param("per_page") == "1" else "list"
    if fields == POST_FIELDS:
        return "by-id" if request.param("include") else "fetch"
    return "other"


def served_doc_hashes(store: ChunkStore) -> dict[str, str]:
    """What a reader of the index answers from: each document's hash."""
    snapshot = SnapshotReader(store).current()
    return {doc_id: r.doc_hash for doc_id, r in snapshot.records.items()}


def served_text(store: ChunkStore) -> str:
    """Every chunk text a reader of the index answers from."""
    reader = SnapshotReader(store)
    snapshot = reader.current()
    return "\n".join(
        chunk.text
        for doc_id in snapshot.records
        for chunk in reader.document(snapshot, doc_id).chunks
    )


def chunk_ids_named(store: ChunkStore) -> tuple[set[str], set[str]]:
    """(chunk ids the committed records name, chunk ids the collection holds)."""
    records = store.manifest.documents(store.head().generation).records
    named = {i for r in records.values() for i in r.chunk_ids}
    held = {i for d in store.stored_documents().values() for i in d.chunk_ids}
    return named, held


# -- first sync, re-sync, edits, deletions ------------------------------------------------


def test_first_sync_indexes_every_post_as_its_site_and_post_id(
    site: WordPressStub, sync: Syncs
) -> None:
    report = sync()
    assert not report.errors
    assert report.documents_added == 3 and report.fetched == 3
    assert report.deleted_upstream == [] and report.documents_pruned == 0
    records = sync.records()
    assert sorted(records) == site.ids()
    for post_id, record in records.items():
        assert record.doc_id == sync.doc_id(post_id)
        assert record.url == site.post(post_id)["link"] and record.coverage is RoleCoverage.FULL
    # One page of posts, served at one instant: the cursor is the newest site-local `modified`.
    newest = max(site.post(i)["modified"] for i in site.ids())
    assert report.cursor == newest
    state = sync.state()
    assert state is not None and state.cursor == newest and state.site_url == site.site_url
    fetches = [r for r in site.requests if kind(r) == "fetch"]
    assert len(fetches) == 1 and fetches[0].param("modified_after") is None
    assert fetches[0].param("orderby") == "id" and fetches[0].param("per_page") == "100"
    assert {r.role for r in catalogue(sync.store)} == {
        "Director of Platform Engineering",
        "Director of Information Security",
        "Director of Site Reliability Engineering",
    }


def test_a_sync_with_nothing_changed_embeds_nothing_in_four_small_requests(
    site: WordPressStub, sync: Syncs
) -> None:
    first = sync()
    sync.embedder.embedded = 0
    before = len(site.requests)
    report = sync()
    requests = site.requests[before:]
    assert [kind(r) for r in requests] == ["robots", "discover", "list", "fetch"]
    assert requests[-1].param("modified_after") is not None
    assert sync.embedder.embedded == 0
    assert report.documents_unchanged == 3 and report.pages == 2
    # The cursor's safety margin downloads the newest post again, and nothing parses it.
    assert report.fetched == 1
    assert report.generation == first.generation and report.cursor == first.cursor


def test_an_edit_of_two_posts_re_embeds_only_those(
    site: WordPressStub, sync: Syncs, tmp_settings: Settings
) -> None:
    sync()
    untouched, *edited = site.ids()
    before = {i: planned_chunks(site, i, tmp_settings.chunk_size) for i in site.ids()}
    site.advance(3600)
    for post_id in edited:
        site.edit_post(post_id, append=EDIT)
    new_chunks = []
    for post_id in edited:
        after = planned_chunks(site, post_id, tmp_settings.chunk_size)
        new_chunks += [c for i, c in after.items() if i not in before[post_id]]
    assert new_chunks  # the edit changed some chunks, not all
    sync.embedder.embedded = 0

    report = sync()
    assert report.documents_updated == 2 and report.documents_unchanged == 1
    assert report.fetched == 2 and not report.errors
    assert sync.embedder.embedded == texts_of(new_chunks)
    records = sync.records()
    assert set(records[untouched].chunk_ids) == set(before[untouched])
    text = served_text(sync.store)
    assert text.count("error-budget burn of every tier") == 2
    assert report.cursor == site.post(edited[0])["modified"]


@pytest.mark.parametrize("status", ["trash", "draft"])
def test_a_post_deleted_upstream_is_pruned(site: WordPressStub, sync: Syncs, status: str) -> None:
    sync()
    gone = site.ids()[1]
    role = sync.records()[gone].role
    site.advance(60)
    site.delete_post(gone, status=status)
    sync.embedder.embedded = 0
    report = sync()
    assert report.deleted_upstream == [gone] and report.documents_pruned == 1
    assert report.documents_unchanged == 2 and report.chunks_deleted > 0
    assert gone not in sync.records()
    assert sync.doc_id(gone) not in sync.store.stored_documents()
    assert role not in {r.role for r in catalogue(sync.store)}
    assert sync.embedder.embedded == 0


def test_a_failed_listing_writes_and_prunes_nothing(site: WordPressStub, sync: Syncs) -> None:
    sync()
    site.delete_post(site.ids()[0])
    state, generation = sync.state(), sync.store.head().generation
    # Discovery passes, then the listing's page fails every attempt.
    site.inject(*[Fault.unavailable()] * 5, skip=1, route="/wp/v2/posts")
    with pytest.raises(SyncError, match="after 5 attempts"):
        sync()
    assert len(sync.records()) == 3 and sync.store.head().generation == generation
    assert sync.state() == state


def test_faults_are_retried_and_the_sync_completes(site: WordPressStub, sync: Syncs) -> None:
    site.inject(Fault.too_many_requests(retry_after="7"), route="/robots.txt")
    # After discovery, the listing meets a reset, a 503 and a read past the client's timeout.
    site.inject(Fault.reset(), Fault.unavailable(), Fault.slow(3.0), skip=1, route="/wp/v2/posts")
    report = sync()
    assert not report.errors and report.documents_added == 3
    assert report.retries == 4 and len(sync.sleeps) == 4
    assert sync.sleeps[0] == 7.0  # Retry-After is honoured
    assert sorted(sync.records()) == site.ids()


def test_a_post_published_mid_sync_is_indexed_once(site: WordPressStub, sync: Syncs) -> None:
    added: list[int] = []

    def publish_after_first_page(request: Request) -> None:
        if kind(request) == "fetch" and request.param("page") == "1" and not added:
            site.advance(1)
            added.append(site.add_post("Head of Observability"))

    site.on_request(publish_after_first_page)
    report = sync(page_size=2)  # 3 posts, then 4: two pages of posts
    assert added and report.documents_added == 4 and report.fetched == 4
    assert sorted(sync.records()) == site.ids()
    # Read over two requests, the cursor is held back below the newest post it saw.
    assert report.cursor is not None and report.cursor < site.post(added[0])["modified"]
    sync.embedder.embedded = 0
    again = sync(page_size=2)
    assert again.documents_unchanged == 4 and again.documents_pruned == 0
    assert sync.embedder.embedded == 0


def test_a_scheduled_post_going_live_with_an_old_modified_is_fetched_by_id(
    site: WordPressStub, sync: Syncs
) -> None:
    scheduled = site.add_post("Head of Observability", status="future")
    site.advance(3600)
    site.edit_post(site.ids()[0], append=EDIT)
    sync()
    assert scheduled not in sync.records()
    site.publish(scheduled)  # `modified` stays before the cursor
    before = len(site.requests)
    report = sync()
    kinds = [kind(r) for r in site.requests[before:]]
    assert kinds.count("by-id") == 1 and report.documents_added == 1
    assert scheduled in sync.records()


def test_an_old_wordpress_without_modified_after_re_embeds_only_what_changed(
    site: WordPressStub, sync: Syncs, tmp_settings: Settings
) -> None:
    site.old_wordpress = True
    sync()
    edited = site.ids()[2]
    before = planned_chunks(site, edited, tmp_settings.chunk_size)
    site.advance(3600)
    site.edit_post(edited, append=EDIT)
    after = planned_chunks(site, edited, tmp_settings.chunk_size)
    sync.embedder.embedded = 0
    report = sync()
    # The site sends every post; only the one whose modified_gmt moved is parsed and written.
    assert report.fetched == 3
    assert report.documents_updated == 1 and report.documents_unchanged == 2
    assert sync.embedder.embedded == texts_of([c for i, c in after.items() if i not in before])


def test_narrowed_filters_keep_what_falls_outside_unless_prune(
    site: WordPressStub, sync: Syncs
) -> None:
    sync()
    reliability = [i for i in site.ids() if 24493 in site.post(i)["categories"]]
    others = sorted(set(site.ids()) - set(reliability))
    before = len(site.requests)
    narrowed = sync(categories=["reliability"])
    # A new scope is synced in full (one category lookup, then every post in it).
    assert "categories" in [kind(r) for r in site.requests[before:]]
    assert narrowed.fetched == 1 and narrowed.documents_pruned == 0
    assert narrowed.deleted_upstream == [] and "pass --prune" in narrowed.notes[0]
    assert "2 document(s)" in narrowed.notes[0]
    assert sorted(sync.records()) == site.ids()
    state = sync.state()
    assert state is not None and state.scope.categories == (24493,)
    assert state.outside == others
    # The next sync with the same filters is incremental, and still keeps them.
    before = len(site.requests)
    again = sync(categories=["reliability"])
    (fetch,) = [r for r in site.requests[before:] if kind(r) == "fetch"]
    assert fetch.param("modified_after") is not None
    assert again.documents_pruned == 0 and again.notes
    pruned = sync(categories=["24493"], prune=True)
    assert pruned.deleted_upstream == others and pruned.documents_pruned == 2
    assert sorted(sync.records()) == reliability
    assert not pruned.notes


def test_a_dry_run_reports_the_plan_and_writes_nothing(site: WordPressStub, sync: Syncs) -> None:
    sync()
    site.advance(60)
    site.edit_post(site.ids()[0], append=EDIT)
    site.delete_post(site.ids()[1])
    added = site.add_post("Head of Observability")
    generation, state = sync.store.head().generation, sync.state()
    sync.embedder.embedded = 0
    report = sync(dry_run=True)
    assert report.plan is not None
    assert report.plan.add == [sync.doc_id(added)]
    assert report.plan.update == [sync.doc_id(site.ids()[0])]
    assert len(report.plan.prune) == 1 and len(report.deleted_upstream) == 1
    assert report.documents_added == 1 and report.documents_pruned == 1
    assert sync.embedder.embedded == 0 and sync.store.head().generation == generation
    assert sync.state() == state


class FailingStore(ChunkStore):
    """A real store whose chunk writes fail for one document."""

    failing = ""

    def upsert(self, chunks: Sequence[Chunk], *args: Any, **kwargs: Any) -> None:
        if any(c.doc_id == self.failing for c in chunks):
            raise RuntimeError("disk full")
        super().upsert(chunks, *args, **kwargs)


def test_a_post_that_could_not_be_written_is_fetched_again_by_the_next_sync(
    site: WordPressStub, sync: Syncs, tmp_settings: Settings, embedder: Embedder
) -> None:
    sync()
    state = sync.state()
    edited = site.ids()[1]
    site.advance(3600)
    site.edit_post(edited, append=EDIT)
    failing = FailingStore(open_client(tmp_settings), tmp_settings.collection)
    failing.failing = sync.doc_id(edited)
    with WordPressClient(site.site_url) as client:
        ingestor = Ingestor(failing, embedder, chunk_size=tmp_settings.chunk_size)
        report = sync_site(client, failing, ingestor)
    assert report.documents_failed == 1 and "disk full" in report.errors[0].message
    assert any("cursor was not advanced" in note for note in report.notes)
    assert sync.state() == state
    again = sync()
    assert again.documents_updated == 1 and not again.errors
    assert again.cursor == site.post(edited)["modified"]


# -- interrupted syncs -----------------------------------------------------------------


@pytest.mark.parametrize("step", ["sync-after-fetch", "after-upsert", "before-delete"])
def test_a_sync_killed_at_any_step_is_resumed_without_re_embedding_what_was_stored(
    site: WordPressStub, tmp_settings: Settings, embedder: Embedder, step: str
) -> None:
    first = Syncs(site, tmp_settings, embedder)
    first()
    first_records, first_state = first.records(), first.state()
    first.store.close()  # the killed sync is another process: this one lets go of the files
    site.advance(3600)
    edited = site.ids()[:2]
    before = {i: planned_chunks(site, i, tmp_settings.chunk_size) for i in edited}
    for post_id in edited:
        site.edit_post(post_id, append=EDIT)
    new_chunks = [
        c
        for i in edited
        for cid, c in planned_chunks(site, i, tmp_settings.chunk_size).items()
        if cid not in before[i]
    ]

    killed = CliProcess(
        ["sync", site.site_url, "--json"], cli_env(tmp_settings.store_dir), pause_at=step
    )
    killed.wait_for(f"PAUSED {step}")
    killed.kill()

    resumed = Syncs(site, tmp_settings, embedder)
    # The index is whole: the old versions until the commit, then the new ones; the old
    # cursor survives either way, so the next sync asks for the same window again.
    state = resumed.state()
    assert state is not None and first_state is not None and state.cursor == first_state.cursor
    served = served_doc_hashes(resumed.store)
    committed = step == "before-delete"
    for post_id, record in first_records.items():
        assert (served[record.doc_id] == record.doc_hash) is (
            not committed or post_id not in edited
        )

    report = resumed()
    assert not report.errors
    # What the killed process embedded and stored is not embedded again.
    assert resumed.embedder.embedded == (texts_of(new_chunks) if step == "sync-after-fetch" else 0)
    named, held = chunk_ids_named(resumed.store)
    assert named == held  # no version left behind
    text = served_text(resumed.store)
    assert text.count("error-budget burn of every tier") == 2
    assert resumed().generation == report.generation  # nothing left to repair


# -- summaries meet full blueprints --------------------------------------------------------


@pytest.fixture
def sre_site() -> Iterator[WordPressStub]:
    """A blog with one post: the Director of SRE's full blueprint (summary, mission, KPIs)."""
    with WordPressStub(generated=0, bundled=False, sections=SECTIONS) as stub:
        stub.add_post("Director of SRE")
        yield stub


def test_a_synced_full_blueprint_replaces_a_listed_summary_in_answers(
    sre_site: WordPressStub, tmp_settings: Settings, embedder: Embedder
) -> None:
    sync = Syncs(sre_site, tmp_settings, embedder)
    Ingestor(sync.store, embedder, chunk_size=tmp_settings.chunk_size).ingest([LISTING])
    assistant = Assistant(tmp_settings, sync.store, embedder)
    assert assistant.ask(KPI_QUESTION).coverage is AnswerCoverage.PARTIAL

    sync()
    (post_id,) = sre_site.ids()
    link = sre_site.post(post_id)["link"]
    sre = [r for r in catalogue(sync.store) if r.id == "director-of-sre"]
    assert len(sre) == 1 and sre[0].coverage is RoleCoverage.FULL and sre[0].url == link
    answer = assistant.ask(KPI_QUESTION)
    assert answer.coverage is AnswerCoverage.ANSWERED and answer.roles == ["Director of SRE"]
    assert answer.citations and {c.url for c in answer.citations} == {link}
    # The summary no longer competes: neither for this role nor for a question naming none.
    for question in (KPI_QUESTION, "Who is accountable for service level objectives and toil?"):
        retrieved = assistant.ask(question).trace.retrieved
        assert retrieved
        assert not [r for r in retrieved if r.chunk_id.startswith("director-of-sre:summary")]
    # A role whose full post is not synced still answers from its listing summary.
    other = assistant.ask("What KPIs does a Director of Software Engineering own?")
    assert other.coverage is AnswerCoverage.PARTIAL
    assert other.citations and all(c.source.endswith("listing.txt") for c in other.citations)
    # Pruning the listing's folder never touches what came from a site.
    pruned = Ingestor(sync.store, embedder, chunk_size=tmp_settings.chunk_size).ingest(
        [LISTING], prune=True
    )
    assert pruned.documents_pruned == 0 and post_id in sync.records()

    sre_site.delete_post(post_id)
    assert sync().documents_pruned == 1
    # The post is gone from the site: the role is a summary again.
    assert assistant.ask(KPI_QUESTION).coverage is AnswerCoverage.PARTIAL


def test_a_full_blueprint_titled_in_full_replaces_the_summary_listed_by_acronym(
    tmp_settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    # The bundled listing has both spellings, as two roles; this one only the acronym.
    entries = LISTING.read_text(encoding="utf-8").split("Read more »")
    listing = tmp_path / "listing.txt"
    listing.write_text(
        "Read more »".join(e for e in entries if "Site Reliability Engineering:" not in e),
        encoding="utf-8",
    )
    with WordPressStub(generated=0, bundled=False, sections=SECTIONS) as site:
        site.add_post("Director of Site Reliability Engineering")
        sync = Syncs(site, tmp_settings, embedder)
        Ingestor(sync.store, embedder, chunk_size=tmp_settings.chunk_size).ingest([listing])
        sync()
    sre = [r for r in catalogue(sync.store) if role_key(r.role) == role_key("Director of SRE")]
    assert [(r.role, r.coverage) for r in sre] == [
        ("Director of Site Reliability Engineering", RoleCoverage.FULL)
    ]
    assert sre[0].summary.startswith("The Director of SRE leads")  # the listing's words
    answer = Assistant(tmp_settings, sync.store, embedder).ask(KPI_QUESTION)
    assert answer.coverage is AnswerCoverage.ANSWERED
    assert answer.roles == ["Director of Site Reliability Engineering"]


def test_a_rebuilt_index_keeps_synced_posts_and_the_next_sync_changes_nothing(
    site: WordPressStub, sync: Syncs
) -> None:
    sync()
    before = sync.records()
    rebuilt = sync.ingestor.rebuild()  # from the blueprints stored at sync time
    assert not rebuilt.errors and rebuilt.documents_added == 3
    after = sync.records()
    assert {i: (r.url, r.modified) for i, r in after.items()} == {
        i: (r.url, r.modified) for i, r in before.items()
    }
    sync.embedder.embedded = 0
    report = sync()
    assert report.documents_unchanged == 3 and sync.embedder.embedded == 0


def test_two_posts_with_the_same_title_are_two_documents(
    sre_site: WordPressStub, tmp_settings: Settings, embedder: Embedder
) -> None:
    sre_site.advance(60)
    second = sre_site.add_post("Director of SRE")
    sync = Syncs(sre_site, tmp_settings, embedder)
    assert sync().documents_added == 2
    assert len(sync.records()) == 2
    # The catalogue lists the role once, served by the newest post.
    (role,) = catalogue(sync.store)
    assert role.url == sre_site.post(second)["link"]


# -- the command line and the settings ---------------------------------------------------


def test_done_means_sync_a_site_at_the_root_then_ask_then_resync_one_edit(
    tmp_path: Path,
) -> None:
    with WordPressStub(generated=2, bundled=False, sections=SECTIONS, base_path="") as root:
        sre = root.add_post("Director of SRE")
        link = root.post(sre)["link"]
        env = cli_env(tmp_path / "chroma")
        result = runner.invoke(app, ["sync", root.origin, "--json"], env=env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert set(IngestReport.model_fields) - {"plan"} <= set(report)
        assert {"fetched", "pages", "deleted_upstream", "cursor"} <= set(report)
        assert report["documents_added"] == 3 and report["fetched"] == 3

        asked = runner.invoke(app, ["ask", "--json", KPI_QUESTION], env=env)
        assert asked.exit_code == 0, asked.output
        answer = json.loads(asked.stdout)
        assert answer["coverage"] == "answered" and answer["roles"] == ["Director of SRE"]
        assert answer["citations"] and {c["url"] for c in answer["citations"]} == {link}
        assert "7) KPIs and Productivity Metrics" in {c["section"] for c in answer["citations"]}

        root.advance(3600)
        root.edit_post(sre, append=EDIT)
        result = runner.invoke(app, ["sync", root.origin, "--json"], env=env)
        assert result.exit_code == 0, result.output
        again = json.loads(result.stdout)
        assert again["documents_updated"] == 1 and again["documents_unchanged"] == 2
        assert 0 < again["chunks_written"] <= 2 and again["deleted_upstream"] == []


def test_sync_without_an_argument_syncs_the_configured_site_and_its_filters(
    site: WordPressStub, tmp_path: Path
) -> None:
    env = cli_env(
        tmp_path / "chroma",
        BLUEPRINTS_SYNC_URL=site.site_url,
        BLUEPRINTS_SYNC_CATEGORIES="reliability",
        BLUEPRINTS_SYNC_SEARCH="Director",
    )
    result = runner.invoke(app, ["sync", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["documents_added"] == 1
    listing = next(r for r in site.requests if kind(r) == "list")
    assert listing.param("categories") == "24493" and listing.param("search") == "Director"


def test_sync_without_a_site_says_how_to_give_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sync"], env=cli_env(tmp_path / "chroma", BLUEPRINTS_SYNC_URL=""))
    assert result.exit_code == 1
    assert "no site to sync" in result.output and "BLUEPRINTS_SYNC_URL" in result.output


def test_sync_of_a_site_refusing_the_api_names_the_url_and_writes_nothing(
    site: WordPressStub, tmp_path: Path
) -> None:
    site.security_plugin = True
    env = cli_env(tmp_path / "chroma")
    result = runner.invoke(app, ["sync", site.site_url], env=env)
    assert result.exit_code == 1
    assert "/wp-json/wp/v2/posts" in result.output and "security" in result.output
