import random
from datetime import UTC, datetime, timedelta

import pytest

from ingest.errors import SyncError
from ingest.robots import RobotsRules
from ingest.wordpress import (
    CURSOR_MARGIN,
    PRODUCT_TOKEN,
    WordPressClient,
    backoff_delay,
    cursor_from,
    default_user_agent,
    modified_since,
    parse_retry_after,
    parse_wp_datetime,
    query_cursor,
)

# -- the cursor -----------------------------------------------------------------------------


def test_cursor_is_the_newest_site_local_modified_seen() -> None:
    posts = [
        {"modified": "2026-04-15T19:33:30", "modified_gmt": "2026-04-15T14:03:30"},
        {"modified": "2026-05-01T08:00:00", "modified_gmt": "2026-05-01T02:30:00"},
        {"modified": "2026-04-30T23:59:59", "modified_gmt": "2026-04-30T18:29:59"},
    ]

    assert cursor_from(posts) == "2026-05-01T08:00:00"


def test_cursor_compares_times_not_strings() -> None:
    # WordPress always pads, but a cursor stored by hand may not: compare as times.
    assert cursor_from([{"modified": "2026-05-01T08:00:00"}], previous="2026-05-01 09:00:00") == (
        "2026-05-01T09:00:00"
    )


def test_cursor_keeps_the_previous_one_when_nothing_newer_was_seen() -> None:
    assert cursor_from([], previous="2026-05-01T08:00:00") == "2026-05-01T08:00:00"
    assert cursor_from([{"modified": "2026-04-01T00:00:00"}], previous="2026-05-01T08:00:00") == (
        "2026-05-01T08:00:00"
    )
    assert cursor_from([]) is None


def test_query_cursor_steps_back_the_margin_in_wordpress_format() -> None:
    assert query_cursor("2026-05-01T08:00:00") == (
        (datetime(2026, 5, 1, 8, 0, 0) - CURSOR_MARGIN).strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert query_cursor("2026-05-01T08:00:00", timedelta(seconds=90)) == "2026-05-01T07:58:30"
    assert query_cursor("2026-05-01T00:02:00", timedelta(minutes=5)) == "2026-04-30T23:57:00"


def test_a_cursor_with_an_offset_is_refused() -> None:
    # modified_after is compared with the site-local column: an offset means someone took
    # modified_gmt or our clock, which is exactly the mistake to refuse.
    with pytest.raises(ValueError, match="site-local"):
        parse_wp_datetime("2026-05-01T08:00:00+00:00")
    with pytest.raises(ValueError):
        parse_wp_datetime("yesterday")


def test_modified_since_compares_modified_gmt_for_sites_ignoring_modified_after() -> None:
    post = {"modified": "2026-05-01T08:00:00", "modified_gmt": "2026-05-01T02:30:00"}

    assert modified_since(post, None)  # never indexed
    assert not modified_since(post, "2026-05-01T02:30:00")
    assert modified_since(post, "2026-04-30T02:30:00")


# -- retries ----------------------------------------------------------------------------------


def test_backoff_window_doubles_from_the_base_up_to_the_cap() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b  # the top of the window

    windows = [backoff_delay(n, base=1.0, cap=10.0, rng=Top()) for n in range(6)]

    assert windows == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_is_full_jitter_over_the_whole_window() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(3, base=1.0, cap=60.0, rng=rng) for _ in range(2000)]

    assert all(0.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 0.5 and max(delays) > 7.5  # spread from 0 to the top, not 4..8


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("Fri, 01 May 2026 08:00:30 GMT", 30.0),
        ("Fri, 01 May 2026 07:59:00 GMT", 0.0),  # already past: retry now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    now = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == seconds


# -- construction ------------------------------------------------------------------------------


def test_user_agent_names_the_project_and_its_version() -> None:
    agent = default_user_agent()

    assert agent.startswith(f"{PRODUCT_TOKEN}/0.")
    assert "(" in agent and agent.endswith(")")


@pytest.mark.parametrize("url", ["example.com/blog", "ftp://example.com", "", "https://"])
def test_site_address_must_be_a_full_http_url(url: str) -> None:
    with pytest.raises(SyncError, match="give the full URL"):
        WordPressClient(url)


def test_page_size_above_the_api_maximum_is_refused() -> None:
    with pytest.raises(SyncError, match="between 1 and 100"):
        WordPressClient("https://example.com", page_size=101)


# -- robots.txt ------------------------------------------------------------------------------------


WORDPRESS_DEFAULT = "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n"


def test_wordpress_default_robots_allows_the_rest_api() -> None:
    rules = RobotsRules.parse(WORDPRESS_DEFAULT, PRODUCT_TOKEN)

    assert rules.allows("/blog/wp-json/wp/v2/posts")
    assert not rules.allows("/wp-admin/options.php")
    assert rules.allows("/wp-admin/admin-ajax.php")


def test_the_longest_rule_wins_and_a_tie_allows() -> None:
    text = "User-agent: *\nDisallow: /\nAllow: /wp-json/\nDisallow: /wp-json/wp/v2/users\n"
    rules = RobotsRules.parse(text, PRODUCT_TOKEN)

    assert rules.allows("/wp-json/wp/v2/posts")  # first-match parsers get this wrong
    assert not rules.allows("/wp-json/wp/v2/users/1")
    assert not rules.allows("/about/")
    assert RobotsRules.parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "x").allows("/a")


def test_wildcards_and_end_anchors_match() -> None:
    rules = RobotsRules.parse("User-agent: *\nDisallow: /*?rest_route=\nDisallow: /*.php$\n", "x")

    assert not rules.allows("/blog/?rest_route=/wp/v2/posts")
    assert not rules.allows("/xmlrpc.php")
    assert rules.allows("/xmlrpc.php?rsd")
    assert rules.allows("/blog/wp-json/wp/v2/posts")


def test_our_own_group_replaces_the_star_group() -> None:
    text = (
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: Blueprint-Assistant\nUser-agent: otherbot\nDisallow: /private/\n"
    )
    rules = RobotsRules.parse(text, PRODUCT_TOKEN)

    assert rules.allows("/wp-json/wp/v2/posts")
    assert not rules.allows("/private/x")
    assert not RobotsRules.parse(text, "somebot").allows("/wp-json/wp/v2/posts")


def test_an_empty_disallow_and_junk_lines_allow_everything() -> None:
    assert RobotsRules.parse("User-agent: *\nDisallow:\n", PRODUCT_TOKEN).allows("/wp-json/")
    assert RobotsRules.parse("<html><body>Not a robots file</body></html>", "x").allows("/wp-json/")
    assert RobotsRules.allow_all().allows("/anything")
