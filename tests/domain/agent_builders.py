"""Builders for domain tests: an agent registered at a known time, feedback commands, and its new events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.agent import Agent
from domain.commands import EndSession, RecordActivity, RecordFeedback, RegisterAgent
from domain.learning_config import LearningConfig
from domain.settings import DEFAULT_SETTINGS, LearningSettings

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
AGENT_ID = "a-1"

_ids = itertools.count(1)


def at(*, days: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    """A time relative to T0, the registration time of `registered_agent()`."""
    return T0 + timedelta(days=days, minutes=minutes, seconds=seconds)


def next_event_id(prefix: str = "evt") -> str:
    return f"{prefix}-{next(_ids)}"


def registered_agent(
    *,
    when: datetime = T0,
    archetype: str = "default",
    config: LearningConfig | None = None,
    settings: LearningSettings = DEFAULT_SETTINGS,
) -> Agent:
    """An agent registered at `when`, with its registration events already collected."""
    agent = Agent.register(RegisterAgent("reg-1", AGENT_ID, when, archetype=archetype, config=config), settings)
    agent.collect_events()
    return agent


def feedback(when: datetime, kind: str = "thumbs_up", **fields: Any) -> RecordFeedback:
    fields.setdefault("event_id", next_event_id("fb"))
    return RecordFeedback(agent_id=AGENT_ID, occurred_at=when, kind=kind, **fields)


def session_end(when: datetime) -> EndSession:
    return EndSession(next_event_id("session"), AGENT_ID, when, session_id="s-1")


def activity(when: datetime) -> RecordActivity:
    return RecordActivity(next_event_id("activity"), AGENT_ID, when)


def new_events(agent: Agent) -> list:
    """The events recorded since the last call (or registration), collected so the next call starts afresh."""
    return list(agent.collect_events())


def recalculations(events: list) -> list[Agent.PolicyRecalculated]:
    return [e for e in events if isinstance(e, Agent.PolicyRecalculated)]


def event_names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def record_batch(
    agent: Agent,
    start: datetime,
    kinds_and_values: list[tuple[str, float | None]],
    settings: LearningSettings = DEFAULT_SETTINGS,
    **fields: Any,
) -> None:
    """Records weak feedback one minute apart from `start`; five of them trigger a recalculation."""
    for i, (kind, value) in enumerate(kinds_and_values):
        agent.record_feedback(feedback(start + timedelta(minutes=i), kind, value=value, **fields), settings)


MIXED_BATCH = [("thumbs_up", None), ("rating", 1), ("thumbs_up", None), ("rating", 1), ("thumbs_up", None)]
STEADY_BATCH = [("thumbs_up", None)] * 5


def agent_with_lowered_epsilon(settings: LearningSettings = DEFAULT_SETTINGS) -> Agent:
    """An agent whose second batch was steadier than its first, so ε went 0.02 → 0.018."""
    agent = registered_agent(settings=settings)
    record_batch(agent, at(minutes=1), MIXED_BATCH, settings)
    record_batch(agent, at(minutes=10), STEADY_BATCH, settings)
    agent.collect_events()
    return agent
