"""A WordPress site on loopback that serves its REST API the way WordPress core does.

Tests of `blueprints sync` cannot reach a real blog, so this server stands in for one. It
implements what a sync relies on, as `WP_REST_Posts_Controller` and `WP_Query` do it:

- `GET /blog/wp-json/wp/v2/posts` and `GET /blog/?rest_route=/wp/v2/posts` (the second works
  on every site; the first only with pretty permalinks, else the web server answers a 404 page);
- `per_page` (1..100, else `400 rest_invalid_param`), `page`, `X-WP-Total`, `X-WP-TotalPages`,
  `Link` rel prev/next, and `400 rest_post_invalid_page_number` past the last page;
- `orderby`/`order`, `include`/`exclude`, `categories`/`categories_exclude`, `search` (every
  term matched as a substring of title, excerpt or content, `-term` excludes, quotes group);
- `modified_after`/`modified_before` (WordPress >= 5.7): compared with the site-local
  `modified`, bounds exclusive, naive values read as site-local time, offsets converted;
- `_fields`, including nested paths such as `title.rendered`;
- `GET /blog/wp-json/wp/v2/categories` with `slug=`, and a single post `/wp/v2/posts/<id>`;
- `/robots.txt` at the host root (WordPress's own virtual robots.txt by default).

Anonymous requests see published posts only, as on a real site: a trashed or unpublished post
disappears from every listing. The site's timezone is UTC+05:30, so `modified` differs from
`modified_gmt`.

Switches for what real sites do wrong: `pretty_permalinks`, `old_wordpress` (before 5.7:
`modified_after` is an unknown parameter and ignored), `security_plugin` (every REST request
refused with a JSON 401/403, as plugins hooking `rest_authentication_errors` do), `firewall_blocks_wp_json`
(a web server rule refuses paths under /wp-json with an HTML 403; `?rest_route=` still works),
`serve_html` (a maintenance or challenge page instead of JSON), `cache_ignores_query` (a page
cache keyed on the path only: every page is page 1), and `robots_txt`. Faults are injected
per request: `inject(Fault.too_many_requests(retry_after="2"), Fault.reset(), ...)`.

Every request is recorded in `requests` (path and query), so tests can assert how many and
which requests a client made.

    with WordPressStub(generated=6) as site:
        site.edit_post(site.ids()[0], append="<p>New paragraph.</p>")
        ... WordPressClient(site.site_url) ...
        assert len(site.requests_to("/wp/v2/posts")) == 3
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

BUNDLED_POST = (
    Path(__file__).resolve().parents[2] / "data" / "blueprints" / "vp-of-data-and-ai.wordpress.json"
)
BUNDLED_ROLE = "VP of Data and AI"
SITE_TZ = timezone(timedelta(hours=5, minutes=30))
"""The site's timezone (Settings > General): not UTC, so `modified` != `modified_gmt`."""
START = datetime(2026, 5, 4, 9, 30, 0, tzinfo=UTC)
"""The stub's clock starts here; posts were last modified on the days before it."""
BASE_PATH = "/blog"
"""WordPress installed in a subfolder, as on the site the bundled post comes from."""
DEFAULT_ROBOTS = "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"
WP_DATETIME = "%Y-%m-%dT%H:%M:%S"

LEADERSHIP = 24483
ENGINEERING_LEADERSHIP = 24486
CATEGORIES: dict[int, tuple[str, str]] = {
    1: ("Uncategorized", "uncategorized"),
    LEADERSHIP: ("Leadership", "leadership"),
    ENGINEERING_LEADERSHIP: ("Engineering Leadership", "engineering-leadership"),
    24490: ("Data and AI", "data-and-ai"),
    24491: ("Security", "security"),
    24492: ("Platform Engineering", "platform-engineering"),
    24493: ("Reliability", "reliability"),
}
"""id -> (name, slug); the first three exist on the real site (the bundled post has two)."""

