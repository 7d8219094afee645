"""The Slack app end to end: signed requests through HTTP, Slack's Web API on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from api.app import create_app
from api.feedback import AnswerLog
from api.server import RequestIdFilter
from api.slack import (
    FAILED,
    HELP,
    NOT_ON_RECORD,
    PLACEHOLDER,
    SlackBot,
    mount_slack,
    socket_mode_handler,
)
from api.slack_format import (
    COVERAGE_NOTES,
    FEEDBACK_DOWN,
    FEEDBACK_REASON,
    FEEDBACK_UP,
    REASON_BLOCK,
    REASON_INPUT,
    SHARE_ANSWER,
)
from api.slack_ledger import DeliveryLedger, ledger_path
from assistant.models import Answer, AnswerCoverage, Turn
from assistant.service import Assistant
from assistant.settings import Settings
from tests.support.slack_stub import BOT_ID, BOT_USER_ID, RESPONSE_URL, TEAM_ID, Call, SlackStub

pytestmark = pytest.mark.integration

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"
CHANNEL = "C0000001"
DM_CHANNEL = "D0000001"
USER = "U0000001"
KPI_QUESTION = "What are the KPIs of a VP of Data and AI?"


# --- Slack's side of the wire -------------------------------------------------------------


def signed(
    body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """The headers Slack adds: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0000001",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


async def post_json(
    client: httpx.AsyncClient, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **signed(body), **(headers or {})},
    )


async def post_form(client: httpx.AsyncClient, fields: dict[str, str]) -> httpx.Response:
    body = urlencode(fields).encode()
    return await client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed(body)},
    )


def mention(stub: SlackStub, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    """A user's `@bot` message, put in the channel and returned as its `app_mention` event."""
    message = stub.add_message(CHANNEL, f"<@{BOT_USER_ID}> {text}", USER, thread_ts=thread_ts)
    return {**message, "type": "app_mention", "channel": CHANNEL, "event_ts": message["ts"]}


def block_action(action_id: str, value: str, response_key: str, stub: SlackStub) -> dict[str, str]:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": USER},
        "api_app_id": "A0000001",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
        "trigger_id": "trigger-1",
        "response_url": stub.response_url(response_key),
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value}],
    }
    return {"payload": json.dumps(payload)}


# --- What the app sent ---------------------------------------------------------------------


def texts(blocks: Sequence[dict[str, Any]], kind: str) -> list[str]:
    """The mrkdwn texts of the section or context blocks of a message."""
    found = []
    for block in blocks:
        if block["type"] == kind == "section":
            found.append(block["text"]["text"])
        elif block["type"] == kind == "context":
            found.extend(element["text"] for element in block["elements"])
    return found


