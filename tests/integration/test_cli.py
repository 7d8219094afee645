"""The `blueprints` command line, in process, on real stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from assistant.settings import Settings
from tests.conftest import BUNDLED_CORPUS

pytestmark = pytest.mark.integration

LISTING = BUNDLED_CORPUS / "engineering-leadership-roles.listing.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
runner = CliRunner()


def env_for(store_dir: Path) -> dict[str, str]:
    return {
        "BLUEPRINTS_STORE_DIR": str(store_dir),
        "BLUEPRINTS_LLM": "none",
        "BLUEPRINTS_CHROMA_URL": "",
    }


def test_ingest_json_reports_what_it_did_and_is_idempotent(tmp_path: Path) -> None:
    env = env_for(tmp_path / "chroma")
    first = runner.invoke(app, ["ingest", "--json", str(LISTING)], env=env)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert set(report) >= {
        "documents_added",
        "documents_updated",
        "documents_unchanged",
        "documents_failed",
        "chunks_written",
        "chunks_deleted",
        "errors",
        "seconds",
    }
    assert report["documents_added"] == 30 and report["chunks_written"] == 30
    again = json.loads(runner.invoke(app, ["ingest", "--json", str(LISTING)], env=env).stdout)
    assert again["documents_unchanged"] == 30 and again["chunks_written"] == 0


def test_ingest_with_a_bad_file_exits_non_zero_and_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"title": {"rendered": "VP of', encoding="utf-8")
    result = runner.invoke(
        app, ["ingest", "--json", str(LISTING), str(bad)], env=env_for(tmp_path / "chroma")
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["documents_added"] == 30 and report["documents_failed"] == 1
    assert report["errors"][0]["source"].endswith("broken.json")
    assert "broken.json" in report["errors"][0]["message"]


HEADINGS_ONLY = (
    "# VP of Data and AI\n\n## 1) Role Summary\n\n## 3) Core Responsibilities\n\n"
    "## 7) KPIs and Productivity Metrics\n"
)


def test_ingest_heading_only_page_is_one_error_and_the_rest_is_ingested(tmp_path: Path) -> None:
    empty = tmp_path / "headings-only.md"
    empty.write_text(HEADINGS_ONLY, encoding="utf-8")
    result = runner.invoke(
        app, ["ingest", "--json", str(empty), str(LISTING)], env=env_for(tmp_path / "chroma")
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["documents_added"] == 30 and report["documents_failed"] == 1
    (error,) = report["errors"]
    assert error["source"].endswith("headings-only.md")
    assert error["message"].startswith(str(empty))
    assert "has section headings but no text under any of them" in error["message"]


def test_ingest_posts_list_with_a_broken_post_ingests_the_others(tmp_path: Path) -> None:
    posts = json.loads((FIXTURES / "posts-list.wordpress.json").read_text("utf-8"))
    hello = json.loads((FIXTURES / "bad" / "hello-world-post.json").read_text("utf-8"))
    source = tmp_path / "posts.json"
    source.write_text(json.dumps([posts[0], hello, posts[1]]), encoding="utf-8")
    env = env_for(tmp_path / "chroma")
    result = runner.invoke(app, ["ingest", "--json", str(source)], env=env)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["documents_added"] == 2 and report["documents_failed"] == 1
    (error,) = report["errors"]
    assert error["source"].endswith("posts.json")
    assert f"{source}: post 2 (id 301, Hello world!) is not a blueprint" in error["message"]
    roles = json.loads(runner.invoke(app, ["roles", "--json"], env=env).stdout)
    assert sorted(r["id"] for r in roles) == ["director-of-sre", "head-of-devops"]


def test_ingest_if_empty_skips_a_populated_index(bundled_settings: Settings) -> None:
    result = runner.invoke(app, ["ingest", "--if-empty"], env=env_for(bundled_settings.store_dir))
    assert result.exit_code == 0 and "nothing to ingest" in result.output


def test_roles_json_lists_all_31_roles(bundled_settings: Settings) -> None:
    result = runner.invoke(app, ["roles", "--json"], env=env_for(bundled_settings.store_dir))
    assert result.exit_code == 0
    roles = json.loads(result.stdout)
    assert len(roles) == 31
    assert set(roles[0]) == {"role", "id", "aliases", "coverage", "sections", "source", "url"}
    vp = next(r for r in roles if r["id"] == "vp-of-data-and-ai")
    assert vp["coverage"] == "full" and len(vp["sections"]) == 20
    assert vp["url"].startswith("https://")


def test_ask_json_follows_the_answer_contract(bundled_settings: Settings) -> None:
    result = runner.invoke(
        app,
        ["ask", "--json", "What KPIs does the VP of Data and AI own?"],
        env=env_for(bundled_settings.store_dir),
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {"answer", "coverage", "roles", "citations", "trace", "timings_ms"} <= set(answer)
    assert answer["coverage"] == "answered" and answer["roles"] == ["VP of Data and AI"]
    citation = answer["citations"][0]
    assert {"n", "role", "section", "subsection", "source", "url", "quote"} <= set(citation)
    assert answer["trace"]["retrieved"][0]["chunk_id"]


def test_ask_reads_the_conversation_from_a_history_file(
    bundled_settings: Settings, tmp_path: Path
) -> None:
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "Tell me about the VP of Data and AI"},
                {"role": "assistant", "content": "..."},
            ]
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        ["ask", "--json", "--history-json", str(history), "and what are their KPIs?"],
        env=env_for(bundled_settings.store_dir),
    )
    answer = json.loads(result.stdout)
    assert answer["roles"] == ["VP of Data and AI"]
    assert answer["citations"][0]["section"] == "7) KPIs and Productivity Metrics"


def test_ask_prints_a_readable_answer_with_sources(bundled_settings: Settings) -> None:
    result = runner.invoke(
        app,
        ["ask", "What KPIs does a Director of SRE own?"],
        env=env_for(bundled_settings.store_dir),
    )
    assert result.exit_code == 0
    assert (
        "only a summary" in result.output
        and "Sources" in result.output
        and "coverage: partial" in result.output
    )


@pytest.mark.parametrize(("question", "message"), [("   ", "empty"), ("x" * 3000, "limit")])
def test_ask_refuses_bad_questions_with_a_message(
    bundled_settings: Settings, question: str, message: str
) -> None:
    result = runner.invoke(app, ["ask", question], env=env_for(bundled_settings.store_dir))
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_ask_on_an_empty_index_says_to_ingest(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ask", "What KPIs does the VP own?"], env=env_for(tmp_path / "chroma")
    )
    assert result.exit_code == 1 and "blueprints ingest" in result.output


def test_malformed_history_file_is_a_clear_error(
    bundled_settings: Settings, tmp_path: Path
) -> None:
    history = tmp_path / "history.json"
    history.write_text('[{"role": "robot"}]', encoding="utf-8")
    result = runner.invoke(
        app, ["ask", "--history-json", str(history), "hi"], env=env_for(bundled_settings.store_dir)
    )
    assert result.exit_code == 1 and "not a conversation" in result.output


def test_bad_configuration_is_reported_before_anything_runs(tmp_path: Path) -> None:
    env = env_for(tmp_path / "chroma") | {"BLUEPRINTS_LLM": "gpt4"}
    result = runner.invoke(app, ["roles"], env=env)
    assert result.exit_code == 2 and "BLUEPRINTS_LLM" in result.output