# (area, its category); crossed with LEVELS to name as many roles as a test asks for.
AREAS: list[tuple[str, int]] = [
    ("Platform Engineering", 24492),
    ("Information Security", 24491),
    ("Site Reliability Engineering", 24493),
    ("Machine Learning", 24490),
    ("Cloud Infrastructure", 24492),
    ("Security Operations", 24491),
    ("Data Engineering", 24490),
    ("Observability", 24493),
]
LEVELS = ["Director", "VP", "Head", "Senior Manager", "Principal Architect"]
SIZES = ["a 200-person scale-up", "a regulated bank", "a public SaaS company", "a retailer"]

# The stopwords WP_Query::get_search_stopwords() drops from a search (en_US).
_STOPWORDS = frozenset(
    "about an are as at be by com for from how in is it of on or that the this to was what "
    "when where who will with www".split()
)
_SEARCH_TERMS = re.compile(r'".*?("|$)|((?<=[\t ",+])|^)[^\t ",+]+')
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?$"
)
_ORDERBY = {"author", "date", "id", "include", "modified", "parent", "relevance", "slug", "title"}
_DATE_PARAMS = ("after", "before", "modified_after", "modified_before")


def wp_datetime(moment: datetime, tz: timezone = UTC) -> str:
    """A moment as the REST API prints it: naive, in `tz`, to the second."""
    return moment.astimezone(tz).strftime(WP_DATETIME)


@dataclass
class Post:
    """One post as the site's database holds it."""

    id: int
    title: str
    slug: str
    content: str
    excerpt: str
    categories: list[int]
    date_gmt: datetime
    modified_gmt: datetime
    status: Literal["publish", "draft", "trash", "future", "private"] = "publish"


@dataclass(frozen=True)
class Fault:
    """What the site does instead of answering one request."""

    kind: Literal["status", "slow", "reset"]
    status: int = 503
    retry_after: str | None = None
    delay_s: float = 0.0

    @classmethod
    def too_many_requests(cls, retry_after: str | None = None) -> Fault:
        """429 from the host's rate limiter, optionally with `Retry-After` (seconds or a date)."""
        return cls("status", 429, retry_after)

    @classmethod
    def unavailable(cls, retry_after: str | None = None) -> Fault:
        """503, as WordPress's maintenance mode or an overloaded PHP pool answers."""
        return cls("status", 503, retry_after)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        """Answer normally, but only after `delay_s` (longer than the client's timeout)."""
        return cls("slow", delay_s=delay_s)

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then drop the connection with a TCP reset."""
        return cls("reset")


@dataclass(frozen=True)
class Request:
    """One request the site received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(default_factory=dict)
    base: str = BASE_PATH
    """Where WordPress is installed on the host (`/blog`, or `` at the root)."""

    @property
    def route(self) -> str | None:
        """The REST route asked for (`/wp/v2/posts`) whichever URL form was used, else None."""
        rest_prefix = f"{self.base}/wp-json"
        if self.path == rest_prefix or self.path.startswith(rest_prefix + "/"):
            return self.path[len(rest_prefix) :].rstrip("/") or "/"
        if self.path.rstrip("/") == self.base and "rest_route" in self.query:
            return self.query["rest_route"][0].rstrip("/") or "/"
        return None

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Injection:
    faults: deque[Fault]
    skip: int
    route: str | None


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]] = field(default_factory=list)


