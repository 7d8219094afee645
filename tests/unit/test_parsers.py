import codecs
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.models import Block, Blueprint, RoleCoverage, Section
from ingest.errors import SourceError
from ingest.parsers import detect_format, parse_source
from ingest.parsers.common import role_id, role_title

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "data" / "blueprints"
FIXTURES = ROOT / "tests" / "fixtures"
VP_SEED = SEEDS / "vp-of-data-and-ai.wordpress.json"
LISTING_SEED = SEEDS / "engineering-leadership-roles.listing.txt"
SAVED_PAGE = FIXTURES / "saved-page-director-of-sre.html"
NOISY_MARKDOWN = FIXTURES / "noisy-export-cloud-director.md"
UNNUMBERED_MARKDOWN = FIXTURES / "unnumbered-sre.md"
CATEGORY_LISTING = FIXTURES / "category-listing.html"
POSTS_LIST = FIXTURES / "posts-list.wordpress.json"

VP_SECTION_TITLES = [
    "Role Summary",
    "Role Mission",
    "Core Responsibilities",
    "Day-to-Day Activities",
    "Key Deliverables",
    "Goals, Objectives, and Milestones",
    "KPIs and Productivity Metrics",
    "Technical Skills Required",
    "Soft Skills and Behavioral Capabilities",
    "Tools, Platforms, and Software",
    "Typical Tech Stack / Environment",
    "Stakeholders and Collaboration Map",
    "Decision Rights and Scope of Authority",
    "Required Experience and Qualifications",
    "Career Path and Progression",
    "Risks, Challenges, and Failure Modes",
    "Role Variants",
    "AI / Automation Impact on the Role",
    "Hiring Evaluation Criteria",
    "Final Role Scorecard Summary",
]
# Site chrome in the saved page and the Markdown export; none of it may reach a block.
CHROME_PHRASES = [
    "Skip to content",
    "cookies",
    "Accept",
    "Certification Courses",
    "DevOpsSchool",
    "Advertisement",
    "Sponsored",
    "Hidden tracking text",
    "Table of Contents",
    "Share on",
    "Share this",
    "Related",
    "Head of DevOps",
    "Director of Cloud Engineering",
    "Leave a Reply",
    "email address will not be published",
    "Posted on",
    "Posted in",
    "Popular Tools",
    "Terraform Tutorial",
    "Subscribe",
    "©",
    "All rights reserved",
    "Privacy Policy",
]


def parse_one(path: Path) -> Blueprint:
    blueprints = parse_source(path)
    assert len(blueprints) == 1
    return blueprints[0]


def block_texts(blueprint: Blueprint) -> list[str]:
    texts: list[str] = []
    for section in blueprint.sections:
        texts.append(section.subsection)
        for block in section.blocks:
            texts.append(block.text)
            texts.extend(block.items)
            if block.table is not None:
                texts.extend(block.table.header)
                texts.extend(cell for row in block.table.rows for cell in row)
    return texts


def find_section(blueprint: Blueprint, number: int, subsection: str = "") -> Section:
    matches = [
        s
        for s in blueprint.sections
        if s.number == number and s.subsection.startswith(subsection)
        if subsection or not s.subsection
    ]
    assert matches, f"no section {number} / {subsection!r}"
    return matches[0]


def blocks_of(section: Section, kind: str) -> list[Block]:
    return [block for block in section.blocks if block.kind == kind]


@pytest.fixture(scope="module")
def vp() -> Blueprint:
    return parse_one(VP_SEED)


@pytest.fixture(scope="module")
def listing() -> list[Blueprint]:
    return parse_source(LISTING_SEED)


# --- the WordPress seed -------------------------------------------------------------------


def test_wordpress_seed_is_a_full_blueprint_with_its_metadata(vp: Blueprint) -> None:
    assert vp.role == "VP of Data and AI"
    assert vp.role_id == "vp-of-data-and-ai"
    assert vp.coverage is RoleCoverage.FULL
    assert vp.source == str(VP_SEED)
    assert vp.url == (
        "https://www.devopsschool.com/blog/"
        "vp-of-data-and-ai-role-blueprint-responsibilities-skills-kpis-and-career-path/"
    )
    assert vp.modified == datetime(2026, 4, 15, 19, 33, 30, tzinfo=UTC)


