import codecs
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.models import Block, Blueprint, ListItem, RoleCoverage, Section
from ingest.errors import SourceError
from ingest.parsers import detect_format, parse_source, parse_wordpress_post
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
    parsed = parse_source(path)
    assert parsed.problems == []
    assert len(parsed.blueprints) == 1
    return parsed.blueprints[0]


def parse_all(path: Path) -> list[Blueprint]:
    parsed = parse_source(path)
    assert parsed.problems == []
    return parsed.blueprints


def tree(items: list[ListItem]) -> list[tuple[str, list[str]]]:
    return [(item.text, item.children) for item in items]


def bullet_items(section: Section) -> list[ListItem]:
    return [item for block in blocks_of(section, "bullets") for item in block.items]


def block_texts(blueprint: Blueprint) -> list[str]:
    texts: list[str] = []
    for section in blueprint.sections:
        texts.append(section.subsection)
        for block in section.blocks:
            texts.append(block.text)
            for item in block.items:
                texts.append(item.text)
                texts.extend(item.children)
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
    return parse_all(LISTING_SEED)


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


def test_flat_list_items_ending_with_a_colon_take_the_items_after_them(vp: Blueprint) -> None:
    goals = find_section(vp, 6, "30-day goals")
    assert tree(bullet_items(goals)) == [
        (
            "Establish credibility and situational awareness:",
            [
                "Audit the current data landscape: sources, pipelines, tools, ownership, pain points",
                "Review current AI initiatives: status, value hypothesis, and risks",
            ],
        ),
        (
            "Build a baseline measurement system:",
            [
                "Current pipeline reliability (failure rates, MTTR)",
                "Current cost baseline (warehouse, compute, vendor spend)",
                "Current analytics trust indicators (data quality incidents, stakeholder satisfaction)",
            ],
        ),
        (
            "Identify top 5 risks:",
            ["Security/privacy gaps, single points of failure, ungoverned access, shadow AI usage"],
        ),
        (
            "Confirm immediate priorities with CTO/CPO:",
            ["Decide what to stop, start, and continue"],
        ),
    ]


def test_day_to_day_groups_are_one_item_each_with_their_activities(vp: Blueprint) -> None:
    daily = bullet_items(find_section(vp, 4, "Daily activities"))
    assert [item.text for item in daily] == [
        "Review health dashboards for:",
        "Triage escalations:",
        "Make rapid priority calls:",
        "Unblock teams:",
    ]
    assert daily[0].children == [
        "Data pipeline freshness, failures, and SLA breaches",
        "Model/AI service latency, error rates, token usage, and safety flags",
        "Cloud cost anomalies in warehouse, training, and inference",
    ]
    # A list with no colon items stays flat.
    rituals = bullet_items(find_section(vp, 4, "Recurring meetings"))
    assert len(rituals) == 6 and not any(item.children for item in rituals)


def test_en_dash_pseudo_bullets_become_bullet_items(vp: Blueprint) -> None:
    summary = find_section(vp, 1)
    lead = [b.text for b in blocks_of(summary, "paragraph")]
    assert "Typical teams and functions this role interacts with include:" in lead
    bullets = blocks_of(summary, "bullets")
    assert bullets[0].items[0] == ListItem(
        text="Product Management (especially AI product managers and platform PMs)"
    )
    assert len(bullets[0].items) == 8
    # The seed writes ranges as "3–5" and uses "– " only to start a pseudo-bullet.
    assert not any("– " in text for text in block_texts(vp))


def test_pseudo_bullets_inside_list_items_are_children_of_their_lead(vp: Blueprint) -> None:
    soft_skills = find_section(vp, 9)
    items = blocks_of(soft_skills, "bullets")[0].items
    assert len(items) == 8
    assert items[0].text == "Strategic clarity and prioritization"
    assert items[0].children[0] == (
        "Why it matters: Data and AI demand investment across platform, product, and risk "
        "controls; misprioritization is costly."
    )
    assert [child.split(":")[0] for child in items[0].children] == [
        "Why it matters",
        "How it shows up",
        "Strong performance looks like",
    ]


