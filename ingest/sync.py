"""`blueprints sync`: a WordPress site's posts kept in the index, incrementally.

One sync of a site (its *origin* is its address; a synced post is `wp:<origin>#<post id>`):

1. Discover the REST API, resolve `--category`, and list the ids of every post in scope
   (`_fields=id`, cheap). A listing that fails stops the sync before anything is written, so a
   site that is down or half-answering never prunes anything.
2. Fetch the posts: every one on the first sync, with `--full`, or when the filters changed;
   otherwise only those modified after the stored cursor, stepped back by a margin. A post
   whose `modified_gmt` is the one the index holds (the margin's overlap, or everything from a
   site that ignores `modified_after`) is not parsed again.
3. Fetch by id the posts listed but neither indexed nor fetched: a scheduled post goes live
   with the `modified` it was scheduled with, and a post can enter the scope (or the index can
   lose it) without a newer one.
4. Parse the posts and write them, removing the documents of posts no longer listed, as one
   generation (`Ingestor.write`); the new cursor is recorded after that commit, never before.

A sync stopped anywhere leaves the last generation whole and the previous cursor in place:
the next one fetches the same window again, and content hashes make what was already stored
cost nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, ValidationError

from assistant.embeddings import Embedder
from assistant.errors import BlueprintsError
from assistant.manifest import DocumentRecord, StaleReadError
from assistant.models import Blueprint, IngestError, IngestReport
from assistant.settings import Settings
from assistant.store import ChunkStore
from ingest.errors import SourceError
from ingest.lock import WriterLock
from ingest.parsers import parse_wordpress_post
from ingest.pipeline import Ingestor, Stage, pause
from ingest.wordpress import (
    WP_DATETIME,
    WordPressClient,
    cursor_from,
    modified_since,
    parse_wp_datetime,
    query_cursor,
)

log = logging.getLogger(__name__)

SyncStage = Literal["list", "fetch"] | Stage
SyncProgress = Callable[[SyncStage, int, int], None]
"""Called with (stage, done, total) as a sync advances: listing, fetching, then the ingest's."""

_READ_ATTEMPTS = 3
_NAMED_IDS = 10


class SyncCancelledError(BlueprintsError):
    """The sync was asked to stop (the server is shutting down) before it wrote anything."""


class NoSiteError(BlueprintsError):
    """`blueprints sync` without an address, and none configured."""


class SyncScope(BaseModel, frozen=True):
    """Which posts of a site a sync covers: WordPress's search and category ids (any of them)."""

    search: str = ""
    categories: tuple[int, ...] = ()

    def describe(self) -> str:
        """The scope in words, for messages."""
        parts = []
        if self.search:
            parts.append(f"search {self.search!r}")
        if self.categories:
            parts.append("categories " + ", ".join(map(str, self.categories)))
        return " and ".join(parts) or "every post"


class SyncState(BaseModel):
    """What the index records of the last completed sync of one site (`cursor:<origin>`)."""

    site_url: str
    cursor: str | None = None
    """The newest site-local `modified` the sync saw (held back by its duration, see
    `next_cursor`): the next incremental sync asks for posts modified after it."""
    scope: SyncScope = SyncScope()
    synced_at: str = ""
    """When it completed (UTC, this machine's clock): shown to people, never sent to the site."""
    unparsable: dict[int, str] = Field(default_factory=dict)
    """Posts that are not blueprints, with their `modified_gmt`: not fetched again until edited."""
    outside: list[int] = Field(default_factory=list)
    """Posts still indexed though outside the scope (filters narrowed without `--prune`)."""


class SyncReport(IngestReport):
    """What one sync did (the `sync --json` contract): the ingest report's keys, and these."""

    fetched: int = 0
    """Posts downloaded."""
    pages: int = 0
    """API pages requested (listing, posts, categories)."""
    deleted_upstream: list[int] = Field(default_factory=list)
    """Post ids no longer listed in scope, whose documents were pruned."""
    cursor: str | None = None
    """The cursor after this sync (what a dry run would record)."""
    retries: int = 0
    """Requests retried after a connection error, a timeout, a 429 or a 5xx."""
    notes: list[str] = Field(default_factory=list)
    """What the user should know that is not an error (e.g. documents left outside the scope)."""


