"""Small helpers the server-rendered SVG charts share: scales, axes, time labels, empty states.

Every chart is plain SVG text (no script, no CDN), so pages work offline and in any browser.
Text that comes from data (trait names, kinds, triggers) is always escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

# Distinct enough for a handful of series; beyond, colours repeat (legends still name each one).
COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#3d405b")
AXIS, GRID, MUTED = "#555", "#e4e4e4", "#777"


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """Linear map of [low, high] onto [start, end] (a flat domain maps to the middle)."""
    span = high - low
    if span == 0:
        return lambda _value: (start + end) / 2
    return lambda value: start + (value - low) / span * (end - start)


def open_svg(width: int, height: int, chart: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart" data-chart="{escape(chart)}" '
        f'font-family="system-ui, sans-serif"><title>{escape(title)}</title>'
    )


def text(
    x: float, y: float, content: str, size: int = 11, anchor: str = "start", fill: str = AXIS, extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(content)}</text>"
    )


def hline(x1: float, x2: float, y: float, stroke: str = GRID, extra: str = "") -> str:
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"{extra}/>'


def vline(x: float, y1: float, y2: float, stroke: str = GRID, extra: str = "") -> str:
    return f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>'


def polyline(points: Sequence[tuple[float, float]], stroke: str, width: float = 2, extra: str = "") -> str:
    joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{stroke}" stroke-width="{width}" points="{joined}"{extra}/>'


def time_label(moment: datetime, span_seconds: float) -> str:
    """Short labels: time of day within two days, else the date."""
    return moment.strftime("%m-%d %H:%M" if span_seconds < 2 * 86400 else "%Y-%m-%d")


def time_axis(times: Sequence[datetime], x: Callable[[float], float], y: float) -> str:
    """Labels at the first, middle and last moments, under the plot."""
    first, last = times[0], times[-1]
    span = (last - first).total_seconds()
    marks = [first] if span == 0 else [first, first + (last - first) / 2, last]
    anchors = ["start", "middle", "end"] if len(marks) == 3 else ["start"]
    return "".join(text(x(m.timestamp()), y, time_label(m, span), anchor=a) for m, a in zip(marks, anchors))


def empty_state(chart: str, message: str, hint: str | None = None) -> str:
    """What a chart shows without data: what is missing, and what to do about it (HTML, escaped)."""
    parts = [f'<p class="empty" data-chart="{escape(chart)}">{escape(message)}']
    if hint:
        parts.append(f" {hint}")  # trusted markup written in this package (e.g. <code>…</code>)
    parts.append("</p>")
    return "".join(parts)


FEEDBACK_HINT = "Send feedback with <code>agent-learning ingest FILE</code> or <code>POST /api/feedback</code>."
