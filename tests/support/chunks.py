"""Chunks of a small hand-written blueprint, for unit tests of items, selection and answers."""

from __future__ import annotations

from assistant.models import Chunk, RoleCoverage

ROLE = "Head of Testing"


def chunk(
    lines: list[str],
    *,
    kind: str = "text",
    section: str = "7) KPIs and Productivity Metrics",
    key: str = "kpis",
    subsection: str = "",
    position: int = 0,
    chunk_id: str | None = None,
) -> Chunk:
    """A chunk of the Head of Testing's blueprint: its heading path, then `lines`."""
    path = " > ".join(p for p in (ROLE, section, subsection) if p)
    return Chunk(
        id=chunk_id or f"c-{abs(hash(tuple(lines)))}",
        text="\n".join([path, *lines]),
        role=ROLE,
        role_id="head-of-testing",
        doc_id="d",
        doc_hash="h",
        coverage=RoleCoverage.FULL,
        section=section,
        section_key=key,
        section_number=int(section.split(")")[0]),
        subsection=subsection,
        kind=kind,  # type: ignore[arg-type]
        source="t",
        content_hash=str(position),
        position=position,
    )
