"""The fleet page's charts (administrators): distributions across agents, the training-job timeline,
the registry's moves. Each returns SVG text, or an empty state that says what would fill it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from adapters.web.svg import (
    AXIS,
    GRID,
    MUTED,
    colour,
    empty_state,
    hline,
    open_svg,
    scale,
    text,
    time_axis,
    vline,
)
from domain.timestamps import parse_iso

WIDTH = 750
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 26, 30
STATUS_COLOURS = {
    "pending": "#edae49",
    "running": "#1b6ca8",
    "completed": "#2e933c",
    "failed": "#d1495b",
    "cancelled": "#8d8d8d",
}


def histogram_svg(values: Sequence[float], low: float, high: float, chart: str, title: str, bins: int = 20) -> str:
    if not values:
        return empty_state(chart, "No agents yet.", "agent-learning demo, or send agent_registered messages")
    height = 200
    counts = [0] * bins
    for value in values:
        index = min(bins - 1, max(0, int((value - low) / (high - low) * bins)))
        counts[index] += 1
    x = scale(low, high, LEFT, WIDTH - RIGHT)
    y = scale(0, max(counts), height - BOTTOM, TOP)
    width = (WIDTH - RIGHT - LEFT) / bins
    parts = [open_svg(WIDTH, height, chart, title)]
    parts.append(hline(LEFT, WIDTH - RIGHT, y(0), AXIS))
    parts.append(text(LEFT - 6, y(max(counts)) + 4, str(max(counts)), anchor="end", fill=MUTED))
    for i, count in enumerate(counts):
        if count:
            left = LEFT + i * width
            edge = low + (high - low) * i / bins
            parts.append(
                f'<rect class="bar" x="{left + 1:.1f}" y="{y(count):.1f}" width="{width - 2:.1f}" '
                f'height="{y(0) - y(count):.1f}" fill="{colour(0)}"><title>{edge:+.2f}…: {count}</title></rect>'
            )
    for tick in (low, (low + high) / 2, high):
        parts.append(text(x(tick), height - 10, f"{tick:g}", size=10, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def trait_strips_svg(agents: Sequence[Mapping], traits: Sequence[str]) -> str:
    """One row per trait: a dot per agent at its effective value (0 to 1), and the fleet's mean."""
    if not agents:
        return empty_state("trait-distribution", "No agents yet.", "agent-learning demo")
    row = 26
    label_w = 90
    height = TOP + row * len(traits) + BOTTOM
    x = scale(0, 1, LEFT + label_w, WIDTH - RIGHT)
    parts = [open_svg(WIDTH, height, "trait-distribution", "each trait across agents")]
    for i, trait in enumerate(traits):
        mid = TOP + i * row + row / 2
        parts.append(text(LEFT + label_w - 8, mid + 4, trait, size=12, anchor="end"))
        parts.append(hline(x(0), x(1), mid))
        values = [a["traits"][trait] for a in agents if trait in (a.get("traits") or {})]
        for agent, value in zip(agents, values, strict=False):
            parts.append(
                f'<circle cx="{x(value):.1f}" cy="{mid:.1f}" r="3" fill="{colour(i)}" fill-opacity="0.6">'
                f"<title>{escape(str(agent['agentId']))}: {value:.3f}</title></circle>"
            )
        if values:
            mean = sum(values) / len(values)
            parts.append(vline(x(mean), mid - 8, mid + 8, AXIS, ' stroke-width="2" class="mean"'))
    for tick in (0, 0.5, 1):
        parts.append(text(x(tick), height - 10, f"{tick:g}", size=10, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def _axis(first: datetime, last: datetime, x, y: float) -> str:
    """Time labels under a plot; one label when everything happened within a minute (they would overlap)."""
    return time_axis([first] if (last - first).total_seconds() < 60 else [first, last], lambda t: x(t), y)


def _when(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def training_gantt_svg(jobs: Sequence[Mapping], now: datetime) -> str:
    """A bar per job from queued to finished (or now), coloured by status; the running part darker."""
    if not jobs:
        return empty_state(
            "training-jobs",
            "No training job yet.",
            "agent-learning jobs run daily, then jobs run weekly (docs/batch.md)",
        )
    jobs = sorted(jobs, key=lambda j: j["createdAt"])[-30:]
    starts = [_when(j["createdAt"]) for j in jobs]
    ends = [_when(j.get("finishedAt")) or now for j in jobs]
    first, last = min(s for s in starts if s), max(ends)
    row, label_w = 20, 210
    height = TOP + row * len(jobs) + BOTTOM
    x = scale(first.timestamp(), max(last.timestamp(), first.timestamp() + 60), LEFT + label_w, WIDTH - RIGHT)
    parts = [open_svg(WIDTH, height, "training-jobs", "training jobs over time, by status")]
    for i, (job, start, end) in enumerate(zip(jobs, starts, ends, strict=True)):
        top = TOP + i * row
        scope = job.get("agentId") or job.get("archetype") or ""
        parts.append(text(LEFT + label_w - 8, top + 13, f"{scope} {job['jobId'][-10:]}", size=10, anchor="end"))
        fill = STATUS_COLOURS.get(job["status"], MUTED)
        left = x(start.timestamp()) if start else LEFT + label_w
        parts.append(
            f'<rect class="job" data-status="{escape(job["status"])}" x="{left:.1f}" y="{top + 3}" '
            f'width="{max(x(end.timestamp()) - left, 3):.1f}" height="{row - 6}" fill="{fill}">'
            f"<title>{escape(job['jobId'])}: {escape(job['status'])}, queued {escape(job['createdAt'])}"
            f"{', finished ' + escape(job['finishedAt']) if job.get('finishedAt') else ''}</title></rect>"
        )
    parts.append(_axis(first, last, x, height - 10))
    legend_x = LEFT
    for status, fill in STATUS_COLOURS.items():
        parts.append(f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{fill}"/>')
        parts.append(text(legend_x + 14, 15, status, size=11))
        legend_x += 90
    parts.append("</svg>")
    return "".join(parts)


def registry_moves_svg(moves: Sequence[Mapping]) -> str:
    """A mark per alias move (promote, rollback) on a time line, a row per scope."""
    if not moves:
        return empty_state(
            "registry-moves", "No model promoted yet.", "a weekly run promotes a better model to champion"
        )
    scopes = sorted({m["scope"] for m in moves})
    times = [m["at"] for m in moves]
    row, label_w = 22, 150
    height = TOP + row * len(scopes) + BOTTOM
    first, last = min(times), max(times)
    x = scale(first.timestamp(), max(last.timestamp(), first.timestamp() + 60), LEFT + label_w, WIDTH - RIGHT - 10)
    parts = [open_svg(WIDTH, height, "registry-moves", "model registry moves over time")]
    for i, scope in enumerate(scopes):
        mid = TOP + i * row + row / 2
        parts.append(text(LEFT + label_w - 8, mid + 4, scope, size=11, anchor="end"))
        parts.append(hline(LEFT + label_w, WIDTH - RIGHT, mid, GRID))
        for m in (m for m in moves if m["scope"] == scope):
            fill = colour(0) if m["action"] == "promote" else colour(1)
            parts.append(
                f'<circle class="move" data-action="{escape(m["action"])}" cx="{x(m["at"].timestamp()):.1f}" '
                f'cy="{mid:.1f}" r="5" fill="{fill}"><title>{escape(m["action"])} {escape(m["alias"])} → '
                f"{escape(m['modelId'])} by {escape(m['by'])}: {escape(m['reason'])}</title></circle>"
            )
    parts.append(_axis(first, last, x, height - 10))
    parts.append("</svg>")
    return "".join(parts)