def test_wordpress_seed_has_twenty_numbered_sections_with_their_titles(vp: Blueprint) -> None:
    titles = {section.number: section.title for section in vp.sections}
    assert sorted(titles) == list(range(1, 21))
    assert [titles[n] for n in range(1, 21)] == VP_SECTION_TITLES
    keys = {section.number: section.key for section in vp.sections}
    assert keys[7] == "kpis"
    assert keys[20] == "scorecard"
    assert len(set(keys.values())) == 20


def test_subsections_share_their_section_number_title_and_key(vp: Blueprint) -> None:
    goals = [s for s in vp.sections if s.number == 6]
    assert {(s.title, s.key) for s in goals} == {("Goals, Objectives, and Milestones", "goals")}
    assert [s.subsection for s in goals][:3] == [
        "30-day goals (orientation and diagnosis)",
        "60-day goals (alignment and early wins)",
        "90-day goals (operating model in motion)",
    ]


def test_section_that_starts_with_a_subsection_has_no_empty_own_part(vp: Blueprint) -> None:
    responsibilities = [s for s in vp.sections if s.number == 3]
    assert all(s.subsection and s.blocks for s in responsibilities)


def test_kpi_table_keeps_all_22_rows_and_the_five_column_header(vp: Blueprint) -> None:
    tables = blocks_of(find_section(vp, 7), "table")
    assert len(tables) == 1
    table = tables[0].table
    assert table is not None
    assert table.header == [
        "Metric name",
        "What it measures",
        "Why it matters",
        "Example target / benchmark",
        "Frequency",
    ]
    assert len(table.rows) == 22
    assert all(len(row) == 5 for row in table.rows)
    assert table.rows[0][0] == "Roadmap delivery predictability"


def test_thirty_day_goals_subsection_lists_its_bullets(vp: Blueprint) -> None:
    goals = find_section(vp, 6, "30-day goals")
    items = [item for block in blocks_of(goals, "bullets") for item in block.items]
    assert items[0] == "Establish credibility and situational awareness:"
    assert "Decide what to stop, start, and continue" in items
    assert len(items) == 11


def test_en_dash_pseudo_bullets_become_bullet_items(vp: Blueprint) -> None:
    summary = find_section(vp, 1)
    lead = [b.text for b in blocks_of(summary, "paragraph")]
    assert "Typical teams and functions this role interacts with include:" in lead
    bullets = blocks_of(summary, "bullets")
    assert (
        bullets[0].items[0]
        == "Product Management (especially AI product managers and platform PMs)"
    )
    assert len(bullets[0].items) == 8
    # The seed writes ranges as "3–5" and uses "– " only to start a pseudo-bullet.
    assert not any("– " in text for text in block_texts(vp))


def test_pseudo_bullets_inside_list_items_follow_their_lead_item(vp: Blueprint) -> None:
    soft_skills = find_section(vp, 9)
    items = blocks_of(soft_skills, "bullets")[0].items
    assert items[:2] == [
        "Strategic clarity and prioritization",
        "Why it matters: Data and AI demand investment across platform, product, and risk "
        "controls; misprioritization is costly.",
    ]


def test_nested_list_items_are_flattened_in_reading_order(vp: Blueprint) -> None:
    exercises = find_section(vp, 19, "Practical exercises")
    items = blocks_of(exercises, "bullets")[0].items
    start = items.index("Evaluate a proposed GenAI feature:")
    assert items[start + 1 : start + 3] == [
        "Define evaluation plan, monitoring, rollback, and safety mitigations",
        "Identify data risks and privacy controls",
    ]


def test_symbols_and_comparisons_survive_verbatim(vp: Blueprint) -> None:
    text = "\n".join(block_texts(vp))
    for phrase in [
        "≥ 99%",
        "Tier-1 MTTR < 2 hours (context-specific)",
        "75–85% delivered",
        "e.g., <2 Sev-1 per quarter",
        "explicit “not doing” list",
        "today’s organizations",
        "Data & AI",
    ]:
        assert phrase in text
    assert "&lt;" not in text
    assert "&amp;" not in text


