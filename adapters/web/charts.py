"""The agent page's other charts, each one function returning SVG (or an empty state saying what to do):

- `reward_sentiment_svg`: each feedback's reward and the sentiment after it, over time, with the −0.5 line;
- `epsilon_svg`: the exploration rate ε over time (a step line);
- `feedback_volume_svg`: feedback per day, stacked by kind (from `agent_feedback_aggregations`);
- `recalculations_svg`: policy recalculations by trigger (from `agent_policy_history`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from adapters.web.agent_timeline import AgentTimeline
from adapters.web.svg import (
    AXIS,
    FEEDBACK_HINT,
    GRID,
    MUTED,
    colour,
    empty_state,
    hline,
    open_svg,
    polyline,
    scale,
    text,
    time_axis,
    vline,
)

WIDTH, HEIGHT = 750, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 26, 30
MAX_POINTS = 300  # longer series are averaged into this many buckets
MAX_DAYS = 60  # the volume chart shows the most recent days


def _bucketed(points: Sequence, size: int = MAX_POINTS) -> list[tuple[datetime, float, float]]:
    """(time, mean reward, last sentiment) per bucket of consecutive feedback."""
    if len(points) <= size:
        return [(p.at, p.reward, p.sentiment) for p in points]
    out = []
    for i in range(size):
        chunk = points[i * len(points) // size : (i + 1) * len(points) // size]
        if chunk:
            out.append((chunk[-1].at, sum(p.reward for p in chunk) / len(chunk), chunk[-1].sentiment))
    return out


def reward_sentiment_svg(timeline: AgentTimeline, threshold: float = -0.5) -> str:
    if not timeline.feedback:
        return empty_state("reward-sentiment", "No feedback yet.", FEEDBACK_HINT)
    points = _bucketed(timeline.feedback)
    times = [p[0] for p in points]
    x = scale(times[0].timestamp(), times[-1].timestamp(), LEFT, WIDTH - RIGHT)
    y = scale(-1.0, 1.0, HEIGHT - BOTTOM, TOP)
    averaged = len(points) < len(timeline.feedback)
    parts = [open_svg(WIDTH, HEIGHT, "reward-sentiment", "reward and sentiment over time")]
    for tick in (-1.0, 0.0, 1.0):
        parts.append(hline(LEFT, WIDTH - RIGHT, y(tick)))
        parts.append(text(LEFT - 6, y(tick) + 4, f"{tick:+.1f}", anchor="end", fill=MUTED))
    parts.append(hline(LEFT, WIDTH - RIGHT, y(threshold), "#c0392b", ' stroke-dasharray="6 4" class="threshold"'))
    parts.append(
        text(
            WIDTH - RIGHT,
            y(threshold) - 4,
            f"freeze threshold {threshold:+.1f} (7 days below freezes)",
            anchor="end",
            fill="#c0392b",
        )
    )
    for at, reward, _ in points:
        parts.append(
            f'<circle class="reward" cx="{x(at.timestamp()):.1f}" cy="{y(reward):.1f}" r="2.5" '
            f'fill="#1b6ca8" fill-opacity="0.45"/>'
        )
    sentiment = [(x(at.timestamp()), y(s)) for at, _, s in points]
    parts.append(polyline(sentiment, "#d1495b", extra=' class="sentiment"'))
    for reset in timeline.sentiment_resets:
        if times[0] <= reset <= times[-1]:
            parts.append(vline(x(reset.timestamp()), TOP, HEIGHT - BOTTOM, "#2e933c", ' stroke-dasharray="4 3"'))
    parts.append(time_axis(times, x, HEIGHT - 10))
    legend = "reward (mean per point)" if averaged else "reward of each feedback"
    parts.append(f'<circle cx="{LEFT + 6}" cy="{TOP - 14}" r="3" fill="#1b6ca8"/>')
    parts.append(text(LEFT + 14, TOP - 10, legend))
    parts.append(hline(LEFT + 190, LEFT + 210, TOP - 14, "#d1495b", ' stroke-width="2"'))
    parts.append(text(LEFT + 216, TOP - 10, f"sentiment (now {points[-1][2]:+.3f})"))
    parts.append("</svg>")
    return "".join(parts)


def epsilon_svg(timeline: AgentTimeline, now: datetime | None = None, floor: float | None = None) -> str:
    """ε as a step line from registration on; `now` extends the last value to the present."""
    series = timeline.epsilon
    if not series:
        return empty_state("epsilon", "No exploration rate recorded yet: the agent is not registered.", FEEDBACK_HINT)
    if now is not None and now > series[-1][0]:
        series = [*series, (now, series[-1][1])]
    times = [at for at, _ in series]
    top_value = max(max(v for _, v in series) * 1.15, 0.01)
    x = scale(times[0].timestamp(), times[-1].timestamp(), LEFT, WIDTH - RIGHT)
    y = scale(0.0, top_value, HEIGHT - BOTTOM, TOP)
    parts = [open_svg(WIDTH, HEIGHT, "epsilon", "exploration rate ε over time")]
    for tick in (0.0, top_value / 2, top_value):
        parts.append(hline(LEFT, WIDTH - RIGHT, y(tick)))
        parts.append(text(LEFT - 6, y(tick) + 4, f"{tick:.3f}", anchor="end", fill=MUTED))
    if floor is not None:
        parts.append(hline(LEFT, WIDTH - RIGHT, y(floor), MUTED, ' stroke-dasharray="3 3"'))
        parts.append(text(WIDTH - RIGHT, y(floor) - 4, f"floor {floor}", anchor="end", fill=MUTED))
    steps: list[tuple[float, float]] = []
    for at, value in series:
        if steps:
            steps.append((x(at.timestamp()), steps[-1][1]))
        steps.append((x(at.timestamp()), y(value)))
    parts.append(polyline(steps, "#6a4c93", extra=' class="epsilon"'))
    parts.append(time_axis(times, x, HEIGHT - 10))
    parts.append(text(LEFT, TOP - 10, f"ε now {series[-1][1]:.4f}"))
    parts.append("</svg>")
    return "".join(parts)


def feedback_volume_svg(aggregations: Sequence[Mapping], max_days: int = MAX_DAYS) -> str:
    """`aggregations`: documents (day, kind, count) of one agent; bars per day, stacked by kind."""
    if not aggregations:
        return empty_state("feedback-volume", "No feedback yet.", FEEDBACK_HINT)
    rows = [(doc["day"], doc["kind"], doc["count"]) for doc in aggregations]
    return stacked_days_svg(rows, "feedback-volume", "feedback per day by kind", max_days)


def stacked_days_svg(rows: Sequence[tuple[str, str, int]], chart: str, title: str, max_days: int = MAX_DAYS) -> str:
    """Bars per day (`YYYY-MM-DD`), stacked by category, with a legend of the totals; `rows` is not empty."""
    by_day: dict[str, Counter] = {}
    for day, category, count in rows:
        by_day.setdefault(day, Counter())[category] += count
    days = sorted(by_day)[-max_days:]
    kinds = sorted({kind for day in days for kind in by_day[day]})
    tallest = max(sum(by_day[day].values()) for day in days)
    legend_w = 170
    plot_right = WIDTH - RIGHT - legend_w
    slot = (plot_right - LEFT) / len(days)
    bar = max(min(slot * 0.7, 60), 2)
    y = scale(0, tallest, HEIGHT - BOTTOM, TOP)
    parts = [open_svg(WIDTH, max(HEIGHT, TOP + 16 * len(kinds) + 8), chart, title)]
    for tick in (0, tallest):
        parts.append(hline(LEFT, plot_right, y(tick)))
        parts.append(text(LEFT - 6, y(tick) + 4, str(tick), anchor="end", fill=MUTED))
    for i, day in enumerate(days):
        left = LEFT + i * slot + (slot - bar) / 2
        base = 0
        for k, kind in enumerate(kinds):
            count = by_day[day].get(kind, 0)
            if count:
                parts.append(
                    f'<rect class="bar" x="{left:.1f}" y="{y(base + count):.1f}" width="{bar:.1f}" '
                    f'height="{y(base) - y(base + count):.1f}" fill="{colour(k)}">'
                    f"<title>{escape(day)} {escape(kind)}: {count}</title></rect>"
                )
                base += count
        if len(days) <= 10 or i in (0, len(days) - 1):
            parts.append(text(left + bar / 2, HEIGHT - 10, day, size=10, anchor="middle", fill=AXIS))
    for k, kind in enumerate(kinds):
        ly = TOP + k * 16
        parts.append(f'<rect x="{plot_right + 16}" y="{ly - 9}" width="10" height="10" fill="{colour(k)}"/>')
        total = sum(by_day[day].get(kind, 0) for day in days)
        parts.append(text(plot_right + 31, ly, f"{kind[:22]} {total}", size=12))
    parts.append("</svg>")
    return "".join(parts)


def recalculations_svg(history: Sequence[Mapping]) -> str:
    """Horizontal bars: how many policy versions each trigger produced."""
    if not history:
        return empty_state(
            "recalculations",
            "No recalculation yet: one runs after 5 feedback messages, "
            "a strong signal, a session end, or on the timer.",
            FEEDBACK_HINT,
        )
    counts = Counter(doc["trigger"] for doc in history)
    triggers = sorted(counts, key=lambda t: (-counts[t], t))
    row, label_w = 26, 150
    height = TOP + row * len(triggers) + 8
    x = scale(0, max(counts.values()), LEFT + label_w, WIDTH - RIGHT - 40)
    parts = [open_svg(WIDTH, height, "recalculations", "policy recalculations by trigger")]
    parts.append(text(LEFT, TOP - 10, f"{len(history)} recalculations", fill=AXIS))
    for i, trigger in enumerate(triggers):
        top = TOP + i * row
        parts.append(text(LEFT + label_w - 8, top + 15, trigger, size=12, anchor="end", fill=AXIS))
        parts.append(
            f'<rect class="bar" data-trigger="{escape(trigger)}" x="{LEFT + label_w}" y="{top + 4}" '
            f'width="{max(x(counts[trigger]) - (LEFT + label_w), 2):.1f}" height="{row - 8}" '
            f'fill="{colour(i)}"/>'
        )
        parts.append(text(x(counts[trigger]) + 6, top + 15, str(counts[trigger]), size=12, fill=AXIS))
    parts.append(vline(LEFT + label_w, TOP, height - 8, GRID))
    parts.append("</svg>")
    return "".join(parts)
