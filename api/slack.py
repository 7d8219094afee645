"""The Slack app: mentions, DMs, `/blueprint` and the answer buttons, over the assistant.

Bolt verifies every request's signature and acknowledges events before any retrieval
runs; the answer is then posted in the background, first as a placeholder and then
as an update of it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from api.slack_format import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    SHARE_ANSWER,
    answer_blocks,
    escape,
    fallback_text,
)
from assistant.errors import BlueprintsError
from assistant.models import Answer, Turn

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
PLACEHOLDER = "Looking that up…"
HELP = (
    "Ask me about a role blueprint, for example _what are the KPIs of a VP of Data and AI?_ "
    "Mention me in a channel, message me directly, or use `/blueprint <question>`."
)
FAILED = "Sorry, something went wrong while answering. Please try again in a moment."
HISTORY_TURNS = 10
_NOT_TURNS = {"", PLACEHOLDER, HELP, FAILED}  # the bot's own messages that are not answers


class Asker(Protocol):
    """The one thing the Slack app needs from the assistant."""

    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        """Answer one question in the context of a conversation."""
        ...


class FeedbackSink(Protocol):
    """Where 👍/👎 clicks are recorded (the API's `FeedbackStore`)."""

    def record(
        self,
        answer_id: str,
        rating: Literal["up", "down"],
        comment: str | None = None,
        source: str = "api",
        user: str | None = None,
    ) -> int:
        """Store one rating and return its id."""
        ...


class RecentKeys:
    """Keys seen within the last `ttl` seconds, bounded in size: a de-duplication memory."""

    def __init__(self, ttl: float = 600.0, max_size: int = 10_000) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen_before(self, key: str) -> bool:
        """Whether `key` was already seen recently; remembers it either way."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) >= self._max_size or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return True
        self._seen[key] = now
        return False


class AnswerCache:
    """Recent ephemeral answers, so "Share in channel" posts exactly what the user saw."""

    def __init__(self, max_size: int = 500) -> None:
        self._max_size = max_size
        self._answers: OrderedDict[str, tuple[str, Answer]] = OrderedDict()

    def put(self, question: str, answer: Answer) -> None:
        """Remember an answer and the question it answers."""
        self._answers[answer.id] = (question, answer)
        while len(self._answers) > self._max_size:
            self._answers.popitem(last=False)

    def get(self, answer_id: str) -> tuple[str, Answer] | None:
        """The question and answer for an id, if still remembered."""
        return self._answers.get(answer_id)


def strip_mentions(text: str, user_id: str | None) -> str:
    """Remove `<@user_id>` mentions (with or without a `|name` label) and trim."""
    if not user_id:
        return text.strip()
    return re.sub(rf"<@{re.escape(user_id)}(\|[^>]*)?>", " ", text).strip()


def _is_from_bot(event: dict[str, Any]) -> bool:
    """Bots (this one included) and system messages (edits, joins) are not questions."""
    return bool(event.get("bot_id") or event.get("subtype"))


def _error_text(error: Exception) -> str:
    # Our own errors say what to do next (question too long, index empty); others do not.
    return escape(str(error)) if isinstance(error, BlueprintsError) else FAILED


class SlackBot:
    """The listeners of the Bolt app, over one assistant and one feedback store."""

    def __init__(self, assistant: Asker, feedback: FeedbackSink) -> None:
        self.assistant = assistant
        self.feedback = feedback
        self.events = RecentKeys()
        self.messages = RecentKeys()
        self.answers = AnswerCache()

    def register(self, bolt: AsyncApp) -> None:
        """Attach the middleware and listeners to a Bolt app."""
        bolt.middleware(self.skip_redeliveries)
        bolt.event("app_mention")(self.on_mention)
        bolt.event("message")(self.on_message)
        bolt.command("/blueprint")(self.on_command)
        bolt.action(SHARE_ANSWER)(self.on_share)
        bolt.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)

    async def skip_redeliveries(
        self,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        body: dict[str, Any],
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse:
        """Acknowledge Slack's retries and repeated event ids without answering twice."""
        retry = req.headers.get("x-slack-retry-num")
        event_id = body.get("event_id")
        if retry:
            log.info("Slack retry %s of event %s acknowledged, not processed", retry[0], event_id)
        elif isinstance(event_id, str) and self.events.seen_before(event_id):
            log.info("Duplicate Slack event %s acknowledged, not processed", event_id)
        else:
            await next_()
            return resp
        return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})

    async def on_mention(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A mention in a channel: answer in its thread."""
        if not _is_from_bot(event):
            await self.answer_in_thread(event, context, client)

    async def on_message(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A direct message: answer in its thread. Channel messages come as mentions."""
        if event.get("channel_type") == "im" and not _is_from_bot(event):
            await self.answer_in_thread(event, context, client)

    async def answer_in_thread(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """Post a placeholder in the message's thread, then replace it with the answer."""
        channel, ts = event["channel"], event["ts"]
        if self.messages.seen_before(f"{channel}:{ts}"):
            # A mention in a DM can arrive both as `message.im` and as `app_mention`.
            return
        thread_ts = event.get("thread_ts") or ts
        try:
            placeholder = await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=PLACEHOLDER
            )
        except SlackApiError:
            log.exception("Cannot reply in Slack channel %s (message %s)", channel, ts)
            return
        reply_ts = placeholder["ts"]
        try:
            question = strip_mentions(event.get("text", ""), context.bot_user_id)
            if not question:
                await client.chat_update(channel=channel, ts=reply_ts, text=HELP)
                return
            history: list[Turn] = []
            if event.get("thread_ts"):
                history = await self.thread_history(
                    client,
                    channel,
                    thread_ts,
                    before=ts,
                    bot_user_id=context.bot_user_id,
                    bot_id=context.bot_id,
                )
            answer = await asyncio.to_thread(self.assistant.ask, question, history)
            await client.chat_update(
                channel=channel,
                ts=reply_ts,
                text=fallback_text(answer),
                blocks=answer_blocks(answer),
            )
        except Exception as error:
            log.exception("Slack answer failed in channel %s (message %s)", channel, ts)
            try:
                await client.chat_update(channel=channel, ts=reply_ts, text=_error_text(error))
            except SlackApiError:
                log.exception("Cannot report the failure in Slack channel %s", channel)

    async def thread_history(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        *,
        before: str,
        bot_user_id: str | None,
        bot_id: str | None,
    ) -> list[Turn]:
        """The thread's messages before `before` as conversation turns (the latest few)."""
        turns: list[Turn] = []
        async for page in await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=200
        ):
            for message in page.get("messages", []):
                text = message.get("text", "")
                if Decimal(message["ts"]) >= Decimal(before) or text in _NOT_TURNS:
                    continue
                bot = message.get("bot_id")
                mine = (bot_user_id and message.get("user") == bot_user_id) or (
                    bot is not None and bot == bot_id
                )
                if bot and not mine:
                    continue  # another bot's message is neither side of this conversation
                content = text if mine else strip_mentions(text, bot_user_id)
                if content:
                    turns.append(Turn(role="assistant" if mine else "user", content=content))
        return turns[-HISTORY_TURNS:]

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """`/blueprint <question>`: acknowledge at once, answer ephemerally via response_url."""
        question = command.get("text", "").strip()
        if not question:
            await ack(response_type="ephemeral", text=HELP)
            return
        await ack(response_type="ephemeral", text=f"{PLACEHOLDER} _{escape(question)}_")
        try:
            answer = await asyncio.to_thread(self.assistant.ask, question)
            self.answers.put(question, answer)
            await respond(
                response_type="ephemeral",
                text=fallback_text(answer),
                blocks=answer_blocks(answer, shareable=True),
            )
        except Exception as error:
            log.exception("Slash command answer failed for %r", question)
            await respond(response_type="ephemeral", text=_error_text(error))

    async def on_share(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """Post a previewed answer in the channel and remove the ephemeral preview."""
        await ack()
        remembered = self.answers.get(action["value"])
        if remembered is None:
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text="This answer is no longer available to share; run `/blueprint` again.",
            )
            return
        question, answer = remembered
        user = body["user"]["id"]
        try:
            await client.chat_postMessage(
                channel=body["channel"]["id"],
                text=fallback_text(answer),
                blocks=answer_blocks(answer, asked_by=user, question=question),
            )
        except SlackApiError as error:
            log.warning("Cannot share an answer in %s: %s", body["channel"]["id"], error)
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text="I can't post in this conversation. Invite me with `/invite` and try again.",
            )
            return
        await respond(delete_original=True)

    async def on_feedback(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Record a 👍/👎 click with the clicking user, and thank them privately."""
        await ack()
        rating: Literal["up", "down"] = "up" if action["action_id"] == FEEDBACK_UP else "down"
        try:
            await asyncio.to_thread(
                self.feedback.record,
                action["value"],
                rating,
                source="slack",
                user=body["user"]["id"],
            )
        except Exception:
            log.exception("Cannot record Slack feedback for answer %s", action["value"])
            text = "Sorry, your feedback could not be saved. Please try again."
        else:
            text = "Thanks for the feedback!"
        await respond(response_type="ephemeral", replace_original=False, text=text)


def build_bolt_app(settings: Settings, assistant: Asker, feedback: FeedbackSink) -> AsyncApp:
    """The Bolt app, talking to Slack's Web API at `settings.slack_api_url`."""
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        msg = "The Slack app needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; see docs/slack.md"
        raise ValueError(msg)
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Listeners run after the response is sent; retrieval never delays the ack.
        process_before_response=False,
    )
    SlackBot(assistant, feedback).register(bolt)
    return bolt


def mount_slack(app: FastAPI, settings: Settings, assistant: Asker, feedback: FeedbackSink) -> None:
    """Add `POST /slack/events` (events, the slash command and interactivity) to the app."""
    handler = AsyncSlackRequestHandler(build_bolt_app(settings, assistant, feedback))

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    app.add_api_route(
        EVENTS_PATH,
        slack_events,
        methods=["POST"],
        include_in_schema=False,  # Slack's signed payloads are not part of our public API
    )


def socket_mode_handler(
    settings: Settings, assistant: Asker, feedback: FeedbackSink
) -> AsyncSocketModeHandler:
    """The same Slack app served over Socket Mode: no public URL, Slack is dialled out to."""
    if settings.slack_app_token is None:
        msg = "Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)"
        raise ValueError(msg)
    bolt = build_bolt_app(settings, assistant, feedback)
    return AsyncSocketModeHandler(
        bolt, settings.slack_app_token.get_secret_value(), web_client=bolt.client
    )


async def run_socket_mode(settings: Settings, assistant: Asker, feedback: FeedbackSink) -> None:
    """Connect to Slack over Socket Mode and answer until cancelled."""
    handler = socket_mode_handler(settings, assistant, feedback)
    await handler.start_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