def test_bold_text_is_plain_and_whitespace_is_collapsed(vp: Blueprint) -> None:
    for text in block_texts(vp):
        assert "**" not in text
        assert "<strong>" not in text
        assert text == " ".join(text.split())


# --- the listing seed ---------------------------------------------------------------------


def test_listing_page_yields_thirty_summary_roles(listing: list[Blueprint]) -> None:
    assert len(listing) == 30
    assert listing[0].role == "Head of Engineering"
    assert listing[-1].role == "Build and Release Manager"
    for blueprint in listing:
        assert blueprint.coverage is RoleCoverage.SUMMARY
        assert blueprint.source == str(LISTING_SEED)
        assert [(s.number, s.title, s.key) for s in blueprint.sections] == [
            (0, "Role Summary", "summary")
        ]


def test_listing_keeps_director_of_sre_and_site_reliability_engineering_apart(
    listing: list[Blueprint],
) -> None:
    by_role = {blueprint.role: blueprint.role_id for blueprint in listing}
    assert by_role["Director of SRE"] == "director-of-sre"
    assert by_role["Director of Site Reliability Engineering"] == (
        "director-of-site-reliability-engineering"
    )
    assert len({blueprint.role_id for blueprint in listing}) == 30


def test_listing_summaries_are_plain_text_without_read_more(listing: list[Blueprint]) -> None:
    for blueprint in listing:
        (block,) = blueprint.sections[0].blocks
        assert block.kind == "paragraph"
        assert block.text.startswith(f"The {blueprint.role}")
        assert "Read more" not in block.text
        assert "»" not in block.text
        assert "**" not in block.text
    head_of_devops = next(b for b in listing if b.role == "Head of DevOps")
    assert "balancing speed of delivery, reliability, security, and cost efficiency" in (
        head_of_devops.sections[0].blocks[0].text
    )


# --- format detection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "new_name", "coverage", "count"),
    [
        (VP_SEED, "vp.md", RoleCoverage.FULL, 1),
        (VP_SEED, "vp.html", RoleCoverage.FULL, 1),
        (LISTING_SEED, "roles.html", RoleCoverage.SUMMARY, 30),
        (LISTING_SEED, "roles.json", RoleCoverage.SUMMARY, 30),
        (SAVED_PAGE, "page.md", RoleCoverage.FULL, 1),
        (NOISY_MARKDOWN, "export.html", RoleCoverage.FULL, 1),
        (CATEGORY_LISTING, "category.txt", RoleCoverage.SUMMARY, 3),
    ],
)
def test_format_detection_ignores_the_extension(
    tmp_path: Path, source: Path, new_name: str, coverage: RoleCoverage, count: int
) -> None:
    copy = tmp_path / new_name
    shutil.copyfile(source, copy)
    renamed = parse_source(copy)
    original = parse_source(source)
    assert len(renamed) == count
    assert {b.coverage for b in renamed} == {coverage}
    assert [b.sections for b in renamed] == [b.sections for b in original]
    assert renamed[0].source == str(copy)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id": 1', "wordpress"),
        ('\n  [\n {"id": 1}]', "wordpress"),
        ("[]", "wordpress"),
        ("[Skip to content](#main)\n\n## 1) Role Summary", "markdown"),
        ("<!doctype html><html><body># not a heading</body></html>", "html"),
        ('<h2 class="wp-block-heading">1) Role Summary</h2>', "html"),
        ("<!-- exported -->\n# VP of Data\n\n## 1) Role Summary", "markdown"),
        ("Head of DevOps: Role Blueprint\n\nThe Head of DevOps leads.", "markdown"),
    ],
)
def test_detect_format_reads_the_content(text: str, expected: str) -> None:
    assert detect_format(text) == expected


def test_utf16_text_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    copy = tmp_path / "listing-from-powershell.txt"
    copy.write_bytes(codecs.BOM_UTF16_LE + LISTING_SEED.read_text("utf-8").encode("utf-16-le"))
    assert len(parse_source(copy)) == 30


# --- saved HTML page ----------------------------------------------------------------------