class _ApiError(Exception):
    """A `WP_Error` the REST API turns into a JSON error response."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.payload = {"code": code, "message": message, "data": {"status": status, **data}}


class WordPressStub:
    """A WordPress site under `http://127.0.0.1:<port>/blog` (or `base_path`), from a thread."""

    def __init__(
        self,
        *,
        generated: int = 6,
        bundled: bool = True,
        sections: Iterable[int] | None = None,
        base_path: str = BASE_PATH,
    ) -> None:
        """Build the corpus: the bundled post (if `bundled`) and `generated` posts like it.

        `sections` keeps only those numbered sections (`1) Role Summary`…) in generated
        posts: the bundled post's 20 sections embed in tens of seconds, a test needs a few.
        `base_path` is where WordPress is installed (`""`: at the root of the host).
        """
        self._sections = frozenset(sections) if sections is not None else None
        self.base_path = base_path.rstrip("/")
        self.pretty_permalinks = True
        self.old_wordpress = False
        self.security_plugin = False
        self.security_plugin_status = 403
        self.firewall_blocks_wp_json = False
        self.serve_html = False
        self.cache_ignores_query = False
        self.robots_txt: str | None = DEFAULT_ROBOTS
        self.now = START
        self.requests: list[Request] = []
        self._posts: dict[int, Post] = {}
        self._injections: list[_Injection] = []
        self._hooks: list[Callable[[Request], None]] = []
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        template = json.loads(BUNDLED_POST.read_text(encoding="utf-8"))
        self._template = template
        if bundled:
            self._posts[template["id"]] = _bundled_post(template)
        first_id = 74_000
        for n in range(generated):
            title = role_name(n)
            post = self._generated_post(first_id + 37 * n, title, n)
            self._posts[post.id] = post
        self._next_id = max(self._posts, default=first_id) + 1

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`: where robots.txt lives."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def site_url(self) -> str:
        """The site's address (WordPress Address), what a user gives `blueprints sync`."""
        return self.origin + self.base_path

    def start(self) -> WordPressStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping out a slow fault
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WordPressStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the site's content, as its editors change it ----------------------------------------

    def ids(self) -> list[int]:
        """The ids of the published posts, ascending."""
        with self._lock:
            return sorted(p.id for p in self._posts.values() if p.status == "publish")

    def post(self, post_id: int) -> dict[str, Any]:
        """A post's full REST representation (whatever its status)."""
        with self._lock:
            return self._to_json(self._posts[post_id])

    def advance(self, seconds: float) -> None:
        """Let time pass on the site's clock."""
        with self._lock:
            self.now += timedelta(seconds=seconds)

    def add_post(
        self,
        title: str,
        *,
        categories: Iterable[int] | None = None,
        status: Literal["publish", "future"] = "publish",
    ) -> int:
        """Publish (or schedule) a new blueprint for role `title` now; returns its id.

        Ids only grow. A scheduled post (`future`) is invisible until `publish`.
        """
        with self._lock:
            post = self._generated_post(self._next_id, title, self._next_id)
            post.date_gmt = post.modified_gmt = self.now
            post.status = status
            if categories is not None:
                post.categories = list(categories)
            self._posts[post.id] = post
            self._next_id += 1
            return post.id

    def edit_post(
        self,
        post_id: int,
        *,
        title: str | None = None,
        append: str | None = None,
        categories: Iterable[int] | None = None,
    ) -> None:
        """Save an edit now: `modified` and `modified_gmt` move to the site's clock."""
        with self._lock:
            post = self._posts[post_id]
            if title is not None:
                post.title = title
            if append is not None:
                post.content += append
            if categories is not None:
                post.categories = list(categories)
            post.modified_gmt = self.now

    def publish(self, post_id: int) -> None:
        """A scheduled post goes live, as WP-Cron publishes it: its `modified` does not move."""
        with self._lock:
            self._posts[post_id].status = "publish"

    def delete_post(self, post_id: int, *, status: Literal["trash", "draft"] = "trash") -> None:
        """Trash (or unpublish) a post: anonymous requests stop seeing it."""
        with self._lock:
            post = self._posts[post_id]
            post.status = status
            post.modified_gmt = self.now

    def disallow_rest_in_robots(self) -> None:
        """What some site owners add to robots.txt to keep crawlers off the REST API."""
        self.robots_txt = DEFAULT_ROBOTS + f"Disallow: {self.base_path}/wp-json/\n"

    # -- faults and hooks --------------------------------------------------------------------

    def inject(self, *faults: Fault, skip: int = 0, route: str | None = None) -> None:
        """Answer matching requests with `faults`, one each, after letting `skip` through.

        `route` is a REST route (`/wp/v2/posts`) or a path (`/robots.txt`); None matches
        every request.
        """
        with self._lock:
            self._injections.append(_Injection(deque(faults), skip, route))

    def on_request(self, hook: Callable[[Request], None]) -> None:
        """Call `hook` with each request once its answer is computed, before it is sent.

        A hook that edits the site (say, publishes a post after page 1 was served) acts
        between two requests of a client, deterministically.
        """
        self._hooks.append(hook)

    def requests_to(self, route: str) -> list[Request]:
        """The recorded requests for a REST route or a path, oldest first."""
        with self._lock:
            return [r for r in self.requests if route in (r.route, r.path)]

    # -- serving ---------------------------------------------------------------------------

    def _record(self, request: Request) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for injection in self._injections:
                if injection.route is not None and injection.route not in (
                    request.route,
                    request.path,
                ):
                    continue
                if injection.skip:
                    injection.skip -= 1
                    continue
                if injection.faults:
                    return injection.faults.popleft()
            return None

    def _answer(self, request: Request) -> _Response:
        """The response to a request (no fault): robots.txt, a REST route, or a 404 page."""
        with self._lock:
            if request.path == "/robots.txt":
                if self.robots_txt is None:
                    return _html(404, "Page not found")
                return _Response(200, self.robots_txt.encode(), "text/plain; charset=utf-8")
            route = request.route
            if route is None:
                return _html(404, "Page not found")
            via_path = request.path.startswith(f"{self.base_path}/wp-json")
            if via_path and not self.pretty_permalinks:
                # Without rewrite rules, the web server has no idea what /wp-json is.
                return _html(404, "Not Found")
            if via_path and self.firewall_blocks_wp_json:
                return _html(403, "403 Forbidden")
            if self.serve_html:
                return _html(200, "Briefly unavailable for scheduled maintenance")
            try:
                if self.security_plugin:
                    # What plugins hooking `rest_authentication_errors` answer (some send 401).
                    raise _ApiError(
                        self.security_plugin_status,
                        "rest_forbidden",
                        "Sorry, you are not allowed to do that.",
                    )
                return self._route(route, request)
            except _ApiError as error:
                return _json(error.status, error.payload)

    def _route(self, route: str, request: Request) -> _Response:
        if route == "/":
            return _json(200, self._index())
        if route == "/wp/v2/posts":
            return self._posts_collection(request)
        if match := re.fullmatch(r"/wp/v2/posts/(\d+)", route):
            return self._single_post(int(match[1]), request)
        if route == "/wp/v2/categories":
            return self._categories(request)
        raise _ApiError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    def _posts_collection(self, request: Request) -> _Response:
        params = _CollectionParams(request, posts=True, ignore_modified=self.old_wordpress)
        if self.cache_ignores_query:
            params.page = 1
        posts = [p for p in self._posts.values() if p.status == "publish"]
        posts = [p for p in posts if self._matches(p, params)]
        posts = _ordered(posts, params, self._local)
        items = [self._to_json(p) for p in posts]
        return self._paginated(items, params, request, invalid_page="rest_post_invalid_page_number")

    def _single_post(self, post_id: int, request: Request) -> _Response:
        post = self._posts.get(post_id)
        if post is None:
            raise _ApiError(404, "rest_post_invalid_id", "Invalid post ID.")
        if post.status != "publish":
            raise _ApiError(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
        fields = _fields(request)
        return _json(200, _filter_fields(self._to_json(post), fields))

    def _categories(self, request: Request) -> _Response:
        params = _CollectionParams(request, posts=False, ignore_modified=False)
        slugs = params.list_param("slug")
        terms = []
        for term_id, (name, slug) in sorted(CATEGORIES.items(), key=lambda kv: kv[1][0]):
            if slugs and slug not in slugs:
                continue
            if params.include and term_id not in params.include:
                continue
            count = sum(
                1 for p in self._posts.values() if p.status == "publish" and term_id in p.categories
            )
            terms.append(
                {
                    "id": term_id,
                    "count": count,
                    "description": "",
                    "link": f"{self.site_url}/category/{slug}/",
                    "name": name,
                    "slug": slug,
                    "taxonomy": "category",
                    "parent": 0,
                    "meta": [],
                    "_links": {"self": [{"href": self._rest_url(f"/wp/v2/categories/{term_id}")}]},
                }
            )
        return self._paginated(terms, params, request, invalid_page="rest_term_invalid_page_number")

    def _paginated(
        self,
        items: list[dict[str, Any]],
        params: _CollectionParams,
        request: Request,
        *,
        invalid_page: str,
    ) -> _Response:
        total = len(items)
        max_pages = math.ceil(total / params.per_page)
        if params.page > max_pages and total > 0:
            raise _ApiError(
                400,
                invalid_page,
                "The page number requested is larger than the number of pages available.",
            )
        start = (params.page - 1) * params.per_page
        page_items = items[start : start + params.per_page]
        fields = _fields(request)
        body = [_filter_fields(item, fields) for item in page_items]
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(max_pages))]
        base = {k: v for k, v in request.query.items() if k not in ("page", "rest_route")}
        route = request.route or ""
        if params.page > 1:
            headers.append(
                (
                    "Link",
                    f'<{self._rest_url(route, base, page=min(params.page - 1, max_pages))}>; rel="prev"',
                )
            )
        if max_pages > params.page:
            headers.append(
                ("Link", f'<{self._rest_url(route, base, page=params.page + 1)}>; rel="next"')
            )
        return _json(200, body, headers)

    def _matches(self, post: Post, params: _CollectionParams) -> bool:
        if params.include and post.id not in params.include:
            return False
        if post.id in params.exclude:
            return False
        if params.categories and not set(params.categories) & set(post.categories):
            return False
        if set(params.categories_exclude) & set(post.categories):
            return False
        local_date = self._local(post.date_gmt)
        local_modified = self._local(post.modified_gmt)
        for name, value in params.dates.items():
            column = local_modified if name.startswith("modified") else local_date
            if name.endswith("after") and not column > value:
                return False
            if name.endswith("before") and not column < value:
                return False
        if params.search is not None:
            haystack = f"{post.title}\n{post.excerpt}\n{post.content}".casefold()
            for term in _search_terms(params.search):
                exclude = term.startswith("-") and len(term) > 1
                needle = term[1:] if exclude else term
                if (needle.casefold() in haystack) == exclude:
                    return False
        return True

    @staticmethod
    def _local(moment: datetime) -> datetime:
        """A moment as the site's database column holds it: naive site-local, to the second."""
        return moment.astimezone(SITE_TZ).replace(tzinfo=None, microsecond=0)

    def _rest_url(
        self, route: str, query: dict[str, list[str]] | None = None, **extra: object
    ) -> str:
        pairs = [(k, v) for k, values in (query or {}).items() for v in values]
        pairs += [(k, str(v)) for k, v in extra.items()]
        if self.pretty_permalinks:
            suffix = f"?{urlencode(pairs)}" if pairs else ""
            return f"{self.site_url}/wp-json{route}{suffix}"
        return f"{self.site_url}/?{urlencode([('rest_route', route), *pairs])}"

    def _index(self) -> dict[str, Any]:
        return {
            "name": "DevOpsSchool (stub)",
            "description": "Role blueprints",
            "url": self.site_url,
            "home": self.site_url,
            "gmt_offset": "5.5",
            "timezone_string": "Asia/Kolkata",
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"],
            "routes": {"/wp/v2/posts": {"namespace": "wp/v2", "methods": ["GET"]}},
        }

    def _to_json(self, post: Post) -> dict[str, Any]:
        """The post as `/wp/v2/posts` shows it to an anonymous client (`context=view`)."""
        link = f"{self.site_url}/{post.slug}/"
        data = dict(self._template)
        data.update(
            {
                "id": post.id,
                "date": wp_datetime(post.date_gmt, SITE_TZ),
                "date_gmt": wp_datetime(post.date_gmt),
                "guid": {"rendered": f"{self.site_url}/?p={post.id}"},
                "modified": wp_datetime(post.modified_gmt, SITE_TZ),
                "modified_gmt": wp_datetime(post.modified_gmt),
                "slug": post.slug,
                "status": post.status,
                "link": link,
                "title": {"rendered": post.title},
                "content": {"rendered": post.content, "protected": False},
                "excerpt": {"rendered": post.excerpt, "protected": False},
                "categories": list(post.categories),
                "class_list": [f"post-{post.id}", "post", "type-post", f"status-{post.status}"]
                + [f"category-{CATEGORIES[c][1]}" for c in post.categories],
                "_links": {
                    "self": [{"href": self._rest_url(f"/wp/v2/posts/{post.id}")}],
                    "collection": [{"href": self._rest_url("/wp/v2/posts")}],
                },
            }
        )
        return data

    def _generated_post(self, post_id: int, title: str, n: int) -> Post:
        """A blueprint with the bundled post's HTML structure, for another role."""
        template = self._template
        size = SIZES[n % len(SIZES)]
        content = _keep_sections(template["content"]["rendered"], self._sections)
        content = content.replace(BUNDLED_ROLE, title)
        # A sentence of its own, so no two generated posts share a content hash.
        marker = "</p>"
        cut = content.index(marker) + len(marker)
        content = (
            content[:cut]
            + f"\n\n<p>This blueprint describes the {title} role as practised at {size}.</p>"
            + content[cut:]
        )
        full_title = template["title"]["rendered"].replace(BUNDLED_ROLE, title)
        area_category = next((cat for area, cat in AREAS if area in title), LEADERSHIP)
        modified = START - timedelta(days=30 - n % 30, hours=n % 7, minutes=n)
        return Post(
            id=post_id,
            title=full_title,
            slug=slugify(full_title),
            content=content,
            excerpt=template["excerpt"]["rendered"].replace(BUNDLED_ROLE, title),
            categories=sorted({LEADERSHIP, area_category}),
            date_gmt=modified - timedelta(days=3),
            modified_gmt=modified,
        )


