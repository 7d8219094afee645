"""How the judge compares text: facts, role names, section headings, subsections, cited items.

The judge keeps its own rules here on purpose. How the assistant classifies a heading
(`assistant/sections.py`) is code under test; if the judge used it, a heading the assistant
misreads would be misread by the judge too, and the error would score as right.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_FOLD = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **{"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'},
    }
)
_EMPHASIS = re.compile(r"\*+|__|`")
_SPACE = re.compile(r"\s+")
# A section's number as blueprints print it: `7) `, `7. `, `7: `, `7 - `, `Section 7 - `.
# (`30-day goals` keeps its 30: a number is only numbering when punctuation or spaces say so.)
_NUMBERING = re.compile(r"^(?:section\s+\d{1,2}\b\s*[-:.)]?|\d{1,2}\s*[).:]|\d{1,2}\s+-)\s*")
_NAME_SEPARATORS = re.compile(r"[\s\-]+")
# Emoji joiners and presentation selectors; the emoji themselves are Unicode symbols (`So`).
_EMOJI_MARKS = frozenset("\u200d\ufe0e\ufe0f")

# The judge's names for the sections of the bundled blueprint template, with their titles as
# the template prints them (after the number). A printed heading is a template section when,
# numbering aside, it *is* that title; anything else is named by its literal heading.
TEMPLATE_SECTIONS: dict[str, str] = {
    "summary": "Role Summary",
    "mission": "Role Mission",
    "responsibilities": "Core Responsibilities",
    "day_to_day": "Day-to-Day Activities",
    "deliverables": "Key Deliverables",
    "goals": "Goals, Objectives, and Milestones",
    "kpis": "KPIs and Productivity Metrics",
    "technical_skills": "Technical Skills Required",
    "soft_skills": "Soft Skills and Behavioral Capabilities",
    "tools": "Tools, Platforms, and Software",
    "tech_stack": "Typical Tech Stack / Environment",
    "stakeholders": "Stakeholders and Collaboration Map",
    "decision_rights": "Decision Rights and Scope of Authority",
    "experience": "Required Experience and Qualifications",
    "career_path": "Career Path and Progression",
    "risks": "Risks, Challenges, and Failure Modes",
    "variants": "Role Variants",
    "ai_impact": "AI / Automation Impact on the Role",
    "hiring": "Hiring Evaluation Criteria",
    "scorecard": "Final Role Scorecard Summary",
}
SECTION_KEYS: tuple[str, ...] = tuple(TEMPLATE_SECTIONS)


# The same headings, items and answers are compared many times over a run: cache them.
@lru_cache(maxsize=16384)
def normalize(text: str) -> str:
    """Text as facts are compared: case, dashes, quotes, `≥`, `&`, markdown emphasis, spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = text.replace("≥", ">=").replace("≤", "<=").replace("&", " and ")
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).strip().lower()


def without_symbols(text: str) -> str:
    """Text without emoji and other pictographs (`🧭 The role` is ` The role`).

    Pages exported from Notion or Confluence decorate titles and headings with emoji; they
    are not part of the name, and a reader may keep or drop them.
    """
    return "".join(c for c in text if c not in _EMOJI_MARKS and unicodedata.category(c) != "So")


def role_key(role: str) -> str:
    """A role name as roles are compared (`VP of Data & AI` is `vp of data and ai`).

    Emoji do not count (`Director of X 🧰` is `director of x`).
    """
    return normalize(without_symbols(role))


@lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """A subsection or heading name as names are compared: case, dashes and spaces do not count.

    `30-day goals`, `30 Day Goals`, `30 – day goals:` and `🎯 30-day goals` are the same name.
    """
    return _NAME_SEPARATORS.sub(" ", normalize(without_symbols(name))).strip(" :.")


@lru_cache(maxsize=4096)
def heading_name(heading: str) -> str:
    """A section heading's name without its numbering (`Section 7 — Metrics` is `metrics`)."""
    return name_key(_NUMBERING.sub("", normalize(heading)))


_TITLE_KEYS = {heading_name(title): key for key, title in TEMPLATE_SECTIONS.items()}


def heading_key(heading: str) -> str | None:
    """The template section a printed heading is (`7) KPIs and Productivity Metrics` is `kpis`).

    None when the heading is not one of the template's titles: such a section can only be
    named by its heading (`GoldQuestion.expected_headings`).
    """
    return _TITLE_KEYS.get(heading_name(heading))


def cited_items(quote: str) -> list[str]:
    """The items one quote holds: each top-level line, with the indented lines under it.

    An answer cites one item per citation (a bullet with its `  - child` lines, a table row, a
    sentence), so a well-formed quote is one item. A quote that holds a whole passage (several
    top-level lines) holds several items: that is how dumping a chunk into one citation is
    counted as dumping. A blank quote is still one (empty) item.
    """
    items: list[str] = []
    for line in quote.splitlines():
        if not line.strip():
            continue
        if items and line[:1].isspace():
            items[-1] += "\n" + line
        else:
            items.append(line)
    return items or [quote]