def test_saved_html_page_keeps_the_article_sections_and_metadata() -> None:
    page = parse_one(SAVED_PAGE)
    assert page.role == "Director of SRE"
    assert page.role_id == "director-of-sre"
    assert page.coverage is RoleCoverage.FULL
    assert page.url == "https://www.devopsschool.com/blog/director-of-sre-role-blueprint/"
    assert page.modified == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert [(s.number, s.key, s.subsection) for s in page.sections] == [
        (1, "summary", ""),
        (3, "responsibilities", "Strategic responsibilities"),
        (3, "responsibilities", "Operational responsibilities"),
        (7, "kpis", ""),
        (20, "scorecard", ""),
    ]


def test_saved_html_page_keeps_tables_bullets_and_symbols() -> None:
    page = parse_one(SAVED_PAGE)
    kpi_table = blocks_of(find_section(page, 7), "table")[0].table
    assert kpi_table is not None
    assert kpi_table.header == ["Metric name", "What it measures", "Example target / benchmark"]
    assert [row[2] for row in kpi_table.rows] == [
        "≥ 99% of SLOs met each quarter",
        "Tier-1 MTTR < 1 hour",
        "10–15% or lower",
    ]
    # A header row made of <th> cells in <tbody> is still the header.
    scorecard = blocks_of(find_section(page, 20), "table")[0].table
    assert scorecard is not None
    assert scorecard.header == ["Category", "Summary"]
    assert len(scorecard.rows) == 2
    summary = find_section(page, 1)
    assert blocks_of(summary, "bullets")[0].items == [
        "Product Engineering (service ownership and error budgets)",
        "Security & Compliance (audit evidence, access reviews)",
    ]
    # The non-breaking hyphen becomes the hyphen a user types.
    assert "customer-facing production systems" in blocks_of(summary, "paragraph")[0].text
    operational = find_section(page, 3, "Operational")
    assert blocks_of(operational, "bullets")[0].items == [
        "Run the weekly reliability review:",
        "Error budget burn per service",
        "Top recurring incident causes",
        "Approve production readiness for launches",
    ]


def test_saved_html_page_drops_site_chrome() -> None:
    texts = block_texts(parse_one(SAVED_PAGE))
    for phrase in CHROME_PHRASES:
        assert not any(phrase in text for text in texts), phrase


# --- Markdown -----------------------------------------------------------------------------


def test_markdown_export_keeps_sections_bullets_table_and_metadata() -> None:
    export = parse_one(NOISY_MARKDOWN)
    assert export.role == "Cloud Director"
    assert export.url == "https://www.devopsschool.com/blog/cloud-director-role-blueprint/"
    assert export.modified == datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
    assert [(s.number, s.subsection) for s in export.sections] == [
        (1, ""),
        (3, "Strategic responsibilities"),
        (3, "Operational responsibilities"),
        (7, ""),
        (10, ""),
    ]
    summary = find_section(export, 1)
    assert blocks_of(summary, "paragraph")[0].text.startswith("The Cloud Director is the senior")
    assert blocks_of(summary, "bullets")[0].items[0] == (
        "Platform Engineering (landing zones, shared services)"
    )
    strategic = find_section(export, 3, "Strategic")
    assert blocks_of(strategic, "bullets")[0].items[0] == (
        "Set the multi-cloud strategy aligned to product and cost goals."
    )
    operational = find_section(export, 3, "Operational")
    assert blocks_of(operational, "bullets")[0].items == [
        "Run the cloud operating rhythm:",
        "Monthly cost reviews with Finance",
        "Quarterly capacity planning",
        "Own escalation for cloud platform outages",
    ]
    table = blocks_of(find_section(export, 7), "table")[0].table
    assert table is not None
    assert table.header == [
        "Metric name",
        "What it measures",
        "Example target / benchmark",
        "Frequency",
    ]
    assert [row[2] for row in table.rows] == [
        "≥ 99.95% monthly",
        "Within ±5% of forecast",
        "< 1 day for standard stacks",
    ]


def test_noisy_markdown_export_drops_site_chrome() -> None:
    texts = block_texts(parse_one(NOISY_MARKDOWN))
    for phrase in CHROME_PHRASES:
        assert not any(phrase in text for text in texts), phrase


