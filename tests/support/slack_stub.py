"""A stand-in for Slack's Web API on loopback: records every call and answers like Slack.

It keeps the messages the bot posts (and those a test adds as users) per channel, so
`conversations.replies` serves the thread as it really stands, it receives what the
app posts to slash-command `response_url`s, and it opens modals (`views.open`). Calls to a method in `hung` are held without
an answer (as when Slack or the network stalls) and never take effect.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"
RESPONSE_URL = "response_url"  # the method name under which response_url posts are recorded


@dataclass(frozen=True)
class Call:
    """One request the app made: a Web API method (or `response_url`) and its arguments."""

    method: str
    params: dict[str, Any]
    token: str | None = None


class SlackStub:
    """Slack's Web API and response URLs, served by uvicorn in a background thread."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.errors: dict[str, str] = {}  # method -> Slack error code to answer with
        self.hung: set[str] = set()  # methods whose calls get no answer until removed
        self.held: list[Call] = []  # calls to hung methods: they never took effect
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._last_ts = Decimal(int(time.time()))
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response_url/{key}", self._response_url, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def api_url(self) -> str:
        """The base URL to give `AsyncWebClient` (Slack's is https://slack.com/api/)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        """A slash command's or action's `response_url`."""
        return f"http://127.0.0.1:{self.port}/response_url/{key}"

    def start(self) -> None:
        """Serve until `stop`; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                msg = "the Slack stub did not start"
                raise RuntimeError(msg)
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def next_ts(self) -> str:
        """A fresh message timestamp, later than every earlier one (as Slack's are)."""
        with self._lock:
            self._last_ts += Decimal("0.000100")
            return f"{self._last_ts:.6f}"

    def add_message(
        self, channel: str, text: str, user: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Put a user's message in a channel, as Slack would before sending its event."""
        message: dict[str, Any] = {"type": "message", "user": user, "text": text}
        message["ts"] = self.next_ts()
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self._messages.setdefault(channel, []).append(message)
        return message

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The messages of a thread (its parent first), as they stand now."""
        with self._lock:
            messages = [
                dict(m)
                for m in self._messages.get(channel, [])
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]
        return sorted(messages, key=lambda m: Decimal(m["ts"]))

    def calls_to(self, method: str, *, held: bool = False) -> list[Call]:
        """The recorded calls of one method (or those held unanswered), oldest first."""
        with self._lock:
            return [call for call in (self.held if held else self.calls) if call.method == method]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 20.0,
        where: Callable[[Call], bool] = lambda _: True,
        *,
        held: bool = False,
    ) -> list[Call]:
        """Poll until `count` matching calls of `method` were made, or fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            calls = [call for call in self.calls_to(method, held=held) if where(call)]
            if len(calls) >= count:
                return calls
            if time.monotonic() > deadline:
                made = [call.method for call in self.calls]
                msg = f"expected {count} call(s) to {method} within {timeout} s; calls: {made}"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params: dict[str, Any] = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/json"):
            params.update(json.loads(await request.body() or b"{}"))
        else:
            params.update(parse_qsl((await request.body()).decode()))
        token = request.headers.get("authorization", "").removeprefix("Bearer ") or None
        if method in self.hung:
            with self._lock:
                self.held.append(Call(method, params, token))
            while method in self.hung and not self._server.should_exit:
                await asyncio.sleep(0.02)
            return JSONResponse({"ok": False, "error": "request_timeout"})
        with self._lock:
            self.calls.append(Call(method, params, token))
        if error := self.errors.get(method):
            return JSONResponse({"ok": False, "error": error})
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.replies": self._replies,
            "views.open": self._views_open,
        }.get(method)
        if handler is None:
            return JSONResponse({"ok": False, "error": "unknown_method"})
        return JSONResponse({"ok": True, **handler(params)})

    async def _response_url(self, request: Request) -> Response:
        payload = json.loads(await request.body())
        with self._lock:
            self.calls.append(Call(RESPONSE_URL, {"key": request.path_params["key"], **payload}))
        return PlainTextResponse("ok")

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://stub.slack.test/",
            "team": "Stub",
            "user": "blueprints",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": self.next_ts(),
        }
        for key in ("thread_ts", "blocks"):
            if key in params:
                message[key] = params[key]
        with self._lock:
            self._messages.setdefault(params["channel"], []).append(message)
        return {"channel": params["channel"], "ts": message["ts"], "message": message}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for message in self._messages.get(params["channel"], []):
                if message["ts"] == params["ts"]:
                    message["text"] = params.get("text", "")
                    message["blocks"] = params.get("blocks", [])
                    return {
                        "channel": params["channel"],
                        "ts": params["ts"],
                        "text": message["text"],
                    }
        return {"ok": False, "error": "message_not_found"}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"view": {"id": f"V{len(self.calls):07d}", **view}}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        messages = self.thread(params["channel"], params["ts"])
        if not messages:
            return {"ok": False, "error": "thread_not_found"}
        return {"messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}
