"""What the agent page draws from the agent's own recorded events, read once per page.

The read models hold the policy versions and the daily counts; the rest (each feedback's
reward and the sentiment after it, ε changes, freezes and unfreezes, the recent history)
comes from the agent's events. Feedback text (prompt, response) is never taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from attrs import define, field, frozen

from adapters.service.agent_history import summarise
from domain.agent import Agent
from domain.timestamps import to_iso

RECENT = 20


@frozen
class FeedbackPoint:
    at: datetime
    reward: float
    sentiment: float


@frozen
class Mark:
    """A freeze or an unfreeze, placed on the version axis at the policy version in force then."""

    at: datetime
    version: int
    frozen: bool
    reason: str


@frozen
class Entry:
    """One line of the page's recent history."""

    version: int
    at: str
    type: str
    summary: str


@define
class AgentTimeline:
    priors: dict[str, float] | None = None
    feedback: list[FeedbackPoint] = field(factory=list)
    sentiment_resets: list[datetime] = field(factory=list)
    epsilon: list[tuple[datetime, float]] = field(factory=list)
    marks: list[Mark] = field(factory=list)
    recent: list[Entry] = field(factory=list)
    last_at: datetime | None = None  # the latest event's time: the charts' right edge

    @classmethod
    def from_events(cls, events: Iterable[Any], recent: int = RECENT) -> AgentTimeline:
        timeline = cls()
        version = 0
        entries: list[Entry] = []
        for event in events:
            at = getattr(event, "occurred_at", None) or event.timestamp
            if isinstance(event, Agent.AgentRegistered):
                timeline.priors = dict(event.priors)
                timeline.epsilon.append((at, event.epsilon))
            elif isinstance(event, Agent.LearningConfigured):
                timeline.epsilon.append((at, event.epsilon))
            elif isinstance(event, Agent.FeedbackRecorded):
                timeline.feedback.append(FeedbackPoint(at, event.reward, event.sentiment))
            elif isinstance(event, Agent.PolicyRecalculated):
                version = event.policy_version
                timeline.epsilon.append((at, event.epsilon))
            elif isinstance(event, (Agent.UpdatesFrozen, Agent.UpdatesUnfrozen)):
                unfrozen = isinstance(event, Agent.UpdatesUnfrozen)
                timeline.marks.append(Mark(at, version, not unfrozen, event.reason))
                if unfrozen:
                    timeline.sentiment_resets.append(at)
            timeline.last_at = at if timeline.last_at is None else max(timeline.last_at, at)
            entries.append(Entry(event.originator_version, to_iso(at), type(event).__name__, summarise(event)))
        timeline.recent = entries[-recent:][::-1]
        return timeline
