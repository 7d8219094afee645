"""What routes depend on, read from `app.state` (tests swap them with `dependency_overrides`)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.feedback import AnswerLog
from api.metrics import Metrics
from assistant.service import Assistant
from assistant.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="The server's BLUEPRINTS_API_KEY")


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return cast(Settings, request.app.state.settings)


def get_assistant(request: Request) -> Assistant:
    """The assistant built at start-up (503 while it is still loading)."""
    assistant = cast(Assistant | None, request.app.state.assistant)
    if assistant is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the assistant is starting")
    return assistant


def get_answer_log(request: Request) -> AnswerLog:
    """Where answers and votes are kept."""
    return cast(AnswerLog, request.app.state.answer_log)


def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    return cast(Metrics, request.app.state.metrics)


def get_voter(request: Request) -> str:
    """Who is voting: a hash of the presented bearer token (never the token) and the address.

    Read from the header, not through `HTTPBearer`, which would claim auth in the schema
    of a server that has no key.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    key_id = hashlib.sha256(key.encode()).hexdigest()[:16] if key else "no-key"
    address = request.client.host if request.client else "unknown"
    return f"api:{key_id}@{address}"


SettingsDep = Annotated[Settings, Depends(get_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
AnswerLogDep = Annotated[AnswerLog, Depends(get_answer_log)]
VoterDep = Annotated[str, Depends(get_voter)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through when no key is configured or it carries the right one."""
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not secrets.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API key: send 'Authorization: Bearer <BLUEPRINTS_API_KEY>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
