"""The agent page's trait chart: one small panel per trait, its effective value over policy versions,
its bounds shaded, and freezes (red) and unfreezes (green) marked at the version in force then."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from adapters.web.svg import (
    AXIS,
    FEEDBACK_HINT,
    GRID,
    MUTED,
    colour,
    empty_state,
    open_svg,
    polyline,
    scale,
    text,
    vline,
)
from domain.catalogue import TRAIT_BOUNDS, TraitBounds

PANEL_W, PANEL_H, COLUMNS = 250, 130, 3
PAD_L, PAD_R, PAD_T, PAD_B = 30, 12, 22, 22
FROZEN, UNFROZEN = "#c0392b", "#2e933c"


def trait_chart_svg(
    history: Sequence[Mapping],
    bounds: Mapping[str, TraitBounds] = TRAIT_BOUNDS,
    marks: Sequence = (),
    priors: Mapping[str, float] | None = None,
    title: str = "effective traits by policy version",
) -> str:
    """`history`: documents of `agent_policy_history` (version, traits), oldest first; `priors` (the
    registration's values) are drawn as version 0; `marks`: freezes and unfreezes (`version`, `frozen`)."""
    points = ([{"version": 0, "traits": dict(priors)}] if priors else []) + [
        {"version": doc["version"], "traits": doc["traits"]} for doc in history
    ]
    if not history:
        return empty_state(
            "traits",
            "No policy version yet: the trait chart starts with the first recalculation "
            "(after 5 feedback messages, a strong signal, a session end or the timer).",
            FEEDBACK_HINT,
        )
    traits = list(points[-1]["traits"])
    versions = [p["version"] for p in points]
    low, high = min(versions), max(versions)
    rows = (len(traits) + COLUMNS - 1) // COLUMNS
    width, height = PANEL_W * COLUMNS, PANEL_H * rows + 24
    parts = [open_svg(width, height, "traits", title)]
    for index, trait in enumerate(traits):
        left, top = (index % COLUMNS) * PANEL_W, (index // COLUMNS) * PANEL_H
        x = scale(low, high, left + PAD_L, left + PANEL_W - PAD_R)
        y = scale(0.0, 1.0, top + PANEL_H - PAD_B, top + PAD_T)
        parts.append(f'<g data-trait="{escape(trait)}">')
        band = bounds.get(trait)
        if band is not None:
            parts.append(
                f'<rect class="bounds" x="{left + PAD_L}" y="{y(band.maximum):.1f}" '
                f'width="{PANEL_W - PAD_L - PAD_R}" height="{y(band.minimum) - y(band.maximum):.1f}" '
                f'fill="#1b6ca8" fill-opacity="0.08"><title>{escape(trait)} bounds '
                f"{band.minimum:.2f}–{band.maximum:.2f}</title></rect>"
            )
        for tick in (0.0, 0.5, 1.0):
            parts.append(
                f'<line x1="{left + PAD_L}" x2="{left + PANEL_W - PAD_R}" y1="{y(tick):.1f}" '
                f'y2="{y(tick):.1f}" stroke="{GRID}"/>'
            )
            parts.append(text(left + PAD_L - 4, y(tick) + 4, f"{tick:.1f}", size=9, anchor="end", fill=MUTED))
        for mark in marks:
            if low <= mark.version <= high:
                stroke = FROZEN if mark.frozen else UNFROZEN
                parts.append(
                    vline(
                        x(mark.version),
                        top + PAD_T,
                        top + PANEL_H - PAD_B,
                        stroke,
                        f' stroke-dasharray="4 3" class="{"freeze" if mark.frozen else "unfreeze"}"',
                    )
                )
        series = [(x(p["version"]), y(p["traits"][trait])) for p in points if trait in p["traits"]]
        parts.append(polyline(series, colour(index)))
        parts.append(f'<circle cx="{series[-1][0]:.1f}" cy="{series[-1][1]:.1f}" r="3" fill="{colour(index)}"/>')
        last = points[-1]["traits"][trait]
        parts.append(
            text(left + PAD_L, top + 14, f"{trait} {last:.3f}", size=12, fill=AXIS, extra=' font-weight="600"')
        )
        parts.append(text(left + PAD_L, top + PANEL_H - 6, f"v{low}", size=9, fill=MUTED))
        parts.append(text(left + PANEL_W - PAD_R, top + PANEL_H - 6, f"v{high}", size=9, anchor="end", fill=MUTED))
        parts.append("</g>")
    legend_y = height - 8
    parts.append(f'<rect x="{PAD_L}" y="{legend_y - 9}" width="14" height="10" fill="#1b6ca8" fill-opacity="0.15"/>')
    parts.append(text(PAD_L + 18, legend_y, "bounds", size=11))
    parts.append(vline(PAD_L + 80, legend_y - 10, legend_y + 1, FROZEN, ' stroke-dasharray="4 3"'))
    parts.append(text(PAD_L + 86, legend_y, "frozen", size=11))
    parts.append(vline(PAD_L + 140, legend_y - 10, legend_y + 1, UNFROZEN, ' stroke-dasharray="4 3"'))
    parts.append(text(PAD_L + 146, legend_y, "unfrozen", size=11))
    parts.append("</svg>")
    return "".join(parts)