def test_technical_skill_keeps_its_description_and_use_in_role(vp: Blueprint) -> None:
    skills = bullet_items(find_section(vp, 8, "Must-have"))
    assert len(skills) == 10
    assert skills[0].text == "Data platform architecture (Critical)"
    assert skills[0].children == [
        "Description: Ability to design and evolve enterprise data architectures "
        "(warehouse/lake/lakehouse), ingestion patterns, transformation standards, and "
        "consumption layers.",
        "Use in role: Approving architectures, deprecating legacy patterns, ensuring "
        "scalability and governance.",
    ]


def test_indented_pseudo_bullets_are_children_of_the_bullet_above(vp: Blueprint) -> None:
    deliverables = [s for s in vp.sections if s.number == 5]
    strategy = blocks_of(deliverables[0], "bullets")[0].items
    assert tree(strategy) == [
        ("Data & AI strategy document (12–24 month view) and 3-year capability roadmap", []),
        (
            "Target-state architecture for:",
            [
                "Data platform (lake/warehouse/lakehouse patterns)",
                "Analytics layer (semantic/metrics layer)",
                "ML/MLOps and GenAI/LLMOps (model gateways, evaluation, monitoring)",
            ],
        ),
        ("Annual operating plan: headcount plan, budget, vendor strategy, and ROI model", []),
        ("Quarterly portfolio plan with prioritized initiatives and clear success metrics", []),
    ]
    # The bold line that titles the bullets is their subsection.
    assert deliverables[0].subsection == "Strategy and planning deliverables"
    assert [s.subsection for s in deliverables] == [
        "Strategy and planning deliverables",
        "Platform and engineering deliverables",
        "Governance and risk deliverables",
        "Business and enablement deliverables",
    ]


