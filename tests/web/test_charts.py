"""The server-rendered charts: what each draws from its data, and what each says without data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from adapters.web.agent_timeline import AgentTimeline, FeedbackPoint, Mark
from adapters.web.charts import (
    MAX_POINTS,
    epsilon_svg,
    feedback_volume_svg,
    recalculations_svg,
    reward_sentiment_svg,
)
from adapters.web.trait_chart import trait_chart_svg
from domain.catalogue import TRAIT_BOUNDS

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def _history(versions: int) -> list[dict]:
    return [
        {
            "version": v,
            "trigger": "timer" if v % 3 else "strong_signal",
            "traits": {t: 0.5 + 0.01 * v for t in TRAIT_BOUNDS},
        }
        for v in range(1, versions + 1)
    ]


def _numbers(attribute: str, svg: str) -> list[float]:
    return [float(n) for n in re.findall(rf'{attribute}="([-\d.]+)"', svg)]


def test_the_trait_chart_draws_one_panel_per_trait_with_its_bounds_shaded():
    svg = trait_chart_svg(_history(4), priors={t: 0.5 for t in TRAIT_BOUNDS})
    assert re.findall(r'<g data-trait="([^"]+)">', svg) == list(TRAIT_BOUNDS)
    assert svg.count('class="bounds"') == len(TRAIT_BOUNDS)
    assert "sarcasm bounds 0.00–0.60" in svg and "empathy bounds 0.20–0.95" in svg
    empathy = svg.split('<g data-trait="empathy">')[1].split("</g>")[0]
    points = re.search(r'points="([^"]+)"', empathy).group(1).split()
    assert len(points) == 5  # the priors as version 0, then versions 1 to 4


def test_freezes_and_unfreezes_are_marked_at_the_version_in_force():
    marks = [Mark(T0, 2, True, "sentiment"), Mark(T0 + timedelta(days=1), 2, False, "reviewed")]
    svg = trait_chart_svg(_history(4), marks=marks)
    empathy = svg.split('<g data-trait="empathy">')[1].split("</g>")[0]
    freeze = re.search(r'<line x1="([\d.]+)"[^>]*class="freeze"', empathy)
    unfreeze = re.search(r'<line x1="([\d.]+)"[^>]*class="unfreeze"', empathy)
    assert freeze and unfreeze and freeze.group(1) == unfreeze.group(1)
    line = re.search(r'points="([^"]+)"', empathy).group(1).split()
    assert line[1].split(",")[0] == freeze.group(1)  # version 2 is the second point (no priors given)


def test_reward_and_sentiment_are_drawn_with_the_freeze_threshold():
    timeline = AgentTimeline(feedback=[FeedbackPoint(T0 + timedelta(minutes=i), -1.0, -0.1 * i) for i in range(8)])
    svg = reward_sentiment_svg(timeline)
    assert svg.count('class="reward"') == 8
    assert 'class="threshold"' in svg and "freeze threshold -0.5" in svg
    threshold_y = float(re.search(r'y1="([\d.]+)"[^>]*class="threshold"', svg).group(1))
    top, bottom = 26, 230 - 30  # +1 and −1
    assert threshold_y == top + (bottom - top) * 0.75
    assert "sentiment (now -0.700)" in svg


def test_long_feedback_series_are_averaged_into_buckets():
    timeline = AgentTimeline(
        feedback=[FeedbackPoint(T0 + timedelta(seconds=i), (-1.0) ** i, 0.0) for i in range(MAX_POINTS * 4)]
    )
    svg = reward_sentiment_svg(timeline)
    assert svg.count('class="reward"') == MAX_POINTS
    assert "reward (mean per point)" in svg


def test_epsilon_is_a_step_line_extended_to_the_latest_event():
    timeline = AgentTimeline(epsilon=[(T0, 0.02), (T0 + timedelta(hours=1), 0.018)])
    svg = epsilon_svg(timeline, now=T0 + timedelta(hours=2), floor=0.005)
    points = re.search(r'class="epsilon"', svg) and re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(points) == 5  # start, step down (two points), then flat to now (two points)
    assert "ε now 0.0180" in svg and "floor 0.005" in svg


def test_feedback_volume_stacks_each_days_kinds():
    docs = [
        {"day": "2026-11-23", "kind": "thumbs_up", "count": 3},
        {"day": "2026-11-23", "kind": "rating", "count": 1},
        {"day": "2026-11-24", "kind": "thumbs_up", "count": 2},
    ]
    svg = feedback_volume_svg(docs)
    bars = re.findall(r"<title>(\S+) (\S+): (\d+)</title>", svg)
    assert sorted(bars) == [
        ("2026-11-23", "rating", "1"),
        ("2026-11-23", "thumbs_up", "3"),
        ("2026-11-24", "thumbs_up", "2"),
    ]
    assert ">rating 1<" in svg and ">thumbs_up 5<" in svg
    heights = _numbers("height", svg.split("<title>feedback per day by kind</title>")[1])
    assert heights[0] + heights[1] > heights[2]  # the first day's stack is taller


def test_recalculations_are_counted_by_trigger():
    svg = recalculations_svg(_history(6))
    assert re.findall(r'data-trigger="([^"]+)"', svg) == ["timer", "strong_signal"]
    assert "6 recalculations" in svg


def test_without_data_each_chart_says_what_to_do():
    for html in (
        trait_chart_svg([]),
        reward_sentiment_svg(AgentTimeline()),
        epsilon_svg(AgentTimeline()),
        feedback_volume_svg([]),
        recalculations_svg([]),
    ):
        assert html.startswith('<p class="empty"') and "<svg" not in html
        assert "<code>agent-learning ingest FILE</code>" in html and "<code>POST /api/feedback</code>" in html


def test_data_in_charts_is_escaped():
    docs = [{"day": "2026-11-23", "kind": "<script>", "count": 1}]
    assert "<script>" not in feedback_volume_svg(docs)
