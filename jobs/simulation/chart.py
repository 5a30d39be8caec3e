"""The learning curves as a standalone SVG: share of trait error closed against feedbacks received, a line
per configuration with its 95% band. Written by hand: a chart library would be the larger dependency."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 900, 420
LEFT, RIGHT, TOP, BOTTOM = 60, 300, 30, 50
COLOURS = ("#1b6ca8", "#d1495b", "#00a676", "#edae49", "#6a4c93", "#3d405b", "#ff7f11", "#2a9d8f")


def learning_curves_svg(summaries: Sequence[dict[str, Any]], title: str) -> str:
    curves = [s["curve"] for s in summaries]
    longest = max(max(c["feedbacks"]) for c in curves)
    values = [v for c in curves for p in c["closed"] for v in (p["low"], p["high"])]
    low, high = min(-0.2, min(values)), max(1.0, max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(feedbacks: float) -> float:
        return LEFT + plot_w * feedbacks / longest

    def y(share: float) -> float:
        return TOP + plot_h * (high - share) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="14">{escape(title)}</text>',
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{"#888" if tick == 0 else "#e5e5e5"}"/>'
        )
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>')
    for tick in _feedback_ticks(longest):
        parts.append(f'<text x="{x(tick):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{tick}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">feedbacks received</text>'
        f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        "share of trait error closed</text>"
    )
    for index, (summary, curve) in enumerate(zip(summaries, curves, strict=True)):
        colour = COLOURS[index % len(COLOURS)]
        points = list(zip(curve["feedbacks"], curve["closed"], strict=True))
        band = [f"{x(n):.1f},{y(p['high']):.1f}" for n, p in points]
        band += [f"{x(n):.1f},{y(p['low']):.1f}" for n, p in reversed(points)]
        parts.append(f'<polygon points="{" ".join(band)}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        line = " ".join(f"{x(n):.1f},{y(p['mean']):.1f}" for n, p in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend_y = TOP + 16 + 18 * index
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 30}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{WIDTH - RIGHT + 36}" y="{legend_y}">{escape(_short(summary["configuration"]))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


SHORT = {
    "rewardBaseline=sentiment": "baseline",
    "traitWeighting=per-feedback": "per-feedback",
    "actionWeighting=per-feedback": "+actions",
    "rateSchedule=anneal": "anneal",
}


def _short(name: str) -> str:
    """`fast,rewardBaseline=sentiment,traitWeighting=per-feedback` → `fast + baseline per-feedback`."""
    profile, *options = name.split(",")
    label = profile + (" + " + " ".join(SHORT.get(o, o) for o in options) if options else "")
    return label if len(label) <= 44 else label[:43] + "…"


def _ticks(low: float, high: float) -> list[float]:
    step = 0.2
    first = step * round(low / step)
    return [
        round(first + i * step, 10) for i in range(int((high - first) / step) + 1) if first + i * step >= low - 1e-9
    ]


def _feedback_ticks(longest: int) -> list[int]:
    step = max(1, longest // 5)
    return list(range(0, longest + 1, step))
