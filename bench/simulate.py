"""The simulator's speed, and the learning targets of issue 17, on the built-in rules.

    python bench/simulate.py [--agents 200] [--feedbacks 1000] [--workers 2]

1. Speed: one configuration (balanced), `--agents` × `--feedbacks`, on `--workers` processes
   (default every core), timed; and the same on one process, so the ratio shows what the cores buy.
2. Targets: balanced and fast, each with and without `rewardBaseline: sentiment` +
   `traitWeighting: per-feedback`, on the same paired worlds; prints the share of trait error
   closed at 200 feedbacks pooled over the agents, and the share no worse than the archetype.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.settings import DEFAULT_SETTINGS  # noqa: E402
from jobs.simulation.configurations import parse_configuration  # noqa: E402
from jobs.simulation.simulate import report, simulate  # noqa: E402

OPTIONS = "rewardBaseline=sentiment,traitWeighting=per-feedback"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--feedbacks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-serial", action="store_true", help="no single-process run")
    args = parser.parse_args()
    settings = DEFAULT_SETTINGS

    balanced = [parse_configuration("balanced", settings)]
    runs = [("parallel", args.workers)] + ([] if args.skip_serial else [("one process", 1)])
    seconds = {}
    for name, workers in runs:
        started = time.perf_counter()
        simulate(balanced, agents=args.agents, feedbacks=args.feedbacks, seed=1, settings=settings, workers=workers)
        seconds[name] = time.perf_counter() - started
        rate = args.agents * args.feedbacks / seconds[name]
        print(
            f"speed, {name} ({workers} worker(s)): {args.agents} agents × {args.feedbacks} feedbacks in "
            f"{seconds[name]:.1f} s ({rate:,.0f} feedbacks/s)"
        )
    if "one process" in seconds:
        print(f"speed ratio, one process / parallel: {seconds['one process'] / seconds['parallel']:.2f}")

    names = ["balanced", f"balanced,{OPTIONS}", "fast", f"fast,{OPTIONS}"]
    configurations = [parse_configuration(n, settings) for n in names]
    curves = simulate(
        configurations, agents=args.agents, feedbacks=args.feedbacks, seed=1, settings=settings, workers=args.workers
    )
    for summary in report(configurations, curves):
        at200 = next(p for p in summary["checkpoints"] if p["feedbacks"] == 200)
        closed, worse = at200["closed"], at200["worse"]
        print(
            f"{summary['configuration']:<62} closed@200 pooled {at200['pooledClosed']:.3f}, "
            f"mean {closed['mean']:.3f} ± {closed['sd']:.3f} [{closed['low']:.3f}, {closed['high']:.3f}], "
            f"no worse than archetype {1 - worse['share']:.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
