"""`blueprints serve` keeping itself current: the background sync, through the real ASGI app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from assistant.embeddings import Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import open_store
from ingest.pipeline import Ingestor
from ingest.sync import PeriodicSync
from tests.support.wordpress_stub import WordPressStub

pytestmark = pytest.mark.integration

SRE_ROLE = "director-of-site-reliability-engineering"
EDIT = "<p>Quarterly reliability reviews now include the error-budget burn of every tier.</p>"
WAIT_S = 120.0


@pytest.fixture
def site() -> Iterator[WordPressStub]:
    with WordPressStub(generated=3, bundled=False, sections=(1, 2, 7)) as stub:
        yield stub


@pytest.fixture
def sync_settings(tmp_settings: Settings, site: WordPressStub) -> Settings:
    """Settings of a server that syncs the stand-in every 0.1 s."""
    update = {
        "sync_url": site.site_url,
        "sync_interval_minutes": 0.1 / 60,
        "rate_limit_per_minute": 10_000,
    }
    return tmp_settings.model_copy(update=update)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run (the background sync starts and stops with it)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def ready_when(
    client: httpx.AsyncClient, condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll /readyz until `condition` holds of its body (the sync runs in another thread)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        body: dict[str, Any] = (await client.get("/readyz")).json()
        if condition(body):
            return body
        assert time.monotonic() < deadline, f"/readyz never satisfied the condition: {body}"
        await asyncio.sleep(0.1)


def synced(body: dict[str, Any]) -> bool:
    return bool(body.get("sync") and body["sync"]["last_success_at"])


async def test_serve_syncs_in_the_background_and_readyz_reports_it(
    site: WordPressStub, sync_settings: Settings, embedder: Embedder
) -> None:
    store = open_store(sync_settings)
    ingestor = Ingestor(store, embedder, chunk_size=sync_settings.chunk_size)
    background = PeriodicSync(sync_settings, store, ingestor, client_options={"timeout": 5.0})
    app = create_app(
        sync_settings, Assistant(sync_settings, store, embedder), background_sync=background
    )
    async with serving(app) as client:
        body = await ready_when(client, synced)
        newest = max(site.post(i)["modified"] for i in site.ids())
        assert body["status"] == "ready" and body["roles"] == 3
        assert body["sync"]["cursor"] == newest and body["sync"]["last_error"] is None
        assert body["sync"]["site"] == site.site_url

        # An edit upstream reaches answers without anyone running a command.
        (sre,) = [i for i in site.ids() if "reliability" in site.post(i)["link"]]
        site.advance(3600)
        site.edit_post(sre, append=EDIT)
        edited = site.post(sre)["modified"]
        await ready_when(client, lambda b: b["sync"]["cursor"] == edited)
        role = (await client.get(f"/v1/roles/{SRE_ROLE}")).json()
        assert "error-budget burn of every tier" in " ".join(s["text"] for s in role["content"])

        # A site that starts refusing the API is reported; the index keeps serving.
        site.security_plugin = True
        body = await ready_when(client, lambda b: bool(b["sync"]["last_error"]))
        assert "security plugin" in body["sync"]["last_error"]
        assert body["status"] == "ready" and body["sync"]["cursor"] == edited
    # Shut down with the app: the site hears from it no more.
    requests = len(site.requests)
    await asyncio.sleep(0.5)
    assert len(site.requests) == requests


async def test_the_app_builds_its_background_sync_on_its_own_store_and_model(
    site: WordPressStub, sync_settings: Settings
) -> None:
    app = create_app(sync_settings)
    async with serving(app) as client:
        body = await ready_when(client, synced)
        assert body["status"] == "ready" and body["roles"] == 3
        roles = (await client.get("/v1/roles")).json()
        assert {r["url"] for r in roles} == {site.post(i)["link"] for i in site.ids()}


async def test_readyz_has_no_sync_when_none_is_configured(
    tmp_settings: Settings, embedder: Embedder
) -> None:
    app = create_app(tmp_settings, Assistant(tmp_settings, open_store(tmp_settings), embedder))
    async with serving(app) as client:
        body = (await client.get("/readyz")).json()
    assert body["sync"] is None