class SyncStatus(BaseModel):
    """The background sync of `blueprints serve`, as `/readyz` reports it."""

    site: str
    interval_minutes: float
    last_success_at: str | None = None
    cursor: str | None = None
    last_error: str | None = None
    running: bool = False


@dataclass(frozen=True)
class SyncOptions:
    """What to sync of a site, and how."""

    search: str | None = None
    categories: Sequence[str | int] = ()
    full: bool = False
    """Fetch and parse every post in scope, whatever the cursor says."""
    dry_run: bool = False
    """Fetch, parse and compare with the index; write nothing."""
    prune: bool = False
    """Also remove documents outside narrowed filters."""


@dataclass(frozen=True)
class SyncTarget:
    """A site and its filters, from the command line and the settings."""

    url: str
    search: str | None
    categories: tuple[str, ...]

    def options(
        self, *, full: bool = False, dry_run: bool = False, prune: bool = False
    ) -> SyncOptions:
        """Sync options for this target with the given flags."""
        return SyncOptions(self.search, self.categories, full=full, dry_run=dry_run, prune=prune)


def sync_target(
    settings: Settings,
    url: str | None = None,
    search: str | None = None,
    categories: Sequence[str] = (),
) -> SyncTarget:
    """The site to sync: `url` if given, else `BLUEPRINTS_SYNC_URL`.

    The configured search and categories apply to the configured site only, and filters given
    here replace them.

    Raises:
        NoSiteError: neither an address nor `BLUEPRINTS_SYNC_URL`.
    """
    configured = settings.sync_url
    if url is None and configured is None:
        msg = (
            "no site to sync: give its address (`blueprints sync https://example.com/blog`) "
            "or set BLUEPRINTS_SYNC_URL"
        )
        raise NoSiteError(msg)
    target = url or configured or ""
    is_configured = configured is not None and site_origin(target) == site_origin(configured)
    if search is None and is_configured:
        search = settings.sync_search
    if not categories and is_configured:
        categories = settings.sync_categories
    return SyncTarget(target, search or None, tuple(categories))


