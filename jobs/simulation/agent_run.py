"""One simulated agent under one configuration: the product's own `Agent` aggregate, fed the feedback of
a simulated world (population.py). Nothing is stored: the events are made and dropped."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from attrs import frozen

from domain.agent import Agent
from domain.commands import EndSession, RecordFeedback, RegisterAgent
from domain.learning_config import LearningConfig
from domain.recalculation import published_policy
from domain.settings import LearningSettings
from jobs.simulation.population import FEEDBACK_GAP_MINUTES, SESSION_LENGTH, draw_world, interact

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # simulated time; no clock is read


@frozen
class Curve:
    """One agent's learning, at each of `points` (feedbacks received)."""

    seed: int
    points: tuple[int, ...]
    closed: tuple[float, ...]  # share of the starting trait error closed: 1 − error(n) / error(0)
    error: tuple[float, ...]  # mean |effective − preferred| over traits
    value: tuple[float, ...]  # expected satisfaction of the current traits and policy
    regret: tuple[float, ...]  # cumulative (best fixed value − value) over the feedbacks so far
    start_error: float
    archetype_value: float  # the value of staying at the archetype: its priors and action priors
    best_value: float  # the value of the best fixed agent: preferred traits, best action always


def archetype_policy(archetype: str, settings: LearningSettings) -> dict[str, float]:
    """What staying at the archetype would do: its action priors, without exploration."""
    return published_policy(settings.archetypes[archetype].action_priors, 0.0, settings.actions)


def curve_points(feedbacks: int, every: int = 10) -> tuple[int, ...]:
    return tuple(range(every, feedbacks + 1, every)) if feedbacks >= every else (feedbacks,)


def run_agent(seed: int, config: LearningConfig, feedbacks: int, settings: LearningSettings) -> Curve:
    world = draw_world(seed, settings)
    agent_id = f"sim-{seed}"
    agent = Agent.register(
        RegisterAgent(f"{agent_id}-registered", agent_id, START, archetype=world.archetype, config=config), settings
    )
    agent.collect_events()
    rng = random.Random(f"users-{seed}")  # the same users and noise for every configuration: paired
    start_error = world.trait_error(agent.effective)
    archetype_value = world.value(world.priors, archetype_policy(world.archetype, settings))
    best_value = world.best_fixed_value()
    points = curve_points(feedbacks)
    wanted = set(points)
    closed, errors, values, regrets = [], [], [], []
    regret = 0.0
    gap = timedelta(minutes=FEEDBACK_GAP_MINUTES)
    for n in range(1, feedbacks + 1):
        at = START + n * gap
        response = interact(world, agent.effective, agent.policy, rng, settings)
        session = f"{agent_id}-session-{(n - 1) // SESSION_LENGTH}"
        agent.record_feedback(
            RecordFeedback(
                f"{agent_id}-feedback-{n}",
                agent_id,
                at,
                response.kind,
                value=response.value,
                traits=response.traits,
                action=response.action,
                session_id=session,
            ),
            settings,
        )
        if n % SESSION_LENGTH == 0:
            agent.end_session(EndSession(f"{agent_id}-end-{n}", agent_id, at, session_id=session), settings)
        agent.collect_events()
        value = world.value(agent.effective, agent.policy)
        regret += best_value - value
        if n in wanted:
            error = world.trait_error(agent.effective)
            closed.append(1 - error / start_error if start_error > 0 else 0.0)
            errors.append(error)
            values.append(value)
            regrets.append(regret)
    return Curve(
        seed=seed,
        points=points,
        closed=tuple(closed),
        error=tuple(errors),
        value=tuple(values),
        regret=tuple(regrets),
        start_error=start_error,
        archetype_value=archetype_value,
        best_value=best_value,
    )