def test_unnumbered_headings_with_blueprint_titles_parse_as_a_full_blueprint() -> None:
    blueprint = parse_one(UNNUMBERED_MARKDOWN)
    assert blueprint.role == "Site Reliability Engineer"
    assert blueprint.coverage is RoleCoverage.FULL
    assert blueprint.url == "https://example.com/blueprints/site-reliability-engineer"
    assert blueprint.modified == datetime(2026, 1, 20, tzinfo=UTC)
    assert [(s.number, s.title, s.key) for s in blueprint.sections] == [
        (0, "Role Summary", "summary"),
        (0, "Core Responsibilities", "responsibilities"),
        (0, "KPIs and Productivity Metrics", "kpis"),
        (0, "Career Path and Progression", "career_path"),
    ]
    # "Further reading" is not a blueprint section, so its links are not in the last one.
    assert "Google SRE book" not in "\n".join(block_texts(blueprint))


# --- HTML listing and lists of posts ------------------------------------------------------


def test_html_category_listing_takes_each_role_url_from_its_link() -> None:
    roles = parse_source(CATEGORY_LISTING)
    assert [(r.role, r.url) for r in roles] == [
        ("Head of DevOps", "https://www.devopsschool.com/blog/head-of-devops-role-blueprint/"),
        ("Director of SRE", "https://www.devopsschool.com/blog/director-of-sre-role-blueprint/"),
        ("Cloud Director", "https://www.devopsschool.com/blog/cloud-director-role-blueprint/"),
    ]
    assert {r.coverage for r in roles} == {RoleCoverage.SUMMARY}
    assert roles[0].modified == datetime(2026, 4, 12, 11, 30, tzinfo=UTC)


def test_html_category_listing_summaries_exclude_read_more_and_sidebar() -> None:
    roles = parse_source(CATEGORY_LISTING)
    summaries = [[b.text for b in r.sections[0].blocks] for r in roles]
    assert summaries == [
        [
            "The Head of DevOps is the senior leader accountable for how software is built, "
            "released & operated."
        ],
        ["The Director of SRE leads the strategy and execution of Site Reliability Engineering."],
        [
            "The Cloud Director is accountable for cloud strategy, spend and reliability.",
            "This role partners with Finance on unit economics.",
        ],
    ]


def test_markdown_listing_takes_urls_from_links_and_needs_no_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "roles.md",
        "## [Head of DevOps: Role Blueprint, Responsibilities, Skills, KPIs, and Career Path]"
        "(https://example.com/head-of-devops/)\n\n"
        "Posted on April 10, 2026\n\n"
        "The **Head of DevOps** leads delivery.\n"
        "[Read more »](https://example.com/head-of-devops/)\n\n"
        "Director of SRE: Role Blueprint, Responsibilities, Skills, KPIs, and Career Path\n"
        "The Director of SRE leads reliability.\n"
        "[Continue reading →](https://example.com/director-of-sre/)\n".encode(),
    )
    roles = parse_source(path)
    assert [(r.role, r.url, [b.text for b in r.sections[0].blocks]) for r in roles] == [
        (
            "Head of DevOps",
            "https://example.com/head-of-devops/",
            ["The Head of DevOps leads delivery."],
        ),
        (
            "Director of SRE",
            "https://example.com/director-of-sre/",
            ["The Director of SRE leads reliability."],
        ),
    ]


def test_wordpress_list_of_posts_yields_one_blueprint_per_post() -> None:
    posts = parse_source(POSTS_LIST)
    assert [(p.role, p.role_id, p.coverage) for p in posts] == [
        ("Head of DevOps", "head-of-devops", RoleCoverage.FULL),
        ("Director of SRE", "director-of-sre", RoleCoverage.FULL),
    ]
    head = posts[0]
    assert find_section(head, 6, "30-day goals").blocks[0].items == [
        "Map the delivery pipeline",
        "Meet every team lead",
    ]
    table = blocks_of(find_section(head, 7), "table")[0].table
    assert table is not None
    assert table.rows[1] == ["Lead time for changes", "< 1 day"]
    assert "“reliability as a feature”" in find_section(posts[1], 1).blocks[0].text


