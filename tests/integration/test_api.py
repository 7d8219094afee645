"""The HTTP API through the real ASGI app, the real model and the bundled index."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from assistant.embeddings import SentenceTransformerEmbedder
from assistant.models import Answer, StreamEvent, Turn
from assistant.service import Assistant, open_store
from assistant.settings import Settings

pytestmark = pytest.mark.integration

KPI_QUESTION = "What KPIs does the VP of Data and AI own?"
VP_ID = "vp-of-data-and-ai"

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_for(
    bundled_settings: Settings, bundled_assistant: Assistant, tmp_path: Path
) -> ClientFactory:
    """Opens a client on an app over the bundled index, with some settings changed."""

    @asynccontextmanager
    async def open_client(
        assistant: Any = bundled_assistant, client_ip: str = "127.0.0.1", **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        update = {"feedback_db": tmp_path / "feedback.sqlite3", "rate_limit_per_minute": 10_000}
        settings = bundled_settings.model_copy(update=update | changes)
        app = create_app(settings, assistant=assistant)
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
                yield client
        finally:
            app.state.answer_log.close()

    return open_client


@pytest.fixture
async def client(client_for: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


def parse_sse(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body, comments (pings) skipped."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


# ---------- probes, docs and the page ----------


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_counts_the_bundled_index(
    client: httpx.AsyncClient, bundled_assistant: Assistant
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["chunks"] == bundled_assistant.chunk_count() > 0
    assert body["roles"] == len(bundled_assistant.roles()) > 1


async def test_readyz_and_ask_are_503_on_an_empty_store(
    client_for: ClientFactory, tmp_settings: Settings, embedder: SentenceTransformerEmbedder
) -> None:
    empty = Assistant(tmp_settings, open_store(tmp_settings), embedder)
    async with client_for(assistant=empty) as client:
        ready = await client.get("/readyz")
        ask = await client.post("/v1/ask", json={"question": KPI_QUESTION})
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["chunks"] == 0
    assert ask.status_code == 503
    assert "blueprints ingest" in ask.json()["detail"]


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    schema = (await client.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    expected = {"/v1/ask", "/v1/ask/stream", "/v1/roles", "/v1/roles/{role_id}", "/v1/feedback"}
    assert expected <= set(schema["paths"])
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == 2000  # the configured limit, not a hard-coded one
    assert "securitySchemes" not in schema.get("components", {})  # no key, no auth claimed


async def test_openapi_declares_bearer_auth_when_a_key_is_set(client_for: ClientFactory) -> None:
    async with client_for(api_key=SecretStr("s3cret-key"), max_question_chars=500) as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "401" in schema["paths"]["/v1/ask"]["post"]["responses"]
    assert (
        schema["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] == 500
    )


async def test_chat_page_and_its_assets_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    script = await client.get("/static/app.js")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200
    assert "renderMarkdown" in script.text


# ---------- questions ----------


async def test_ask_returns_the_same_answer_as_the_assistant(
    client: httpx.AsyncClient, bundled_assistant: Assistant
) -> None:
    response = await client.post("/v1/ask", json={"question": KPI_QUESTION})
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    direct = bundled_assistant.ask(KPI_QUESTION)
    assert answer.answer == direct.answer
    assert answer.coverage == direct.coverage
    assert answer.roles == ["VP of Data and AI"]
    assert [c.model_dump() for c in answer.citations] == [c.model_dump() for c in direct.citations]
    assert answer.citations
    assert all(f"[{c.n}]" in answer.answer for c in answer.citations)


async def test_ask_follow_up_uses_the_history(client: httpx.AsyncClient) -> None:
    history = [
        {"role": "user", "content": "What does an Engineering Manager do?"},
        {"role": "assistant", "content": "An Engineering Manager leads a team [1]."},
    ]
    question = {"question": "What is their mission?"}
    alone = await client.post("/v1/ask", json=question)
    follow_up = await client.post("/v1/ask", json=question | {"history": history})
    assert follow_up.status_code == 200
    assert follow_up.json()["roles"] == ["Engineering Manager"]
    assert alone.json()["roles"] != ["Engineering Manager"]


async def test_ask_with_a_role_filter_stays_in_that_role(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ask", json={"question": "What are the key responsibilities?", "role": VP_ID}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["roles"] == ["VP of Data and AI"]
    assert {c["role"] for c in body["citations"]} == {"VP of Data and AI"}


async def test_stream_deltas_add_up_to_the_final_answer(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ask/stream", json={"question": KPI_QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "final"
    assert set(names[:-1]) == {"delta"}
    assert len(names) > 2
    text = "".join(json.loads(data)["text"] for name, data in events if name == "delta")
    final = Answer.model_validate_json(events[-1][1])
    assert text == final.answer
    assert final.citations
    assert final.coverage.value == "answered"


async def test_stream_refuses_a_blank_question_before_streaming(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ask/stream", json={"question": "   "})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"


class _BrokenStream:
    """An assistant whose stream fails after its first piece of text."""

    def stream(
        self, question: str, history: Sequence[Turn] = (), role: str | None = None
    ) -> Iterator[StreamEvent]:
        yield StreamEvent(kind="delta", text="Partial ")
        msg = "secret internals"
        raise RuntimeError(msg)


async def test_stream_failure_ends_in_an_error_event(client_for: ClientFactory) -> None:
    async with client_for(assistant=_BrokenStream()) as client:
        response = await client.post("/v1/ask/stream", json={"question": KPI_QUESTION})
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["delta", "error"]
    error = json.loads(events[1][1])
    assert error["status"] == 500
    assert error["detail"] == "internal error"
    assert error["request_id"] == response.headers["x-request-id"]
    assert "secret" not in response.text


# ---------- roles ----------


async def test_roles_lists_the_catalogue(
    client: httpx.AsyncClient, bundled_assistant: Assistant
) -> None:
    response = await client.get("/v1/roles")
    assert response.status_code == 200
    ids = [role["id"] for role in response.json()]
    assert ids == [role.id for role in bundled_assistant.roles()]
    assert VP_ID in ids


async def test_role_detail_has_the_sections_text(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/roles/{VP_ID}")
    assert response.status_code == 200
    body = response.json()
    assert body["coverage"] == "full"
    assert any("KPI" in part["section"] for part in body["content"])
    assert all(part["text"].strip() for part in body["content"])


async def test_unknown_role_is_404_with_a_pointer_to_the_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/roles/chief-of-nothing")
    assert response.status_code == 404
    assert "chief-of-nothing" in response.json()["detail"]
    assert "/v1/roles" in response.json()["detail"]


# ---------- answers on record and feedback ----------


def stored(tmp_path: Path, answer_id: str) -> tuple[str, str, str] | None:
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        row = db.execute(
            "SELECT source, question, answer FROM answers WHERE id = ?", (answer_id,)
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def votes(tmp_path: Path) -> list[tuple[str, str, str | None, str, str]]:
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        return db.execute(
            "SELECT answer_id, rating, comment, source, voter FROM feedback ORDER BY id"
        ).fetchall()


async def asked(client: httpx.AsyncClient, question: str = KPI_QUESTION) -> str:
    response = await client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200
    return str(response.json()["id"])


async def test_answers_are_stored_as_served_by_ask_and_by_the_stream(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    answer = (await client.post("/v1/ask", json={"question": KPI_QUESTION})).json()
    streamed = await client.post("/v1/ask/stream", json={"question": "Tools of a Head of DevOps?"})
    final = Answer.model_validate_json(parse_sse(streamed.text)[-1][1])

    for answer_id, question, served in [
        (answer["id"], KPI_QUESTION, Answer.model_validate(answer)),
        (final.id, "Tools of a Head of DevOps?", final),
    ]:
        row = stored(tmp_path, answer_id)
        assert row is not None
        assert row[:2] == ("api", question)
        assert Answer.model_validate_json(row[2]) == served


async def test_feedback_is_stored_with_who_voted_but_not_their_key(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    async with client_for(api_key=SecretStr("s3cret-key")) as client:
        client.headers["Authorization"] = "Bearer s3cret-key"
        first, second = await asked(client), await asked(client, "What does a Head of DevOps do?")
        up = await client.post("/v1/feedback", json={"answer_id": first, "rating": "up"})
        down = await client.post(
            "/v1/feedback", json={"answer_id": second, "rating": "down", "comment": "wrong section"}
        )
    assert up.status_code == down.status_code == 201
    assert up.json() == {
        "id": up.json()["id"],
        "answer_id": first,
        "rating": "up",
        "replaced": False,
    }
    rows = votes(tmp_path)
    assert [row[:4] for row in rows] == [
        (first, "up", None, "api"),
        (second, "down", "wrong section", "api"),
    ]
    assert rows[0][4] == rows[1][4]
    assert rows[0][4].endswith("@127.0.0.1")
    assert "s3cret" not in rows[0][4]


async def test_feedback_on_an_unknown_answer_is_404_with_what_to_do(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await client.post("/v1/feedback", json={"answer_id": "a-1", "rating": "up"})
    assert response.status_code == 404
    assert "'a-1'" in response.json()["detail"]
    assert "ask again" in response.json()["detail"]
    assert votes(tmp_path) == []
    schema = (await client.get("/openapi.json")).json()
    assert "404" in schema["paths"]["/v1/feedback"]["post"]["responses"]


async def test_a_second_vote_from_the_same_client_replaces_the_first(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    answer_id = await asked(client)
    first = await client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "up"})
    second = await client.post(
        "/v1/feedback", json={"answer_id": answer_id, "rating": "down", "comment": "on reflection"}
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["replaced"] is True
    assert second.json()["id"] == first.json()["id"]
    assert [row[:3] for row in votes(tmp_path)] == [(answer_id, "down", "on reflection")]


async def test_other_clients_and_other_keys_vote_separately(
    client_for: ClientFactory, tmp_path: Path
) -> None:
    async with client_for() as client:
        answer_id = await asked(client)
        body = {"answer_id": answer_id, "rating": "up"}
        assert (await client.post("/v1/feedback", json=body)).status_code == 201
        with_a_token = await client.post(
            "/v1/feedback", json=body, headers={"Authorization": "Bearer team-a"}
        )
    async with client_for(client_ip="10.0.0.9") as elsewhere:
        from_elsewhere = await elsewhere.post("/v1/feedback", json=body | {"rating": "down"})
    assert with_a_token.status_code == from_elsewhere.status_code == 201
    voters = [row[4] for row in votes(tmp_path)]
    assert len(set(voters)) == 3
    assert voters[2].endswith("@10.0.0.9")


@pytest.mark.parametrize(
    "body",
    [
        {"answer_id": "a-1", "rating": "meh"},
        {"answer_id": "", "rating": "up"},
        {"rating": "up"},
        {"answer_id": "a-1", "rating": "up", "comment": "x" * 2001},
    ],
)
async def test_feedback_rejects_malformed_ratings(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/feedback", json=body)
    assert response.status_code == 422


# ---------- auth ----------

V1_CALLS = [
    ("POST", "/v1/ask", {"question": KPI_QUESTION}),
    ("POST", "/v1/ask/stream", {"question": KPI_QUESTION}),
    ("GET", "/v1/roles", None),
    ("GET", f"/v1/roles/{VP_ID}", None),
    ("POST", "/v1/feedback", {"answer_id": "a-1", "rating": "up"}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS)
async def test_api_key_is_required_on_every_v1_endpoint(
    client_for: ClientFactory, method: str, path: str, body: dict[str, Any] | None
) -> None:
    async with client_for(api_key=SecretStr("s3cret-key")) as client:
        if path == "/v1/feedback":  # an answer on record, so that the right key gets a 201
            client.headers["Authorization"] = "Bearer s3cret-key"
            body = {"answer_id": await asked(client), "rating": "up"}
            del client.headers["Authorization"]
        missing = await client.request(method, path, json=body)
        wrong = await client.request(
            method, path, json=body, headers={"Authorization": "Bearer nope"}
        )
        basic = await client.request(
            method, path, json=body, headers={"Authorization": "Basic s3cret-key"}
        )
        right = await client.request(
            method, path, json=body, headers={"Authorization": "Bearer s3cret-key"}
        )
    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert right.status_code in {200, 201}


async def test_probes_and_page_need_no_key(client_for: ClientFactory) -> None:
    async with client_for(api_key=SecretStr("s3cret-key")) as client:
        statuses = [(await client.get(path)).status_code for path in ("/healthz", "/readyz", "/")]
    assert statuses == [200, 200, 200]


# ---------- validation and limits ----------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "at least 1 character"),
        ({"question": " \n\t "}, "empty"),
        ({"question": "x" * 2001}, "limit is 2000"),
        ({}, "Field required"),
        ({"question": 42}, "valid string"),
        (
            {"question": "KPIs?", "history": [{"role": "system", "content": "hi"}]},
            "'user' or 'assistant'",
        ),
    ],
)
async def test_bad_questions_get_a_clear_422(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/v1/ask", json=body)
    assert response.status_code == 422
    messages = " ".join(error["msg"] for error in response.json()["detail"])
    assert message in messages


async def test_malformed_json_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/ask", content=b'{"question": "KPIs?"', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


async def test_oversized_body_is_a_413(client_for: ClientFactory) -> None:
    async with client_for(max_body_bytes=2048) as client:
        response = await client.post("/v1/ask", json={"question": "x" * 5000})
    assert response.status_code == 413


async def test_oversized_chunked_body_without_length_is_a_413(client_for: ClientFactory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    sent: list[httpx.Headers] = []
    async with client_for(max_body_bytes=2048) as client:
        client.event_hooks["request"].append(lambda request: _record(sent, request))
        response = await client.post(
            "/v1/ask", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert "content-length" not in sent[0]
    assert sent[0]["transfer-encoding"] == "chunked"
    assert response.status_code == 413


async def _record(sent: list[httpx.Headers], request: httpx.Request) -> None:
    sent.append(request.headers)


async def test_rate_limit_answers_429_with_retry_after(
    bundled_settings: Settings, bundled_assistant: Assistant, tmp_path: Path
) -> None:
    settings = bundled_settings.model_copy(
        update={"rate_limit_per_minute": 3, "feedback_db": tmp_path / "feedback.sqlite3"}
    )
    app = create_app(settings, assistant=bundled_assistant)

    def client(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://api.test")

    async with client("10.0.0.1") as first, client("10.0.0.2") as second:
        statuses = [(await first.get("/v1/roles")).status_code for _ in range(4)]
        limited = await first.get("/v1/roles")
        new_token = await first.get("/v1/roles", headers={"Authorization": "Bearer another"})
        other_ip = await second.get("/v1/roles")
        probe = await first.get("/healthz")
    app.state.answer_log.close()
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert "rate limit" in limited.json()["detail"]
    assert new_token.status_code == 429  # a made-up token does not mint a new bucket
    assert other_ip.status_code == 200
    assert probe.status_code == 200


# ---------- robustness ----------


class _CrashingAssistant:
    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        msg = "secret internals at /srv/app.py"
        raise RuntimeError(msg)


async def test_crash_is_a_500_without_a_stack_trace(client_for: ClientFactory) -> None:
    async with client_for(assistant=_CrashingAssistant()) as client:
        response = await client.post("/v1/ask", json={"question": KPI_QUESTION})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error",
        "request_id": response.headers["x-request-id"],
    }
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "req-42"})
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    generated = await client.get("/healthz")
    assert echoed.headers["x-request-id"] == "req-42"
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_cors_allows_configured_origins_only(client_for: ClientFactory) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    async with client_for(cors_origins=["https://chat.example.com"]) as client:
        allowed = await client.options(
            "/v1/ask", headers={"Origin": "https://chat.example.com", **preflight}
        )
        denied = await client.options(
            "/v1/ask", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.com"
    assert "access-control-allow-origin" not in denied.headers


class _SlowAssistant:
    def ask(self, question: str, history: Sequence[Turn] = (), role: str | None = None) -> Answer:
        time.sleep(1.0)
        msg = "never mind"
        raise RuntimeError(msg)


async def test_a_slow_answer_does_not_block_other_requests(client_for: ClientFactory) -> None:
    async with client_for(assistant=_SlowAssistant()) as client:
        slow = asyncio.create_task(client.post("/v1/ask", json={"question": KPI_QUESTION}))
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        health = await client.get("/healthz")
        elapsed = time.perf_counter() - started
        done_early = slow.done()
        slow_response = await slow
    assert health.status_code == 200
    assert elapsed < 0.5
    assert not done_early
    assert slow_response.status_code == 500
