"""The Slack app: mentions, DMs, `/blueprint` and the answer buttons, over the assistant.

Bolt verifies every request's signature and acknowledges events before any retrieval
runs; the answer is then posted in the background, first as a placeholder and then
as an update of it. Each event is answered once, whichever worker receives it and
however often Slack delivers it (see `api/slack_ledger.py`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from api.feedback import Rating, Source, StoredAnswer, UnknownAnswerError, VoteReceipt
from api.middleware import REQUEST_ID_ATTRIBUTE, request_id_var
from api.slack_format import (
    FEEDBACK_DOWN,
    FEEDBACK_REASON,
    FEEDBACK_UP,
    REASON_BLOCK,
    REASON_INPUT,
    SHARE_ANSWER,
    Block,
    answer_messages,
    escape,
    fallback_text,
    message_text,
    reason_modal,
)
from api.slack_ledger import Claim, DeliveryLedger, ledger_path
from assistant.errors import BlueprintsError
from assistant.models import Answer, Turn

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)
_TRACER = trace.get_tracer("blueprints.slack")

EVENTS_PATH = "/slack/events"
PLACEHOLDER = "Looking that up…"
HELP = (
    "Ask me about a role blueprint, for example _what are the KPIs of a VP of Data and AI?_ "
    "Mention me in a channel, message me directly, or use `/blueprint <question>`."
)
FAILED = "Sorry, something went wrong while answering. Please try again in a moment."
NOT_ON_RECORD = (
    "This answer is no longer on record, so your vote could not be counted. "
    "Ask the question again and rate the new answer."
)
HISTORY_TURNS = 10
SHUTDOWN_GRACE_S = 10.0
_NOT_TURNS = {"", PLACEHOLDER, HELP}  # the bot's own messages that are not answers
# How an error reply ends: the id that finds the failure in the logs and its trace.
_REQUEST_ID_NOTE = re.compile(r" _\(request id `[^`]*`\)_$")
_DELIVERY = "blueprints_delivery"  # the context key of the event's claim in the ledger


class Asker(Protocol):
    """The one thing the Slack app needs from the assistant."""

    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        """Answer one question in the context of a conversation."""
        ...


class AnswerRecords(Protocol):
    """Where answers are kept and 👍/👎 votes on them counted (the API's `AnswerLog`)."""

    def store_answer(self, answer: Answer, *, question: str, source: Source) -> None:
        """Keep an answer as it was served."""
        ...

    def answer(self, answer_id: str) -> StoredAnswer | None:
        """An answer on record, or None."""
        ...

    def vote(
        self,
        answer_id: str,
        rating: Rating,
        *,
        voter: str,
        source: str,
        user: str | None = None,
        comment: str | None = None,
    ) -> VoteReceipt:
        """Record a voter's rating, replacing their earlier one; unknown ids raise."""
        ...


def strip_mentions(text: str, user_id: str | None) -> str:
    """Remove `<@user_id>` mentions (with or without a `|name` label) and trim."""
    if not user_id:
        return text.strip()
    return re.sub(rf"<@{re.escape(user_id)}(\|[^>]*)?>", " ", text).strip()


def _is_from_bot(event: dict[str, Any]) -> bool:
    """Bots (this one included) and system messages (edits, joins) are not questions."""
    return bool(event.get("bot_id") or event.get("subtype"))


def _error_text(error: Exception, request_id: str) -> str:
    # Our own errors say what to do next (question too long, index empty); others do not.
    text = escape(str(error)) if isinstance(error, BlueprintsError) else FAILED
    return f"{text} _(request id `{request_id}`)_"


def _request_id() -> str:
    """The id of the request that delivered this event, or a new one (Socket Mode has none).

    Set for the rest of the answer, so its log lines carry it too.
    """
    request_id = request_id_var.get()
    if request_id is None:
        request_id = uuid.uuid4().hex
        request_id_var.set(request_id)
    return request_id


class SlackBot:
    """The listeners of the Bolt app, over one assistant, its records and the ledger."""

    def __init__(self, assistant: Asker, records: AnswerRecords, ledger: DeliveryLedger) -> None:
        self.assistant = assistant
        self.records = records
        self.ledger = ledger
        self.shutdown_grace_s = SHUTDOWN_GRACE_S
        self._answering: set[asyncio.Task[Any]] = set()

    def register(self, bolt: AsyncApp) -> None:
        """Attach the middleware and listeners to a Bolt app."""
        bolt.middleware(self.deliver_once)
        bolt.event("app_mention")(self.on_mention)
        bolt.event("message")(self.on_message)
        bolt.command("/blueprint")(self.on_command)
        bolt.action(SHARE_ANSWER)(self.on_share)
        bolt.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(self.on_feedback)
        bolt.view(FEEDBACK_REASON)(self.on_feedback_reason)

    # --- the ledger, failing open: a ledger that cannot be read must not silence the bot

    async def _claim(self, key: str) -> Claim:
        try:
            return await self.ledger.aclaim(key)
        except sqlite3.Error:
            log.exception("Slack delivery ledger unavailable; answering %s unclaimed", key)
            return Claim.NEW

    async def _settle(self, keys: Iterable[str | None], *, posted: bool) -> None:
        """Mark deliveries done once a reply is posted, or give them up when none could be."""
        for key in keys:
            if key is None:
                continue
            try:
                await (self.ledger.afinish(key) if posted else self.ledger.arelease(key))
            except sqlite3.Error:
                log.exception("Slack delivery ledger unavailable; %s not settled", key)

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        task = asyncio.current_task()
        assert task is not None  # listeners always run in a task
        self._answering.add(task)
        try:
            yield
        finally:
            self._answering.discard(task)

    async def drain(self) -> None:
        """Let answers in progress finish for up to `shutdown_grace_s`, then cancel the rest.

        A cancelled answer keeps its claim, which passes to another worker (or the next
        process) when the ledger closes: a retry of its event is then answered there.
        """
        if not self._answering:
            return
        _, pending = await asyncio.wait(set(self._answering), timeout=self.shutdown_grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("%d Slack answer(s) cancelled by the shutdown", len(pending))

    async def deliver_once(
        self,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        body: dict[str, Any],
        context: AsyncBoltContext,
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse:
        """Claim each event before it is acknowledged; acknowledge other deliveries of it.

        A retry (`X-Slack-Retry-Num`) is answered like a first delivery when no live
        process has answered or is answering the event: the first delivery failed.
        """
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            await next_()  # commands and button clicks: Slack does not retry them
            return resp
        key = f"event:{event_id}"
        claim = await self._claim(key)
        retry = req.headers.get("x-slack-retry-num")
        if claim.mine:
            if retry:
                log.info("Slack retry %s of event %s answered (%s)", retry[0], event_id, claim)
            context[_DELIVERY] = key
            await next_()
            return resp
        log.info("Slack event %s delivered again, acknowledged, not processed: %s", event_id, claim)
        # Only once the answer is posted is no further delivery wanted; while it is in
        # progress, one would be welcome should the answering process die.
        headers: dict[str, str | Sequence[str]] = {}
        if claim is Claim.DONE:
            headers["x-slack-no-retry"] = "1"
        return BoltResponse(status=200, body="", headers=headers)

    async def on_mention(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A mention in a channel: answer in its thread."""
        if _is_from_bot(event):
            await self._settle([context.get(_DELIVERY)], posted=True)  # nothing to reply
        else:
            await self.answer_in_thread(event, context, client)

    async def on_message(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """A direct message: answer in its thread. Channel messages come as mentions."""
        if event.get("channel_type") == "im" and not _is_from_bot(event):
            await self.answer_in_thread(event, context, client)
        else:
            await self._settle([context.get(_DELIVERY)], posted=True)  # nothing to reply

    async def answer_in_thread(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """Post a placeholder in the message's thread, then replace it with the answer."""
        channel, ts = event["channel"], event["ts"]
        delivery = context.get(_DELIVERY)
        message = f"message:{channel}:{ts}"
        if not (await self._claim(message)).mine:
            # A mention in a DM arrives both as `message.im` and as `app_mention`: the
            # message's claim decides. This event's claim is given back, so that should
            # the other answer never be posted, a retry of this event is answered.
            await self._settle([delivery], posted=False)
            return
        with self._in_flight():
            posted = await self._reply_in_thread(event, context, client)
        await self._settle([message, delivery], posted=posted)

    async def _reply_in_thread(
        self, event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> bool:
        """Answer in the thread; whether a reply (answer, help or error) was posted."""
        channel, ts = event["channel"], event["ts"]
        thread_ts = event.get("thread_ts") or ts
        try:
            placeholder = await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=PLACEHOLDER
            )
        except SlackApiError:
            log.exception("Cannot reply in Slack channel %s (message %s)", channel, ts)
            return False
        reply_ts = placeholder["ts"]
        request_id = _request_id()
        with _TRACER.start_as_current_span("slack.answer") as span:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
            span.set_attribute("blueprints.slack.channel", channel)
            try:
                question = strip_mentions(event.get("text", ""), context.bot_user_id)
                if not question:
                    await client.chat_update(channel=channel, ts=reply_ts, text=HELP)
                    return True
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
                span.set_attribute("blueprints.answer_id", answer.id)
                await self._keep(answer, question)
                first, *rest = answer_messages(answer)
                await client.chat_update(
                    channel=channel, ts=reply_ts, text=fallback_text(answer), blocks=first
                )
            except Exception as error:
                log.exception("Slack answer failed in channel %s (message %s)", channel, ts)
                span.set_status(StatusCode.ERROR, type(error).__name__)
                try:
                    await client.chat_update(
                        channel=channel, ts=reply_ts, text=_error_text(error, request_id)
                    )
                except SlackApiError:
                    log.exception("Cannot report the failure in Slack channel %s", channel)
                    return False
                return True
            await self._continue(client, channel, thread_ts, rest)
            return True

    async def _continue(
        self, client: AsyncWebClient, channel: str, thread_ts: str, messages: list[list[Block]]
    ) -> None:
        """Post the rest of a long answer in the thread, after its first message."""
        for blocks in messages:
            try:
                await client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, text=message_text(blocks), blocks=blocks
                )
            except SlackApiError:
                # The answer's start is posted; a gap in the middle would mislead more.
                log.exception("Cannot post the rest of an answer in Slack channel %s", channel)
                return

    async def _keep(self, answer: Answer, question: str) -> None:
        """Store an answer before it is shown, so it can be rated and shared at once."""
        try:
            await asyncio.to_thread(
                partial(self.records.store_answer, question=question, source="slack"), answer
            )
        except Exception:
            log.exception("Answer %s could not be stored; votes on it will be refused", answer.id)

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
                if (
                    Decimal(message["ts"]) >= Decimal(before)
                    or text in _NOT_TURNS
                    or _REQUEST_ID_NOTE.search(text)
                ):
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
        request_id = _request_id()
        with self._in_flight(), _TRACER.start_as_current_span("slack.command") as span:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
            try:
                answer = await asyncio.to_thread(self.assistant.ask, question)
                span.set_attribute("blueprints.answer_id", answer.id)
                await self._keep(answer, question)
                messages = answer_messages(answer, shareable=True)
                await respond(
                    response_type="ephemeral", text=fallback_text(answer), blocks=messages[0]
                )
                for blocks in messages[1:]:
                    await respond(
                        response_type="ephemeral", text=message_text(blocks), blocks=blocks
                    )
            except Exception as error:
                log.exception("Slash command answer failed for %r", question)
                span.set_status(StatusCode.ERROR, type(error).__name__)
                await respond(response_type="ephemeral", text=_error_text(error, request_id))

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
        # From the records, not this process's memory: any worker can take the click.
        stored = await asyncio.to_thread(self.records.answer, action["value"])
        if stored is None:
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text="This answer is no longer on record; run `/blueprint` again to share one.",
            )
            return
        user = body["user"]["id"]
        channel = body["channel"]["id"]
        first, *rest = answer_messages(stored.answer, asked_by=user, question=stored.question)
        try:
            posted = await client.chat_postMessage(
                channel=channel, text=fallback_text(stored.answer), blocks=first
            )
        except SlackApiError as error:
            log.warning("Cannot share an answer in %s: %s", channel, error)
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text="I can't post in this conversation. Invite me with `/invite` and try again.",
            )
            return
        await self._continue(client, channel, posted["ts"], rest)
        await respond(delete_original=True)

    async def on_feedback(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """Record a 👍/👎 click as the clicking user's vote; a 👎 asks what was wrong."""
        await ack()
        rating: Literal["up", "down"] = "up" if action["action_id"] == FEEDBACK_UP else "down"
        user = body["user"]["id"]
        vote = partial(self.records.vote, voter=f"slack:{user}", source="slack", user=user)
        try:
            receipt = await asyncio.to_thread(vote, action["value"], rating)
        except UnknownAnswerError:
            text = NOT_ON_RECORD
        except Exception:
            log.exception("Cannot record Slack feedback for answer %s", action["value"])
            text = "Sorry, your feedback could not be saved. Please try again."
        else:
            text = "Thanks, vote changed." if receipt.replaced else "Thanks for the feedback!"
            if rating == "down":
                await self._ask_what_was_wrong(client, body, action["value"])
        await respond(response_type="ephemeral", replace_original=False, text=text)

    async def _ask_what_was_wrong(
        self, client: AsyncWebClient, body: dict[str, Any], answer_id: str
    ) -> None:
        # The click's trigger id opens a modal for 3 seconds only: before anything slower.
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=reason_modal(answer_id))
        except (SlackApiError, KeyError):
            log.warning("Cannot ask why answer %s was rated down", answer_id, exc_info=True)

    async def on_feedback_reason(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The "what was wrong?" form: store the reason with the user's 👎 of the answer."""
        field = view["state"]["values"].get(REASON_BLOCK, {}).get(REASON_INPUT, {})
        reason = (field.get("value") or "").strip()
        if not reason:
            await ack()  # skipped: the 👎 stands as it was
            return
        user = body["user"]["id"]
        vote = partial(
            self.records.vote, voter=f"slack:{user}", source="slack", user=user, comment=reason
        )
        try:
            await asyncio.to_thread(vote, view["private_metadata"], "down")
        except Exception as error:
            log.exception("Cannot store why answer %s was rated down", view["private_metadata"])
            problem = (
                NOT_ON_RECORD
                if isinstance(error, UnknownAnswerError)
                else ("Sorry, this could not be saved. Please try again.")
            )
            await ack(response_action="errors", errors={REASON_BLOCK: problem})
            return
        await ack()


def build_bolt_app(settings: Settings, bot: SlackBot) -> AsyncApp:
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
    bot.register(bolt)
    return bolt


def mount_slack(app: FastAPI, settings: Settings, bot: SlackBot) -> None:
    """Add `POST /slack/events` (events, the slash command and interactivity) to the app."""
    handler = AsyncSlackRequestHandler(build_bolt_app(settings, bot))

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    app.add_api_route(
        EVENTS_PATH,
        slack_events,
        methods=["POST"],
        include_in_schema=False,  # Slack's signed payloads are not part of our public API
    )


def socket_mode_handler(settings: Settings, bot: SlackBot) -> AsyncSocketModeHandler:
    """The same Slack app served over Socket Mode: no public URL, Slack is dialled out to."""
    if settings.slack_app_token is None:
        msg = "Socket Mode needs SLACK_APP_TOKEN (an xapp- token with connections:write)"
        raise ValueError(msg)
    bolt = build_bolt_app(settings, bot)
    return AsyncSocketModeHandler(
        bolt, settings.slack_app_token.get_secret_value(), web_client=bolt.client
    )


async def run_socket_mode(settings: Settings, assistant: Asker, records: AnswerRecords) -> None:
    """Connect to Slack over Socket Mode and answer until cancelled."""
    # Socket Mode does not pass Slack's retry number on, but the ledger needs only event ids.
    ledger = DeliveryLedger(ledger_path(settings.feedback_path))
    async with ledger.running():
        bot = SlackBot(assistant, records, ledger)
        handler = socket_mode_handler(settings, bot)
        try:
            await handler.start_async()  # type: ignore[no-untyped-call]  # Bolt leaves it unannotated
        finally:
            await bot.drain()
            await handler.close_async()  # type: ignore[no-untyped-call]
