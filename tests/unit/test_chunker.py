from assistant.models import Block, Blueprint, ListItem, RoleCoverage, Section, Table
from ingest.chunker import chunk_blueprint, render_row

HEADER = ["Metric name", "What it measures", "Example target / benchmark", "Frequency"]


def blueprint(rows: int = 3, bullets: int = 3, role: str = "Director of Testing") -> Blueprint:
    table = Table(
        header=HEADER,
        rows=[[f"Metric {i}", f"measures {i}", f"≥ {90 + i}%", "Monthly"] for i in range(rows)],
    )
    return Blueprint(
        role=role,
        role_id="director-of-testing",
        coverage=RoleCoverage.FULL,
        source="tests/fixture.json",
        url="https://example.test/director-of-testing",
        sections=[
            Section(
                number=1,
                title="Role Summary",
                key="summary",
                blocks=[Block(kind="paragraph", text="Owns testing. Leads people.")],
            ),
            Section(
                number=6,
                title="Goals, Objectives, and Milestones",
                key="goals",
                subsection="30-day goals",
                blocks=[
                    Block(
                        kind="bullets",
                        items=[f"Goal number {i} for the first month" for i in range(bullets)],
                    )
                ],
            ),
            Section(
                number=7,
                title="KPIs and Productivity Metrics",
                key="kpis",
                blocks=[
                    Block(kind="paragraph", text="Targets vary."),
                    Block(kind="table", table=table),
                ],
            ),
        ],
    )


def test_every_chunk_starts_with_its_heading_path() -> None:
    chunks = chunk_blueprint(blueprint(), chunk_size=1000)
    assert chunks[0].text.startswith("Director of Testing > 1) Role Summary\n")
    goals = next(c for c in chunks if c.section_key == "goals")
    assert goals.text.startswith(
        "Director of Testing > 6) Goals, Objectives, and Milestones > 30-day goals\n"
    )
    assert goals.subsection == "30-day goals"
    assert goals.section == "6) Goals, Objectives, and Milestones"


def test_table_rows_name_their_columns_and_stay_out_of_prose_chunks() -> None:
    chunks = chunk_blueprint(blueprint(), chunk_size=1000)
    kpis = [c for c in chunks if c.section_key == "kpis"]
    assert [c.kind for c in kpis] == ["text", "table"]
    assert (
        "- Metric name: Metric 0 | What it measures: measures 0 | Example target / benchmark: ≥ 90% | Frequency: Monthly"
        in kpis[1].text
    )


def test_long_table_splits_between_rows_never_inside_one() -> None:
    bp = blueprint(rows=40)
    chunks = [c for c in chunk_blueprint(bp, chunk_size=400) if c.kind == "table"]
    assert len(chunks) > 1
    rows = [line for c in chunks for line in c.text.split("\n")[1:]]
    assert len(rows) == 40
    assert all(
        line.startswith("- Metric name: ") and line.endswith("| Frequency: Monthly")
        for line in rows
    )
    assert all(len(c.text.split("\n", 1)[1]) <= 400 for c in chunks)


def test_long_bullet_list_splits_at_bullet_boundaries() -> None:
    chunks = [
        c
        for c in chunk_blueprint(blueprint(bullets=60), chunk_size=300)
        if c.section_key == "goals"
    ]
    assert len(chunks) > 1
    bullets = [line for c in chunks for line in c.text.split("\n")[1:]]
    assert bullets == [f"- Goal number {i} for the first month" for i in range(60)]


def test_chunk_ids_are_stable_and_content_addressed() -> None:
    first = chunk_blueprint(blueprint(), chunk_size=1000)
    again = chunk_blueprint(blueprint(), chunk_size=1000)
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    changed = blueprint()
    changed.sections[0].blocks[0].text = "Owns testing. Leads people well."
    ids = [c.id for c in chunk_blueprint(changed, chunk_size=1000)]
    assert ids[0] != first[0].id and ids[1:] == [c.id for c in first[1:]]
    assert {c.doc_hash for c in first} != {
        c.doc_hash for c in chunk_blueprint(changed, chunk_size=1000)
    }


def test_metadata_carries_role_section_source_and_hash() -> None:
    chunk = chunk_blueprint(blueprint(), chunk_size=1000)[0]
    assert (chunk.role, chunk.role_id, chunk.doc_id) == (
        "Director of Testing",
        "director-of-testing",
        "director-of-testing:full",
    )
    assert (chunk.section_number, chunk.section_key, chunk.coverage) == (
        1,
        "summary",
        RoleCoverage.FULL,
    )
    assert chunk.url == "https://example.test/director-of-testing"
    assert len(chunk.content_hash) == 64


def test_render_row_skips_empty_cells_and_names_unnamed_columns() -> None:
    assert render_row(["A", ""], ["x", "y"]) == "A: x | Column 2: y"
    assert render_row(["A", "B"], ["x", ""]) == "A: x"


def bullets_blueprint(items: list[ListItem]) -> Blueprint:
    return Blueprint(
        role="Director of Testing",
        role_id="director-of-testing",
        coverage=RoleCoverage.FULL,
        source="tests/fixture.json",
        sections=[
            Section(
                number=4,
                title="Day-to-Day Activities",
                key="day_to_day",
                blocks=[Block(kind="bullets", items=items)],
            )
        ],
    )


def test_bullet_renders_its_children_indented_under_it() -> None:
    bp = bullets_blueprint(
        [ListItem(text="Review dashboards for:", children=["Freshness", "Cost"]), "Hire well"]
    )
    (chunk,) = chunk_blueprint(bp, chunk_size=1000)
    assert chunk.text.split("\n")[1:] == [
        "- Review dashboards for:",
        "  - Freshness",
        "  - Cost",
        "- Hire well",
    ]


def test_bullet_with_its_children_is_never_split_across_chunks() -> None:
    items = [
        ListItem(text=f"Group {g} of activities:", children=[f"Activity {g}.{c}" for c in range(4)])
        for g in range(12)
    ]
    chunks = chunk_blueprint(bullets_blueprint(items), chunk_size=200)
    assert len(chunks) > 1
    for chunk in chunks:
        lines = chunk.text.split("\n")[1:]
        assert lines[0].startswith("- Group ")
        parents = [line for line in lines if line.startswith("- ")]
        # Every parent in a chunk comes with all four of its children.
        assert len(lines) == 5 * len(parents)
        assert len(chunk.text.split("\n", 1)[1]) <= 200


def test_bullet_longer_than_a_chunk_splits_between_children_repeating_its_line() -> None:
    children = [f"Child number {i} with some words to fill the line" for i in range(10)]
    bp = bullets_blueprint([ListItem(text="A long group:", children=children), "After"])
    chunks = chunk_blueprint(bp, chunk_size=200)
    bodies = [c.text.split("\n")[1:] for c in chunks]
    assert len(bodies) > 2
    assert all(body[0] == "- A long group:" for body in bodies[:-1])
    assert [line for body in bodies for line in body if line.startswith("  - ")] == [
        f"  - {child}" for child in children
    ]
    assert bodies[-1][-1] == "- After"
    assert all(len("\n".join(body)) <= 200 for body in bodies)


def test_children_without_a_parent_line_are_bullets_themselves() -> None:
    bp = bullets_blueprint([ListItem(text="", children=["Freshness", "Cost"])])
    (chunk,) = chunk_blueprint(bp, chunk_size=1000)
    assert chunk.text.split("\n")[1:] == ["- Freshness", "- Cost"]
