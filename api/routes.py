"""The HTTP endpoints: `/v1` (questions, roles, feedback, usage), probes, metrics, pages."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, HTMLResponse
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from api.deps import AnswerLogDep, AssistantDep, MetricsDep, SettingsDep, VoterDep
from api.feedback import AnswerLog, Rating, UnknownAnswerError
from api.middleware import request_id_var
from api.usage import UsageReport, build_report
from api.usage_page import render_fragment
from assistant.errors import BlueprintsError, EmptyIndexError, QuestionError
from assistant.models import Answer, RoleDetail, RoleInfo, StreamEvent, Turn
from assistant.service import Assistant
from ingest.sync import SyncStatus

STATIC_DIR = Path(__file__).parent / "static"
ANSWER_ID_ATTRIBUTE = "blueprints.answer_id"
# The chat page loads nothing but its own files, which keeps injected markup inert.
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Why a request was refused."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {401: _error("Missing or wrong API key (only when the server has one)")}
UNAVAILABLE: Responses = {503: _error("The knowledge base is empty or cannot be reached")}
api = APIRouter(
    prefix="/v1",
    tags=["assistant"],
    responses={
        400: _error("The body is not UTF-8"),
        413: _error("The request body is over the size limit"),
        429: _error("Too many requests from this client: see Retry-After"),
    },
)
probes = APIRouter(tags=["probes"])
monitoring = APIRouter(include_in_schema=False)  # for Prometheus, not API clients
page = APIRouter(include_in_schema=False)


# A character Python does not count as whitespace (`str.isspace`), spelled out because
# JSON Schema's `\s` (ECMA) and Python's disagree on a few characters.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class AskRequest(BaseModel):
    """A question, with the conversation so far and an optional role to stay within."""

    # The schema says "not blank"; the assistant refuses a blank question with a clearer
    # message than a pattern error would give. `maxLength` is added per app (see app.py).
    question: str = Field(
        min_length=1,
        json_schema_extra={"pattern": NOT_BLANK},
        examples=["What are the KPIs of a VP of Data and AI?"],
    )
    history: list[Turn] = Field(default_factory=list, max_length=50)
    role: str | None = Field(default=None, max_length=200, description="A role id or name")


class FeedbackRequest(BaseModel):
    """A rating of one answer."""

    answer_id: str = Field(min_length=1, max_length=200)
    rating: Rating
    comment: str | None = Field(default=None, max_length=2000)


class FeedbackReceipt(BaseModel):
    """What was stored: a new vote, or this voter's earlier vote replaced."""

    id: int
    answer_id: str
    rating: Rating
    replaced: bool = Field(description="Whether this replaced the voter's earlier vote")


class QuestionCache(BaseModel):
    """The question-embedding cache since start-up (`BLUEPRINTS_EMBEDDING_CACHE_SIZE`)."""

    hits: int
    misses: int
    size: int
    capacity: int
    hit_rate: float = Field(description="hits / (hits + misses), 0 before any question")


class Readiness(BaseModel):
    """Whether the index is loaded and holds something to answer from."""

    status: Literal["ready", "not_ready"]
    chunks: int = 0
    roles: int = 0
    detail: str | None = None
    sync: SyncStatus | None = None
    """The background sync (`BLUEPRINTS_SYNC_INTERVAL_MINUTES`): last success and cursor."""
    question_cache: QuestionCache | None = None


def _check_length(question: str, limit: int) -> None:
    # On the raw text, as the schema's maxLength says; the assistant checks it again
    # after collapsing whitespace, which can only make it shorter.
    if len(question) > limit:
        msg = f"The question is {len(question)} characters long; the limit is {limit}. Shorten it."
        raise QuestionError(msg)


def _keep(answers: AnswerLog, question: str) -> Callable[[Answer], None]:
    """Store served answers; a failure to store is logged, and the answer still served."""

    def keep(answer: Answer) -> None:
        # The request's span names what it served: a vote on an answer finds its trace.
        span = trace.get_current_span()
        span.set_attribute(ANSWER_ID_ATTRIBUTE, answer.id)
        span.set_attribute("blueprints.coverage", answer.coverage.value)
        try:
            answers.store_answer(answer, question=question, source="api")
        except Exception:
            _log.exception("answer %s could not be stored; votes on it will be refused", answer.id)

    return keep


@api.post("/ask", response_model=Answer, responses=UNAVAILABLE)
async def ask(
    body: AskRequest, assistant: AssistantDep, settings: SettingsDep, answers: AnswerLogDep
) -> Answer:
    """Answer a question with numbered citations (the same JSON as `blueprints ask --json`)."""
    _check_length(body.question, settings.max_question_chars)
    answer = await run_in_threadpool(assistant.ask, body.question, body.history, body.role)
    await run_in_threadpool(_keep(answers, body.question), answer)
    return answer


@api.post(
    "/ask/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `delta` ({text}) events, then one `final` "
            "event (the Answer) or one `error` event ({detail, status, request_id})",
            "content": {"text/event-stream": {}},
        },
        **UNAVAILABLE,
    },
)
async def ask_stream(
    body: AskRequest, assistant: AssistantDep, settings: SettingsDep, answers: AnswerLogDep
) -> EventSourceResponse:
    """Answer as a stream of Server-Sent Events."""
    _check_length(body.question, settings.max_question_chars)

    def start() -> tuple[StreamEvent | None, Iterator[StreamEvent]]:
        events = iter(assistant.stream(body.question, body.history, body.role))
        return next(events, None), events

    # The first event is awaited before the response starts, so a question the assistant
    # refuses (blank, too long, empty index) still gets a plain 422 or 503.
    first, rest = await run_in_threadpool(start)
    return EventSourceResponse(answer_events(first, rest, _keep(answers, body.question)))


