"""Section intent: which sections of a blueprint a question is about, and what kind of question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import fold

# Patterns on the folded question, by section key. A question may hit several sections.
_SECTION_PATTERNS: dict[str, str] = {
    "kpis": r"\bkpis?\b|metric|measur|\btargets?\b|benchmark|\bokrs?\b|performance indicator"
    r"|scored on|doing well|success (?:is )?(?:measured|tracked)|\bslas?\b|\bmttr\b|track",
    "responsibilities": r"responsib|responsabilid|verantwort|accountab|\bdut(?:y|ies)\b"
    r"|in charge of|\bowns?\b|job entail|on the hook",
    "day_to_day": r"day[- ]to[- ]day|\bdaily\b|\bweekly\b|typical (?:day|week)|routine"
    r"|meetings?|rituals?|on[- ]call|incident|escalation|spend (?:their|his|her) time",
    "deliverables": r"deliverables?|\bartifacts?\b|\bproduce\b|\boutputs?\b|\bdeliver\b",
    "goals": r"\b(?:30|60|90)\b|first (?:month|week|few|quarter|\d+)|\bgoals?\b|objectives?"
    r"|milestones?|6[- ]month|12[- ]month|six months|first year|onboarding plan|ramp"
    r"|success (?:look|definition)|high performance|achieve",
    "technical_skills": r"technical skills?|competences|habilidades|fahigkeiten"
    r"|tech(?:nical)? skill|\bskills?\b|competenc"
    r"|expertise|know how to|proficien|must[- ]have",
    "soft_skills": r"soft skills?|behavio|interpersonal|communication|leadership qualit"
    r"|traits?|emotional",
    "tools": r"\btools?\b|tooling|outils|herramientas|werkzeuge|platforms?|software|\bvendors?\b"
    r"|dagster|airflow|snowflake"
    r"|dbt\b|mlflow|kafka|tableau|looker|databricks|\bwhich (?:products|technolog)",
    "tech_stack": r"tech stack|environment|infrastructure|team topology|delivery model"
    r"|\bagile\b|\bsdlc\b|\bscale\b|architecture",
    "stakeholders": r"stakeholders?|collaborat|work(?:s)? with|partners?|\bpeers?\b"
    r"|report(?:s)? (?:to|into)|interfaces? with|upstream|downstream|escalat",
    "decision_rights": r"decid|decision|authority|approv|sign[- ]off|\bveto\b|budget"
    r"|can (?:they|he|she|the \w+) (?:hire|buy|choose)|autonomy|without approval",
    "experience": r"experience|how many years|years of|qualif|education|degree|certif"
    r"|background"
    r"|credential|\bmba\b|phd",
    "career_path": r"career|progress|promot|next (?:role|step|job)|feeder|\bpath\b"
    r"|grow (?:into|from)|after this role|move (?:up|on)|come from|lead to",
    "risks": r"\brisks?\b|challeng|failure|anti[- ]?patterns?|pitfall|underperform"
    r"|bottleneck|go wrong|mistakes?|fail\b",
    "variants": r"variants?|company size|startup|enterprise|regulated|geograph|industr"
    r"|product[- ]led|service[- ]led|smaller compan|larger compan|differ by",
    "ai_impact": r"automat|\bai impact|impact of ai|ai change|genai change|will ai"
    r"|replace(?:d)? by ai|ai (?:affect|transform)|future of (?:the|this) role",
    "hiring": r"(?:when|before|for|in) hiring|\bto hire\b"
    r"|hiring (?:criteria|process|loop|panel|bar)|interview|candidate|assess|red flags?"
    r"|case stud|exercise|screen|recruit|signals?",
    "scorecard": r"scorecard|at a glance|\btop 10\b|one[- ]page|cheat ?sheet",
    "summary": r"\bsummar|overview|what is (?:an? |the )?.*(?:role|director|head|vp|manager)"
    r"|what (?:do|does) (?:an? |the )?[\w\s&/-]+ do\b|describe|who is|purpose",
    "mission": r"\bmission\b|why (?:does|do) .* exist|strategic importance|business outcomes"
    r"|why (?:is|are) .* important|\bvalue\b",
}
_COMPILED = {key: re.compile(pattern) for key, pattern in _SECTION_PATTERNS.items()}

_CATALOGUE = re.compile(
    r"\b(?:which|what|list|show|how many|name)\b.{0,40}\b(?:roles|blueprints|positions|jobs"
    r"|titles)\b|\blist (?:all|the|every)\b.{0,30}\b(?:roles?|blueprints?)\b"
    r"|\b(?:all|every) (?:the )?(?:roles|blueprints)\b|\bcatalog(?:ue)?\b"
    r"|\b\w+[- ]level roles\b"
)
COMPARISON = re.compile(
    r"\bdiffer|\bdifference|\bcompare|\bcomparison|\bversus\b|\bvs\.?\b|\bcontrast"
    r"|\bbetween\b.+\band\b|\bsimilar"
)
_EXPLICIT_DUTIES = re.compile(r"responsib|accountab|\bdut(?:y|ies)\b|in charge of|on the hook")
_GREETING = re.compile(r"^(?:hi|hello|hey|thanks|thank you|good (?:morning|afternoon))\b[\s!.?]*$")
_SUBSECTION_HINTS = {
    "30": r"\b30\b|first month|first (?:few )?weeks",
    "60": r"\b60\b|second month",
    "90": r"\b90\b|first (?:three|3) months|first quarter",
    "6-month": r"6[- ]month|six[- ]month|half[- ]year",
    "12-month": r"12[- ]month|twelve[- ]month|first year|one year|a year\b|annual",
    "long-term": r"long[- ]term|18|36|years? out",
    "feeder": r"feeder|come from|before this role|lead(?:s)? (?:in)?to this",
    "next likely roles": r"next (?:role|step|job)|after this role|move up",
    "weekly": r"\bweekly\b|each week|every week",
    "daily": r"\bdaily\b|each day|every day|typical day",
}


@dataclass(frozen=True)
class Intent:
    """What kind of question this is and which sections (and subsection hints) it targets."""

    kind: str  # lookup | compare | catalogue | greeting
    sections: list[str]
    subsection_hints: list[str]


def detect_intent(question: str, roles_named: int) -> Intent:
    """The question's kind and target sections, from its wording."""
    folded = fold(question)
    sections = [key for key, pattern in _COMPILED.items() if pattern.search(folded)]
    if "soft_skills" in sections and re.search(r"\bsoft\b|behavio", folded):
        sections = [s for s in sections if s != "technical_skills"]
    # "What KPIs does X own?" asks for KPIs; "own" alone asks for responsibilities.
    if len(sections) > 1 and "responsibilities" in sections and not _EXPLICIT_DUTIES.search(folded):
        sections.remove("responsibilities")
    # "what does X do" is a summary question unless the question names something more specific.
    if len(sections) > 1 and "summary" in sections:
        sections.remove("summary")
    if "tech_stack" in sections and "tools" in sections:
        sections.remove("tech_stack")
    hints = [name for name, pattern in _SUBSECTION_HINTS.items() if re.search(pattern, folded)]
    if _GREETING.match(folded.strip()):
        kind = "greeting"
    elif roles_named >= 2 and (COMPARISON.search(folded) or " and " in folded or " or " in folded):
        kind = "compare"
    elif roles_named == 0 and _CATALOGUE.search(folded):
        kind = "catalogue"
    else:
        kind = "lookup"
    return Intent(kind, sections, hints)
