"""Property-based tests generated from the OpenAPI schema: no input makes the API fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode

from api.app import create_app
from assistant.service import Assistant
from assistant.settings import Settings

pytestmark = pytest.mark.integration

# Every operation of the public schema; the first test keeps this list complete.
OPERATIONS = [
    ("POST", "/v1/ask"),
    ("POST", "/v1/ask/stream"),
    ("GET", "/v1/roles"),
    ("GET", "/v1/roles/{role_id}"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/admin/usage"),
    ("GET", "/v1/admin/usage.html"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]
# Operations with inputs to break; the others have nothing a negative case could vary
# (the usage report's one input is an optional day, and unknown query parameters are
# ignored, as by every route, which schemathesis would count as accepting invalid data).
WITH_INPUTS = {
    ("POST", "/v1/ask"),
    ("POST", "/v1/ask/stream"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/roles/{role_id}"),
}
EXAMPLES = 25
API_KEY = "schema-test-key"


@pytest.fixture(scope="module")
def api_schema(
    bundled_settings: Settings,
    bundled_assistant: Assistant,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    feedback = tmp_path_factory.mktemp("schema") / "feedback.sqlite3"
    changes = {
        "feedback_db": feedback,
        "rate_limit_per_minute": 100_000,
        "api_key": SecretStr(API_KEY),
    }
    app = create_app(bundled_settings.model_copy(update=changes), assistant=bundled_assistant)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    app.state.answer_log.close()


def test_every_operation_is_covered(api_schema: Any) -> None:
    listed = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert listed == set(OPERATIONS)


CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE)
    for method, path in OPERATIONS
    if (method, path) in WITH_INPUTS
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_get_documented_answers(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    auth = {"Authorization": f"Bearer {API_KEY}"} if path.startswith("/v1/") else {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=auth)

    check()