# --- titles and ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "role"),
    [
        (
            "Director of SRE: Role Blueprint, Responsibilities, Skills, KPIs, and Career Path",
            "Director of SRE",
        ),
        ("Director of SRE – Role Blueprint, Responsibilities, Skills", "Director of SRE"),
        ("Director of SRE - role blueprint", "Director of SRE"),
        ("Director of SRE: Role Blueprint | DevOpsSchool.com", "Director of SRE"),
        ("Director of SRE | DevOpsSchool.com", "Director of SRE"),
        ("  VP of   Data\u00a0and AI  ", "VP of Data and AI"),
    ],
)
def test_role_title_drops_the_blueprint_and_site_suffixes(raw: str, role: str) -> None:
    assert role_title(raw) == role


@pytest.mark.parametrize(
    ("role", "slug"),
    [
        ("VP of Data and AI", "vp-of-data-and-ai"),
        ("VP of Data & AI", "vp-of-data-and-ai"),
        ("Head of AI / ML Platform", "head-of-ai-ml-platform"),
        ("Développeur Principal", "developpeur-principal"),
    ],
)
def test_role_id_is_a_stable_slug(role: str, slug: str) -> None:
    assert role_id(role) == slug


# --- bad inputs ---------------------------------------------------------------------------


def _bad_fixture(name: str) -> Path:
    return FIXTURES / "bad" / name


@pytest.mark.parametrize(
    ("make", "hint"),
    [
        (lambda tmp: tmp / "missing.json", "check the path"),
        (lambda tmp: tmp, "pass a blueprint file"),
        (lambda tmp: _write(tmp / "empty.md", b""), "is empty; expected WordPress"),
        (lambda tmp: _write(tmp / "blank.html", b" \n\t\n"), "is empty; expected WordPress"),
        (
            lambda tmp: _write(tmp / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
            "binary data (NUL bytes), not text; expected WordPress",
        ),
        (
            lambda tmp: _write(tmp / "latin1.md", "## 1) Résumé du rôle".encode("latin-1")),
            "re-save it as UTF-8",
        ),
        (lambda tmp: _bad_fixture("truncated.wordpress.json"), "download the post again"),
        (lambda tmp: _bad_fixture("wordpress-error.json"), "Invalid post ID."),
        (lambda tmp: _bad_fixture("empty-list.json"), "expected the JSON of /wp-json/wp/v2/posts"),
        (lambda tmp: _bad_fixture("hello-world-post.json"), "export a role blueprint post"),
        (lambda tmp: _bad_fixture("404.html"), "expected WordPress post JSON"),
        (lambda tmp: _bad_fixture("plain-article.html"), "expected WordPress post JSON"),
        (lambda tmp: _bad_fixture("meeting-notes.md"), "expected WordPress post JSON"),
        (
            lambda tmp: _write(tmp / "list.json", b'[{"title": {"rendered": "x"}}]'),
            "needs title.rendered and content.rendered",
        ),
        (
            lambda tmp: _write(
                tmp / "mixed-posts.json",
                json.dumps(
                    [
                        json.loads(POSTS_LIST.read_text("utf-8"))[0],
                        json.loads(_bad_fixture("hello-world-post.json").read_text("utf-8")),
                    ]
                ).encode(),
            ),
            "post 2 (Hello world!) is not a blueprint",
        ),
        (
            lambda tmp: _write(
                tmp / "untitled.md",
                b"## 1) Role Summary\n\nx\n\n## 3) Core Responsibilities\n\nx\n\n## 7) KPIs\n\nx\n",
            ),
            "add an <h1>",
        ),
    ],
    ids=[
        "missing",
        "directory",
        "empty",
        "whitespace",
        "binary",
        "not-utf8",
        "truncated-json",
        "wordpress-error",
        "empty-post-list",
        "post-not-a-blueprint",
        "404-page",
        "plain-article",
        "plain-markdown",
        "json-not-a-post",
        "one-post-of-many-not-a-blueprint",
        "no-title",
    ],
)
def test_bad_input_raises_source_error_naming_the_file_and_the_fix(
    tmp_path: Path, make: Callable[[Path], Path], hint: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(SourceError) as raised:
        parse_source(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert hint in message
    assert raised.value.path == str(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