def test_nested_list_items_are_children_of_their_parent_item(vp: Blueprint) -> None:
    exercises = bullet_items(find_section(vp, 19, "Practical exercises"))
    parent = next(item for item in exercises if item.text == "Evaluate a proposed GenAI feature:")
    assert parent.children == [
        "Define evaluation plan, monitoring, rollback, and safety mitigations",
        "Identify data risks and privacy controls",
    ]
    # A list with a real nested list is not regrouped around its colon items.
    assert [item.text for item in exercises][-2:] == [
        "Case study 3: Cost crisis scenario",
        "Token/inference costs tripled after launch; propose containment actions, unit "
        "economics, and product adjustments.",
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
    renamed = parse_all(copy)
    original = parse_all(source)
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
    assert len(parse_all(copy)) == 30


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
    assert tree(blocks_of(summary, "bullets")[0].items) == [
        ("Product Engineering (service ownership and error budgets)", []),
        ("Security & Compliance (audit evidence, access reviews)", []),
    ]
    # The non-breaking hyphen becomes the hyphen a user types.
    assert "customer-facing production systems" in blocks_of(summary, "paragraph")[0].text
    operational = find_section(page, 3, "Operational")
    assert tree(blocks_of(operational, "bullets")[0].items) == [
        (
            "Run the weekly reliability review:",
            ["Error budget burn per service", "Top recurring incident causes"],
        ),
        ("Approve production readiness for launches", []),
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
    assert blocks_of(summary, "bullets")[0].items[0].text == (
        "Platform Engineering (landing zones, shared services)"
    )
    strategic = find_section(export, 3, "Strategic")
    assert blocks_of(strategic, "bullets")[0].items[0].text == (
        "Set the multi-cloud strategy aligned to product and cost goals."
    )
    operational = find_section(export, 3, "Operational")
    assert tree(blocks_of(operational, "bullets")[0].items) == [
        (
            "Run the cloud operating rhythm:",
            ["Monthly cost reviews with Finance", "Quarterly capacity planning"],
        ),
        ("Own escalation for cloud platform outages", []),
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


NOTION_PAGE = """Director of Widgets 🧰
=====================

Owner: Someone
Also called: Head of Widgets, Widget Lead

🧭 Role Summary
---------------

Owns the widgets.

📅 Day-to-Day
-------------

<details>
<summary><strong>Every week</strong></summary>

- Review the widget backlog.

</details>

🚀 30-60-90 Day Goals
---------------------

**Days 1–30 · Listen**

- Meet every team.

**Days 31–60 · Fix**

- Ship one fix.

⚠️ Risks
--------

<details>
<summary>Metrics theatre</summary>

Dashboards become targets.

</details>

***

Last edited by Someone · 👍 12
"""


def test_a_notion_export_keeps_toggles_and_bold_lines_as_subsections(tmp_path: Path) -> None:
    path = tmp_path / "widgets.md"
    path.write_text(NOTION_PAGE, encoding="utf-8")
    blueprint = parse_one(path)
    assert blueprint.role == "Director of Widgets"
    assert [(s.key, s.title, s.subsection) for s in blueprint.sections] == [
        ("summary", "Role Summary", ""),
        ("day_to_day", "Day-to-Day", "Every week"),
        ("goals", "30-60-90 Day Goals", "Days 1–30 · Listen"),
        ("goals", "30-60-90 Day Goals", "Days 31–60 · Fix"),
        ("risks", "Risks", "Metrics theatre"),
    ]
    assert [b.text for b in blueprint.sections[-1].blocks] == ["Dashboards become targets."]
    # The page's "Also called" property stays with the summary, where aliases are read from.
    assert [b.text for b in blueprint.sections[0].blocks] == [
        "Owns the widgets.",
        "Also called: Head of Widgets, Widget Lead.",
    ]


def test_a_sentence_in_bold_stays_a_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "widgets.md"
    path.write_text(
        NOTION_PAGE.replace("**Days 1–30 · Listen**", "**We listen first.**"), encoding="utf-8"
    )
    goals = [s for s in parse_one(path).sections if s.key == "goals"]
    assert goals[0].subsection == ""
    assert goals[0].blocks[0].text == "We listen first."


# --- HTML listing and lists of posts ------------------------------------------------------


def test_html_category_listing_takes_each_role_url_from_its_link() -> None:
    roles = parse_all(CATEGORY_LISTING)
    assert [(r.role, r.url) for r in roles] == [
        ("Head of DevOps", "https://www.devopsschool.com/blog/head-of-devops-role-blueprint/"),
        ("Director of SRE", "https://www.devopsschool.com/blog/director-of-sre-role-blueprint/"),
        ("Cloud Director", "https://www.devopsschool.com/blog/cloud-director-role-blueprint/"),
    ]
    assert {r.coverage for r in roles} == {RoleCoverage.SUMMARY}
    assert roles[0].modified == datetime(2026, 4, 12, 11, 30, tzinfo=UTC)


def test_html_category_listing_summaries_exclude_read_more_and_sidebar() -> None:
    roles = parse_all(CATEGORY_LISTING)
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
    roles = parse_all(path)
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
    posts = parse_all(POSTS_LIST)
    assert [(p.role, p.role_id, p.coverage) for p in posts] == [
        ("Head of DevOps", "head-of-devops", RoleCoverage.FULL),
        ("Director of SRE", "director-of-sre", RoleCoverage.FULL),
    ]
    head = posts[0]
    assert tree(find_section(head, 6, "30-day goals").blocks[0].items) == [
        ("Map the delivery pipeline", []),
        ("Meet every team lead", []),
    ]
    table = blocks_of(find_section(head, 7), "table")[0].table
    assert table is not None
    assert table.rows[1] == ["Lead time for changes", "< 1 day"]
    assert "“reliability as a feature”" in find_section(posts[1], 1).blocks[0].text


# --- nested lists -------------------------------------------------------------------------

_OTHER_SECTIONS_HTML = (
    "<h2>3) Core Responsibilities</h2><p>Owns it.</p><h2>7) KPIs</h2><p>Uptime.</p>"
)
_OTHER_SECTIONS_MD = "\n## 3) Core Responsibilities\n\nOwns it.\n\n## 7) KPIs\n\nUptime.\n"


def summary_items(tmp_path: Path, name: str, body: str) -> list[tuple[str, list[str]]]:
    """The bullets of section 1 of a small blueprint whose summary is `body`."""
    if name.endswith(".md"):
        text = f"# Director of Testing\n\n## 1) Role Summary\n\n{body}\n{_OTHER_SECTIONS_MD}"
    else:
        text = f"<h1>Director of Testing</h1><h2>1) Role Summary</h2>{body}{_OTHER_SECTIONS_HTML}"
    blueprint = parse_one(_write(tmp_path / name, text.encode()))
    return tree(bullet_items(find_section(blueprint, 1)))


def test_html_nested_lists_deeper_levels_flatten_into_the_top_item(tmp_path: Path) -> None:
    body = (
        "<ul><li>Run reviews:<ul><li>Weekly<ul><li>Monday</li></ul></li><li>Monthly</li></ul>"
        "</li><li>Hire well</li></ul>"
    )
    assert summary_items(tmp_path, "page.html", body) == [
        ("Run reviews:", ["Weekly", "Monday", "Monthly"]),
        ("Hire well", []),
    ]


def test_a_card_in_a_list_is_one_item_labelled_by_its_title(tmp_path: Path) -> None:
    body = (
        '<ul class="tool-grid"><li><h4>Telephony</h4><p>Talkdesk, Five9</p></li>'
        "<li><h4>Quality assurance</h4><p>MaestroQA</p></li></ul>"
    )
    assert summary_items(tmp_path, "page.html", body) == [
        ("Telephony: Talkdesk, Five9", []),
        ("Quality assurance: MaestroQA", []),
    ]


def test_a_definition_list_of_labelled_cards_is_a_table(tmp_path: Path) -> None:
    body = (
        "<dl><div><dt>Customer satisfaction</dt><dd><span>Target</span> 90% or more</dd>"
        "<dd><span>Reviewed</span> Weekly</dd><dd>Surveyed after each conversation.</dd></div>"
        "<div><dt>Cost per contact</dt><dd><span>Target</span> $4.80 or less</dd>"
        "<dd><span>Reviewed</span> Monthly</dd></div></dl>"
    )
    text = f"<h1>Director of Testing</h1><h2>1) Role Summary</h2>{body}{_OTHER_SECTIONS_HTML}"
    blueprint = parse_one(_write(tmp_path / "page.html", text.encode()))
    (table,) = [b.table for b in blocks_of(find_section(blueprint, 1), "table")]
    assert table is not None and table.header == ["Name", "Target", "Reviewed", "Notes"]
    assert table.rows == [
        ["Customer satisfaction", "90% or more", "Weekly", "Surveyed after each conversation."],
        ["Cost per contact", "$4.80 or less", "Monthly", ""],
    ]


def test_a_definition_list_without_labels_is_terms_with_their_descriptions(
    tmp_path: Path,
) -> None:
    body = "<dl><dt>SLO</dt><dd>A target for a service level.</dd><dt>Toil</dt><dd>Manual work.</dd></dl>"
    assert summary_items(tmp_path, "page.html", body) == [
        ("SLO: A target for a service level.", []),
        ("Toil: Manual work.", []),
    ]


def test_list_item_without_text_of_its_own_keeps_its_nested_items(tmp_path: Path) -> None:
    body = "<ol><li><ul><li>Plan<ul><li>Budget</li></ul></li><li>Ship</li></ul></li></ol>"
    assert summary_items(tmp_path, "page.html", body) == [("Plan", ["Budget"]), ("Ship", [])]


def test_pseudo_bullets_after_br_in_a_list_item_are_its_children(tmp_path: Path) -> None:
    body = (
        "<ol><li><strong>Data platform architecture (Critical)</strong><br/>\n"
        "   &#8211; <strong>Description:</strong> Designs data architectures.<br/>\n"
        "   &#8211; <strong>Use in role:</strong> Approves architectures.  </li>"
        "<li>Cost management</li></ol>"
    )
    assert summary_items(tmp_path, "page.html", body) == [
        (
            "Data platform architecture (Critical)",
            ["Description: Designs data architectures.", "Use in role: Approves architectures."],
        ),
        ("Cost management", []),
    ]


@pytest.mark.parametrize("indent", ["  ", "    "], ids=["two-spaces", "four-spaces"])
def test_markdown_nested_lists_are_children_of_their_item(tmp_path: Path, indent: str) -> None:
    body = f"- Run reviews:\n{indent}- Weekly\n{indent}{indent}- Monday\n{indent}- Monthly\n- Hire well"
    assert summary_items(tmp_path, "page.md", body) == [
        ("Run reviews:", ["Weekly", "Monday", "Monthly"]),
        ("Hire well", []),
    ]


def test_flat_list_groups_each_run_under_the_colon_item_before_it(tmp_path: Path) -> None:
    body = "<ul><li>Own the roadmap</li><li>Review:</li><li>Cost</li><li>Risk</li><li>Hire:</li><li>Leads</li></ul>"
    assert summary_items(tmp_path, "page.html", body) == [
        ("Own the roadmap", []),
        ("Review:", ["Cost", "Risk"]),
        ("Hire:", ["Leads"]),
    ]


@pytest.mark.parametrize(
    "items",
    [
        ["Budget:", "Vendors:", "Hiring:"],
        ["Own the roadmap", "Hire leads", "Report on:"],
    ],
    ids=["every-item-ends-with-colon", "only-the-last-ends-with-colon"],
)
def test_flat_list_where_colon_items_introduce_nothing_stays_flat(
    tmp_path: Path, items: list[str]
) -> None:
    body = "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
    assert summary_items(tmp_path, "page.html", body) == [(item, []) for item in items]


def test_paragraph_ending_with_a_colon_stays_a_paragraph_before_its_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "page.html",
        b"<h1>Director of Testing</h1><h2>1) Role Summary</h2><p>Works with:</p>"
        b"<ul><li>Product</li><li>Security</li></ul>" + _OTHER_SECTIONS_HTML.encode(),
    )
    summary = find_section(parse_one(path), 1)
    assert [block.kind for block in summary.blocks] == ["paragraph", "bullets"]
    assert summary.blocks[0].text == "Works with:"
    assert tree(summary.blocks[1].items) == [("Product", []), ("Security", [])]


def test_plain_strings_are_accepted_as_bullets_without_children() -> None:
    block = Block(kind="bullets", items=["Ship", ListItem(text="Plan", children=["Budget"])])
    assert tree(block.items) == [("Ship", []), ("Plan", ["Budget"])]


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


# --- bad parts of a good file -------------------------------------------------------------


def _posts(*posts: object) -> bytes:
    return json.dumps(list(posts)).encode()


def _good_posts() -> list[dict[str, object]]:
    posts: list[dict[str, object]] = json.loads(POSTS_LIST.read_text("utf-8"))
    return posts


def test_list_with_one_broken_post_gives_the_others_and_names_the_broken_one(
    tmp_path: Path,
) -> None:
    head, sre = _good_posts()
    hello = json.loads(_bad_fixture("hello-world-post.json").read_text("utf-8"))
    path = _write(tmp_path / "posts.json", _posts(head, hello, sre))
    parsed = parse_source(path)
    assert [b.role for b in parsed.blueprints] == ["Head of DevOps", "Director of SRE"]
    (problem,) = parsed.problems
    assert str(problem).startswith(f"{path}: post 2 (id 301, Hello world!) is not a blueprint")
    assert problem.path == str(path)


def test_list_post_that_is_not_a_post_is_named_by_its_position(tmp_path: Path) -> None:
    head, sre = _good_posts()
    path = _write(tmp_path / "posts.json", _posts(head, 42, {"id": 7, "title": "x"}, sre))
    parsed = parse_source(path)
    assert len(parsed.blueprints) == 2
    assert [problem.problem.split(";")[0] for problem in parsed.problems] == [
        "post 2 is not a WordPress post (it needs title.rendered and content.rendered)",
        "post 3 (id 7) is not a WordPress post (it needs title.rendered and content.rendered)",
    ]


def test_list_whose_every_post_is_broken_raises_naming_them(tmp_path: Path) -> None:
    hello = json.loads(_bad_fixture("hello-world-post.json").read_text("utf-8"))
    path = _write(tmp_path / "posts.json", _posts(hello, 42))
    with pytest.raises(SourceError) as raised:
        parse_source(path)
    assert str(raised.value).startswith(f"{path}: none of its 2 posts is a blueprint: post 1 (")
    assert "post 2 is not a WordPress post" in str(raised.value)


HEADINGS_ONLY_MD = (
    b"# VP of Data and AI\n\n## 1) Role Summary\n\n## 3) Core Responsibilities\n\n"
    b"### Strategic responsibilities\n\n## 7) KPIs and Productivity Metrics\n"
)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("headings-only.md", HEADINGS_ONLY_MD),
        (
            "headings-only.html",
            b"<h1>VP of Data and AI</h1><h2>1) Role Summary</h2><h2>3) Core Responsibilities"
            b"</h2><ul><li> </li></ul><h2>7) KPIs</h2><table><tr><td> </td></tr></table>",
        ),
    ],
)
def test_blueprint_with_headings_but_no_text_is_a_source_error(
    tmp_path: Path, name: str, data: bytes
) -> None:
    path = _write(tmp_path / name, data)
    with pytest.raises(SourceError) as raised:
        parse_source(path)
    assert str(raised.value) == (
        f"{path}: the blueprint (VP of Data and AI) has section headings but no text under any "
        "of them; save or export the complete blueprint, with its content, and ingest it again"
    )


