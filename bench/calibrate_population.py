"""How the simulated users' parameters were chosen: a search toward issue 17's reference measurements.

    python bench/calibrate_population.py [--points 200] [--agents 40] [--finalists 6] [--seed 1]

Issue 17 measured the learning rules on its own simulated users and published what it saw at 200
feedbacks (share of trait error closed, mean ± sd per agent, and the share of agents left further
from their users than the archetype they started from):

    conservative                                   0.42 ± 0.26
    balanced                                       0.29 ± 0.38   16% worse
    fast                                          −0.03 ± 0.67   36% worse
    balanced + baseline + per-feedback traits      0.48 ± 0.18
    fast + baseline + per-feedback traits          0.53 ± 0.21   2.5% worse

and at 1000 feedbacks 0.51, 0.28, 0.06 and 0.72 (balanced + the options). Those are measurements of
one population, with and without the options, so all of them describe it: this searches the
parameters of jobs/simulation/population.py for the point that reproduces them together. Each point
runs the five configurations on the same paired worlds and is scored by
Σ (mean − reference)² + ¼ Σ (sd − reference sd)² + ¼ Σ (worse − reference worse)².

Stage 1 draws `--points` random points (`--agents` agents each, 200 feedbacks); stage 2 runs the
best `--finalists` again on 200 agents to 1000 feedbacks, adds the 1000-feedback references to the
score, and prints every figure beside its reference; stage 3 refines the nearest by coordinate
descent over finer values (`--sweeps` each, 200 agents), first on the 200-feedback figures, then on
all of them to 1000 feedbacks. On two cores: about 45 minutes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jobs.simulation.population as population  # noqa: E402
from domain.settings import DEFAULT_SETTINGS  # noqa: E402
from jobs.simulation.configurations import parse_configuration  # noqa: E402
from jobs.simulation.simulate import simulate  # noqa: E402

OPTIONS = "rewardBaseline=sentiment,traitWeighting=per-feedback"
# configuration → (mean, sd, share worse) at 200 feedbacks, and mean at 1000 (None: not published)
REFERENCE: dict[str, tuple[float, float | None, float | None, float | None]] = {
    "conservative": (0.42, 0.26, None, 0.51),
    "balanced": (0.29, 0.38, 0.16, 0.28),
    "fast": (-0.03, 0.67, 0.36, 0.06),
    f"balanced,{OPTIONS}": (0.48, 0.18, None, 0.72),
    f"fast,{OPTIONS}": (0.53, 0.21, 0.025, None),
}
MIXES = {
    "thumbs-heavy": (("thumbs", 0.60), ("rating", 0.05), ("draft", 0.25), ("implicit", 0.10)),
    "implicit-heavy": (("thumbs", 0.50), ("rating", 0.15), ("draft", 0.10), ("implicit", 0.25)),
    "thumbs-only": (("thumbs", 1.0),),
}
SPACE: dict[str, tuple] = {
    "PREFERENCE_SPREAD": (0.1, 0.15, 0.2, 0.25, 0.3),
    "SHOWN_SPREAD": (0.1, 0.15, 0.2, 0.25, 0.3),
    "ATTRIBUTION_SCALE": (0.2, 0.3, 0.5),
    "TRAIT_NAMED": (0.25, 0.5, 0.75, 1.0),
    "ACTION_WEIGHT": (0.1, 0.2, 0.3),
    "SATISFACTION_NOISE": (0.0, 0.05, 0.1, 0.2),
    "GENEROSITY": ((0.35, 0.65), (0.25, 0.55), (0.15, 0.45), (0.3, 0.5), (0.2, 0.7)),
    "DISTANCE_SCALE": (1.0, 2.0, 3.0, 4.0),
    "FEEDBACK_MIX": tuple(MIXES),
}

FINE: dict[str, tuple] = {
    "PREFERENCE_SPREAD": (0.2, 0.25, 0.3, 0.35, 0.4),
    "SHOWN_SPREAD": (0.1, 0.15, 0.2, 0.25, 0.3),
    "ATTRIBUTION_SCALE": (0.1, 0.15, 0.2, 0.25, 0.3),
    "TRAIT_NAMED": (0.5, 0.6, 0.75, 0.9, 1.0),
    "ACTION_WEIGHT": (0.05, 0.1, 0.15, 0.2),
    "SATISFACTION_NOISE": (0.1, 0.15, 0.2, 0.25, 0.3),
    "GENEROSITY": ((0.3, 0.6), (0.35, 0.65), (0.4, 0.7), (0.3, 0.7), (0.4, 0.6)),
    "DISTANCE_SCALE": (2.0, 2.5, 3.0, 3.5, 4.0),
    "FEEDBACK_MIX": tuple(MIXES),
}


def apply(point: dict) -> None:
    for name, value in point.items():
        setattr(population, name, MIXES[value] if name == "FEEDBACK_MIX" else value)
    population.TRAIT_WEIGHT = 1 - population.ACTION_WEIGHT


def measure(point: dict, agents: int, feedbacks: int, seed: int) -> dict[str, dict[str, float]]:
    """Per configuration: mean, sd and share worse at 200 feedbacks, and the mean at `feedbacks`."""
    apply(point)
    configurations = [parse_configuration(name, DEFAULT_SETTINGS) for name in REFERENCE]
    curves = simulate(configurations, agents=agents, feedbacks=feedbacks, seed=seed, settings=DEFAULT_SETTINGS)
    figures = {}
    for name, these in zip(REFERENCE, curves, strict=True):
        at200 = [c.closed[c.points.index(200)] for c in these]
        figures[name] = {
            "mean": statistics.fmean(at200),
            "sd": statistics.stdev(at200),
            "worse": sum(1 for v in at200 if v < 0) / len(at200),
            "end": statistics.fmean(c.closed[-1] for c in these),
        }
    return figures


def score(figures: dict[str, dict[str, float]], with_end: bool) -> float:
    total = 0.0
    for name, (mean, sd, worse, end) in REFERENCE.items():
        got = figures[name]
        total += (got["mean"] - mean) ** 2
        total += 0.25 * (got["sd"] - sd) ** 2 if sd is not None else 0.0
        total += 0.25 * (got["worse"] - worse) ** 2 if worse is not None else 0.0
        total += (got["end"] - end) ** 2 if with_end and end is not None else 0.0
    return total


def shown(figures: dict[str, dict[str, float]], with_end: bool) -> str:
    lines = []
    for name, (mean, sd, worse, end) in REFERENCE.items():
        got = figures[name]
        line = f"    {name:55} {got['mean']:+.2f} ± {got['sd']:.2f} (ref {mean:+.2f} ± {sd:.2f})"
        line += f"  worse {got['worse']:.1%}" + (f" (ref {worse:.1%})" if worse is not None else "")
        if with_end:
            line += f"  @1000 {got['end']:+.2f}" + (f" (ref {end:+.2f})" if end is not None else "")
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--finalists", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sweeps", type=int, default=2, help="coordinate-descent sweeps after the finalists")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    points = [{name: rng.choice(values) for name, values in SPACE.items()} for _ in range(args.points)]
    results = []
    started = time.monotonic()
    for i, point in enumerate(points, 1):
        figures = measure(point, args.agents, 200, args.seed)
        results.append((score(figures, False), point))
        print(f"[{i}/{len(points)}, {time.monotonic() - started:.0f} s] {results[-1][0]:.4f} {point}", flush=True)
    print("\nfinalists, 200 agents to 1000 feedbacks:")
    finals = []
    for _, point in sorted(results, key=lambda r: r[0])[: args.finalists]:
        figures = measure(point, 200, 1000, args.seed)
        finals.append((score(figures, True), point, figures))
        print(f"{finals[-1][0]:.4f} {point}\n{shown(figures, True)}", flush=True)
    best = min(finals, key=lambda f: f[0])
    print(f"\nnearest the reference: {best[0]:.4f} {best[1]}\n{shown(best[2], True)}")
    point = refine(best[1], args.seed, args.sweeps, with_end=False)
    point = refine(point, args.seed, args.sweeps, with_end=True)
    figures = measure(point, 200, 1000, args.seed)
    print(f"\nrefined: {score(figures, True):.4f} {point}\n{shown(figures, True)}")
    return 0


def refine(point: dict, seed: int, sweeps: int, with_end: bool = True) -> dict:
    """Coordinate descent on 200 agents to 1000 feedbacks (`with_end`; else to 200): each knob in turn
    moves to a neighbouring value of FINE while that lowers the score."""
    point = dict(point)
    feedbacks = 1000 if with_end else 200

    def trial_score(trial: dict) -> float:
        return score(measure(trial, 200, feedbacks, seed), with_end)

    best = trial_score(point)
    print(f"\nrefining from {best:.4f}", flush=True)
    for sweep in range(sweeps):
        moved = False
        for name, values in FINE.items():
            at = values.index(point[name]) if point[name] in values else None
            neighbours = values if at is None else values[max(0, at - 1) : at + 2]
            for value in neighbours:
                if value == point[name]:
                    continue
                trial = {**point, name: value}
                result = trial_score(trial)
                print(f"  sweep {sweep + 1}: {name}={value} {result:.4f}", flush=True)
                if result < best:
                    best, point, moved = result, trial, True
        if not moved:
            break
    return point


if __name__ == "__main__":
    sys.exit(main())
