"""The HTTP side of `blueprints sync`: read a WordPress site's posts through its REST API.

`WordPressClient` finds the API (`/wp-json/`, else `?rest_route=` for sites without pretty
permalinks), respects robots.txt, lists the ids of the posts in scope (to notice deletions,
which anonymous requests never see), and fetches posts page by page, optionally only those
modified after a cursor. Every request is retried on connection errors, timeouts, 429 and 5xx
with exponential backoff and full jitter, honouring `Retry-After`.

The cursor is WordPress's own site-local `modified` time of the posts seen, never our clock:
`modified_after` (WordPress >= 5.7) compares with that column, and its bound is exclusive.
`query_cursor` steps it back by a safety margin; unchanged content hashes absorb the overlap.

Parsing a post into a `Blueprint` is `ingest.parsers.wordpress`'s job; this module hands over
the post JSON as the site sent it.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ingest.errors import SyncError
from ingest.robots import RobotsRules

log = logging.getLogger(__name__)

PRODUCT_TOKEN = "blueprint-assistant"
"""How we name ourselves in `User-Agent`, and the token robots.txt groups are matched with."""
PAGE_SIZE = 100
"""The REST API's maximum `per_page`; above it WordPress answers 400 rest_invalid_param."""
POST_FIELDS = "id,modified,modified_gmt,link,title,content,categories,slug"
"""Only what a sync needs; top-level names, because nested ones (`title.rendered`) are only
understood since WordPress 5.3 and an older site would drop the title altogether."""
WP_DATETIME = "%Y-%m-%dT%H:%M:%S"
CURSOR_MARGIN = timedelta(minutes=5)
"""How far `query_cursor` steps back. The bound is exclusive and to the second, so a post
saved in the same second as the newest one seen, after our page was served, would otherwise
be missed; so would a post whose save (which stamps `modified` first and commits later) was
still in flight, or one behind a page or object cache that served a slightly old page. These
windows are seconds to a few minutes; the overlap costs a few re-downloads, never re-embedding.
It does not cover the hour repeated when the site's clock falls back from daylight saving
time: the site-local column itself is ambiguous then, and only a full sync settles it."""

_Style = Literal["pretty", "rest_route"]
_LISTING_ATTEMPTS = 3


def default_user_agent() -> str:
    """`blueprint-assistant/<version> (+<project URL>)`, the URL from the package metadata.

    A site owner reading their logs should find who we are; the project URL is the one declared
    in `pyproject.toml` (`[project.urls]`), and left out while none is declared rather than made up.
    """
    try:
        urls = importlib.metadata.metadata("blueprint-assistant").get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError:
        urls = []
    home = next((entry.split(",", 1)[1].strip() for entry in urls if "," in entry), None)
    contact = f"+{home}" if home else "role-blueprint sync"
    try:
        version = importlib.metadata.version("blueprint-assistant")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"{PRODUCT_TOKEN}/{version} ({contact})"


@dataclass(frozen=True)
class PostsPage:
    """One page of posts, as the site sent them (only the fields asked for)."""

    number: int
    posts: list[dict[str, Any]]
    total: int | None
    """`X-WP-Total`: posts matching the query, when the site sent it."""
    total_pages: int | None
    """`X-WP-TotalPages`, when the site sent it."""
    modified_after_ignored: bool = False
    """The site sent a post not modified after the cursor, on this page or an earlier one:
    it ignores `modified_after` (WordPress before 5.7), so every post comes back and the caller
    compares each post's `modified_gmt` with what it holds instead."""


@dataclass(frozen=True)
class _Page:
    number: int
    items: list[Any]
    total: int | None
    total_pages: int | None


class _Blocked(SyncError):
    """401/403: a security plugin or a firewall refuses anonymous REST requests."""


class _NotFound(SyncError):
    """404: no REST API (or no such route) at this address."""


class _NotJson(SyncError):
    """A 200 whose body is an HTML page or otherwise not JSON."""


class _PastLastPage(SyncError):
    """`400 rest_post_invalid_page_number`: the page asked for is past the last one."""