def test_post_with_headings_but_no_text_in_a_list_is_a_problem_naming_it(tmp_path: Path) -> None:
    head, _ = _good_posts()
    empty = {
        "id": 99,
        "title": {"rendered": "VP of Data and AI: Role Blueprint"},
        "content": {
            "rendered": "<h2>1) Role Summary</h2><h2>3) Core Responsibilities</h2><h2>7) KPIs</h2>"
        },
    }
    parsed = parse_source(_write(tmp_path / "posts.json", _posts(head, empty)))
    assert [b.role for b in parsed.blueprints] == ["Head of DevOps"]
    assert parsed.problems[0].problem.startswith(
        "post 2 (id 99, VP of Data and AI: Role Blueprint) has section headings but no text"
    )


def test_blueprint_with_some_empty_sections_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "partial.md", HEADINGS_ONLY_MD + b"\nUptime above 99.9%.\n")
    blueprint = parse_one(path)
    assert [(s.number, bool(s.blocks)) for s in blueprint.sections] == [
        (1, False),
        (3, False),
        (7, True),
    ]


@pytest.mark.parametrize("title", [": Role Blueprint | DevOpsSchool", "🚀 – Role Blueprint"])
def test_blueprint_whose_title_names_no_role_is_a_source_error(tmp_path: Path, title: str) -> None:
    text = f"# {title}\n\n## 1) Role Summary\n\nTests.\n{_OTHER_SECTIONS_MD}"
    path = _write(tmp_path / "page.md", text.encode())
    with pytest.raises(SourceError, match="names no role; give it the role's name as title"):
        parse_source(path)


