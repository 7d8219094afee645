"""The web chat in headless Chromium, against the real app served by uvicorn on loopback."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
