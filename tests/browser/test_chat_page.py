"""The web chat in headless Chromium, against the real app served by uvicorn on loopback."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from api.server import running_in_thread
from assistant.service import Assistant
from assistant.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
SCREENSHOT = PROJECT_ROOT / "docs" / "chat-screenshot.png"
QUESTION = "What KPIs does the VP of Data and AI own?"


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium, installed by scripts/ensure-chromium.sh when missing."""
    if not Path(CHROMIUM).exists():
        result = subprocess.run(
            ["bash", str(PROJECT_ROOT / "scripts" / "ensure-chromium.sh")],
            capture_output=True,
            text=True,
            check=False,
        )
        if not Path(CHROMIUM).exists():
            pytest.skip(
                f"{CHROMIUM} is missing and could not be installed: {result.stderr.strip()}"
            )
    return CHROMIUM


@contextmanager
def serving(settings: Settings, assistant: Assistant) -> Iterator[str]:
    """The app on a free loopback port, served by uvicorn in a thread; yields its URL."""
    with running_in_thread(create_app(settings, assistant=assistant)) as url:
        yield url


@pytest.fixture
def settings(bundled_settings: Settings, tmp_path: Path) -> Settings:
    return bundled_settings.model_copy(update={"feedback_db": tmp_path / "feedback.sqlite3"})


@pytest.fixture
def url(settings: Settings, bundled_assistant: Assistant) -> Iterator[str]:
    with serving(settings, bundled_assistant) as url:
        yield url


@pytest.fixture
def page(chromium: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 820})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert not errors, errors


