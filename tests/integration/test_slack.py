"""The Slack app end to end: signed requests through HTTP, Slack's Web API on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from api.app import create_app
from api.slack import FAILED, HELP, PLACEHOLDER, mount_slack, socket_mode_handler
from api.slack_format import COVERAGE_NOTES, FEEDBACK_DOWN, FEEDBACK_UP, SHARE_ANSWER
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


@pytest.fixture
async def app(slack_settings: Settings, bundled_assistant: Assistant) -> AsyncIterator[FastAPI]:
    application = create_app(slack_settings, bundled_assistant)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://blueprints.test") as c:
        yield c


async def bare_client(settings: Settings, assistant: Any) -> httpx.AsyncClient:
    """The Slack app alone on a FastAPI app, over a stand-in assistant."""
    application = FastAPI()
    mount_slack(application, settings, assistant, feedback=None)  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://blueprints.test"
    )


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
    async with await bare_client(slack_settings, gated) as client:
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


async def test_feedback_click_is_recorded_with_the_slack_user(
    app: FastAPI, client: httpx.AsyncClient, stub: SlackStub
) -> None:
    await post_json(client, envelope(mention(stub, KPI_QUESTION)))
    [update] = await answered(stub)
    answer_id = buttons(update.params["blocks"])[FEEDBACK_DOWN]

    response = await post_form(client, block_action(FEEDBACK_DOWN, answer_id, "vote", stub))
    assert response.status_code == 200
    [thanks] = await stub.wait_for(RESPONSE_URL)
    assert thanks.params["response_type"] == "ephemeral"
    assert "Thanks" in thanks.params["text"]

    [record] = app.state.feedback.list()
    assert (record.answer_id, record.rating, record.source, record.user) == (
        answer_id,
        "down",
        "slack",
        USER,
    )


# --- Robustness ----------------------------------------------------------------------------


async def test_retries_and_redeliveries_produce_no_second_answer(
    client: httpx.AsyncClient, stub: SlackStub
) -> None:
    first = envelope(mention(stub, KPI_QUESTION))
    await post_json(client, first)
    await answered(stub)

    retry = await post_json(client, first, headers={"X-Slack-Retry-Num": "1"})
    assert retry.status_code == 200
    assert retry.headers["x-slack-no-retry"] == "1"
    redelivery = await post_json(client, first)  # same event id, no retry header
    assert redelivery.status_code == 200
    # A retry whose first delivery this process never saw (another instance, a restart).
    unseen = envelope(mention(stub, "What are the technical skills required?"))
    assert (await post_json(client, unseen, headers={"X-Slack-Retry-Num": "2"})).is_success

    # A later, different event is answered; by then a duplicate would have shown up too.
    await post_json(client, envelope(mention(stub, "What are the core responsibilities?")))
    await answered(stub, count=2)
    threads = [call.params["thread_ts"] for call in stub.calls_to("chat.postMessage")]
    assert len(threads) == 2
    assert threads[0] == first["event"]["ts"]


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


async def test_unexpected_errors_get_a_friendly_reply_and_a_log_line(
    slack_settings: Settings, stub: SlackStub, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenAssistant:
        def ask(
            self, question: str, history: Sequence[Turn] = (), role: str | None = None
        ) -> Answer:
            raise RuntimeError("the index exploded")

    caplog.set_level(logging.ERROR, logger="api.slack")
    async with await bare_client(slack_settings, BrokenAssistant()) as client:
        event = mention(stub, KPI_QUESTION)
        await post_json(client, envelope(event))
        [update] = await answered(stub)
    assert update.params["text"] == FAILED
    assert update.params["channel"] == CHANNEL
    [record] = [r for r in caplog.records if r.name == "api.slack"]
    assert record.exc_info is not None
    assert "the index exploded" in str(record.exc_info[1])


async def test_socket_mode_handler_uses_the_app_token(slack_settings: Settings) -> None:
    # Socket Mode needs Slack's WebSocket servers; here only its construction can be checked.
    settings = slack_settings.model_copy(update={"slack_app_token": SecretStr("xapp-test")})
    handler = socket_mode_handler(settings, assistant=None, feedback=None)  # type: ignore[arg-type]
    assert handler.app_token == "xapp-test"
    assert handler.client.web_client.base_url == slack_settings.slack_api_url
    await handler.close_async()
