"""The owner page's chart: effective trait values over policy versions, as one server-rendered SVG."""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

WIDTH, HEIGHT, MARGIN = 640, 260, 36
# Distinct enough for a handful of traits; beyond, colours repeat (the legend still names each line).
COLOURS = ("#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#3d405b")


def trait_chart_svg(history: Sequence[Mapping], title: str = "effective traits by policy version") -> str:
    """`history`: documents of `agent_policy_history` (version, traits), oldest first. Values lie in [0, 1]."""
    if not history:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="60">'
                f'<title>{escape(title)}</title><text x="10" y="35">no recalculation yet: '
                'the chart starts with the first policy version</text></svg>')
    versions = [doc["version"] for doc in history]
    low, high = min(versions), max(versions)
    span = (high - low) or 1
    plot_w, plot_h = WIDTH - 2 * MARGIN - 120, HEIGHT - 2 * MARGIN

    def x(version: int) -> float:
        return MARGIN + (version - low) / span * plot_w

    def y(value: float) -> float:
        return MARGIN + (1 - min(max(value, 0.0), 1.0)) * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" class="trait-chart"><title>{escape(title)}</title>']
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{MARGIN}" x2="{MARGIN + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#ddd"/><text x="4" y="{y(tick) + 4:.1f}" font-size="11">{tick:.1f}</text>')
    parts.append(f'<text x="{MARGIN}" y="{HEIGHT - 8}" font-size="11">v{low}</text>'
                 f'<text x="{MARGIN + plot_w - 20}" y="{HEIGHT - 8}" font-size="11">v{high}</text>')
    traits = list(history[-1]["traits"])
    for index, trait in enumerate(traits):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{x(doc['version']):.1f},{y(doc['traits'][trait]):.1f}"
                          for doc in history if trait in doc["traits"])
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}" '
                     f'data-trait="{escape(trait)}"/>')
        legend_y = MARGIN + index * 16
        parts.append(f'<rect x="{WIDTH - 140}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{WIDTH - 125}" y="{legend_y}" font-size="12">{escape(trait)} '
                     f'{history[-1]["traits"][trait]:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)