def test_ask_stream_cite_and_rate(page: Any, url: str, settings: Settings) -> None:
    page.goto(url + "/")
    page.wait_for_selector("#role option[value='vp-of-data-and-ai']", state="attached")

    page.fill("#question", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector(".message.assistant .answer-footer", timeout=20_000)
    answer = page.inner_text(".message.assistant .answer-body")
    assert "VP of Data and AI" in answer
    assert page.inner_text(".badge") == "Answered"

    page.click(".message.assistant button.rating[data-rating='up']")
    page.wait_for_selector("text=Thanks for the feedback.")

    page.click(".message.assistant button.cite[data-n='1']")
    page.wait_for_selector("#citation-panel:not([hidden])")
    quote = page.inner_text("#citation-quote")
    assert page.inner_text("#citation-role") == "VP of Data and AI"
    assert "KPI" in page.inner_text("#citation-section")
    assert len(quote) > 20
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    with sqlite3.connect(settings.feedback_path) as db:
        rows = db.execute("SELECT rating, source FROM feedback").fetchall()
    answer_id = page.evaluate("document.querySelector('.message.assistant').dataset.answerId")
    assert rows == [("up", "api")]
    assert answer_id


def test_follow_up_sends_the_history(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.fill("#question", "What does an Engineering Manager do?")
    page.keyboard.press("Enter")
    page.wait_for_selector(".answer-footer")
    with page.expect_request("**/v1/ask/stream") as request:
        page.fill("#question", "What is their mission?")
        page.keyboard.press("Enter")
    page.wait_for_selector(".message.assistant:nth-of-type(4) .answer-footer")
    sent = request.value.post_data_json
    assert [turn["role"] for turn in sent["history"]] == ["user", "assistant"]
    assert "Engineering Manager" in page.inner_text(".message.assistant:nth-of-type(4)")


def test_markdown_is_escaped_before_it_is_rendered(page: Any, url: str) -> None:
    page.goto(url + "/")
    html = page.evaluate(
        """renderMarkdown('<img src=x onerror=alert(1)> **bold** *it*\\n- one [1]\\n- two [9]',
                          new Map([[1, {}]]))"""
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>bold</strong> <em>it</em>" in html
    assert '<ul><li>one <button type="button" class="cite" data-n="1"' in html
    assert "<li>two [9]</li>" in html  # a marker with no citation stays text


def test_api_key_is_asked_for_then_sent(
    page: Any, settings: Settings, bundled_assistant: Assistant
) -> None:
    secured = settings.model_copy(update={"api_key": SecretStr("k-123")})
    with serving(secured, bundled_assistant) as url:
        page.goto(url + "/")
        page.fill("#question", QUESTION)
        page.keyboard.press("Enter")
        page.wait_for_selector(".message.assistant .error")
        assert "API key" in page.inner_text(".message.assistant .error")
        assert page.is_visible("#key-form")

        page.fill("#api-key", "k-123")
        page.click("#key-form button[type=submit]")
        with page.expect_request("**/v1/ask/stream") as request:
            page.fill("#question", QUESTION)
            page.keyboard.press("Enter")
        page.wait_for_selector(".answer-footer")
    assert request.value.headers["authorization"] == "Bearer k-123"
    assert page.evaluate("localStorage.getItem('blueprints.apiKey')") == "k-123"
    assert page.locator("#role option").count() > 1  # roles reloaded with the key


def test_thumbs_down_asks_what_was_wrong_and_keeps_it_with_the_vote(
    page: Any, url: str, settings: Settings
) -> None:
    page.goto(url + "/")
    page.fill("#question", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector(".message.assistant .answer-footer", timeout=20_000)
    page.click(".message.assistant button.rating[data-rating='down']")
    page.wait_for_selector(".reason-form textarea")
    with sqlite3.connect(settings.feedback_path) as db:
        counted = db.execute("SELECT rating, comment FROM feedback").fetchall()
    assert counted == [("down", None)]  # the 👎 counts before any reason is given

    page.fill(".reason-form textarea", "The AI unit cost target is missing")
    page.click(".reason-form button[type=submit]")
    page.wait_for_selector("text=Thanks, that helps us fix it.")
    assert page.locator(".reason-form").count() == 0
    with sqlite3.connect(settings.feedback_path) as db:
        rows = db.execute("SELECT rating, comment, source FROM feedback").fetchall()
    assert rows == [("down", "The AI unit cost target is missing", "api")]


def test_sub_bullets_render_as_a_list_nested_in_their_parent(page: Any, url: str) -> None:
    page.goto(url + "/")
    html = page.evaluate(
        """renderMarkdown('- Establish credibility: [1]\\n  - Audit the data landscape\\n'
                          + '  - Review AI initiatives\\n- Build a baseline: [2]\\nAfter.',
                          new Map([[1, {}], [2, {}]]))"""
    )
    assert html.startswith("<ul><li>Establish credibility: <button")
    assert "<ul><li>Audit the data landscape</li><li>Review AI initiatives</li></ul></li>" in html
    assert html.count("<ul>") == 2
    assert "<li>Build a baseline: <button" in html
    assert html.endswith("<p>After.</p>")


def offline(page: Any) -> list[str]:
    """Block every request that leaves the machine; returns the list of those attempted."""
    attempted: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    return attempted


def test_api_docs_render_with_the_network_blocked(page: Any, url: str) -> None:
    attempted = offline(page)
    page.goto(url + "/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/v1/ask']", timeout=20_000)
    assert page.locator(".opblock").count() >= 5
    page.goto(url + "/redoc")
    page.wait_for_selector("text=Answer a question with numbered citations", timeout=20_000)
    assert attempted == []


def test_admin_shows_nothing_without_the_key_then_the_report(
    page: Any, settings: Settings, bundled_assistant: Assistant
) -> None:
    secured = settings.model_copy(update={"api_key": SecretStr("k-123")})
    with serving(secured, bundled_assistant) as url:
        for question in (QUESTION, "What does a pastry chef earn in Lisbon?"):
            asked = httpx.post(
                f"{url}/v1/ask",
                json={"question": question},
                headers={"Authorization": "Bearer k-123"},
                timeout=30,
            )
            assert asked.status_code == 200
        attempted = offline(page)
        page.goto(url + "/admin")
        page.wait_for_selector("#key-form:not([hidden])")
        assert page.inner_text("#report") == ""
        assert "API key" in page.inner_text("#message")

        page.fill("#api-key", "k-123")
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#report svg[aria-labelledby='per-day-title'] rect.bar")
        gaps = page.inner_text("#gaps")
        assert "What does a pastry chef earn in Lisbon?" in gaps
        assert page.inner_text(".tile .value") == "2"
    assert attempted == []