def buttons(blocks: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Action id -> value of every button in a message."""
    return {
        element["action_id"]: element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def sources(blocks: Sequence[dict[str, Any]]) -> str:
    return "\n".join(text for text in texts(blocks, "context") if text.startswith("*Sources*"))


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    server = SlackStub()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slack_settings(bundled_settings: Settings, stub: SlackStub, tmp_path: Any) -> Settings:
    return bundled_settings.model_copy(
        update={
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": stub.api_url,
            "feedback_db": tmp_path / "feedback.sqlite3",
        }
    )


@asynccontextmanager
async def serving(
    settings: Settings, assistant: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One worker: the whole app, started and stopped by its lifespan, and a client to it."""
    application = create_app(settings, assistant)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://blueprints.test") as c:
            yield application, c


@pytest.fixture
async def app_and_client(
    slack_settings: Settings, bundled_assistant: Assistant
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serving(slack_settings, bundled_assistant) as served:
        yield served


@pytest.fixture
def app(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return app_and_client[0]


@pytest.fixture
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@asynccontextmanager
async def bare_client(settings: Settings, assistant: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The Slack app alone on a FastAPI app, over a stand-in assistant."""
    application = FastAPI()
    answers = AnswerLog(settings.feedback_path)
    ledger = DeliveryLedger(ledger_path(settings.feedback_path))
    mount_slack(application, settings, SlackBot(assistant, answers, ledger))
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://blueprints.test") as c:
            yield c
    finally:
        ledger.close()
        answers.close()


async def settled(settings: Settings, payload: dict[str, Any]) -> None:
    """Wait until the ledger records the event's reply as posted (just after Slack got it)."""
    deadline = time.monotonic() + 20
    key = f"event:{payload['event_id']}"
    while True:
        with sqlite3.connect(ledger_path(settings.feedback_path)) as db:
            row = db.execute("SELECT state FROM deliveries WHERE key = ?", (key,)).fetchone()
        if row == ("done",):
            return
        assert time.monotonic() < deadline, f"{key} is {row}, not done"
        await asyncio.sleep(0.02)


def placeholder_threads(stub: SlackStub) -> list[str]:
    return [call.params["thread_ts"] for call in stub.calls_to("chat.postMessage")]


def stored_answer(settings: Settings, answer_id: str) -> tuple[str, str] | None:
    with sqlite3.connect(settings.feedback_path) as db:
        row = db.execute("SELECT source, question FROM answers WHERE id = ?", (answer_id,))
        found = row.fetchone()
    return None if found is None else (found[0], found[1])


async def answered(stub: SlackStub, count: int = 1) -> list[Call]:
    """Wait for `count` answers (placeholder updates) and return them."""
    return await stub.wait_for("chat.update", count=count)


# --- Mentions, threads and DMs -------------------------------------------------------------


async def test_mention_gets_a_placeholder_then_the_answer_in_its_thread(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    event = mention(stub, KPI_QUESTION)
    response = await post_json(client, envelope(event))
    assert response.status_code == 200

    [update] = await answered(stub)
    [placeholder] = stub.calls_to("chat.postMessage")
    assert placeholder.params["channel"] == CHANNEL
    assert placeholder.params["thread_ts"] == event["ts"]
    assert placeholder.params["text"] == PLACEHOLDER
    assert placeholder.token == update.token == BOT_TOKEN

    thread = stub.thread(CHANNEL, event["ts"])
    assert [m["user"] for m in thread] == [USER, BOT_USER_ID]
    reply = thread[1]
    assert update.params["ts"] == reply["ts"]
    assert reply["text"] != PLACEHOLDER
    assert texts(reply["blocks"], "section")
    assert "VP of Data and AI" in sources(reply["blocks"])
    assert "KPI" in sources(reply["blocks"])
    actions = buttons(reply["blocks"])
    assert set(actions) == {FEEDBACK_UP, FEEDBACK_DOWN}
    assert actions[FEEDBACK_UP] == actions[FEEDBACK_DOWN] != ""


async def test_ack_does_not_wait_for_the_answer(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    class GatedAssistant:
        def __init__(self) -> None:
            self.release = threading.Event()

        def ask(
            self, question: str, history: Sequence[Turn] = (), role: str | None = None
        ) -> Answer:
            assert self.release.wait(timeout=20)
            return bundled_assistant.ask(question, history, role)

    gated = GatedAssistant()
    async with bare_client(slack_settings, gated) as client:
        event = mention(stub, KPI_QUESTION)
        response = await asyncio.wait_for(post_json(client, envelope(event)), timeout=3)
        assert response.status_code == 200
        await stub.wait_for("chat.postMessage")  # the placeholder shows progress meanwhile
        assert stub.calls_to("chat.update") == []
        gated.release.set()
        [update] = await answered(stub)
    assert "VP of Data and AI" in sources(update.params["blocks"])


async def test_thread_follow_up_is_answered_from_the_thread(
    client: httpx.AsyncClient, stub: SlackStub, bundled_assistant: Assistant
) -> None:
    # Alone, the follow-up is taken to be about another role: only the thread says whose.
    assert "Head of DevOps" not in bundled_assistant.ask("and their career path?").roles

    first = mention(stub, "What does a Head of DevOps do?")
    await post_json(client, envelope(first))
    await answered(stub)

    follow_up = mention(stub, "and their career path?", thread_ts=first["ts"])
    await post_json(client, envelope(follow_up))
    second = (await answered(stub, count=2))[1]

    [replies] = stub.calls_to("conversations.replies")
    assert (replies.params["channel"], replies.params["ts"]) == (CHANNEL, first["ts"])
    assert stub.calls_to("chat.postMessage")[1].params["thread_ts"] == first["ts"]
    cited = sources(second.params["blocks"])
    assert "Head of DevOps" in cited
    assert "VP of Data and AI" not in cited
    assert "Career Path" in " ".join(texts(second.params["blocks"], "section"))


async def test_direct_message_is_answered_and_bot_messages_are_ignored(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    def dm(**fields: Any) -> dict[str, Any]:
        ts = stub.next_ts()
        base = {"type": "message", "channel": DM_CHANNEL, "channel_type": "im", "ts": ts}
        return {**base, "event_ts": ts, **fields}

    ignored = [
        dm(user=BOT_USER_ID, bot_id=BOT_ID, text="my own earlier answer"),
        dm(bot_id="BOTHER01", subtype="bot_message", text="another bot says hi"),
        dm(subtype="message_changed", message={"text": KPI_QUESTION}, hidden=True),
    ]
    for event in ignored:
        assert (await post_json(client, envelope(event))).status_code == 200

    question = dm(user=USER, text=KPI_QUESTION)
    await post_json(client, envelope(question))
    await answered(stub)

    # Only the user's message was answered, in its own thread.
    [placeholder] = stub.calls_to("chat.postMessage")
    assert placeholder.params["channel"] == DM_CHANNEL
    assert placeholder.params["thread_ts"] == question["ts"]


async def test_a_message_delivered_as_two_events_is_answered_once(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    text = f"<@{BOT_USER_ID}> {KPI_QUESTION}"
    message = stub.add_message(DM_CHANNEL, text, USER)
    as_dm = {**message, "channel": DM_CHANNEL, "channel_type": "im"}
    await post_json(client, envelope(as_dm))
    await post_json(client, envelope({**as_dm, "type": "app_mention"}))
    await post_json(client, envelope(mention(stub, "What are the core responsibilities?")))
    await answered(stub, count=2)
    threads = [call.params["thread_ts"] for call in stub.calls_to("chat.postMessage")]
    assert threads.count(message["ts"]) == 1
    assert len(threads) == 2


async def test_a_bare_mention_or_command_gets_help(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    await post_json(client, envelope(mention(stub, "")))
    [update] = await answered(stub)
    assert update.params["text"] == HELP

    command = {"command": "/blueprint", "text": " ", "user_id": USER, "channel_id": CHANNEL}
    response = await post_form(client, {**command, "response_url": stub.response_url("c")})
    assert response.json() == {"text": HELP, "response_type": "ephemeral"}


# --- Slash command and buttons -------------------------------------------------------------


async def test_slash_command_answers_ephemerally_and_share_posts_in_channel(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    command = {
        "command": "/blueprint",
        "text": KPI_QUESTION,
        "user_id": USER,
        "channel_id": CHANNEL,
        "team_id": TEAM_ID,
        "response_url": stub.response_url("command"),
        "trigger_id": "trigger-0",
    }
    response = await post_form(client, command)
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"

    [reply] = await stub.wait_for(RESPONSE_URL)
    assert reply.params["key"] == "command"
    assert reply.params["response_type"] == "ephemeral"
    assert "VP of Data and AI" in sources(reply.params["blocks"])
    actions = buttons(reply.params["blocks"])
    assert set(actions) == {SHARE_ANSWER, FEEDBACK_UP, FEEDBACK_DOWN}
    assert stub.calls_to("chat.postMessage") == []  # nothing public yet

    share = block_action(SHARE_ANSWER, actions[SHARE_ANSWER], "share", stub)
    assert (await post_form(client, share)).status_code == 200
    [shared] = await stub.wait_for("chat.postMessage")
    assert shared.params["channel"] == CHANNEL
    assert f"<@{USER}> asked: {KPI_QUESTION}" in texts(shared.params["blocks"], "context")
    assert texts(shared.params["blocks"], "section") == texts(reply.params["blocks"], "section")
    assert SHARE_ANSWER not in buttons(shared.params["blocks"])
    [removed] = await stub.wait_for(RESPONSE_URL, where=lambda c: c.params["key"] == "share")
    assert removed.params["delete_original"] is True


async def test_share_in_a_channel_the_bot_cannot_post_in_explains_why(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    command = {
        "command": "/blueprint",
        "text": KPI_QUESTION,
        "user_id": USER,
        "channel_id": CHANNEL,
        "response_url": stub.response_url("command"),
    }
    await post_form(client, command)
    [reply] = await stub.wait_for(RESPONSE_URL)
    stub.errors["chat.postMessage"] = "not_in_channel"

    answer_id = buttons(reply.params["blocks"])[SHARE_ANSWER]
    await post_form(client, block_action(SHARE_ANSWER, answer_id, "share", stub))
    [note] = await stub.wait_for(RESPONSE_URL, where=lambda c: c.params["key"] == "share")
    assert "/invite" in note.params["text"]
    assert note.params["replace_original"] is False


async def test_share_works_from_another_worker(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    command = {
        "command": "/blueprint",
        "text": KPI_QUESTION,
        "user_id": USER,
        "channel_id": CHANNEL,
        "response_url": stub.response_url("command"),
    }
    async with serving(slack_settings, bundled_assistant) as (_, one):
        await post_form(one, command)
        [reply] = await stub.wait_for(RESPONSE_URL)
    answer_id = buttons(reply.params["blocks"])[SHARE_ANSWER]
    assert stored_answer(slack_settings, answer_id) == ("slack", KPI_QUESTION)

    async with serving(slack_settings, bundled_assistant) as (_, two):
        await post_form(two, block_action(SHARE_ANSWER, answer_id, "share", stub))
        [shared] = await stub.wait_for("chat.postMessage")
    assert texts(shared.params["blocks"], "section") == texts(reply.params["blocks"], "section")


async def test_feedback_click_is_the_slack_users_vote_and_a_second_click_replaces_it(
    app: FastAPI, client: httpx.AsyncClient, stub: SlackStub, slack_settings: Settings
) -> None:
    event = mention(stub, KPI_QUESTION)
    await post_json(client, envelope(event))
    [update] = await answered(stub)
    answer_id = buttons(update.params["blocks"])[FEEDBACK_DOWN]
    assert stored_answer(slack_settings, answer_id) == ("slack", KPI_QUESTION)

    response = await post_form(client, block_action(FEEDBACK_DOWN, answer_id, "vote", stub))
    assert response.status_code == 200
    [thanks] = await stub.wait_for(RESPONSE_URL)
    assert thanks.params["response_type"] == "ephemeral"
    assert "Thanks" in thanks.params["text"]
    await post_form(client, block_action(FEEDBACK_UP, answer_id, "again", stub))
    [changed] = await stub.wait_for(RESPONSE_URL, where=lambda c: c.params["key"] == "again")
    assert "changed" in changed.params["text"]

    [vote] = app.state.answer_log.votes()
    assert (vote.answer_id, vote.rating, vote.source, vote.user, vote.voter) == (
        answer_id,
        "up",
        "slack",
        USER,
        f"slack:{USER}",
    )


async def test_feedback_on_an_answer_no_longer_on_record_says_so(
    app: FastAPI, client: httpx.AsyncClient, stub: SlackStub
) -> None:
    response = await post_form(client, block_action(FEEDBACK_UP, "gone-answer-id", "vote", stub))
    assert response.status_code == 200
    [note] = await stub.wait_for(RESPONSE_URL)
    assert note.params["text"] == NOT_ON_RECORD
    assert note.params["response_type"] == "ephemeral"
    assert note.params["replace_original"] is False
    assert app.state.answer_log.votes() == []


# --- Robustness ----------------------------------------------------------------------------


RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


async def test_a_retry_of_an_answered_event_is_ignored_even_after_a_restart(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    first = envelope(mention(stub, KPI_QUESTION))
    async with serving(slack_settings, bundled_assistant) as (_, client):
        await post_json(client, first)
        await answered(stub)
        await settled(slack_settings, first)
        retry = await post_json(client, first, headers=RETRY)
        redelivery = await post_json(client, first)  # the same event id, no retry header
    assert retry.status_code == redelivery.status_code == 200
    assert retry.headers["x-slack-no-retry"] == "1"

    async with serving(slack_settings, bundled_assistant) as (_, restarted):
        late = await post_json(restarted, first, headers={"X-Slack-Retry-Num": "3"})
        assert late.status_code == 200
        assert late.headers["x-slack-no-retry"] == "1"
        # Ignored before the acknowledgement, so nothing of it can come after this one.
        later = envelope(mention(stub, "What are the core responsibilities?"))
        await post_json(restarted, later)
        await answered(stub, count=2)
    assert placeholder_threads(stub) == [first["event"]["ts"], later["event"]["ts"]]


async def test_a_retry_of_an_event_never_seen_is_answered(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    # Its first delivery reached no process (a restart, a network failure).
    unseen = envelope(mention(stub, "What are the technical skills required?"))
    response = await post_json(client, unseen, headers={"X-Slack-Retry-Num": "2"})
    assert response.status_code == 200
    assert "x-slack-no-retry" not in response.headers
    [update] = await answered(stub)
    assert placeholder_threads(stub) == [unseen["event"]["ts"]]
    assert "blocks" in update.params


async def test_a_retry_whose_first_process_died_before_posting_is_answered_once(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    event = envelope(mention(stub, KPI_QUESTION))
    ts = event["event"]["ts"]
    stub.hung.add("chat.update")  # the answer leaves, and never arrives
    async with serving(slack_settings, bundled_assistant) as (app, client):
        app.state.slack.shutdown_grace_s = 0.1
        assert (await post_json(client, event)).status_code == 200
        await stub.wait_for("chat.update", held=True)
    # That process is gone, its answer with it; Slack saw no acknowledgement and retries.
    stub.hung.clear()
    assert stub.calls_to("chat.update") == []

    async with serving(slack_settings, bundled_assistant) as (_, restarted):
        retry = await post_json(restarted, event, headers=RETRY)
        assert retry.status_code == 200
        [update] = await answered(stub)
        await settled(slack_settings, event)
        again = await post_json(restarted, event, headers={"X-Slack-Retry-Num": "2"})
        assert again.headers["x-slack-no-retry"] == "1"
        later = envelope(mention(stub, "What are the core responsibilities?"))
        await post_json(restarted, later)
        await answered(stub, count=2)
    assert placeholder_threads(stub) == [ts, ts, later["event"]["ts"]]  # the first one is dead
    assert "VP of Data and AI" in sources(update.params["blocks"])
    answers = [m for m in stub.thread(CHANNEL, ts) if m.get("blocks")]
    assert len(answers) == 1


async def test_a_retry_while_the_answer_is_in_progress_is_acknowledged_and_ignored(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    class GatedAssistant:
        def __init__(self) -> None:
            self.release = threading.Event()

        def ask(
            self, question: str, history: Sequence[Turn] = (), role: str | None = None
        ) -> Answer:
            assert self.release.wait(timeout=20)
            return bundled_assistant.ask(question, history, role)

    gated = GatedAssistant()
    event = envelope(mention(stub, KPI_QUESTION))
    async with (
        bare_client(slack_settings, gated) as one,
        serving(slack_settings, bundled_assistant) as (_, other_worker),
    ):
        await post_json(one, event)
        await stub.wait_for("chat.postMessage")
        retries = [
            await post_json(one, event, headers=RETRY),
            await post_json(other_worker, event, headers={"X-Slack-Retry-Num": "2"}),
        ]
        gated.release.set()
        await answered(stub)
        await post_json(other_worker, later := envelope(mention(stub, "And their tools?")))
        await answered(stub, count=2)
    assert [r.status_code for r in retries] == [200, 200]
    # Not "no retry": had the answering process died, another delivery would be welcome.
    assert all("x-slack-no-retry" not in r.headers for r in retries)
    assert placeholder_threads(stub) == [event["event"]["ts"], later["event"]["ts"]]


async def test_concurrent_deliveries_to_two_workers_are_answered_once(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    async with (
        serving(slack_settings, bundled_assistant) as (_, one),
        serving(slack_settings, bundled_assistant) as (_, two),
    ):
        event = envelope(mention(stub, KPI_QUESTION))
        responses = await asyncio.gather(
            post_json(one, event),
            post_json(two, event),
            post_json(one, event, headers=RETRY),
            post_json(two, event, headers=RETRY),
        )
        await answered(stub)
        later = envelope(mention(stub, "What are the core responsibilities?"))
        await post_json(two, later)
        await answered(stub, count=2)
    assert [r.status_code for r in responses] == [200] * 4
    assert placeholder_threads(stub) == [event["event"]["ts"], later["event"]["ts"]]


@pytest.mark.parametrize("case", ["unsigned", "older than 5 minutes", "signed with another secret"])
async def test_unverified_requests_get_401(
    client: httpx.AsyncClient, stub: SlackStub, case: str
) -> None:
    body = json.dumps(envelope(mention(stub, KPI_QUESTION))).encode()
    headers = {
        "unsigned": {},
        "older than 5 minutes": signed(body, timestamp=int(time.time()) - 6 * 60),
        "signed with another secret": signed(body, secret="not-the-secret"),
    }[case]
    response = await client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 401
    assert stub.calls == []


async def test_signed_url_verification_is_answered(client: httpx.AsyncClient) -> None:
    response = await post_json(client, {"type": "url_verification", "challenge": "c-123"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


@pytest.mark.parametrize(
    ("question", "coverage"),
    [
        ("What does a pastry chef earn in Lisbon?", AnswerCoverage.NOT_FOUND),
        ("What are the KPIs of a Head of DevOps?", AnswerCoverage.PARTIAL),
    ],
)
async def test_incomplete_answers_carry_a_coverage_note(
    client: httpx.AsyncClient,
    stub: SlackStub,
    bundled_assistant: Assistant,
    question: str,
    coverage: AnswerCoverage,
) -> None:
    assert bundled_assistant.ask(question).coverage == coverage
    await post_json(client, envelope(mention(stub, question)))
    [update] = await answered(stub)
    assert COVERAGE_NOTES[coverage] in texts(update.params["blocks"], "context")


async def test_question_errors_are_explained_in_the_thread(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    event = mention(stub, "why " * 1000)
    await post_json(client, envelope(event))
    [update] = await answered(stub)
    assert "2000" in update.params["text"]  # the limit, so the user knows what to change
    assert "blocks" not in update.params
    assert stub.thread(CHANNEL, event["ts"])[1]["text"] == update.params["text"]


class BrokenAssistant:
    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        raise RuntimeError("the index exploded")


async def test_unexpected_errors_get_a_friendly_reply_with_the_request_id_of_the_logs(
    slack_settings: Settings, stub: SlackStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="api.slack")
    caplog.handler.addFilter(RequestIdFilter())  # as `blueprints serve` stamps its log lines
    async with serving(slack_settings, BrokenAssistant()) as (_, client):
        event = mention(stub, KPI_QUESTION)
        response = await post_json(client, envelope(event))
        [update] = await answered(stub)
    request_id = response.headers["x-request-id"]
    assert update.params["text"] == f"{FAILED} _(request id `{request_id}`)_"
    assert update.params["channel"] == CHANNEL
    [record] = [r for r in caplog.records if r.name == "api.slack"]
    assert record.exc_info is not None
    assert "the index exploded" in str(record.exc_info[1])
    assert record.request_id == request_id  # type: ignore[attr-defined]


async def test_a_failed_slash_command_says_its_request_id(
    slack_settings: Settings, stub: SlackStub
) -> None:
    async with serving(slack_settings, BrokenAssistant()) as (_, client):
        command = {"command": "/blueprint", "text": KPI_QUESTION, "user_id": USER}
        response = await post_form(client, {**command, "response_url": stub.response_url("c")})
        [reply] = await stub.wait_for(RESPONSE_URL)
    assert reply.params["text"].endswith(f"_(request id `{response.headers['x-request-id']}`)_")


async def test_an_error_reply_is_not_read_back_as_the_assistants_turn(
    client: httpx.AsyncClient, stub: SlackStub, app: FastAPI
) -> None:
    first = mention(stub, "What does a Head of DevOps do?")
    stub.add_message(CHANNEL, f"{FAILED} _(request id `abc`)_", BOT_USER_ID, thread_ts=first["ts"])
    bot: SlackBot = app.state.slack
    turns = await bot.thread_history(
        AsyncWebClient(token=BOT_TOKEN, base_url=stub.api_url),
        CHANNEL,
        first["ts"],
        before=stub.next_ts(),
        bot_user_id=BOT_USER_ID,
        bot_id=BOT_ID,
    )
    assert [t.role for t in turns] == ["user"]


class LongAnswerAssistant:
    """Answers with more text than one Slack message holds."""

    def __init__(self, real: Assistant) -> None:
        self.real = real

    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        answer = self.real.ask(question, history, role)
        long_text = "\n\n".join(f"Part {n}: " + "detail " * 400 + f"[{1}]" for n in range(70))
        return answer.model_copy(update={"answer": long_text})


async def test_a_long_answer_continues_in_the_thread_instead_of_being_cut(
    slack_settings: Settings, bundled_assistant: Assistant, stub: SlackStub
) -> None:
    async with serving(slack_settings, LongAnswerAssistant(bundled_assistant)) as (_, client):
        event = mention(stub, KPI_QUESTION)
        await post_json(client, envelope(event))
        await answered(stub)
        [_, continued] = await stub.wait_for("chat.postMessage", count=2)
    thread = stub.thread(CHANNEL, event["ts"])
    assert [m["user"] for m in thread] == [USER, BOT_USER_ID, BOT_USER_ID]
    first, second = thread[1]["blocks"], thread[2]["blocks"]
    assert continued.params["thread_ts"] == event["ts"]
    assert len(first) == 50 and len(second) <= 50
    parts = [text for blocks in (first, second) for text in texts(blocks, "section")]
    joined = "\n\n".join(parts)
    assert all(f"Part {n}:" in joined for n in range(70))
    assert buttons(first) == {}
    assert set(buttons(second)) == {FEEDBACK_UP, FEEDBACK_DOWN}
    assert continued.params["text"].startswith(texts(second, "section")[0][:100])


def view_submission(answer_id: str, reason: str | None) -> dict[str, str]:
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": USER},
        "api_app_id": "A0000001",
        "trigger_id": "trigger-2",
        "view": {
            "id": "V0000001",
            "type": "modal",
            "callback_id": FEEDBACK_REASON,
            "private_metadata": answer_id,
            "state": {
                "values": {
                    REASON_BLOCK: {REASON_INPUT: {"type": "plain_text_input", "value": reason}}
                }
            },
        },
    }
    return {"payload": json.dumps(payload)}


async def test_thumbs_down_asks_what_was_wrong_and_keeps_the_reason_with_the_vote(
    app: FastAPI, client: httpx.AsyncClient, stub: SlackStub
) -> None:
    await post_json(client, envelope(mention(stub, KPI_QUESTION)))
    [update] = await answered(stub)
    answer_id = buttons(update.params["blocks"])[FEEDBACK_DOWN]

    await post_form(client, block_action(FEEDBACK_DOWN, answer_id, "vote", stub))
    [opened] = await stub.wait_for("views.open")
    await stub.wait_for(RESPONSE_URL)
    assert opened.params["trigger_id"] == "trigger-1"
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert (view["callback_id"], view["private_metadata"]) == (FEEDBACK_REASON, answer_id)
    [vote] = app.state.answer_log.votes()
    assert (vote.rating, vote.comment) == ("down", None)  # counted before any reason

    submitted = await post_form(client, view_submission(answer_id, "  It cited the wrong role  "))
    assert submitted.status_code == 200
    assert submitted.text in {"", "null"}  # the modal closes
    [vote] = app.state.answer_log.votes()
    assert (vote.rating, vote.comment, vote.user) == ("down", "It cited the wrong role", USER)


async def test_thumbs_up_and_a_skipped_reason_open_nothing_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, stub: SlackStub
) -> None:
    await post_json(client, envelope(mention(stub, KPI_QUESTION)))
    [update] = await answered(stub)
    answer_id = buttons(update.params["blocks"])[FEEDBACK_UP]
    await post_form(client, block_action(FEEDBACK_UP, answer_id, "vote", stub))
    await stub.wait_for(RESPONSE_URL)
    assert stub.calls_to("views.open") == []
    assert (await post_form(client, view_submission(answer_id, None))).status_code == 200
    [vote] = app.state.answer_log.votes()
    assert (vote.rating, vote.comment) == ("up", None)


async def test_a_reason_for_an_answer_no_longer_on_record_is_shown_in_the_form(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(client, view_submission("gone-answer-id", "wrong"))
    assert response.status_code == 200
    assert response.json() == {"response_action": "errors", "errors": {REASON_BLOCK: NOT_ON_RECORD}}


async def test_socket_mode_handler_uses_the_app_token(slack_settings: Settings) -> None:
    # Socket Mode needs Slack's WebSocket servers; here only its construction can be checked.
    settings = slack_settings.model_copy(update={"slack_app_token": SecretStr("xapp-test")})
    bot = SlackBot(assistant=None, records=None, ledger=None)  # type: ignore[arg-type]
    handler = socket_mode_handler(settings, bot)
    assert handler.app_token == "xapp-test"
    assert handler.client.web_client.base_url == slack_settings.slack_api_url
    await handler.close_async()
