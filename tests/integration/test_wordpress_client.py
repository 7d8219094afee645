"""The WordPress REST client against a WordPress stand-in speaking real HTTP on loopback."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from ingest.errors import SyncError
from ingest.wordpress import (
    CURSOR_MARGIN,
    POST_FIELDS,
    PostsPage,
    WordPressClient,
    cursor_from,
    modified_since,
    query_cursor,
)
from tests.support.wordpress_stub import (
    ENGINEERING_LEADERSHIP,
    SITE_TZ,
    Fault,
    Request,
    WordPressStub,
)

pytestmark = pytest.mark.integration

BUNDLED_ID = 74797
MAX_RETRIES = 3


class Sleeps(list[float]):
    """Stands in for `time.sleep`: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(wordpress_site: WordPressStub, sleeps: Sleeps) -> Iterator[WordPressClient]:
    """A client reading 3 posts a page, so the 7-post site spans 3 pages."""
    with make_client(wordpress_site, sleeps) as wp:
        yield wp


def make_client(site: WordPressStub, sleeps: Sleeps, **options: object) -> WordPressClient:
    values: dict[str, object] = {
        "page_size": 3,
        "timeout": 1.0,
        "max_retries": MAX_RETRIES,
        "sleep": sleeps,
        "rng": random.Random(7),
    }
    values.update(options)
    return WordPressClient(site.site_url, **values)  # type: ignore[arg-type]


def all_posts(pages: Iterator[PostsPage]) -> list[dict[str, object]]:
    return [post for page in pages for post in page.posts]


def ids_of(posts: list[dict[str, object]]) -> list[object]:
    return [post["id"] for post in posts]


def page_numbers(requests: list[Request]) -> list[str | None]:
    return [r.param("page") for r in requests if r.param("page")]


# -- discovery, robots.txt and the site's refusals ------------------------------------------