def test_title_without_latin_letters_keeps_its_own_letters_as_role_id() -> None:
    assert role_id("データエンジニア") == "データエンジニア"
    assert role_id("Chef de projet · データ") == "chef-de-projet"


def test_deeply_nested_json_is_a_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "deep.json", b"[" * 100_000)
    with pytest.raises(SourceError, match="nested too deeply"):
        parse_source(path)


@pytest.mark.parametrize(
    "markup",
    [
        "<span>" * 5000 + "deep text",
        "<ul><li>deep text" * 3000,
        "<p>" + "<b>" * 5000 + "deep text",
        "<div>" * 5000 + "deep text" + "</div>" * 5000,
    ],
    ids=["spans", "lists", "inline", "divs"],
)
def test_deeply_nested_html_keeps_its_text_without_recursion_error(
    tmp_path: Path, markup: str
) -> None:
    path = _write(
        tmp_path / "deep.html",
        b"<h1>Director of Testing</h1><h2>1) Role Summary</h2><p>Tests.</p>"
        + _OTHER_SECTIONS_HTML.encode()
        + markup.encode(),
    )
    assert "deep text" in "\n".join(block_texts(parse_one(path)))


# --- post identity ------------------------------------------------------------------------


def test_synced_post_is_identified_by_its_site_and_id() -> None:
    head, _ = _good_posts()
    post = {**head, "id": 4312}
    synced = parse_wordpress_post(
        post, source="https://example.com/?p=4312", origin="https://example.com"
    )
    assert (synced.post_id, synced.origin) == (4312, "https://example.com")
    assert synced.doc_id == "wp:https://example.com#4312"
    assert synced.source == "https://example.com/?p=4312"
    from_file = parse_wordpress_post(post, source="posts.json")
    assert (from_file.post_id, from_file.doc_id) == (4312, "head-of-devops:full")


