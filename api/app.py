"""The FastAPI application factory."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware

from api import routes, telemetry
from api.deps import require_api_key
from api.docs import mount_docs
from api.feedback import AnswerLog
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import (
    REQUEST_ID_HEADER,
    RateLimiter,
    RateLimitMiddleware,
    RequestContextMiddleware,
)
from assistant.collector import collector_paused
from assistant.embeddings import load_embedder
from assistant.errors import EmptyIndexError, QuestionError, StoreUnavailableError
from assistant.service import Assistant, IndexStats, build_assistant, open_store
from assistant.settings import Settings

if TYPE_CHECKING:
    from api.slack import SlackBot
    from api.slack_ledger import DeliveryLedger
    from assistant.embeddings import Embedder
    from assistant.store import ChunkStore
    from ingest.sync import PeriodicSync

_log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    assistant: Assistant | None = None,
    *,
    background_sync: PeriodicSync | None = None,
) -> FastAPI:
    """Build the app; its lifespan builds the assistant once unless one is given.

    With `BLUEPRINTS_SYNC_INTERVAL_MINUTES`, the lifespan also starts a background sync of
    the configured site on the assistant's own store and model (or runs `background_sync`).
    """
    settings = settings or Settings()
    metrics = Metrics(
        settings, index_stats=lambda: _index_stats(app), embedder=lambda: app.state.embedder
    )
    answer_log = AnswerLog(settings.feedback_path, observer=metrics)
    tracer_provider = telemetry.install(settings)
    ledger = _open_ledger(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(answer_log.close)
            if ledger is not None:
                await stack.enter_async_context(ledger.running())
            if tracer_provider is not None:  # spans of answers finishing now are sent too
                stack.callback(tracer_provider.force_flush)
            if app.state.assistant is None:
                # Loaded here, not inside build_assistant: /metrics reads the model's cache
                # and the background sync shares the store and the model.
                with collector_paused():
                    store = await run_in_threadpool(open_store, settings)
                    embedder = await run_in_threadpool(
                        partial(load_embedder, settings, allow_export=False)
                    )
                    app.state.embedder = embedder
                    assistant = await run_in_threadpool(
                        partial(build_assistant, settings, store=store, embedder=embedder)
                    )
                    await run_in_threadpool(assistant.warm_up)
                app.state.assistant = assistant
                app.state.slack = _mount_slack(app, settings, assistant, answer_log, ledger)
                if app.state.sync is None:
                    app.state.sync = _background_sync(settings, store, embedder)
            if app.state.sync is not None:
                app.state.sync.start()
            _log.info(
                "API ready: auth %s, %d requests/min per client, answers and feedback in %s",
                "on" if settings.api_key else "off",
                settings.rate_limit_per_minute,
                settings.feedback_path,
            )
            try:
                yield
            finally:
                if app.state.sync is not None:
                    await run_in_threadpool(app.state.sync.stop)
                # Before the ledger closes: answers finishing now still settle their claims.
                if app.state.slack is not None:
                    await app.state.slack.drain()

    app = FastAPI(
        title="Blueprint Assistant",
        summary="Questions about role blueprints, answered with verifiable citations",
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url=None,  # served from installed files instead of a CDN: see api/docs.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.answer_log = answer_log
    app.state.metrics = metrics
    app.state.assistant = assistant
    app.state.embedder = None
    app.state.slack = None
    app.state.sync = background_sync
    if assistant is not None:
        app.state.slack = _mount_slack(app, settings, assistant, answer_log, ledger)

    # Only a server with a key declares (and checks) bearer auth, so its schema stays true.
    if settings.api_key:
        app.include_router(
            routes.api, dependencies=[Depends(require_api_key)], responses=routes.UNAUTHORIZED
        )
    else:
        app.include_router(routes.api)
    app.include_router(routes.probes)
    if settings.api_key and settings.metrics_require_key:
        app.include_router(routes.monitoring, dependencies=[Depends(require_api_key)])
    else:
        app.include_router(routes.monitoring)
    app.include_router(routes.page)
    mount_docs(app)
    app.mount("/static", StaticFiles(directory=routes.STATIC_DIR), name="static")
    _document_question_limit(app, settings.max_question_chars)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(QuestionError, _question_error)
    app.add_exception_handler(EmptyIndexError, _unavailable)
    app.add_exception_handler(StoreUnavailableError, _unavailable)

    # Added innermost first: request ids wrap everything, CORS headers reach 429s too.
    app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(settings.rate_limit_per_minute))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.routes)
    if tracer_provider is not None:
        telemetry.instrument(app, tracer_provider)
    return app


def _index_stats(app: FastAPI) -> IndexStats | None:
    assistant: Assistant | None = app.state.assistant
    return assistant.index_stats() if assistant is not None else None


def _document_question_limit(app: FastAPI, max_chars: int) -> None:
    """Put the configured question limit into the schema, where a static model cannot."""
    schema = app.openapi()
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    question["maxLength"] = max_chars


def _background_sync(
    settings: Settings, store: ChunkStore, embedder: Embedder
) -> PeriodicSync | None:
    if settings.sync_interval_minutes is None:
        return None
    from ingest.sync import PeriodicSync  # imported only when on

    _log.info(
        "background sync of %s every %g min", settings.sync_url, settings.sync_interval_minutes
    )
    return PeriodicSync.from_settings(settings, store, embedder)


def _open_ledger(settings: Settings) -> DeliveryLedger | None:
    if not settings.slack_enabled:
        return None
    from api.slack_ledger import DeliveryLedger, ledger_path

    return DeliveryLedger(ledger_path(settings.feedback_path))


def _mount_slack(
    app: FastAPI,
    settings: Settings,
    assistant: Assistant,
    answer_log: AnswerLog,
    ledger: DeliveryLedger | None,
) -> SlackBot | None:
    if ledger is None:
        _log.info("Slack app off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to enable it")
        return None
    from api.slack import SlackBot, mount_slack  # imported only when on: it pulls in slack_bolt

    bot = SlackBot(assistant, answer_log, ledger)
    mount_slack(app, settings, bot)
    _log.info("Slack app on: POST /slack/events, deliveries ledger in %s", ledger.path)
    return bot


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    # The input is not echoed, and the body is ASCII-escaped: a lone surrogate in a
    # request (valid JSON, invalid UTF-8) must not turn this 422 into a 500.
    body = json.dumps({"detail": errors}, ensure_ascii=True)
    return Response(
        body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json"
    )


async def _question_error(request: Request, exc: Exception) -> JSONResponse:
    # Shaped like FastAPI's own validation errors, so clients handle one kind of 422.
    error = {"type": "value_error", "loc": ["body", "question"], "msg": str(exc)}
    return JSONResponse({"detail": [error]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