def test_discovery_reads_robots_at_the_host_root_then_probes_wp_json(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    assert client.discover() == f"{wordpress_site.site_url}/wp-json/wp/v2/posts"

    first, probe = wordpress_site.requests
    assert first.path == "/robots.txt"  # the site is in /blog, robots.txt is not
    assert probe.path == "/blog/wp-json/wp/v2/posts"
    assert probe.query == {"per_page": ["1"], "_fields": ["id"]}
    assert all(
        r.headers["user-agent"].startswith("blueprint-assistant/") for r in wordpress_site.requests
    )


def test_site_without_pretty_permalinks_is_read_through_rest_route(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.pretty_permalinks = False

    assert client.list_post_ids() == wordpress_site.ids()

    assert client.discover() == f"{wordpress_site.site_url}/?rest_route=%2Fwp%2Fv2%2Fposts"
    listing = [r for r in wordpress_site.requests_to("/wp/v2/posts") if r.param("page")]
    assert listing and all(
        r.path == "/blog/" and r.param("rest_route") == "/wp/v2/posts" for r in listing
    )


def test_firewall_refusing_the_wp_json_path_falls_back_to_rest_route(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.firewall_blocks_wp_json = True

    assert client.list_post_ids() == wordpress_site.ids()
    assert "rest_route" in client.discover()


@pytest.mark.parametrize("status", [401, 403])
def test_security_plugin_refusing_the_api_says_so_and_what_to_try(
    wordpress_site: WordPressStub, client: WordPressClient, status: int
) -> None:
    wordpress_site.security_plugin = True
    wordpress_site.security_plugin_status = status

    with pytest.raises(SyncError) as raised:
        client.list_post_ids()

    message = str(raised.value)
    assert f"{wordpress_site.site_url}/wp-json/wp/v2/posts" in message
    assert f"{status} rest_forbidden" in message
    assert "security plugin or firewall" in message
    assert "blueprints ingest" in message
    assert len(wordpress_site.requests_to("/wp/v2/posts")) == 2  # both URL forms tried, once each


def test_html_instead_of_json_names_the_page_and_what_to_check(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.serve_html = True

    with pytest.raises(SyncError) as raised:
        list(client.fetch_posts())

    message = str(raised.value)
    assert "HTML page (Briefly unavailable for scheduled maintenance)" in message
    assert f"{wordpress_site.site_url}/wp-json/wp/v2/posts" in message
    assert "in a browser" in message


def test_robots_disallowing_wp_json_stops_before_any_api_request(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.disallow_rest_in_robots()

    with pytest.raises(SyncError) as raised:
        client.list_post_ids()

    assert str(raised.value).startswith(
        f"{wordpress_site.origin}/robots.txt: disallows /blog/wp-json/"
    )
    # Not circumvented through ?rest_route= either.
    assert [r.path for r in wordpress_site.requests] == ["/robots.txt"]


def test_wrong_address_says_no_api_was_found_at_either_url(
    wordpress_site: WordPressStub, sleeps: Sleeps
) -> None:
    with (
        WordPressClient(wordpress_site.origin + "/shop", sleep=sleeps) as wp,
        pytest.raises(SyncError) as raised,
    ):
        wp.discover()

    message = str(raised.value)
    assert "no WordPress REST API found" in message
    assert "/shop/wp-json/wp/v2/posts" in message and "/shop/?rest_route=" in message
    assert "subfolder" in message


def test_a_page_cache_ignoring_the_query_string_is_detected(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.cache_ignores_query = True

    with pytest.raises(SyncError, match="page 2 repeats posts of an earlier page"):
        client.list_post_ids()


# -- listing ids and fetching pages ---------------------------------------------------------------


def test_list_post_ids_reads_every_page_of_100_ids() -> None:
    with WordPressStub(generated=204) as site, WordPressClient(site.site_url) as wp:
        ids = wp.list_post_ids()

        assert ids == site.ids() and len(ids) == 205
        listing = [r for r in site.requests_to("/wp/v2/posts") if r.param("page")]
        assert page_numbers(listing) == ["1", "2", "3"]
        for request in listing:
            assert request.param("_fields") == "id"
            assert (
                request.param("per_page"),
                request.param("orderby"),
                request.param("order"),
            ) == (
                "100",
                "id",
                "asc",
            )


def test_fetch_posts_pages_by_id_with_totals_and_only_the_fields_asked(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    pages = list(client.fetch_posts())

    assert [(p.number, p.total, p.total_pages) for p in pages] == [(1, 7, 3), (2, 7, 3), (3, 7, 3)]
    posts = [post for page in pages for post in page.posts]
    assert ids_of(posts) == wordpress_site.ids()
    for post in posts:
        assert set(post) == set(POST_FIELDS.split(","))
        assert post["content"] == wordpress_site.post(int(str(post["id"])))["content"]
    assert not any(page.modified_after_ignored for page in pages)
    # The site's timezone is UTC+05:30: site-local `modified` is not `modified_gmt`.
    assert all(post["modified"] != post["modified_gmt"] for post in posts)


def test_fetch_stops_quietly_on_the_400_past_the_last_page(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    ids = wordpress_site.ids()

    def delete_four_after_page_2(request: Request) -> None:
        if request.route == "/wp/v2/posts" and request.param("page") == "2":
            for post_id in ids[:4]:
                wordpress_site.delete_post(post_id)

    wordpress_site.on_request(delete_four_after_page_2)

    pages = list(client.fetch_posts())

    assert [p.number for p in pages] == [1, 2]  # page 3 answered 400 rest_post_invalid_page_number
    assert page_numbers(wordpress_site.requests_to("/wp/v2/posts")) == ["1", "2", "3"]


def test_post_published_mid_fetch_is_read_on_the_page_it_adds(sleeps: Sleeps) -> None:
    with WordPressStub(generated=5) as site, make_client(site, sleeps) as wp:
        added: list[int] = []

        def publish_after_page_1(request: Request) -> None:
            if request.route == "/wp/v2/posts" and request.param("page") == "1" and not added:
                added.append(site.add_post("Director of Observability"))

        site.on_request(publish_after_page_1)

        pages = list(wp.fetch_posts())

        assert [(p.number, p.total_pages) for p in pages] == [(1, 2), (2, 3), (3, 3)]
        assert ids_of(all_posts(iter(pages)))[-1] == added[0]


def test_list_post_ids_lists_again_when_a_post_is_deleted_mid_listing(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    doomed = wordpress_site.ids()[0]

    def delete_after_first_page(request: Request) -> None:
        if (
            request.route == "/wp/v2/posts"
            and request.param("page") == "1"
            and doomed in wordpress_site.ids()
        ):
            wordpress_site.delete_post(doomed)

    wordpress_site.on_request(delete_after_first_page)

    ids = client.list_post_ids()

    # The first pass saw the total move (7 on page 1, 6 on page 2) while a post slid from
    # page 2 to page 1 unseen; it was discarded, so that post is not missing (nor pruned).
    assert ids == wordpress_site.ids() and doomed not in ids and len(ids) == 6
    assert page_numbers(wordpress_site.requests_to("/wp/v2/posts")) == ["1", "2", "1", "2"]


def test_list_post_ids_raises_when_a_page_fails_and_returns_nothing_partial(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    client.discover()
    wordpress_site.inject(*[Fault.unavailable()] * (MAX_RETRIES + 1), skip=1, route="/wp/v2/posts")

    with pytest.raises(SyncError) as raised:
        client.list_post_ids()

    assert f"HTTP 503 after {MAX_RETRIES + 1} attempts" in str(raised.value)
    assert "page=2" in raised.value.url
    assert page_numbers(wordpress_site.requests_to("/wp/v2/posts")) == ["1"] + ["2"] * (
        MAX_RETRIES + 1
    )


def test_fetch_posts_by_id_brings_the_published_ones(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    ids = wordpress_site.ids()
    wordpress_site.delete_post(ids[3])

    posts = all_posts(client.fetch_posts_by_id([ids[1], ids[3], ids[5]]))

    assert ids_of(posts) == [ids[1], ids[5]]
    (request,) = [r for r in wordpress_site.requests_to("/wp/v2/posts") if r.param("include")]
    assert request.param("include") == f"{ids[1]},{ids[3]},{ids[5]}"


# -- scope: categories and search ---------------------------------------------------------------------


def test_categories_are_resolved_by_slug_or_id_and_narrow_the_posts(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    assert client.resolve_categories(["engineering-leadership"]) == [ENGINEERING_LEADERSHIP]
    assert client.resolve_categories(["security", "24486"]) == [24491, ENGINEERING_LEADERSHIP]
    (by_slug, *_) = wordpress_site.requests_to("/wp/v2/categories")
    assert by_slug.param("slug") == "engineering-leadership"

    assert client.list_post_ids(categories=[ENGINEERING_LEADERSHIP]) == [BUNDLED_ID]
    security = client.list_post_ids(categories=[24491])
    assert security and all(24491 in wordpress_site.post(i)["categories"] for i in security)
    assert BUNDLED_ID not in security


def test_unknown_category_is_named_with_where_to_look(client: WordPressClient) -> None:
    with pytest.raises(SyncError) as raised:
        client.resolve_categories(["leadership", "no-such-category", "999"])

    message = str(raised.value)
    assert "'no-such-category', '999'" in message and "'leadership'" not in message
    assert "/wp-json/wp/v2/categories" in message


def test_search_narrows_the_posts_to_those_containing_the_phrase(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    phrase = "practised at a regulated bank"
    expected = [
        i for i in wordpress_site.ids() if phrase in wordpress_site.post(i)["content"]["rendered"]
    ]
    assert 0 < len(expected) < len(wordpress_site.ids())

    assert client.list_post_ids(search=f'"{phrase}"') == expected
    assert ids_of(all_posts(client.fetch_posts(search=f'"{phrase}"'))) == expected


# -- modified_after: the cursor, its exclusive bound and the site's timezone ---------------------------


def test_modified_after_brings_only_posts_edited_after_the_cursor(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    cursor = cursor_from(all_posts(client.fetch_posts()))
    assert cursor is not None
    wordpress_site.advance(600)
    edited = wordpress_site.ids()[1:3]
    for post_id in edited:
        wordpress_site.edit_post(post_id, append="<p>Revised KPI targets.</p>")

    changed = all_posts(client.fetch_posts(modified_after=cursor))

    assert ids_of(changed) == edited
    assert wordpress_site.requests_to("/wp/v2/posts")[-1].param("modified_after") == cursor
    assert cursor_from(changed, previous=cursor) == wordpress_site.post(edited[0])["modified"]


def test_modified_after_bound_is_exclusive_so_the_query_steps_back_a_margin(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    first, second = wordpress_site.ids()[:2]
    wordpress_site.edit_post(first)
    cursor = cursor_from(all_posts(client.fetch_posts()))
    assert cursor == wordpress_site.post(first)["modified"]
    wordpress_site.edit_post(second)  # saved in the same second, after our read

    assert all_posts(client.fetch_posts(modified_after=cursor)) == []  # missed
    stepped_back = all_posts(client.fetch_posts(modified_after=query_cursor(cursor)))
    assert ids_of(stepped_back) == [first, second]


def test_modified_after_compares_site_local_time_not_gmt(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    post_id = wordpress_site.ids()[0]
    wordpress_site.advance(3600)
    wordpress_site.edit_post(post_id)
    post = wordpress_site.post(post_id)
    local = datetime.fromisoformat(post["modified"])
    gmt = datetime.fromisoformat(post["modified_gmt"])
    assert local - gmt == SITE_TZ.utcoffset(None)

    def fetched(after: str) -> bool:
        return post_id in ids_of(all_posts(client.fetch_posts(modified_after=after)))

    assert not fetched(post["modified"])  # the bound is the post's own local time: excluded
    assert fetched((local - timedelta(seconds=1)).isoformat())
    # A GMT time sent naive is read as site-local: 5 h 30 too early here, and too late for a
    # site west of UTC, where it would miss edits.
    assert fetched(post["modified_gmt"])


def test_old_wordpress_ignoring_modified_after_is_detected_and_modified_gmt_decides(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    before = all_posts(client.fetch_posts())
    known = {post["id"]: str(post["modified_gmt"]) for post in before}
    cursor = cursor_from(before)
    assert cursor is not None
    wordpress_site.old_wordpress = True
    wordpress_site.advance(600)
    edited = wordpress_site.ids()[4]
    wordpress_site.edit_post(edited, title="Director of Platform Engineering (2026)")

    pages = list(client.fetch_posts(modified_after=query_cursor(cursor)))

    assert pages and all(page.modified_after_ignored for page in pages)
    posts = all_posts(iter(pages))
    assert ids_of(posts) == wordpress_site.ids()  # everything came back
    assert [p["id"] for p in posts if modified_since(p, known.get(int(str(p["id"]))))] == [edited]


def test_unchanged_site_resyncs_in_four_small_requests(
    wordpress_site: WordPressStub, sleeps: Sleeps
) -> None:
    with make_client(wordpress_site, sleeps, page_size=100) as first:
        cursor = cursor_from(all_posts(first.fetch_posts()))
    assert cursor is not None
    wordpress_site.requests.clear()

    with make_client(wordpress_site, sleeps, page_size=100) as wp:
        ids = wp.list_post_ids()
        changed = all_posts(wp.fetch_posts(modified_after=query_cursor(cursor)))

    assert ids == wordpress_site.ids()
    # Only the posts inside the safety margin come back (here the newest one), to be absorbed
    # by their unchanged content hashes.
    margin_start = datetime.fromisoformat(cursor) - CURSOR_MARGIN
    assert changed and all(
        datetime.fromisoformat(str(p["modified"])) > margin_start for p in changed
    )
    assert [r.path for r in wordpress_site.requests] == ["/robots.txt"] + [
        "/blog/wp-json/wp/v2/posts"
    ] * 3


# -- faults: retried, with backoff, honouring Retry-After ------------------------------------------------


def test_429_is_retried_after_the_seconds_retry_after_asks(
    wordpress_site: WordPressStub, client: WordPressClient, sleeps: Sleeps
) -> None:
    client.discover()
    wordpress_site.inject(Fault.too_many_requests(retry_after="7"), route="/wp/v2/posts")

    assert client.list_post_ids() == wordpress_site.ids()

    assert sleeps == [7.0]
    assert client.retries == 1
    assert page_numbers(wordpress_site.requests_to("/wp/v2/posts")) == ["1", "1", "2", "3"]


def test_retry_after_as_an_http_date_is_honoured(
    wordpress_site: WordPressStub, client: WordPressClient, sleeps: Sleeps
) -> None:
    client.discover()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wordpress_site.inject(Fault.unavailable(retry_after=when), route="/wp/v2/posts")

    assert client.list_post_ids() == wordpress_site.ids()

    (slept,) = sleeps
    assert 25 <= slept <= 30


def test_503s_are_retried_with_exponential_backoff_and_full_jitter(
    wordpress_site: WordPressStub, client: WordPressClient, sleeps: Sleeps
) -> None:
    client.discover()
    wordpress_site.inject(
        Fault.unavailable(), Fault.unavailable(), Fault.unavailable(), route="/wp/v2/posts"
    )

    assert client.list_post_ids() == wordpress_site.ids()

    assert len(sleeps) == 3 == client.retries
    assert all(0 <= slept <= 2**n for n, slept in enumerate(sleeps))
    assert len(set(sleeps)) == 3  # jittered, not a fixed schedule


@pytest.mark.parametrize(
    "fault",
    [Fault.reset(), Fault.slow(3.0), Fault.too_many_requests()],
    ids=["connection-reset", "read-timeout", "429-without-retry-after"],
)
def test_each_fault_on_a_page_is_recovered(
    wordpress_site: WordPressStub, client: WordPressClient, sleeps: Sleeps, fault: Fault
) -> None:
    client.discover()
    wordpress_site.inject(fault, skip=1, route="/wp/v2/posts")  # page 2 of the fetch

    posts = all_posts(client.fetch_posts())

    assert ids_of(posts) == wordpress_site.ids()
    assert client.retries == 1 and len(sleeps) == 1
    assert page_numbers(wordpress_site.requests_to("/wp/v2/posts")) == ["1", "2", "2", "3"]


def test_a_failing_robots_txt_is_retried(
    wordpress_site: WordPressStub, client: WordPressClient
) -> None:
    wordpress_site.inject(Fault.unavailable(), route="/robots.txt")

    client.discover()

    assert [r.path for r in wordpress_site.requests[:2]] == ["/robots.txt", "/robots.txt"]


def test_retry_after_longer_than_the_limit_stops_with_a_message(
    wordpress_site: WordPressStub, client: WordPressClient, sleeps: Sleeps
) -> None:
    client.discover()
    wordpress_site.inject(Fault.too_many_requests(retry_after="3600"), route="/wp/v2/posts")

    with pytest.raises(SyncError, match=r"asks us to wait 3600 s \(Retry-After\)"):
        client.list_post_ids()
    assert sleeps == []


def test_a_site_that_stays_down_fails_after_the_retries_with_what_to_try(
    wordpress_site: WordPressStub, sleeps: Sleeps
) -> None:
    wordpress_site.inject(*[Fault.reset()] * (MAX_RETRIES + 1), route="/robots.txt")

    with make_client(wordpress_site, sleeps) as wp, pytest.raises(SyncError) as raised:
        wp.discover()

    message = str(raised.value)
    assert message.startswith(f"{wordpress_site.origin}/robots.txt: robots.txt could not be read")
    assert f"after {MAX_RETRIES + 1} attempts" in message
    assert len(sleeps) == MAX_RETRIES


# -- the stand-in itself behaves as WordPress does ---------------------------------------------------------


def test_stub_answers_wordpress_errors_and_headers(wordpress_site: WordPressStub) -> None:
    api = f"{wordpress_site.site_url}/wp-json/wp/v2/posts"
    with httpx.Client() as http:
        too_many = http.get(api, params={"per_page": 101})
        past_last = http.get(api, params={"per_page": 5, "page": 3})
        bad_date = http.get(api, params={"modified_after": "yesterday"})
        nested = http.get(api, params={"per_page": 2, "page": 2, "_fields": "id,title.rendered"})
        trashed_id = wordpress_site.ids()[0]
        wordpress_site.delete_post(trashed_id)
        trashed = http.get(f"{api}/{trashed_id}")
        empty = http.get(api, params={"search": "no post says this", "page": 2})

    assert too_many.status_code == 400
    assert too_many.json()["code"] == "rest_invalid_param"
    assert (
        too_many.json()["data"]["params"]["per_page"]
        == "per_page must be between 1 (inclusive) and 100 (inclusive)"
    )
    assert (past_last.status_code, past_last.json()["code"]) == (
        400,
        "rest_post_invalid_page_number",
    )
    assert bad_date.json()["data"]["params"] == {"modified_after": "Invalid date."}
    assert all(
        set(item) == {"id", "title"} and set(item["title"]) == {"rendered"}
        for item in nested.json()
    )
    assert nested.headers["X-WP-Total"] == "7" and nested.headers["X-WP-TotalPages"] == "4"
    assert set(nested.links) == {"prev", "next"}
    assert (trashed.status_code, trashed.json()["code"]) == (401, "rest_forbidden")
    assert (empty.status_code, empty.json(), empty.headers["X-WP-TotalPages"]) == (200, [], "0")
