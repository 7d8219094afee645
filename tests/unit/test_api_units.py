"""The API's pure pieces: rate limiter, SSE encoding, logs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from api.middleware import RateLimiter, client_key, request_id_var
from api.routes import NOT_BLANK, answer_events, to_sse
from api.server import JsonFormatter, RequestIdFilter
from assistant.errors import QuestionError
from assistant.models import Answer, AnswerCoverage, StreamEvent, Trace


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_answer(text: str = "Owns KPIs [1].") -> Answer:
    return Answer(
        id="a-1",
        answer=text,
        coverage=AnswerCoverage.ANSWERED,
        trace=Trace(question="q", standalone_question="q"),
    )


# ---------- rate limiter ----------


def test_rate_limiter_allows_a_burst_then_refuses() -> None:
    limiter = RateLimiter(3, clock=FakeClock())
    assert [limiter.acquire("ip:1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("ip:1") == pytest.approx(20.0)


def test_rate_limiter_refills_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    for _ in range(60):
        limiter.acquire("ip:1")
    assert limiter.acquire("ip:1") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("ip:1") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("ip:1") == 0.0
    clock.now += 3600
    assert sum(limiter.acquire("ip:1") == 0.0 for _ in range(61)) == 60


def test_rate_limiter_counts_clients_separately() -> None:
    limiter = RateLimiter(1, clock=FakeClock())
    assert limiter.acquire("ip:1") == 0.0
    assert limiter.acquire("ip:1") > 0
    assert limiter.acquire("ip:2") == 0.0


def test_rate_limiter_forgets_the_least_recent_client_beyond_its_bound() -> None:
    limiter = RateLimiter(1, clock=FakeClock(), max_clients=2)
    limiter.acquire("a")
    limiter.acquire("b")
    limiter.acquire("a")  # refused, and now the most recent
    limiter.acquire("c")  # evicts b
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_client_key_is_the_ip_whatever_token_is_sent() -> None:
    def scope(token: bytes) -> dict[str, object]:
        headers = [(b"authorization", b"Bearer " + token)] if token else []
        return {"type": "http", "headers": headers, "client": ("10.0.0.1", 5)}

    assert {client_key(scope(t)) for t in (b"", b"one", b"two")} == {"ip:10.0.0.1"}


# ---------- schema ----------


def test_not_blank_pattern_matches_exactly_the_non_whitespace_characters() -> None:
    pattern = re.compile(NOT_BLANK)
    mismatched = [
        hex(code)
        for code in range(0x3001)  # every whitespace character is below U+3001
        if (pattern.search(chr(code)) is None) != chr(code).isspace()
    ]
    assert mismatched == []


# ---------- SSE ----------


def test_delta_event_carries_json_text() -> None:
    encoded = to_sse(StreamEvent(kind="delta", text='line "one"\n\nline two')).encode().decode()
    assert encoded.startswith("event: delta\r\n")
    data = encoded.split("data: ", 1)[1].split("\r\n", 1)[0]
    assert json.loads(data) == {"text": 'line "one"\n\nline two'}


def test_final_event_carries_the_whole_answer() -> None:
    encoded = to_sse(StreamEvent(kind="final", answer=make_answer())).encode().decode()
    data = encoded.split("data: ", 1)[1].split("\r\n", 1)[0]
    assert Answer.model_validate_json(data) == make_answer()


def test_final_event_without_answer_is_a_bug() -> None:
    with pytest.raises(ValueError, match="without an answer"):
        to_sse(StreamEvent(kind="final"))


async def collect(events: AsyncIterator[object]) -> list[tuple[str, dict[str, object]]]:
    out = []
    async for event in events:
        out.append((event.event, json.loads(event.data)))  # type: ignore[attr-defined]
    return out


def failing(exc: Exception) -> Iterator[StreamEvent]:
    yield StreamEvent(kind="delta", text="So far ")
    raise exc


@pytest.mark.parametrize(
    ("exc", "status", "detail"),
    [
        (QuestionError("too long"), 422, "too long"),
        (RuntimeError("secret"), 500, "internal error"),
    ],
)
async def test_a_failing_stream_ends_with_an_error_event(
    exc: Exception, status: int, detail: str
) -> None:
    rest = failing(exc)
    first = next(rest)
    kept: list[Answer] = []
    events = await collect(answer_events(first, rest, kept.append))
    assert kept == []
    assert events[0] == ("delta", {"text": "So far "})
    assert events[1][0] == "error"
    assert events[1][1]["status"] == status
    assert events[1][1]["detail"] == detail


async def test_an_empty_stream_is_an_error_not_silence() -> None:
    events = await collect(answer_events(None, iter([]), lambda _: None))
    assert [(name, data["status"]) for name, data in events] == [("error", 500)]


async def test_the_final_answer_is_kept_before_it_is_sent() -> None:
    answer = make_answer()
    kept: list[Answer] = []

    async def events() -> AsyncIterator[tuple[str, int]]:
        rest = iter([StreamEvent(kind="final", answer=answer)])
        async for event in answer_events(StreamEvent(kind="delta", text="Owns"), rest, kept.append):
            yield event.event, len(kept)  # type: ignore[attr-defined]

    assert [sent async for sent in events()] == [("delta", 0), ("final", 1)]
    assert kept == [answer]


# ---------- logs ----------


def test_json_log_line_has_the_request_id_and_extras() -> None:
    record = logging.LogRecord(
        "api.access", logging.INFO, __file__, 1, "GET %s", ("/healthz",), None
    )
    record.status = 200
    token = request_id_var.set("req-7")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET /healthz"
    assert line["request_id"] == "req-7"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert "args" not in line
