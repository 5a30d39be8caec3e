"""What `simulate` reports of many simulated agents: learning curves with 95% intervals, per configuration.

For each checkpoint n (10, 50, 200, 1000 feedbacks, those the run reaches):
- **closed**: the share of the starting trait error closed, mean ± sd over agents, with the mean's 95%
  interval (normal: ± 1.96 sd / √agents), and **pooled** (1 − Σ error(n) / Σ error(0));
- **worse**: the share of agents further from their users' preferred traits than their archetype
  (closed < 0), with its Wilson 95% interval;
- **gain**: value now − the archetype's value (what learning earned), mean and 95% interval;
- **regret**: best fixed value − value now (what is still left), and cumulative regret, means;
- **vs first**: closed − the first configuration's closed, per agent (the seeds are paired), mean and
  95% interval: the honest test of "is this configuration better?".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jobs.simulation.agent_run import Curve

CHECKPOINTS = (10, 50, 200, 1000)
Z95 = 1.959963984540054


def mean_interval(values: Sequence[float]) -> dict[str, float]:
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = Z95 * sd / math.sqrt(n) if n > 1 else 0.0
    return {"mean": mean, "sd": sd, "low": mean - half, "high": mean + half}


def wilson_interval(successes: int, n: int) -> dict[str, float]:
    share = successes / n
    denominator = 1 + Z95**2 / n
    centre = (share + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(share * (1 - share) / n + Z95**2 / (4 * n * n)) / denominator
    return {"share": share, "low": max(0.0, centre - half), "high": min(1.0, centre + half)}


def checkpoint_stats(curves: Sequence[Curve], index: int, first: Sequence[Curve] | None) -> dict[str, Any]:
    closed = [c.closed[index] for c in curves]
    stats: dict[str, Any] = {
        "feedbacks": curves[0].points[index],
        "closed": mean_interval(closed),
        "pooledClosed": 1 - math.fsum(c.error[index] for c in curves) / math.fsum(c.start_error for c in curves),
        "worse": wilson_interval(sum(1 for v in closed if v < 0), len(closed)),
        "gain": mean_interval([c.value[index] - c.archetype_value for c in curves]),
        "regret": mean_interval([c.best_value - c.value[index] for c in curves]),
        "cumulativeRegret": mean_interval([c.regret[index] for c in curves]),
    }
    if first is not None:
        stats["vsFirst"] = mean_interval(
            [c.closed[index] - f.closed[index] for c, f in zip(curves, first, strict=True)]
        )
    return stats


def summarize(name: str, curves: Sequence[Curve], first: Sequence[Curve] | None) -> dict[str, Any]:
    points = curves[0].points
    indices = [points.index(n) for n in CHECKPOINTS if n in points] or [len(points) - 1]
    return {
        "configuration": name,
        "agents": len(curves),
        "checkpoints": [checkpoint_stats(curves, i, first) for i in indices],
        "curve": {
            "feedbacks": list(points),
            "closed": [mean_interval([c.closed[i] for c in curves]) for i in range(len(points))],
        },
    }


def table_rows(summaries: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The printed table: one row per configuration and checkpoint."""
    columns = [
        "configuration",
        "feedbacks",
        "closed (mean ± sd)",
        "95% CI",
        "pooled",
        "worse",
        "gain (95% CI)",
        "regret (95% CI)",
    ]
    if len(summaries) > 1:
        columns.append("vs first (95% CI)")
    rows = []
    for summary in summaries:
        for point in summary["checkpoints"]:
            closed, worse, gain, regret = point["closed"], point["worse"], point["gain"], point["regret"]
            row = [
                summary["configuration"],
                str(point["feedbacks"]),
                f"{closed['mean']:.2f} ± {closed['sd']:.2f}",
                f"[{closed['low']:.2f}, {closed['high']:.2f}]",
                f"{point['pooledClosed']:.2f}",
                f"{worse['share']:.1%}",
                f"{gain['mean']:+.3f} [{gain['low']:+.3f}, {gain['high']:+.3f}]",
                f"{regret['mean']:.3f} [{regret['low']:.3f}, {regret['high']:.3f}]",
            ]
            if len(summaries) > 1:
                versus = point.get("vsFirst")
                row.append(
                    "-" if versus is None else f"{versus['mean']:+.2f} [{versus['low']:+.2f}, {versus['high']:+.2f}]"
                )
            rows.append(row)
    return columns, rows
