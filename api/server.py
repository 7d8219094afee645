"""`blueprints serve`: the app under uvicorn, with structured logs."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.middleware import request_id_var
from api.telemetry import current_trace_id
from assistant.settings import Settings

# What every LogRecord has (and uvicorn's ANSI-coloured copy of the message); anything else
# on a record came from `extra=` and is logged too.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served and its trace, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` (and `trace_id` while a trace is recorded) and keep the record."""
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "trace_id") and (trace_id := current_trace_id()):
            record.trace_id = trace_id
        return True


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every log record to stderr, as JSON lines or as text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the API and the chat page until interrupted."""
    configure_logging(settings.log_format)
    app = create_app(settings)
    print(f"Blueprint Assistant: http://{host}:{port}/  (API docs: /docs)", flush=True)  # noqa: T201
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the handler configured above
        access_log=False,  # RequestContextMiddleware logs each request, with its id
        timeout_graceful_shutdown=5,  # open answer streams must not hold a restart
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_in_thread(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """The app under uvicorn on a free port in a background thread; yields its base URL.

    For benchmarks and browser tests, which need a real server in the same process.
    """
    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
