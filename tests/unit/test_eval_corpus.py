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
PAYMENTS = "head of payments risk"
SUPPORT = "vp of customer support operations"
DEVEX = "director of developer experience"
CLINICAL = "head of clinical data management"
HELDOUT = {FLEET, QUALITY, PAYMENTS, SUPPORT, DEVEX, CLINICAL}
FIXTURES = [p for p in load_config().corpus_paths(PROJECT_ROOT) if FIXTURES_DIR in p.parents]


@pytest.fixture(scope="module")
def corpus() -> CorpusText:
    return default_corpus()


def whole(text: RoleText) -> str:
    return "\n".join(v for variants in text.whole for v in variants)


def test_corpus_holds_the_bundled_roles_and_every_fixture(corpus: CorpusText) -> None:
    assert len(corpus.roles) == 37
    assert corpus.full_roles == {"vp of data and ai", *HELDOUT}
    assert corpus.heldout_roles == HELDOUT
    assert corpus.roles["head of engineering"].summary


def test_bundled_blueprint_has_every_template_section(corpus: CorpusText) -> None:
    keys = [s.key for s in corpus.roles["vp of data and ai"].sections]
    assert keys == list(TEMPLATE_SECTIONS)


# The newer fixtures split the goals in two (the first 90 days, six and twelve months), and
# the blind ones the skills too (technical, soft) with the tech stack apart.
@pytest.mark.parametrize(
    ("role", "count"),
    [(FLEET, 20), (QUALITY, 20), (PAYMENTS, 21), (SUPPORT, 21), (DEVEX, 21), (CLINICAL, 21)],
)
def test_fixtures_cover_the_template_topics_under_headings_of_their_own(
    corpus: CorpusText, role: str, count: int
) -> None:
    sections = corpus.roles[role].sections
    assert len(sections) == count
    assert all(s.key is None for s in sections)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_say_they_are_fictional(path: Path) -> None:
    assert "FICTIONAL TEST FIXTURE" in path.read_text(encoding="utf-8")[:600]


def test_every_fixture_is_in_the_eval_corpus() -> None:
    assert sorted(p.suffix for p in FIXTURES) == [".html", ".html", ".json", ".json", ".md", ".md"]


@pytest.mark.parametrize("role", sorted(HELDOUT))
def test_site_chrome_is_not_read_as_content(corpus: CorpusText, role: str) -> None:
    text = whole(corpus.roles[role])
    chrome = ("cookie", "share on", "share this", "related", "leave a reply", "advertisement")
    for phrase in (*chrome, "sponsored", "subscribe", "become a member", "salary"):
        assert phrase not in text, phrase
    # Comments and inline ads carry claims the blueprint does not make.
    claims = ("210k", "165k", "240k", "150k", "fully remote", "sponsor visas", "relocation")
    for claim in (*claims, "one weekend a month", "track nps weekly", "pay report"):
        assert claim not in text, claim
    # A job-board ad, a stale table of contents, a page's callout and footer, a news post.
    for claim in ("135,000", "salary and benefits", "comp bands", "last edited", "lisbon"):
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


def test_definition_list_terms_are_one_item_with_their_descriptions(corpus: CorpusText) -> None:
    sections = {s.heading: s for s in corpus.roles[SUPPORT].sections}
    metrics = sections["How is success measured?"].items()
    assert len(metrics) == 14  # the intro paragraph and thirteen KPI cards
    assert sum(i.units for i in metrics) == 15
    assert (
        metrics[2].readings
        == (
            "first-contact resolution (fcr) | target 78% or more | reviewed weekly | solved with no "
            "repeat contact from the same customer about the same issue within 7 days.",
        )
        * 2
    )
    # A card of the tool grid is one list item: its category heading and its tools.
    tools = sections["What's in the toolkit?"].items()
    assert tools[2].readings[0] == "workforce management assembled, nice wfm, playvox"


def test_wordpress_content_is_read_without_plugin_chrome(corpus: CorpusText) -> None:
    payments = corpus.roles[PAYMENTS]
    assert payments.name == "Head of Payments Risk"  # `&#8211; Role Blueprint…` decoded, cut
    headings = [s.heading for s in payments.sections]
    assert headings[0] == "Snapshot"  # the table of contents above it is not a section
    assert headings[-1] == "Role scorecard at a glance"
    scorecard = payments.sections[-1]
    assert [p.name for p in scorecard.parts] == [""]  # no "Share this:" or "Related" part
    assert len(scorecard.items()) == 5
    toolkit = next(s for s in payments.sections if s.heading == "Toolkit")
    assert len(toolkit.items()) == 10  # the sponsored box after the list is dropped
    assert "stripe radar, sardine or featurespace aric" in toolkit.items()[1].readings[1]


def test_markdown_page_sections_are_setext_headings_and_subsections_bold_lines_and_toggles(
    corpus: CorpusText,
) -> None:
    devex = corpus.roles[DEVEX]
    assert devex.name == "Director of Developer Experience"  # its emoji dropped
    headings = [s.heading for s in devex.sections]
    assert headings[0] == "🧭 The role in one paragraph"  # properties and contents are not
    assert headings[-1] == "✅ Scorecard"
    sections = {s.name: s for s in devex.sections}
    assert [p.name for p in sections["your first 90 days"].parts] == [
        "",
        "Days 1–30 · Listen and measure",
        "Days 31–60 · Pick the biggest pain",
        "Days 61–90 · Commit to a roadmap",
    ]
    week = sections["a normal week"]
    assert [p.name for p in week.parts][1:] == [
        "Every day",
        "Every week",
        "Every month and quarter",
    ]
    assert not any("details" in i.readings[0] for i in week.items())
    kpis = sections["how we measure it"].items()
    assert sum(i.units for i in kpis) == 14  # two sentences, eleven rows, one sentence
    assert (
        kpis[2].readings[0]
        == "flaky test rate | share of test runs that fail and then pass on retry | < 1.5% | weekly"
    )
    ci = sections["what you'll own"].items({"build, ci and test speed"})
    assert "route quarantined tests to the owning team" in ci[1].readings[0]
    # The page's footer after the closing rule is no section's.
    assert sections["scorecard"].items()[-1].readings[0].startswith("partnership | 15%")


def test_a_list_of_posts_holds_only_its_blueprint_posts(corpus: CorpusText) -> None:
    clinical = corpus.roles[CLINICAL]
    assert clinical.name == "Head of Clinical Data Management"
    assert not any("lisbon" in key for key in corpus.roles)  # the news post is no role
    sections = {s.heading: s for s in clinical.sections}
    assert sections["Role Overview"] is clinical.sections[0]  # the table of contents is not
    accountabilities = sections["Key Accountabilities"]
    assert len(accountabilities.items()) == 17  # the job-board ad after them is dropped
    week = sections["A Typical Week"].items()
    assert [i.units for i in week] == [1, 4, 4, 4]  # a bold lead-in and three dash lines each
    scorecard = sections["Scorecard"]
    assert len(scorecard.items()) == 5  # no share buttons, no "You may also like"


def test_unknown_corpus_files_and_missing_sources_are_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.rst").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match=r"reads \.json, \.txt, \.html and \.md"):
        read_corpus([tmp_path])
    with pytest.raises(ValueError, match="no such corpus file or folder"):
        read_corpus([tmp_path / "missing"])
