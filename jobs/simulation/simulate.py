"""`agent-learning simulate`: many simulated agents under each configuration, on every core.

Agent i of every configuration meets the same world and the same users (seed `seed + i`), so two
configurations are compared agent by agent. The rules are the ones passed in (those in force);
the learning is the `Agent` aggregate's own. Nothing is recorded.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

from domain.settings import LearningSettings
from jobs.simulation.agent_run import Curve, run_agent
from jobs.simulation.configurations import Configuration
from jobs.simulation.report import summarize

# Set before the worker processes fork, so they inherit the settings (which do not pickle) and configurations.
_shared: dict[str, Any] = {}


def _run_task(task: tuple[int, int]) -> tuple[int, int, Curve]:
    index, seed = task
    configuration = _shared["configurations"][index]
    return index, seed, run_agent(seed, configuration.config, _shared["feedbacks"], _shared["settings"])


def simulate(
    configurations: Sequence[Configuration],
    *,
    agents: int,
    feedbacks: int,
    seed: int,
    settings: LearningSettings,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[Curve]]:
    """Each configuration's curves, agent by agent in seed order."""
    tasks = [(index, seed + agent) for agent in range(agents) for index in range(len(configurations))]
    _shared.update(configurations=list(configurations), feedbacks=feedbacks, settings=settings)
    results: list[list[Curve | None]] = [[None] * agents for _ in configurations]
    workers = workers or os.cpu_count() or 1
    done = 0
    try:
        if workers == 1:
            outcomes = map(_run_task, tasks)
            for index, agent_seed, curve in outcomes:
                results[index][agent_seed - seed] = curve
                done += 1
                if progress:
                    progress(done, len(tasks))
        else:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for index, agent_seed, curve in pool.imap_unordered(_run_task, tasks, chunksize=4):
                    results[index][agent_seed - seed] = curve
                    done += 1
                    if progress:
                        progress(done, len(tasks))
    finally:
        _shared.clear()
    return [[c for c in curves if c is not None] for curves in results]


def report(configurations: Sequence[Configuration], curves: Sequence[Sequence[Curve]]) -> list[dict[str, Any]]:
    first = curves[0]
    return [
        summarize(configuration.name, these, None if index == 0 else first)
        for index, (configuration, these) in enumerate(zip(configurations, curves, strict=True))
    ]