@pytest.mark.parametrize("post_id", ["4312", True, -1, None])
def test_malformed_post_id_is_dropped_not_fatal(post_id: object) -> None:
    head, _ = _good_posts()
    blueprint = parse_wordpress_post({**head, "id": post_id}, source="x", origin="https://e.com")
    assert blueprint.post_id is None
    assert blueprint.doc_id == "head-of-devops:full"


def test_parse_wordpress_post_raises_source_error_naming_the_post() -> None:
    hello = json.loads(_bad_fixture("hello-world-post.json").read_text("utf-8"))
    with pytest.raises(SourceError) as raised:
        parse_wordpress_post(hello, source="https://example.com/wp-json/wp/v2/posts/301")
    assert str(raised.value).startswith(
        "https://example.com/wp-json/wp/v2/posts/301: the post (id 301, Hello world!) is not a"
    )


# --- regressions found by fuzzing (test_parser_fuzz.py) and review ---------------------


def test_json_with_a_second_byte_order_mark_is_still_json(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + "\ufeff".encode() + POSTS_LIST.read_bytes()
    roles = [b.role for b in parse_all(_write(tmp_path / "posts.json", data))]
    assert roles == ["Head of DevOps", "Director of SRE"]


def test_listing_skips_a_title_too_long_to_be_a_role(tmp_path: Path) -> None:
    junk = '{"id": 1, "title": "Head of DevOps: Role Blueprint", "x": "' + "y" * 200 + '"}'
    path = _write(
        tmp_path / "roles.txt",
        f"HTTP/1.1 200 OK\n\n{junk}\n\nDirector of SRE: Role Blueprint\n"
        "The Director of SRE leads reliability.\n".encode(),
    )
    assert [b.role for b in parse_all(path)] == ["Director of SRE"]


def test_front_matter_with_long_padded_lines_is_read(tmp_path: Path) -> None:
    # The old field pattern backtracked quadratically: this header took minutes to read.
    padding = " " * 100_000
    path = _write(
        tmp_path / "page.md",
        f"---\ntitle:{padding}Director of Testing{padding}\nnot a field{padding}x\n"
        f"url : https://example.com/testing\n---\n\n## 1) Role Summary\n\nTests.\n"
        f"{_OTHER_SECTIONS_MD}".encode(),
    )
    blueprint = parse_one(path)
    assert (blueprint.role, blueprint.url) == ("Director of Testing", "https://example.com/testing")


def test_pseudo_bullet_with_many_wrapped_lines_is_one_item(tmp_path: Path) -> None:
    body = "<p>Works with:\n&#8211; Product\n" + "and more\n" * 20_000 + "</p>"
    ((text, children),) = summary_items(tmp_path, "page.html", body)
    assert text.startswith("Product and more and more") and len(text) == len("Product") + 9 * 20_000
    assert children == []
