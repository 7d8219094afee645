"""The sections a blueprint has, under stable keys that ingestion tags and retrieval asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SectionKind:
    """One kind of blueprint section: its key, its usual title, and how headings name it."""

    key: str
    title: str
    heading_pattern: str


# In blueprint order; the heading pattern matches the section's title without its number.
SECTION_KINDS: tuple[SectionKind, ...] = (
    SectionKind("summary", "Role Summary", r"role summary|summary|overview"),
    SectionKind("mission", "Role Mission", r"mission"),
    SectionKind("responsibilities", "Core Responsibilities", r"responsibilit"),
    SectionKind("day_to_day", "Day-to-Day Activities", r"day[- ]to[- ]day|activities"),
    SectionKind("deliverables", "Key Deliverables", r"deliverable"),
    SectionKind("goals", "Goals, Objectives, and Milestones", r"goals|objectives|milestones"),
    SectionKind("kpis", "KPIs and Productivity Metrics", r"kpi|metrics"),
    SectionKind("technical_skills", "Technical Skills Required", r"technical skills"),
    SectionKind("soft_skills", "Soft Skills and Behavioral Capabilities", r"soft skills|behavio"),
    SectionKind("tools", "Tools, Platforms, and Software", r"tools|platforms|software"),
    SectionKind("tech_stack", "Typical Tech Stack / Environment", r"tech stack|environment"),
    SectionKind("stakeholders", "Stakeholders and Collaboration Map", r"stakeholder|collaborat"),
    SectionKind("decision_rights", "Decision Rights and Scope of Authority", r"decision|authority"),
    SectionKind("experience", "Required Experience and Qualifications", r"experience|qualif"),
    SectionKind("career_path", "Career Path and Progression", r"career|progression"),
    SectionKind("risks", "Risks, Challenges, and Failure Modes", r"risk|challenge|failure"),
    SectionKind("variants", "Role Variants", r"variant"),
    SectionKind("ai_impact", "AI / Automation Impact on the Role", r"\bai\b|automation"),
    SectionKind("hiring", "Hiring Evaluation Criteria", r"hiring|interview|evaluation criteria"),
    SectionKind("scorecard", "Final Role Scorecard Summary", r"scorecard"),
)
SECTION_KEYS = tuple(kind.key for kind in SECTION_KINDS)
_BY_KEY = {kind.key: kind for kind in SECTION_KINDS}


def section_key(title: str, number: int = 0) -> str:
    """The key of a section from its title; the number decides when a title is ambiguous.

    Titles are matched most specific first (the scorecard before the summary, the tech stack
    before the tools), then by the standard numbering, then `other`.
    """
    lowered = title.lower()
    specific_first = sorted(SECTION_KINDS, key=lambda k: k.key != "scorecard")
    for kind in specific_first:
        if kind.key in {"summary", "tools", "ai_impact"}:
            continue
        if re.search(kind.heading_pattern, lowered):
            return kind.key
    for key in ("ai_impact", "tools", "summary"):
        if re.search(_BY_KEY[key].heading_pattern, lowered):
            return key
    if 1 <= number <= len(SECTION_KINDS):
        return SECTION_KINDS[number - 1].key
    return "other"


def section_title(key: str) -> str:
    """The usual title of a section key."""
    kind = _BY_KEY.get(key)
    return kind.title if kind else key.replace("_", " ").title()
