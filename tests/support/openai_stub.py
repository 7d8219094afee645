"""A scripted chat-model server on loopback, for tests that must not reach a hosted LLM.

It speaks OpenAI's Chat Completions (`POST /v1/chat/completions`, JSON or SSE) and Ollama's
chat API (`POST /api/chat`, JSON or NDJSON), so the real provider clients run unchanged
against it. Each request takes the next scripted `Reply` (the last one repeats, so client
retries see the same failure), and every request is recorded in `received`.

    with ChatStub() as stub:
        stub.script(Reply("Uptime is 99.9% [1]."), Reply(status=500))
        ... ChatOpenAI(base_url=stub.openai_base_url, api_key="x", ...) ...
        assert stub.received[0].messages[0]["role"] == "system"
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    """Wait this long before answering at all (longer than the client's timeout: a timeout)."""
    chunk_delay_s: float = 0.0
    """Wait this long between streamed pieces (a stream that stalls)."""
    finish_reason: str = "stop"

    def pieces(self) -> list[str]:
        """The content as streamed: word by word, spaces kept, so pieces join back exactly."""
        return re.findall(r"\S+\s*|\s+", self.content) or [""]


@dataclass(frozen=True)
class Received:
    """One request the server got."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent (both protocols use `messages`)."""
        messages: list[dict[str, Any]] = self.body["messages"]
        return messages

    @property
    def streamed(self) -> bool:
        """Whether the client asked for a stream (Ollama streams unless told not to)."""
        default = self.path == "/api/chat"
        return bool(self.body.get("stream", default))


class ChatStub:
    """An OpenAI- and Ollama-compatible chat server on a free loopback port, in a thread."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._replies: deque[Reply] = deque([Reply("OK")])
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        # A short poll interval keeps `close()` (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (Ollama's base URL)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        """The base URL an OpenAI client wants (`.../v1`)."""
        return f"{self.url}/v1"

    def script(self, *replies: Reply | str) -> None:
        """Answer the next requests with `replies` in order; the last one then repeats."""
        with self._lock:
            self._replies = deque(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def start(self) -> ChatStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping out a scripted delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ChatStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _take(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            return self._replies.popleft() if len(self._replies) > 1 else self._replies[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], stub: ChatStub
    ) -> None:
        super().__init__(address, handler)
        self.stub = stub


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        if self.path not in ("/v1/chat/completions", "/api/chat"):
            self._send_json(404, {"error": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        request = Received(
            path=self.path,
            body=json.loads(self.rfile.read(length) or b"{}"),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        stub = self.server.stub
        reply = stub._take(request)
        if reply.delay_s and stub._closing.wait(reply.delay_s):
            return
        try:
            if reply.status != 200:
                message = f"scripted failure {reply.status}"
                error: Any = (
                    {"message": message, "type": "server_error", "code": None}
                    if self.path.startswith("/v1/")
                    else message
                )
                self._send_json(reply.status, {"error": error})
            elif self.path == "/api/chat":
                self._ollama(request, reply)
            else:
                self._openai(request, reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, as a timeout test wants

    def _openai(self, request: Received, reply: Reply) -> None:
        model = request.body.get("model", "stub")
        if not request.streamed:
            self._send_json(
                200,
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )
            return

        def chunk(delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        self._start_stream("text/event-stream")
        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": piece}, None) for piece in reply.pieces()]
        events.append(chunk({}, reply.finish_reason))
        for index, event in enumerate(events):
            if (
                index > 1
                and reply.chunk_delay_s
                and self.server.stub._closing.wait(reply.chunk_delay_s)
            ):
                return
            self._write(f"data: {json.dumps(event)}\n\n")
        self._write("data: [DONE]\n\n")

    def _ollama(self, request: Received, reply: Reply) -> None:
        model = request.body.get("model", "stub")
        created_at = "2026-01-01T00:00:00.000000Z"
        done = {
            "model": model,
            "created_at": created_at,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reply.finish_reason,
            "total_duration": 1,
            "load_duration": 1,
            "prompt_eval_count": 1,
            "prompt_eval_duration": 1,
            "eval_count": 1,
            "eval_duration": 1,
        }
        if not request.streamed:
            message = {"role": "assistant", "content": reply.content}
            self._send_json(200, {**done, "message": message})
            return
        self._start_stream("application/x-ndjson")
        for index, piece in enumerate(reply.pieces()):
            if (
                index
                and reply.chunk_delay_s
                and self.server.stub._closing.wait(reply.chunk_delay_s)
            ):
                return
            line = {
                "model": model,
                "created_at": created_at,
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
            self._write(json.dumps(line) + "\n")
        self._write(json.dumps(done) + "\n")

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        # HTTP/1.0 without a length: closing the connection ends the stream.
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _write(self, text: str) -> None:
        self.wfile.write(text.encode())
        self.wfile.flush()
