"""What routes depend on, read from `app.state` (tests swap them with `dependency_overrides`)."""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.feedback import FeedbackStore
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


def get_feedback(request: Request) -> FeedbackStore:
    """The feedback store."""
    return cast(FeedbackStore, request.app.state.feedback)


SettingsDep = Annotated[Settings, Depends(get_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]


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
