"""Pure ASGI middleware: request ids with access logs and a last-resort 500, and rate limiting."""

from __future__ import annotations

import contextvars
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import trace
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# On the request's server span, so that an id from a log line or an error finds its trace.
REQUEST_ID_ATTRIBUTE = "blueprints.request_id"
# The id of the request being served, for log records and error bodies.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_access_log = logging.getLogger("api.access")
_error_log = logging.getLogger("api.error")
# A caller's id is echoed only if it cannot smuggle anything into logs or headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContextMiddleware:
    """Gives every request an id (echoed in `X-Request-ID`), logs it, and hides crashes.

    An unhandled exception is logged with its traceback and answered with
    `{"detail": "internal error", "request_id": ...}`: no stack trace reaches the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with an id, a log line and a JSON 500 if it crashes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            body = {"detail": "internal error", "request_id": request_id}
            await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            _access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client[0] if client else None,
                },
            )
            request_id_var.reset(token)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute, bursts up to `per_minute`.

    Used from the event loop only, so it needs no lock. The least recently seen clients
    are forgotten beyond `max_clients` (a forgotten client starts again with a full bucket).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def acquire(self, client: str) -> float:
        """Take one token for `client`: 0 when allowed, else the seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.pop(client, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[client] = bucket
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def client_key(scope: Scope) -> str:
    """Who a request counts against: its client's IP address.

    Not its bearer token: without a configured key any token passes, so rotating tokens
    would mint fresh buckets; and with one shared key, everyone would share one bucket.
    Behind a trusted proxy, uvicorn's proxy headers make this the real client's address.
    """
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Answers 429 with `Retry-After` when a client exceeds its rate on paths under `prefix`."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, prefix: str = "/v1/") -> None:
        self.app = app
        self.limiter = limiter
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request with 429 when its client has no token left."""
        if (
            scope["type"] == "http"
            and scope["method"] != "OPTIONS"
            and scope["path"].startswith(self.prefix)
        ):
            wait = self.limiter.acquire(client_key(scope))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                response = JSONResponse(
                    {"detail": f"rate limit exceeded: retry in {retry_after} s"},
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