async def answer_events(
    first: StreamEvent | None,
    rest: Iterator[StreamEvent],
    keep: Callable[[Answer], None],
) -> AsyncIterator[ServerSentEvent]:
    """The assistant's stream as SSE events, its blocking generator driven from a thread.

    The final answer goes to `keep` before it is sent, so it can be rated at once.
    """

    async def encode(event: StreamEvent) -> ServerSentEvent:
        if event.kind == "final" and event.answer is not None:
            await run_in_threadpool(keep, event.answer)
        return to_sse(event)

    if first is None:
        _log.error("the answer stream ended without an event")
        yield error_event(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")
        return
    yield await encode(first)
    try:
        async for event in iterate_in_threadpool(rest):
            yield await encode(event)
    except QuestionError as exc:
        yield error_event(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    except EmptyIndexError as exc:
        yield error_event(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    except Exception:
        _log.exception("the answer stream failed")
        yield error_event(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def to_sse(event: StreamEvent) -> ServerSentEvent:
    """Encode one stream event: `delta` carries `{"text": ...}`, `final` the whole Answer."""
    if event.kind == "final":
        if event.answer is None:
            msg = "a final stream event without an answer"
            raise ValueError(msg)
        return ServerSentEvent(event.answer.model_dump_json(), event="final")
    return ServerSentEvent(json.dumps({"text": event.text}), event="delta")


def error_event(status_code: int, detail: str) -> ServerSentEvent:
    """An `error` event: the status the request would have had, and why."""
    data = {"detail": detail, "status": status_code, "request_id": request_id_var.get()}
    return ServerSentEvent(json.dumps(data), event="error")


@api.get("/roles", response_model=list[RoleInfo])
async def roles(assistant: AssistantDep) -> list[RoleInfo]:
    """The role catalogue."""
    return await run_in_threadpool(assistant.roles)


@api.get("/roles/{role_id}", response_model=RoleDetail, responses={404: _error("No such role")})
async def role_detail(role_id: str, assistant: AssistantDep) -> RoleDetail:
    """One role with the text of its sections."""
    detail = await run_in_threadpool(assistant.role_detail, role_id)
    if detail is None:
        msg = f"no role {role_id!r} in the knowledge base; GET /v1/roles lists the role ids"
        raise HTTPException(status.HTTP_404_NOT_FOUND, msg)
    return detail


@api.post(
    "/feedback",
    response_model=FeedbackReceipt,
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"description": "A new vote"},
        200: {"model": FeedbackReceipt, "description": "The voter's earlier vote, replaced"},
        404: _error("No answer with this id is on record: ask again and rate the new answer"),
    },
)
async def feedback(
    body: FeedbackRequest, answers: AnswerLogDep, voter: VoterDep, response: Response
) -> FeedbackReceipt:
    """Rate an answer (👍 `up` / 👎 `down`), with an optional comment.

    One vote per answer and voter (the API key presented, and the client address):
    voting again replaces the earlier vote.
    """
    try:
        receipt = await run_in_threadpool(
            partial(answers.vote, voter=voter, source="api", comment=body.comment),
            body.answer_id,
            body.rating,
        )
    except UnknownAnswerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if receipt.replaced:
        response.status_code = status.HTTP_200_OK
    return FeedbackReceipt.model_validate(receipt.model_dump())


@probes.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@probes.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request, response: Response) -> Readiness:
    """Readiness: 200 with counts when the index is loaded and not empty, else 503."""
    assistant: Assistant | None = request.app.state.assistant
    readiness = Readiness(status="not_ready", detail="the assistant is starting")
    if assistant is not None:
        try:
            chunks = await run_in_threadpool(assistant.chunk_count)
            if chunks:
                count = len(await run_in_threadpool(assistant.roles))
                readiness = Readiness(status="ready", chunks=chunks, roles=count)
            else:
                readiness.detail = "the index is empty: run `blueprints ingest`"
        except BlueprintsError as exc:
            readiness.detail = str(exc)
        cache = assistant.question_cache()
        if cache is not None:
            readiness.question_cache = QuestionCache(**vars(cache), hit_rate=cache.hit_rate)
    if request.app.state.sync is not None:
        readiness.sync = request.app.state.sync.status()
    if readiness.status != "ready":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return readiness


@monitoring.get("/metrics")
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics (the text exposition format)."""
    return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE_LATEST)


@api.get("/admin/usage", response_model=UsageReport, tags=["admin"])
async def usage(answers: AnswerLogDep, since: date | None = None) -> UsageReport:
    """Usage since a day (UTC): questions per day, coverage, gaps, 👎 answers, top roles."""
    return await run_in_threadpool(build_report, answers, since)


@api.get(
    "/admin/usage.html",
    response_class=HTMLResponse,
    tags=["admin"],
    responses={200: {"content": {"text/html": {}}, "description": "The report as HTML"}},
)
async def usage_html(answers: AnswerLogDep, since: date | None = None) -> HTMLResponse:
    """The same report drawn as HTML with charts (what `/admin` shows)."""
    report = await run_in_threadpool(build_report, answers, since)
    return HTMLResponse(render_fragment(report))


@page.get("/")
async def chat_page() -> FileResponse:
    """The web chat."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": _PAGE_CSP})


@page.get("/admin")
async def admin_page() -> FileResponse:
    """The usage report; it shows nothing until its data comes, with the API key if needed."""
    return FileResponse(STATIC_DIR / "admin.html", headers={"Content-Security-Policy": _PAGE_CSP})