def site_origin(url: str) -> str:
    """A site's identity in the index: its address, scheme and host lower-cased, no end slash."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def stored_state(store: ChunkStore, origin: str) -> SyncState | None:
    """The last completed sync of `origin`, if any (an unreadable record counts as none)."""
    data = store.manifest.cursor(origin)
    if data is None:
        return None
    try:
        state = SyncState.model_validate(data)
        if state.cursor is not None:
            parse_wp_datetime(state.cursor)
    except (ValidationError, ValueError) as exc:
        log.warning("%s: the stored sync state is unreadable (%s); syncing in full", origin, exc)
        return None
    return state


def next_cursor(
    seen: Iterable[Mapping[str, Any]], previous: str | None, *, hold_back: timedelta
) -> str | None:
    """The cursor after a sync that saw `seen`: the newest `modified`, held back, or `previous`.

    Pages are read one after another, ordered by id: a post edited after its page was served,
    while a later page was still to come, has a `modified` older than the newest one seen.
    Held back by the time the requests took, the cursor stays below every such edit (one
    request is served at one instant: nothing to hold back).
    """
    newest = cursor_from(seen)
    if newest is not None and hold_back:
        newest = (parse_wp_datetime(newest) - hold_back).strftime(WP_DATETIME)
    candidates = [c for c in (newest, previous) if c is not None]
    return max(candidates, key=parse_wp_datetime) if candidates else None


@dataclass
class _Fetched:
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    """The posts to parse, by id."""
    seen: list[dict[str, Any]] = field(default_factory=list)
    """Every post downloaded."""
    requests: int = 0
    seconds: float = 0.0

    @property
    def seen_ids(self) -> set[int]:
        return {int(post["id"]) for post in self.seen}


def sync_site(
    site: WordPressClient,
    store: ChunkStore,
    ingestor: Ingestor,
    options: SyncOptions | None = None,
    *,
    on_progress: SyncProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SyncReport:
    """Sync one site's posts into the index `ingestor` writes (`store` is that index).

    Args:
        site: The site's client (its retries and pages are counted from here on).
        store: The index, read for the stored cursor and the site's documents.
        ingestor: Writes the index, holding its writer lock.
        options: Filters and flags (`SyncOptions()` when None).
        on_progress: Told (stage, done, total) as the sync advances.
        should_stop: Asked between pages; True stops the sync before it writes anything.

    Raises:
        SyncError: the site cannot be read (nothing was written).
        SyncCancelledError: `should_stop` said so (nothing was written).
    """
    options = options or SyncOptions()
    started = time.perf_counter()
    tick: SyncProgress = on_progress or (lambda stage, done, total: None)
    stopping = should_stop or (lambda: False)
    pages_before, retries_before = site.pages, site.retries
    origin = site_origin(site.site_url)

    site.discover()
    scope = SyncScope(
        search=(options.search or "").strip(),
        categories=tuple(sorted(set(site.resolve_categories(options.categories)))),
    )
    state = stored_state(store, origin)
    indexed = _indexed_posts(store, origin)
    listed = set(site.list_post_ids(scope.search or None, scope.categories))
    tick("list", len(listed), len(listed))
    _check(stopping)

    scope_changed = state is not None and state.scope != scope
    incremental = (
        not options.full and state is not None and state.cursor is not None and not scope_changed
    )
    unparsable = dict(state.unparsable) if state else {}
    fetched = _fetch(
        site,
        scope,
        query_cursor(state.cursor) if incremental and state and state.cursor else None,
        known={i: _record_gmt(r) for i, r in indexed.items()} | unparsable,
        listed=listed,
        tick=tick,
        stopping=stopping,
    )
    pause("sync-after-fetch")

    blueprints, errors, failed = _parse(fetched.posts, site.site_url, origin, tick)
    unparsable = {
        i: gmt for i, gmt in unparsable.items() if i in listed and i not in fetched.posts
    } | failed

    removed, kept = _prunable(
        set(indexed) - listed - fetched.seen_ids, state, scope_changed, prune=options.prune
    )
    notes = []
    if kept:
        notes.append(
            f"{len(kept)} document(s) of {site.site_url} are outside the filters "
            f"({scope.describe()}) or gone from the site; they were kept: pass --prune to "
            "remove them"
        )
    # One request is served at one instant; over several, edits may land between them.
    hold_back = timedelta(seconds=math.ceil(fetched.seconds) if fetched.requests > 1 else 0)
    cursor = next_cursor(fetched.seen, state.cursor if state else None, hold_back=hold_back)
    new_state = SyncState(
        site_url=site.site_url,
        cursor=cursor,
        scope=scope,
        synced_at=datetime.now(UTC).isoformat(timespec="seconds"),
        unparsable=unparsable,
        outside=kept,
    )
    _check(stopping)
    written = ingestor.write(
        blueprints,
        remove=[indexed[i].doc_id for i in removed],
        dry_run=options.dry_run,
        cursor=(origin, new_state.model_dump(mode="json")),
        on_progress=tick,
    )
    if written.errors:
        notes.append(
            "the cursor was not advanced, since some documents could not be written: the "
            "next sync fetches them again"
        )
    report = SyncReport(
        **written.model_dump(exclude={"plan", "errors"}),
        errors=[*errors, *written.errors],
        plan=written.plan,
        fetched=len(fetched.seen),
        pages=site.pages - pages_before,
        deleted_upstream=removed,
        cursor=cursor,
        retries=site.retries - retries_before,
        notes=notes,
    )
    report.documents_failed = len(report.errors)
    # Posts in scope that were not parsed again are unchanged too, as far as the site says.
    untouched = (listed & set(indexed)) - {b.post_id for b in blueprints} - set(failed)
    report.documents_unchanged += len(untouched)
    if options.dry_run and written.plan is not None:
        report.documents_added = len(written.plan.add)
        report.documents_updated = len(written.plan.update)
        report.documents_pruned = len(written.plan.prune)
    report.seconds = round(time.perf_counter() - started, 3)
    log.info(
        "%s: %d fetched in %d pages, %d added, %d updated, %d pruned, cursor %s",
        site.site_url,
        report.fetched,
        report.pages,
        report.documents_added,
        report.documents_updated,
        report.documents_pruned,
        report.cursor,
    )
    return report


def _fetch(
    site: WordPressClient,
    scope: SyncScope,
    modified_after: str | None,
    *,
    known: Mapping[int, str | None],
    listed: set[int],
    tick: SyncProgress,
    stopping: Callable[[], bool],
) -> _Fetched:
    """Steps 2 and 3: the posts in scope that may have changed, and those listed but unknown."""
    fetched = _Fetched()
    pages_before = site.pages
    clock = time.monotonic()
    total = 0
    search = scope.search or None
    for page in site.fetch_posts(search, scope.categories, modified_after=modified_after):
        for post in page.posts:
            fetched.seen.append(post)
            post_id = int(post["id"])
            if modified_after is None or modified_since(post, known.get(post_id)):
                fetched.posts[post_id] = post
        total = max(page.total or 0, len(fetched.seen))
        tick("fetch", len(fetched.seen), total)
        _check(stopping)
    missing = listed - set(known) - fetched.seen_ids
    if missing:
        log.info("%d listed post(s) neither indexed nor fetched: fetching them", len(missing))
    for page in site.fetch_posts_by_id(missing):
        for post in page.posts:
            fetched.seen.append(post)
            fetched.posts[int(post["id"])] = post
        tick("fetch", len(fetched.seen), total + len(missing))
        _check(stopping)
    fetched.requests = site.pages - pages_before
    fetched.seconds = time.monotonic() - clock
    return fetched


def _parse(
    posts: Mapping[int, dict[str, Any]], site_url: str, origin: str, tick: SyncProgress
) -> tuple[list[Blueprint], list[IngestError], dict[int, str]]:
    """Blueprints of the posts; the problems, and the posts that are not blueprints."""
    blueprints: list[Blueprint] = []
    errors: list[IngestError] = []
    failed: dict[int, str] = {}
    for done, post_id in enumerate(sorted(posts), start=1):
        post = posts[post_id]
        link = post.get("link")
        source = link if isinstance(link, str) and link else f"{site_url}/?p={post_id}"
        try:
            blueprints.append(parse_wordpress_post(post, source=source, origin=origin))
        except SourceError as exc:
            errors.append(IngestError(source=source, message=str(exc)))
            failed[post_id] = str(post["modified_gmt"])
        tick("parse", done, len(posts))
    return blueprints, errors, failed


def _prunable(
    gone: set[int], state: SyncState | None, scope_changed: bool, *, prune: bool
) -> tuple[list[int], list[int]]:
    """Of the indexed posts no longer listed, (those to remove, those kept outside the scope).

    Under the filters of the last sync, a post no longer listed is gone from the site. Under
    narrowed filters it may exist still, outside them: without `--prune` it is kept, and
    remembered (`SyncState.outside`) so that the next sync keeps it too.
    """
    if prune:
        return sorted(gone), []
    outside = gone if scope_changed else gone & set(state.outside if state else ())
    return sorted(gone - outside), sorted(outside)


def _indexed_posts(store: ChunkStore, origin: str) -> dict[int, DocumentRecord]:
    """The committed documents synced from `origin`, by post id."""
    for attempt in range(_READ_ATTEMPTS):
        try:
            records = store.manifest.documents(store.head().generation).records
            break
        except StaleReadError:
            if attempt == _READ_ATTEMPTS - 1:
                raise
    return {
        record.post_id: record
        for record in records.values()
        if record.origin == origin and record.post_id is not None
    }


def _record_gmt(record: DocumentRecord) -> str | None:
    """The `modified_gmt` a document was indexed with, as the REST API prints it."""
    if not record.modified:
        return None
    moment = datetime.fromisoformat(record.modified)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(WP_DATETIME)


def _check(stopping: Callable[[], bool]) -> None:
    if stopping():
        msg = "the sync was stopped before it wrote anything; the next one starts over"
        raise SyncCancelledError(msg)


def describe_ids(ids: Sequence[int]) -> str:
    """Post ids for a message: the first few, then how many more."""
    shown = ", ".join(map(str, ids[:_NAMED_IDS]))
    more = len(ids) - _NAMED_IDS
    return f"{shown} and {more} more" if more > 0 else shown


class PeriodicSync:
    """`blueprints serve`'s background sync: the configured site, every interval, in a thread.

    It writes through the app's own store and embedder (one model in memory), holding the
    index's writer lock like any other writer; answers pick up each commit on their own.

    Args:
        settings: The site, its filters and the interval (`BLUEPRINTS_SYNC_*`).
        store: The app's index.
        ingestor: Writes that index.
        client_options: Extra `WordPressClient` arguments (timeouts, retries; tests).
    """

    def __init__(
        self,
        settings: Settings,
        store: ChunkStore,
        ingestor: Ingestor,
        *,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if settings.sync_url is None or settings.sync_interval_minutes is None:
            msg = (
                "the background sync needs BLUEPRINTS_SYNC_URL and BLUEPRINTS_SYNC_INTERVAL_MINUTES"
            )
            raise NoSiteError(msg)
        self._target = sync_target(settings)
        self._interval_s = settings.sync_interval_minutes * 60
        self._store = store
        self._ingestor = ingestor
        self._client_options = dict(client_options or {})
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = SyncStatus(
            site=self._target.url, interval_minutes=settings.sync_interval_minutes
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, store: ChunkStore, embedder: Embedder
    ) -> PeriodicSync | None:
        """The background sync the settings ask for (None when no interval is set)."""
        if settings.sync_interval_minutes is None:
            return None
        lock = WriterLock(settings.lock_path, timeout=settings.lock_timeout_s)
        ingestor = Ingestor(store, embedder, chunk_size=settings.chunk_size, lock=lock)
        return cls(settings, store, ingestor)

    def start(self) -> None:
        """Sync now, then every interval, until `stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="blueprints-sync", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the page in flight (a write in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> SyncStatus:
        """The last successful sync (from the index until this process has run one)."""
        with self._lock:
            return self._status.model_copy()

    def run_once(self) -> SyncReport | None:
        """One sync; its report, or None when it failed or was stopped (see `status`)."""
        with self._lock:
            self._status.running = True
        try:
            with WordPressClient(
                self._target.url, sleep=self._wait, **self._client_options
            ) as site:
                report = sync_site(
                    site,
                    self._store,
                    self._ingestor,
                    self._target.options(),
                    should_stop=self._stop.is_set,
                )
        except SyncCancelledError:
            return None
        except Exception as exc:  # the server keeps serving whatever went wrong
            if not self._stop.is_set():
                log.warning("background sync of %s failed: %s", self._target.url, exc)
            with self._lock:
                self._status.last_error = str(exc)
            return None
        finally:
            with self._lock:
                self._status.running = False
        for problem in [*(e.message for e in report.errors), *report.notes]:
            log.warning("background sync of %s: %s", self._target.url, problem)
        with self._lock:
            self._status.last_success_at = datetime.now(UTC).isoformat(timespec="seconds")
            self._status.cursor = report.cursor
            self._status.last_error = None
        return report

    def _wait(self, seconds: float) -> None:
        # A retry's backoff ends early on `stop`, so shutting down never waits it out.
        self._stop.wait(seconds)

    def _loop(self) -> None:
        state = stored_state(self._store, site_origin(self._target.url))
        if state is not None:
            with self._lock:
                self._status.last_success_at = state.synced_at or None
                self._status.cursor = state.cursor
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval_s)
