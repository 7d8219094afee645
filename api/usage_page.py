"""The usage report as HTML: charts drawn as inline SVG, so the page needs no script or CDN.

One renderer serves both `blueprints report usage --html` (a standalone file, its
stylesheet inlined) and `/admin` (a fragment the page fetches with the API key). Every
value is escaped; the SVG uses classes, not inline styles, so the `/admin` page's content
security policy holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path

from api.usage import DayCount, Downvote, Gap, RoleCount, UsageReport

STYLESHEET = Path(__file__).parent / "static" / "report.css"
COVERAGE_LABELS = {"answered": "Answered", "partial": "Partial", "not_found": "Not found"}
_CHART_WIDTH = 760


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _ticks(top: int) -> list[int]:
    """Up to five round values from 0 to at least `top`, for an axis."""
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        step = candidate
        if top / candidate <= 4:
            break
    return list(range(0, top + step, step))


def _svg(height: int, name: str, title: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {_CHART_WIDTH} {height}" role="img" '
        f'aria-labelledby="{name}-title">',
        f'<title id="{name}-title">{_e(title)}</title>',
    ]


def per_day_chart(days: list[DayCount]) -> str:
    """Stacked bars of each day's questions by coverage, with a y axis and sparse dates."""
    if not days:
        return '<p class="empty">No questions yet.</p>'
    left, right, top, bottom, height = 36, 8, 10, 28, 230
    plot_w, plot_h = _CHART_WIDTH - left - right, height - top - bottom
    ticks = _ticks(max(day.total for day in days) or 1)
    scale = plot_h / ticks[-1]
    slot = plot_w / len(days)
    bar = max(1.0, slot * 0.8)
    parts = _svg(height, "per-day", "Questions per day, by coverage")
    for tick in ticks:
        y = top + plot_h - tick * scale
        x2 = _CHART_WIDTH - right
        parts.append(f'<line class="grid" x1="{left}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    label_every = max(1, round(len(days) / 8))
    for n, day in enumerate(days):
        x = left + n * slot + (slot - bar) / 2
        y = top + plot_h
        for coverage in ("answered", "partial", "not_found"):
            count = getattr(day, coverage)
            if not count:
                continue
            h = count * scale
            y -= h
            parts.append(
                f'<rect class="bar {coverage}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}"><title>{day.day}: {count} {COVERAGE_LABELS[coverage].lower()}'
                "</title></rect>"
            )
        if n % label_every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{day.day:%m-%d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def coverage_chart(coverage: dict[str, int]) -> str:
    """One bar split by coverage, each share labelled."""
    total = sum(coverage.values())
    if not total:
        return ""
    height, x = 34, 0.0
    parts = _svg(height, "mix", "Coverage of the answers")
    for key, label in COVERAGE_LABELS.items():
        count = coverage.get(key, 0)
        if not count:
            continue
        width = _CHART_WIDTH * count / total
        parts.append(
            f'<rect class="bar {key}" x="{x:.1f}" y="0" width="{width:.1f}" height="{height}">'
            f"<title>{label}: {count} ({_percent(count, total)})</title></rect>"
        )
        if width > 60:
            share = _percent(count, total)
            parts.append(f'<text class="on-bar" x="{x + 8:.1f}" y="22">{label} {share}</text>')
        x += width
    parts.append("</svg>")
    return "".join(parts)


def roles_chart(roles: list[RoleCount]) -> str:
    """Horizontal bars of the roles asked about most."""
    if not roles:
        return '<p class="empty">No role named yet.</p>'
    label_w, row_h = 280, 26
    height = row_h * len(roles)
    most = max(role.count for role in roles)
    bar_room = _CHART_WIDTH - label_w - 50
    parts = _svg(height, "roles", "Roles asked about most")
    for n, role in enumerate(roles):
        y = n * row_h
        width = max(2.0, bar_room * role.count / most)
        name = role.role if len(role.role) <= 40 else role.role[:39] + "…"
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 17}" '
            f'text-anchor="end">{_e(name)}</text>'
            f'<rect class="bar role" x="{label_w}" y="{y + 4}" width="{width:.1f}" '
            f'height="{row_h - 8}">'
            f"<title>{_e(role.role)}: {role.count}</title></rect>"
            f'<text class="axis" x="{label_w + width + 6:.1f}" y="{y + 17}">{role.count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend() -> str:
    items = "".join(
        f'<li><span class="swatch {key}"></span>{label}</li>'
        for key, label in COVERAGE_LABELS.items()
    )
    return f'<ul class="legend">{items}</ul>'


def _gap_table(title: str, gaps: list[Gap], empty: str) -> str:
    if not gaps:
        return f"<h3>{_e(title)}</h3><p class='empty'>{_e(empty)}</p>"
    rows = "".join(
        f"<tr><td>{_e(g.question)}</td><td class='num'>{g.count}</td>"
        f"<td>{_e(', '.join(g.roles) or '—')}</td><td>{g.last_asked:%Y-%m-%d}</td></tr>"
        for g in gaps
    )
    return (
        f"<h3>{_e(title)}</h3><table class='gaps'><thead><tr><th>Question</th>"
        "<th class='num'>Asked</th><th>Roles</th><th>Last asked</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _downvote(vote: Downvote) -> str:
    comment = (
        f"<blockquote class='comment'>{_e(vote.comment)}</blockquote>"
        if vote.comment
        else "<p class='empty'>No reason given.</p>"
    )
    retrieved = _list(
        f"{_e(' › '.join(p for p in (r.role, r.section, r.subsection) if p))} "
        f"<span class='muted'>({r.score:.3f})</span>"
        for r in vote.retrieved
    )
    facts = [
        f"coverage <b>{_e(COVERAGE_LABELS.get(vote.coverage.value, vote.coverage.value))}</b>",
        f"answerer <b>{_e(vote.answerer)}</b>",
        f"via {_e(vote.source)}",
    ]
    if vote.fallback:
        facts.append(f"LLM replaced: <b>{_e(vote.fallback)}</b>")
    if vote.dropped_reasons:
        facts.append(f"citations dropped: {_e(', '.join(vote.dropped_reasons))}")
    notes = _list(_e(note) for note in vote.notes) if vote.notes else ""
    return (
        "<article class='downvote'>"
        f"<h3>{_e(vote.question)}</h3>"
        f"<p class='muted'>{vote.voted_at:%Y-%m-%d %H:%M} UTC · "
        f"answer <code>{_e(vote.answer_id)}</code></p>"
        f"{comment}"
        "<details><summary>The answer and its trace</summary>"
        f"<p class='facts'>{' · '.join(facts)}</p>"
        f"<pre class='answer'>{_e(vote.answer)}</pre>"
        f"<h4>Retrieved</h4>{retrieved or '<p class=empty>nothing</p>'}"
        f"{'<h4>Notes</h4>' + notes if notes else ''}"
        "</details></article>"
    )


def render_fragment(report: UsageReport) -> str:
    """The report's content: tiles, charts, the gap lists, the 👎 answers, the top roles."""
    total = report.questions
    period = f"{report.since or 'the start'} to {report.until}"
    tiles = [
        ("Questions", str(total)),
        ("Answered", _percent(report.coverage.get("answered", 0), total)),
        ("Partial", str(report.coverage.get("partial", 0))),
        ("Not found", str(report.coverage.get("not_found", 0))),
        ("👍", str(report.votes.get("up", 0))),
        ("👎", str(report.votes.get("down", 0))),
    ]
    tile_html = "".join(
        f"<div class='tile'><span class='value'>{_e(v)}</span>"
        f"<span class='name'>{_e(k)}</span></div>"
        for k, v in tiles
    )
    downvotes = "".join(_downvote(v) for v in report.downvotes) or (
        "<p class='empty'>No answer was rated 👎 in this period.</p>"
    )
    sources = ", ".join(f"{n} from {_e(s)}" for s, n in sorted(report.sources.items())) or "none"
    return (
        "<div class='usage'>"
        f"<p class='period'>From {_e(period)} (UTC) · questions {sources}</p>"
        f"<div class='tiles'>{tile_html}</div>"
        f"<section><h2>Questions per day</h2>{_legend()}{per_day_chart(report.per_day)}</section>"
        f"<section><h2>Coverage</h2>{coverage_chart(report.coverage)}</section>"
        "<section id='gaps'><h2>Knowledge gaps</h2>"
        "<p class='muted'>The questions asked most that the blueprints do not answer, or only in "
        "part: the blueprints to ingest or complete next.</p>"
        + _gap_table("Not found", report.not_found, "Every question found an answer.")
        + _gap_table("Partial", report.partial, "No question was answered only in part.")
        + "</section>"
        f"<section id='downvotes'><h2>Answers rated 👎</h2>{downvotes}</section>"
        f"<section><h2>Roles asked about most</h2>{roles_chart(report.top_roles)}</section>"
        f"<p class='muted'>Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>"
        "</div>"
    )


def render_page(report: UsageReport) -> str:
    """A standalone page (its stylesheet inlined), to open from disk or send around."""
    css = STYLESHEET.read_text(encoding="utf-8")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Blueprint Assistant – usage</title>"
        f"<style>{css}</style></head><body class='report'>"
        "<h1>Blueprint Assistant – usage</h1>"
        f"{render_fragment(report)}</body></html>\n"
    )
