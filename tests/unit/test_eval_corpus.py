"""The judge's own reading of the corpus: the fixtures' content without their site chrome."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT
from evals.check_gold import default_corpus
from evals.config import load_config
from evals.corpus import FIXTURES_DIR, CorpusText, RoleText, read_corpus
from evals.matching import TEMPLATE_SECTIONS

FLEET = "head of robotics fleet operations"
QUALITY = "director of quality engineering"
FIXTURES = [p for p in load_config().corpus_paths(PROJECT_ROOT) if FIXTURES_DIR in p.parents]


@pytest.fixture(scope="module")
def corpus() -> CorpusText:
    return default_corpus()


def whole(text: RoleText) -> str:
    return "\n".join(v for variants in text.whole for v in variants)


def test_corpus_holds_the_bundled_roles_and_both_fixtures(corpus: CorpusText) -> None:
    assert len(corpus.roles) == 33
    assert corpus.full_roles == {"vp of data and ai", FLEET, QUALITY}
    assert corpus.heldout_roles == {FLEET, QUALITY}
    assert corpus.roles["head of engineering"].summary


def test_bundled_blueprint_has_every_template_section(corpus: CorpusText) -> None:
    keys = [s.key for s in corpus.roles["vp of data and ai"].sections]
    assert keys == list(TEMPLATE_SECTIONS)


@pytest.mark.parametrize("role", [FLEET, QUALITY])
def test_fixtures_cover_the_template_topics_under_headings_of_their_own(
    corpus: CorpusText, role: str
) -> None:
    sections = corpus.roles[role].sections
    assert len(sections) == 20
    assert all(s.key is None for s in sections)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_say_they_are_fictional(path: Path) -> None:
    assert "FICTIONAL TEST FIXTURE" in path.read_text(encoding="utf-8")[:600]


def test_both_fixtures_are_in_the_eval_corpus() -> None:
    assert sorted(p.suffix for p in FIXTURES) == [".html", ".md"]


@pytest.mark.parametrize("role", [FLEET, QUALITY])
def test_site_chrome_is_not_read_as_content(corpus: CorpusText, role: str) -> None:
    text = whole(corpus.roles[role])
    for chrome in ("cookie", "share on", "related", "leave a reply", "advertisement", "salary"):
        assert chrome not in text, chrome
    # Comments carry claims the blueprint does not make.
    for claim in ("210k", "165k", "fully remote", "sponsor visas"):
        assert claim not in text, claim


def test_html_nested_lists_are_one_item_and_table_rows_are_items(corpus: CorpusText) -> None:
    owns = next(s for s in corpus.roles[FLEET].sections if s.heading == "What the role owns")
    running = next(p for p in owns.parts if p.name == "Running the fleet")
    assert len(running.items) == 4
    assert "declare the incident and name an incident lead" in running.items[1].readings[1]
    kpis = next(
        s for s in corpus.roles[FLEET].sections if s.heading == "Key Performance Indicators"
    )
    rows = [i for i in kpis.items() if " | " in i.readings[0]]
    assert len(kpis.items()) == 13  # the intro paragraph and twelve rows
    assert len(rows) == 12
    assert (
        rows[4].readings
        == (
            "mean time to repair (mttr) | time from a robot going out of service to taking missions "
            "again | <= 45 minutes for swap-and-go repairs | weekly",
        )
        * 2
    )


def test_markdown_sublists_tables_and_prose_are_read(corpus: CorpusText) -> None:
    sections = {s.heading: s for s in corpus.roles[QUALITY].sections}
    strategy = sections["Section 3 — Accountabilities"].items({"strategy"})
    assert len(strategy) == 3
    assert "end-to-end tests limited to critical user journeys" in strategy[0].readings[0]
    metrics = sections["Section 7 — Metrics that matter"].items()
    assert sum(i.units for i in metrics) == 13  # two sentences, eleven rows
    assert (
        metrics[1].readings[0]
        == "escaped defects | customer-reported defects per 1,000 deployments | <= 0.5 | monthly"
    )
    assert sections["Section 9 — Working style"].items()[0].units == 2


def test_unknown_corpus_files_and_missing_sources_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.rst").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"reads \.json, \.txt, \.html and \.md"):
        read_corpus([tmp_path])
    with pytest.raises(ValueError, match="no such corpus file or folder"):
        read_corpus([tmp_path / "missing"])
