"""The usage report after real questions: `blueprints report usage` and `/admin`'s data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from assistant.service import Assistant
from assistant.settings import Settings

pytestmark = pytest.mark.integration

KEY = "s3cret-key"
QUESTIONS = [
    "What KPIs does the VP of Data and AI own?",
    "What does a pastry chef earn in Lisbon?",
    "What does a pastry chef earn in Lisbon?",
    "What are the KPIs of a Head of DevOps?",
]


@pytest.fixture
async def served(
    bundled_settings: Settings, bundled_assistant: Assistant, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    """A keyed server that answered the questions above, one answer rated 👎 with a reason."""
    db = tmp_path / "feedback.sqlite3"
    settings = bundled_settings.model_copy(
        update={"feedback_db": db, "api_key": SecretStr(KEY), "rate_limit_per_minute": 10_000}
    )
    app = create_app(settings, bundled_assistant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        auth = {"Authorization": f"Bearer {KEY}"}
        ids = [
            (await client.post("/v1/ask", json={"question": q}, headers=auth)).json()["id"]
            for q in QUESTIONS
        ]
        vote = {"answer_id": ids[0], "rating": "down", "comment": "The AI unit cost KPI is missing"}
        assert (await client.post("/v1/feedback", json=vote, headers=auth)).status_code == 201
        yield client, db
    app.state.answer_log.close()


async def test_the_admin_data_needs_the_key(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    for path in ("/v1/admin/usage", "/v1/admin/usage.html"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_the_admin_page_itself_holds_no_data(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, _ = served
    page = await client.get("/admin")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "pastry" not in page.text
    assert "/static/admin.js" in page.text


async def test_the_admin_data_counts_the_questions_and_the_vote(
    served: tuple[httpx.AsyncClient, Path],
) -> None:
    client, _ = served
    auth = {"Authorization": f"Bearer {KEY}"}
    data = (await client.get("/v1/admin/usage", headers=auth)).json()
    html = await client.get("/v1/admin/usage.html", headers=auth)
    later = (await client.get("/v1/admin/usage?since=2999-01-01", headers=auth)).json()
    assert data["questions"] == 4
    assert data["coverage"] == {"answered": 1, "partial": 1, "not_found": 2}
    assert [(g["question"], g["count"]) for g in data["not_found"]] == [(QUESTIONS[1], 2)]
    assert data["partial"][0]["roles"] == ["Head of DevOps"]
    [down] = data["downvotes"]
    assert down["comment"] == "The AI unit cost KPI is missing"
    assert down["retrieved"]  # the trace comes with it
    assert data["top_roles"][0]["count"] == 1
    assert html.headers["content-type"].startswith("text/html")
    assert "The AI unit cost KPI is missing" in html.text
    assert "<svg" in html.text
    assert later["questions"] == 0
    bad = await client.get("/v1/admin/usage?since=yesterday", headers=auth)
    assert bad.status_code == 422


async def test_report_usage_writes_a_page_with_the_gaps_and_a_chart(
    served: tuple[httpx.AsyncClient, Path], tmp_path: Path
) -> None:
    _, db = served
    page = tmp_path / "out.html"
    runner = CliRunner()
    env = {"BLUEPRINTS_FEEDBACK_DB": str(db)}
    result = runner.invoke(cli, ["report", "usage", "--html", str(page)], env=env)
    as_json = runner.invoke(cli, ["report", "usage", "--json", "--since", "2999-01-01"], env=env)
    wrong_day = runner.invoke(cli, ["report", "usage", "--since", "March"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "pastry chef" in result.stdout  # the gap, in the terminal too
    assert f"Report written to {page}" in result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "Knowledge gaps" in html and QUESTIONS[1] in html
    assert '<rect class="bar not_found"' in html
    assert "<style>" in html  # standalone: it opens from disk as it is
    assert json.loads(as_json.stdout)["questions"] == 0
    assert wrong_day.exit_code == 2
    assert "YYYY-MM-DD" in wrong_day.stderr


def test_report_usage_without_a_log_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["report", "usage"], env={"BLUEPRINTS_FEEDBACK_DB": str(tmp_path / "none.sqlite3")}
    )
    assert result.exit_code == 1
    assert "No answer log" in result.stderr