class WordPressClient:
    """Reads one WordPress site's posts over its REST API, anonymously and politely.

    Build it once per sync; it discovers the API and reads robots.txt on first use.

        with WordPressClient("https://example.com/blog") as site:
            ids = site.list_post_ids(categories=site.resolve_categories(["leadership"]))
            for page in site.fetch_posts(modified_after=query_cursor(stored_cursor)):
                ...
    """

    def __init__(
        self,
        site_url: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        page_size: int = PAGE_SIZE,
        user_agent: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """A client for the site at `site_url` (its WordPress Address, subfolder included).

        Args:
            site_url: e.g. `https://example.com/blog`.
            client: a ready `httpx.Client` (proxies, custom TLS, tests); one is built otherwise.
            timeout: seconds for each connect and each read.
            max_retries: retries of one request after its first attempt.
            backoff: the first retry waits up to this many seconds; each next one twice as long.
            max_backoff: the ceiling of that doubling.
            max_retry_after: a `Retry-After` longer than this stops the sync with a message.
            page_size: posts per request, 1..100 (the API's maximum, and the best choice).
            user_agent: defaults to `default_user_agent()`.
            sleep: how to wait between attempts (tests pass a recorder).
            rng: the jitter's random source (tests pass a seeded one).

        Raises:
            SyncError: the URL is not an http(s) URL, or `page_size` is out of range.
        """
        site_url = site_url.strip().rstrip("/")
        parts = urlsplit(site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            msg = "not a site address; give the full URL, e.g. https://example.com/blog"
            raise SyncError(site_url or "(empty)", msg)
        if not 1 <= page_size <= PAGE_SIZE:
            msg = f"page_size must be between 1 and {PAGE_SIZE} (the REST API's limit)"
            raise SyncError(site_url, msg)
        self.site_url = site_url
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._site_path = parts.path
        self._owns_client = client is None
        self.user_agent = user_agent or default_user_agent()
        self._headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        self._timeout = httpx.Timeout(timeout)
        self._client = client or httpx.Client(
            headers=self._headers, timeout=self._timeout, follow_redirects=True
        )
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._page_size = page_size
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._style: _Style | None = None
        self._robots: RobotsRules | None = None
        self.retries = 0
        """Retried attempts so far, for the sync's report."""
        self.pages = 0
        """Pages of collections (posts, categories) read so far, for the sync's report."""

    def close(self) -> None:
        """Close the HTTP client if this object built it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WordPressClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what a sync asks ------------------------------------------------------------------

    def discover(self) -> str:
        """Find the REST API; returns the posts endpoint's URL (its first use does this).

        Raises:
            SyncError: robots.txt disallows the API, a security plugin or firewall refuses
                it, the site answers HTML instead of JSON, or there is no API at either URL.
        """
        if self._style is None:
            self._discover()
        return self._display_url("/wp/v2/posts")

    def resolve_categories(self, values: Iterable[str | int]) -> list[int]:
        """Category ids for `--category` values: ids as given, slugs looked up on the site.

        Every id and slug is checked to exist: a typo would otherwise sync an empty scope.

        Raises:
            SyncError: a slug or id names no category on the site.
        """
        wanted = [str(v).strip().lower() for v in values if str(v).strip()]
        if not wanted:
            return []
        self.discover()
        slugs = sorted({v for v in wanted if not v.isdigit()})
        numbers = sorted({int(v) for v in wanted if v.isdigit()})
        found: dict[str, int] = {}
        for key, selection in (("slug", slugs), ("include", [str(n) for n in numbers])):
            if not selection:
                continue
            params = {key: ",".join(selection), "per_page": PAGE_SIZE, "_fields": "id,slug"}
            for page in self._pages("/wp/v2/categories", params):
                for term in page.items:
                    if isinstance(term, dict) and isinstance(term.get("id"), int):
                        found[str(term.get("slug"))] = term["id"]
                        found[str(term["id"])] = term["id"]
        missing = [v for v in wanted if v not in found]
        if missing:
            listing = self._display_url("/wp/v2/categories")
            msg = (
                f"no category {', '.join(repr(m) for m in missing)} on this site; "
                f"give a slug or id listed at {listing}?per_page=100"
            )
            raise SyncError(self.site_url, msg)
        return list(dict.fromkeys(found[v] for v in wanted))

    def list_post_ids(self, search: str | None = None, categories: Sequence[int] = ()) -> list[int]:
        """The ids of every published post in scope, ascending: what prunes deletions.

        Reads every page (`_fields=id`, cheap). A listing is only returned whole and
        consistent: if the posts change while it is read (the total moves, or a page ends
        early), it is read again.

        Raises:
            SyncError: a page failed after its retries, or the posts kept changing. A
                partial listing is never returned, since it would prune posts that exist.
        """
        params = self._scope(search, categories)
        params["_fields"] = "id"
        for attempt in range(1, _LISTING_ATTEMPTS + 1):
            ids = self._list_once(params)
            if ids is not None:
                return ids
            log.info("posts changed while listing them (try %d); listing again", attempt)
        msg = (
            f"the posts kept changing while they were listed ({_LISTING_ATTEMPTS} tries), so "
            "no reliable list of what was deleted exists; try again when editing settles"
        )
        raise SyncError(self._display_url("/wp/v2/posts"), msg)

    def fetch_posts(
        self,
        search: str | None = None,
        categories: Sequence[int] = (),
        modified_after: str | None = None,
    ) -> Iterator[PostsPage]:
        """The posts in scope, page by page (ordered by id), with the fields a sync needs.

        Args:
            search: WordPress's own search (every word in title, excerpt or content).
            categories: category ids; a post in any of them is in scope.
            modified_after: only posts whose site-local `modified` is after this
                (exclusive; give `query_cursor(cursor)`). A site that ignores it is detected
                and flagged on the pages (`PostsPage.modified_after_ignored`).

        Raises:
            SyncError: a page failed after its retries, or the answer is not posts.
        """
        params = self._scope(search, categories)
        params["_fields"] = POST_FIELDS
        bound = None
        if modified_after is not None:
            bound = parse_wp_datetime(modified_after)
            params["modified_after"] = bound.strftime(WP_DATETIME)
        ignored = False
        for page in self._pages("/wp/v2/posts", params):
            posts = [self._checked_post(item, page.number) for item in page.items]
            if bound is not None and not ignored:
                ignored = any(parse_wp_datetime(p["modified"]) <= bound for p in posts)
                if ignored:
                    log.warning(
                        "%s ignores modified_after (WordPress before 5.7): reading every post",
                        self.site_url,
                    )
            yield PostsPage(page.number, posts, page.total, page.total_pages, ignored)

    def fetch_posts_by_id(self, ids: Iterable[int]) -> Iterator[PostsPage]:
        """The given posts (those still published), `page_size` ids per request.

        For posts the id listing shows but an incremental fetch did not bring: published
        from a schedule, restored, or moved into scope, all without a newer `modified`.
        """
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), self._page_size):
            chunk = wanted[start : start + self._page_size]
            params: dict[str, Any] = {
                "include": ",".join(map(str, chunk)),
                "orderby": "id",
                "order": "asc",
                "per_page": self._page_size,
                "_fields": POST_FIELDS,
            }
            for page in self._pages("/wp/v2/posts", params):
                posts = [self._checked_post(item, page.number) for item in page.items]
                yield PostsPage(page.number, posts, page.total, page.total_pages)

    # -- pages ------------------------------------------------------------------------------

    def _scope(self, search: str | None, categories: Sequence[int]) -> dict[str, Any]:
        # Ordered by id, pages are stable while posts are edited (an edit moves a post in an
        # order by date or modified, which would skip or repeat posts across pages).
        params: dict[str, Any] = {"per_page": self._page_size, "orderby": "id", "order": "asc"}
        if search:
            params["search"] = search
        if categories:
            params["categories"] = ",".join(str(c) for c in categories)
        return params

    def _list_once(self, params: dict[str, Any]) -> list[int] | None:
        """Every id in scope, or None when the posts changed while they were listed."""
        ids: list[int] = []
        totals: set[int | None] = set()
        try:
            for page in self._pages("/wp/v2/posts", params, past_last_page_ends=False):
                totals.add(page.total)
                ids += [self._checked_id(item, page.number) for item in page.items]
        except _PastLastPage:
            return None  # the total shrank between two pages
        if len(totals) > 1 or len(set(ids)) != len(ids):
            return None  # the total moved, or a post slid across a page boundary
        total = totals.pop() if totals else None
        if total is not None and total != len(ids):
            return None
        return sorted(ids)

    def _pages(
        self, route: str, params: dict[str, Any], *, past_last_page_ends: bool = True
    ) -> Iterator[_Page]:
        """Every page of a collection.

        Stops on `X-WP-TotalPages` (without it, on the absence of a `next` link and a short
        page), and on the 400 WordPress answers past the last page (posts were removed).
        """
        self.discover()
        seen: set[object] = set()
        number = 1
        while True:
            try:
                response, payload = self._get_json(route, {**params, "page": number})
            except _PastLastPage:
                if past_last_page_ends and number > 1:
                    return  # posts were removed since the last page count
                raise
            self.pages += 1
            where = str(response.request.url)
            if not isinstance(payload, list):
                msg = f"expected a JSON list, got {_kind(payload)}; is this a WordPress site?"
                raise SyncError(where, msg)
            keys = [item.get("id") if isinstance(item, dict) else None for item in payload]
            if keys and seen.issuperset(keys) and None not in keys:
                msg = (
                    f"page {number} repeats posts of an earlier page: a page cache seems to "
                    "ignore the query string; ask the site owner to exclude /wp-json/ from it"
                )
                raise SyncError(where, msg)
            seen.update(keys)
            total = _int_header(response, "X-WP-Total")
            total_pages = _int_header(response, "X-WP-TotalPages")
            yield _Page(number, payload, total, total_pages)
            if total_pages is not None:
                more = number < total_pages
            else:
                more = "next" in response.links or len(payload) >= int(params["per_page"])
            if not more or not payload:
                return
            number += 1

    def _checked_id(self, item: object, page: int) -> int:
        if isinstance(item, dict) and isinstance(item.get("id"), int):
            post_id: int = item["id"]
            return post_id
        url = self._display_url("/wp/v2/posts")
        raise SyncError(url, f"page {page} holds an item without an id ({_kind(item)})")

    def _checked_post(self, item: object, page: int) -> dict[str, Any]:
        self._checked_id(item, page)
        assert isinstance(item, dict)
        for name in ("modified", "modified_gmt"):
            value = item.get(name)
            try:
                parse_wp_datetime(value if isinstance(value, str) else "")
            except ValueError:
                url = self._display_url("/wp/v2/posts")
                msg = f"post {item['id']} (page {page}) has no valid {name!r} ({value!r})"
                raise SyncError(url, msg) from None
        return item

    # -- discovery -----------------------------------------------------------------------------

    def _discover(self) -> None:
        self._check_robots("pretty")
        failures: list[SyncError] = []
        for style in ("pretty", "rest_route"):
            self._style = style
            try:
                if style == "rest_route":
                    self._check_robots(style)
                _, payload = self._get_json("/wp/v2/posts", {"per_page": 1, "_fields": "id"})
            except (_Blocked, _NotFound, _NotJson) as failure:
                failures.append(failure)
                continue
            if isinstance(payload, list):
                log.info("%s: REST API at %s", self.site_url, self._display_url("/wp/v2/posts"))
                return
            failures.append(_NotJson(self._display_url("/wp/v2/posts"), _kind(payload)))
        self._style = None
        raise self._discovery_error(failures)

    def _discovery_error(self, failures: list[SyncError]) -> SyncError:
        tried = " and ".join(failure.url for failure in failures)
        export = "or export the posts as JSON and use `blueprints ingest`"
        for failure in failures:
            if isinstance(failure, _Blocked):
                msg = (
                    f"the REST API refused us ({failure.problem}): a security "
                    "plugin or firewall blocks anonymous requests to /wp-json. Ask the site "
                    f"owner to allow GET /wp/v2/posts for anonymous clients (or for user agent "
                    f"{PRODUCT_TOKEN!r}), {export}"
                )
                return SyncError(failure.url, msg)
        for failure in failures:
            if isinstance(failure, _NotJson):
                msg = (
                    f"answered with {failure.problem} instead of the REST "
                    "API's JSON: the API may be disabled, behind a login or a bot challenge, or "
                    f"this is not the WordPress address. Open {failure.url} in a browser; if "
                    f"the blog lives in a subfolder, give that (e.g. {self._origin}/blog), {export}"
                )
                return SyncError(failure.url, msg)
        msg = (
            f"no WordPress REST API found (404 at {tried}); check the address (a blog in a "
            f"subfolder needs it, e.g. {self._origin}/blog) and that the site runs WordPress "
            "4.7 or later"
        )
        return SyncError(self.site_url, msg)

    def _check_robots(self, style: _Style) -> None:
        rules = self._robots if self._robots is not None else self._read_robots()
        self._robots = rules
        rest_path = f"{self._site_path}/wp-json/wp/v2/posts"
        path = rest_path if style == "pretty" else f"{self._site_path}/?rest_route=/wp/v2/posts"
        if not rules.allows(path):
            msg = (
                f"disallows {path} for {PRODUCT_TOKEN}: the site asks robots to keep off its "
                "REST API, so it is not synced. Ask the site owner to allow it, or export the "
                "posts as JSON and use `blueprints ingest`"
            )
            raise SyncError(f"{self._origin}/robots.txt", msg)

    def _read_robots(self) -> RobotsRules:
        url = f"{self._origin}/robots.txt"
        try:
            response = self._send(url, {}, accept="text/plain")
        except SyncError as error:
            # RFC 9309 2.3.1.4: an unreachable robots.txt means assume complete disallow.
            msg = (
                f"robots.txt could not be read ({error.problem}); until it "
                "can, robots rules say to assume the site is off limits: try again later"
            )
            raise SyncError(url, msg) from None
        if response.status_code >= 400:
            return RobotsRules.allow_all()  # 4xx: no robots.txt, everything allowed
        return RobotsRules.parse(response.text, PRODUCT_TOKEN)

    # -- requests ------------------------------------------------------------------------------

    def _address(self, route: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        if self._style == "rest_route":
            return f"{self.site_url}/", {"rest_route": route, **params}
        return f"{self.site_url}/wp-json{route}", dict(params)

    def _display_url(self, route: str) -> str:
        url, params = self._address(route, {})
        return str(httpx.URL(url, params=params)) if params else url

    def _get_json(self, route: str, params: Mapping[str, Any]) -> tuple[httpx.Response, Any]:
        """A REST response and its JSON, or a `SyncError` that says what went wrong."""
        url, query = self._address(route, params)
        response = self._send(url, query)
        where = str(response.request.url)
        payload = _json_or(response, None)
        status = response.status_code
        if status == 200 and payload is not None:
            return response, payload
        wp_error = _wp_error(payload)
        if status == 400 and wp_error.startswith("rest_post_invalid_page_number"):
            raise _PastLastPage(where, wp_error)
        if status in (401, 403):
            raise _Blocked(where, f"{status} {wp_error or _page_title(response)}")
        if status == 404:
            raise _NotFound(where, f"404 {wp_error or _page_title(response)}")
        if status == 200:
            raise _NotJson(where, _describe_body(response))
        detail = wp_error or _page_title(response)
        msg = f"HTTP {status} {detail}; open the URL in a browser to see why"
        raise SyncError(where, msg)

    def _send(
        self, url: str, params: Mapping[str, Any], *, accept: str = "application/json"
    ) -> httpx.Response:
        """GET with retries on connection errors, timeouts, 429 and 5xx."""
        headers = {**self._headers, "Accept": accept}
        for attempt in range(self._max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._client.get(
                    url,
                    params=dict(params),
                    headers=headers,
                    timeout=self._timeout,
                    follow_redirects=True,
                )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                where = str(httpx.URL(url, params=dict(params)))
            else:
                if not _retryable(response.status_code):
                    return response
                problem = f"HTTP {response.status_code}"
                where = str(response.request.url)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt == self._max_retries:
                msg = (
                    f"{problem} after {attempt + 1} attempts; the site may be down or "
                    "overloaded: check it opens in a browser, and try again later"
                )
                raise SyncError(where, msg)
            if retry_after is not None and retry_after > self._max_retry_after:
                msg = (
                    f"{problem}, and the site asks us to wait {retry_after:.0f} s (Retry-After) "
                    "before trying again: try again later"
                )
                raise SyncError(where, msg)
            delay = (
                retry_after
                if retry_after is not None
                else backoff_delay(attempt, self._backoff, self._max_backoff, self._rng)
            )
            log.info("%s: %s; retrying in %.1f s", where, problem, delay)
            self.retries += 1
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")


# -- pure helpers (unit-tested) -----------------------------------------------------------------


def parse_wp_datetime(value: str) -> datetime:
    """A REST API time (`2026-04-15T19:33:30`), naive as WordPress sends it.

    Raises:
        ValueError: not such a time, or one with an offset (a cursor must be site-local).
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        msg = f"{value!r} has an offset; WordPress's `modified` is naive site-local time"
        raise ValueError(msg)
    return parsed


def cursor_from(posts: Iterable[Mapping[str, Any]], previous: str | None = None) -> str | None:
    """The newest site-local `modified` among `posts` (and `previous`), or None if none.

    Store it with the index only once a sync has completed: pages are ordered by id, not
    by time, so the newest time seen half-way is no bound for the posts not yet read.
    """
    times = [parse_wp_datetime(str(post["modified"])) for post in posts]
    if previous is not None:
        times.append(parse_wp_datetime(previous))
    return max(times).strftime(WP_DATETIME) if times else None


def query_cursor(cursor: str, margin: timedelta = CURSOR_MARGIN) -> str:
    """The `modified_after` to send for a stored cursor: stepped back by `margin`."""
    return (parse_wp_datetime(cursor) - margin).strftime(WP_DATETIME)


def modified_since(post: Mapping[str, Any], known_modified_gmt: str | None) -> bool:
    """Whether a post may have changed since it was indexed with `known_modified_gmt`.

    The fallback for sites that ignore `modified_after`: `modified_gmt` is compared, since
    it does not move when the site's timezone setting does.
    """
    if known_modified_gmt is None:
        return True
    return parse_wp_datetime(str(post["modified_gmt"])) != parse_wp_datetime(known_modified_gmt)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt 0 is the first retry).

    Spreading retries over the whole window keeps many clients from retrying in step after a
    site comes back, which a fixed or half-jittered schedule does not.
    """
    return rng.uniform(0.0, min(cap, base * 2**attempt))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds from now: delta-seconds or an HTTP date; None if absent/invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _retryable(status: int) -> bool:
    # 501 and 505 say the server cannot do this at all; retrying will not change that.
    return status == 429 or (500 <= status < 600 and status not in (501, 505))


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _json_or(response: httpx.Response, default: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return default


def _wp_error(payload: object) -> str:
    """`code: message` of a WordPress error body, or ''."""
    if isinstance(payload, dict) and isinstance(payload.get("code"), str):
        return f"{payload['code']}: {payload.get('message', '')}".rstrip(": ")
    return ""


def _page_title(response: httpx.Response) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
    return f"({' '.join(match[1].split())[:80]})" if match else ""


def _describe_body(response: httpx.Response) -> str:
    if "<html" in response.text[:2000].lower() or "html" in response.headers.get(
        "content-type", ""
    ):
        title = _page_title(response)
        return f"an HTML page {title}".rstrip()
    return f"a body that is not JSON ({response.text[:60]!r})"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:5]}"
    return f"a JSON {type(value).__name__}"
