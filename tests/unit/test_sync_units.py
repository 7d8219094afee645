"""The pure parts of `blueprints sync`: cursor hold-back, site identity, targets, settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.manifest import DocumentRecord
from assistant.settings import Settings
from ingest.sync import (
    NoSiteError,
    SyncScope,
    SyncState,
    _record_gmt,
    describe_ids,
    next_cursor,
    site_origin,
    sync_target,
)
from tests.conftest import make_settings

SITE = "https://example.com/blog"


def settings(**values: object) -> Settings:
    return make_settings(Path("/nonexistent/chroma"), **values)


# -- the cursor -----------------------------------------------------------------------------


def posts(*modified: str) -> list[dict[str, str]]:
    return [{"modified": m} for m in modified]


def test_a_cursor_read_in_one_request_is_the_newest_modified() -> None:
    seen = posts("2026-05-01T08:00:00", "2026-05-03T10:15:00")
    assert next_cursor(seen, None, hold_back=timedelta(0)) == "2026-05-03T10:15:00"


def test_a_cursor_read_over_several_requests_is_held_back_by_their_duration() -> None:
    # A post edited at 10:14:58, after its page was served and before the page showing the
    # 10:15:00 post, must stay after the cursor: held back by 3 s, it does.
    seen = posts("2026-05-01T08:00:00", "2026-05-03T10:15:00")
    cursor = next_cursor(seen, None, hold_back=timedelta(seconds=3))
    assert cursor == "2026-05-03T10:14:57" and cursor < "2026-05-03T10:14:58"


def test_a_cursor_never_moves_back() -> None:
    # The margin's overlap brings posts older than the stored cursor: it stays.
    assert next_cursor(
        posts("2026-05-01T08:00:00"), "2026-05-02T00:00:00", hold_back=timedelta(0)
    ) == ("2026-05-02T00:00:00")
    assert next_cursor([], "2026-05-02T00:00:00", hold_back=timedelta(seconds=9)) == (
        "2026-05-02T00:00:00"
    )


def test_a_sync_that_saw_nothing_has_no_cursor_to_record() -> None:
    assert next_cursor([], None, hold_back=timedelta(0)) is None


def test_an_indexed_document_s_modified_gmt_is_printed_as_the_rest_api_does() -> None:
    record = DocumentRecord(doc_id="d", doc_hash="h", generation=1, modified="")
    assert _record_gmt(record) is None
    aware = record.model_copy(update={"modified": "2026-05-03T10:15:00+00:00"})
    assert _record_gmt(aware) == "2026-05-03T10:15:00"
    shifted = record.model_copy(update={"modified": "2026-05-03T15:45:00+05:30"})
    assert _record_gmt(shifted) == "2026-05-03T10:15:00"


# -- site identity and state ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/blog",
        "https://example.com/blog/",
        "HTTPS://Example.COM/blog",
        " https://example.com/blog/ ",
    ],
)
def test_a_site_is_one_origin_however_its_address_is_typed(url: str) -> None:
    assert site_origin(url) == "https://example.com/blog"


def test_the_path_of_a_site_is_kept_as_typed() -> None:
    # Paths are case-sensitive on most servers: /Blog and /blog may be two sites.
    assert site_origin("https://example.com/Blog") == "https://example.com/Blog"


def test_a_stored_state_round_trips_through_json_with_its_scope() -> None:
    state = SyncState(
        site_url=SITE,
        cursor="2026-05-03T10:15:00",
        scope=SyncScope(search="director", categories=(3, 17)),
        unparsable={5: "2026-05-01T00:00:00"},
        outside=[9],
    )
    again = SyncState.model_validate_json(state.model_dump_json())
    assert again == state and again.scope == SyncScope(search="director", categories=(3, 17))


def test_a_scope_describes_itself_for_messages() -> None:
    assert SyncScope().describe() == "every post"
    assert (
        SyncScope(search="sre", categories=(3, 4)).describe() == "search 'sre' and categories 3, 4"
    )


def test_many_post_ids_are_named_by_the_first_few() -> None:
    assert describe_ids([1, 2]) == "1, 2"
    assert describe_ids(list(range(1, 14))) == "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 3 more"


# -- the target and the settings -----------------------------------------------------------


def test_sync_without_an_address_or_a_configured_site_says_what_to_do() -> None:
    with pytest.raises(NoSiteError, match="BLUEPRINTS_SYNC_URL"):
        sync_target(settings())


def test_the_configured_site_brings_its_filters() -> None:
    configured = settings(sync_url=SITE, sync_search="director", sync_categories=["leadership"])
    target = sync_target(configured)
    assert (target.url, target.search, target.categories) == (SITE, "director", ("leadership",))
    # The same site typed differently is still the configured one.
    assert sync_target(configured, SITE + "/").categories == ("leadership",)


def test_filters_on_the_command_line_replace_the_configured_ones() -> None:
    configured = settings(sync_url=SITE, sync_search="director", sync_categories=["leadership"])
    target = sync_target(configured, None, "vp", ["24486"])
    assert (target.search, target.categories) == ("vp", ("24486",))


def test_another_site_does_not_take_the_configured_site_s_filters() -> None:
    configured = settings(sync_url=SITE, sync_search="director", sync_categories=["leadership"])
    target = sync_target(configured, "https://other.example.org")
    assert (target.url, target.search, target.categories) == ("https://other.example.org", None, ())


def test_sync_categories_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUEPRINTS_SYNC_URL", SITE + "/")
    monkeypatch.setenv("BLUEPRINTS_SYNC_CATEGORIES", "leadership, 24486,,")
    read = Settings(_env_file=None)  # type: ignore[call-arg]
    assert read.sync_categories == ["leadership", "24486"] and read.sync_url == SITE


def test_blank_sync_settings_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("URL", "SEARCH", "INTERVAL_MINUTES"):
        monkeypatch.setenv(f"BLUEPRINTS_SYNC_{name}", "  ")
    read = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (read.sync_url, read.sync_search, read.sync_interval_minutes) == (None, None, None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sync_url": "example.com/blog"}, "not a site address"),
        ({"sync_url": "ftp://example.com"}, "not a site address"),
        ({"sync_interval_minutes": 5}, "needs BLUEPRINTS_SYNC_URL"),
        ({"sync_url": SITE, "sync_interval_minutes": 0}, "greater than 0"),
    ],
)
def test_wrong_sync_settings_stop_with_a_message(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)