def _keep_sections(content: str, numbers: frozenset[int] | None) -> str:
    """The post's HTML with only the `<h2>` sections numbered in `numbers` (all when None)."""
    if numbers is None:
        return content
    parts = re.split(r"(?=<h2\b)", content)
    kept = [parts[0]]
    for part in parts[1:]:
        heading = re.match(r"<h2[^>]*>\s*(\d+)\)", part)
        if heading and int(heading[1]) in numbers:
            kept.append(part)
    return "".join(kept)


def role_name(n: int) -> str:
    """The n-th generated role: `Director of Platform Engineering`, `VP of Information...`."""
    area, _ = AREAS[n % len(AREAS)]
    level = LEVELS[(n // len(AREAS)) % len(LEVELS)]
    cycle = n // (len(AREAS) * len(LEVELS))
    return f"{level} of {area}" + (f" {cycle + 1}" if cycle else "")


def slugify(text: str) -> str:
    """WordPress's `sanitize_title` for plain ASCII titles."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _bundled_post(template: dict[str, Any]) -> Post:
    """The real post, as the stub site's database holds it (its own times, read as UTC)."""
    modified = datetime.fromisoformat(template["modified_gmt"]).replace(tzinfo=UTC)
    return Post(
        id=template["id"],
        title=template["title"]["rendered"],
        slug=template["slug"],
        content=template["content"]["rendered"],
        excerpt=template["excerpt"]["rendered"],
        categories=list(template["categories"]),
        date_gmt=datetime.fromisoformat(template["date_gmt"]).replace(tzinfo=UTC),
        modified_gmt=modified,
    )


class _CollectionParams:
    """The query parameters of a collection, validated as the REST API's schema does."""

    def __init__(self, request: Request, *, posts: bool, ignore_modified: bool) -> None:
        self._request = request
        invalid: dict[str, str] = {}
        self.per_page = self._int("per_page", 10, 1, 100, invalid)
        self.page = self._int("page", 1, 1, None, invalid)
        self.include = self._ints("include", invalid)
        self.exclude = self._ints("exclude", invalid)
        self.categories = self._ints("categories", invalid) if posts else []
        self.categories_exclude = self._ints("categories_exclude", invalid) if posts else []
        self.search = request.param("search")
        self.orderby = request.param("orderby") or ("date" if posts else "name")
        allowed = _ORDERBY if posts else {"id", "include", "name", "slug", "count"}
        if self.orderby not in allowed:
            invalid["orderby"] = f"orderby is not one of {', '.join(sorted(allowed))}."
        self.order = request.param("order") or ("desc" if posts else "asc")
        if self.order not in ("asc", "desc"):
            invalid["order"] = "order is not one of asc and desc."
        self.dates: dict[str, datetime] = {}
        for name in _DATE_PARAMS if posts else ():
            value = request.param(name)
            if value is None or (ignore_modified and name.startswith("modified")):
                continue  # before 5.7, modified_* are unknown parameters, silently ignored
            parsed = _site_local(value)
            if parsed is None:
                invalid[name] = "Invalid date."
            else:
                self.dates[name] = parsed
        if invalid:
            raise _ApiError(
                400,
                "rest_invalid_param",
                f"Invalid parameter(s): {', '.join(invalid)}",
                params=invalid,
            )
        if self.orderby == "relevance" and not self.search:
            raise _ApiError(
                400,
                "rest_no_search_term_defined",
                "You need to define a search term to order by relevance.",
            )
        if self.orderby == "include" and not self.include:
            raise _ApiError(
                400,
                "rest_orderby_include_missing_include",
                "You need to define an include parameter to order by include.",
            )

    def list_param(self, name: str) -> list[str]:
        """A list parameter: repeated (`name[]=a&name[]=b`) or comma/space separated."""
        values = self._request.query.get(f"{name}[]") or self._request.query.get(name) or []
        return [part for value in values for part in re.split(r"[\s,]+", value) if part]

    def _int(
        self, name: str, default: int, low: int, high: int | None, invalid: dict[str, str]
    ) -> int:
        raw = self._request.param(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            invalid[name] = f"{name} is not of type integer."
            return default
        if value < low or (high is not None and value > high):
            invalid[name] = (
                f"{name} must be between {low} (inclusive) and {high} (inclusive)"
                if high is not None
                else f"{name} must be greater than or equal to {low}"
            )
            return default
        return value

    def _ints(self, name: str, invalid: dict[str, str]) -> list[int]:
        values = self.list_param(name)
        if not all(v.isdigit() for v in values):
            invalid[name] = f"{name}[0] is not of type integer."
            return []
        return [int(v) for v in values]


def _site_local(value: str) -> datetime | None:
    """A date parameter as `WP_Date_Query` compares it: naive site-local time, to the second.

    `rest_parse_date` accepts RFC 3339 with or without an offset; a value without one is
    taken as site-local time, one with an offset is converted to the site's timezone.
    """
    if not _RFC3339.match(value):
        return None
    parsed = datetime.fromisoformat(value.replace("t", "T").replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(SITE_TZ).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def _search_terms(search: str) -> list[str]:
    """`WP_Query::parse_search`: quoted phrases kept, stopwords and 1-letter terms dropped."""
    search = search.replace("\r", "").replace("\n", "")
    terms = []
    for match in _SEARCH_TERMS.finditer(search):
        term = match[0]
        quoted = term.startswith('"')
        term = term.strip('"').strip() if quoted else term.strip("\"' ")
        if not term or (not quoted and (len(term) == 1 or term.lower() in _STOPWORDS)):
            continue
        terms.append(term)
    # Only short words or stopwords, or 10+ terms: WordPress matches the whole string.
    return terms if 0 < len(terms) <= 9 else [search]


def _ordered(
    posts: list[Post], params: _CollectionParams, local: Callable[[datetime], datetime]
) -> list[Post]:
    key: Callable[[Post], Any]
    if params.orderby == "id":
        key = lambda p: p.id  # noqa: E731
    elif params.orderby == "modified":
        key = lambda p: (local(p.modified_gmt), p.id)  # noqa: E731
    elif params.orderby in ("title", "slug"):
        key = lambda p: (getattr(p, params.orderby).lower(), p.id)  # noqa: E731
    elif params.orderby == "include":
        return sorted(posts, key=lambda p: params.include.index(p.id))
    elif params.orderby == "relevance" and params.search:
        # WP_Query: the whole phrase in the title first, then every term in the title, then date.
        needle = params.search.casefold()
        return sorted(
            posts, key=lambda p: (needle not in p.title.casefold(), -p.date_gmt.timestamp())
        )
    else:
        key = lambda p: (p.date_gmt, p.id)  # noqa: E731
    return sorted(posts, key=key, reverse=params.order == "desc")


def _fields(request: Request) -> list[str]:
    """`_fields` as `wp_parse_list` reads it: repeated, comma- or space-separated."""
    values = request.query.get("_fields[]") or request.query.get("_fields") or []
    return [part.strip() for value in values for part in re.split(r"[\s,]+", value) if part.strip()]


def _filter_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """`rest_filter_response_fields`: keep only the listed fields; `a.b` keeps `b` inside `a`."""
    if not fields:
        return item
    tree: dict[str, Any] = {}
    for path in fields:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            if node.get(part) is True:
                break  # the parent is already included whole
            node = node.setdefault(part, {})
        else:
            node[parts[-1]] = True
    return _intersect(item, tree)


def _intersect(data: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key not in tree:
            continue
        wanted = tree[key]
        kept[key] = (
            _intersect(value, wanted)
            if isinstance(wanted, dict) and isinstance(value, dict)
            else value
        )
    return kept


def _json(status: int, payload: object, headers: list[tuple[str, str]] | None = None) -> _Response:
    base = [
        ("X-Robots-Tag", "noindex"),
        ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
        ("Allow", "GET"),
    ]
    return _Response(
        status,
        json.dumps(payload).encode(),
        "application/json; charset=UTF-8",
        base + (headers or []),
    )


def _html(status: int, title: str) -> _Response:
    page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
    return _Response(status, page.encode(), "text/html; charset=UTF-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stub: WordPressStub
    ) -> None:
        super().__init__(address, handler)
        self.stub = stub


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as a real web server
    timeout = 10  # drop idle keep-alive connections

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        stub = self.server.stub
        parts = urlsplit(self.path)
        request = Request(
            method="GET",
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            base=stub.base_path,
        )
        fault = stub._record(request)
        if fault is not None and fault.kind == "reset":
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow" and stub._closing.wait(fault.delay_s):
            return
        if fault is not None and fault.kind == "status":
            headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            reason = "Too Many Requests" if fault.status == 429 else "Service Unavailable"
            response = replace(_html(fault.status, reason), headers=headers)
        else:
            response = stub._answer(request)
        for hook in list(stub._hooks):
            hook(request)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first, as a timeout test wants
