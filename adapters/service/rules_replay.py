"""A counterfactual replay: the logged inputs of the last days, through the rules in force and through new ones.

For each agent, its state when the window opens is rebuilt from its history; then what
came in during the window (feedback, session ends, activity, configuration, manual
freezes, the timer ticks that fired) is fed again, as commands, to two copies of that
state: one under the rules in force, one under the new rules. The domain's own rule code
decides both; nothing is written. What differs is counted: recalculations, freezes,
rejected feedback (a kind the new rules drop), and trait movements.

It replays the logged data only: the users' feedback stays what it was, though the
agents the new rules make would have been answered differently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from attrs import define, field

from adapters.service.learning_service import LearningService
from domain.agent import Agent, replay
from domain.commands import (
    ConfigureLearning,
    EndSession,
    FreezeUpdates,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
    UnfreezeUpdates,
)
from domain.learning_config import LearningConfig
from domain.rewards import UnknownFeedback
from domain.settings import LearningSettings
from domain.triggers import TIMER

CAVEAT = (
    "A counterfactual replay of the logged feedback: it shows what the new rules would have done with "
    "the feedback users actually gave; it cannot show how users would have reacted differently to the "
    "agents those rules would have made."
)
MOVED = 1e-9  # a trait value further apart than this counts as a different movement


@define
class SideOutcome:
    recalculations: int = 0
    freezes: int = 0
    rejected: int = 0
    traits: dict[str, float] = field(factory=dict)
    recalculated_traits: list[dict[str, float]] = field(factory=list)


@define
class AgentReplay:
    agent_id: str
    inputs: int
    recorded_recalculations: int
    current: SideOutcome
    proposed: SideOutcome

    @property
    def differing_movements(self) -> int:
        """Recalculations (paired in order) whose traits differ, plus those only one side made."""
        pairs = zip(self.current.recalculated_traits, self.proposed.recalculated_traits, strict=False)
        differing = sum(1 for a, b in pairs if _apart(a, b))
        return differing + abs(len(self.current.recalculated_traits) - len(self.proposed.recalculated_traits))

    @property
    def differs(self) -> bool:
        return (
            self.current.recalculations != self.proposed.recalculations
            or self.current.freezes != self.proposed.freezes
            or self.current.rejected != self.proposed.rejected
            or self.differing_movements > 0
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "agentId": self.agent_id,
            "inputs": self.inputs,
            "recordedRecalculations": self.recorded_recalculations,
            "recalculations": {"current": self.current.recalculations, "proposed": self.proposed.recalculations},
            "freezes": {"current": self.current.freezes, "proposed": self.proposed.freezes},
            "rejectedFeedback": {"current": self.current.rejected, "proposed": self.proposed.rejected},
            "differingTraitMovements": self.differing_movements,
            "traits": {
                t: {"current": self.current.traits.get(t), "proposed": self.proposed.traits.get(t)}
                for t in sorted(set(self.current.traits) | set(self.proposed.traits))
            },
            "differs": self.differs,
        }


def _apart(a: dict[str, float], b: dict[str, float]) -> bool:
    return any(abs(a.get(t, 0.0) - b.get(t, 0.0)) > MOVED for t in set(a) | set(b))


@define
class ReplayReport:
    since: datetime
    until: datetime
    current_version: int
    agents: list[AgentReplay]

    def totals(self) -> dict[str, Any]:
        def total(side: str, what: str) -> int:
            return sum(getattr(getattr(a, side), what) for a in self.agents)

        return {
            "agents": len(self.agents),
            "agentsThatDiffer": sum(1 for a in self.agents if a.differs),
            "inputs": sum(a.inputs for a in self.agents),
            "recalculations": {
                "current": total("current", "recalculations"),
                "proposed": total("proposed", "recalculations"),
            },
            "freezes": {"current": total("current", "freezes"), "proposed": total("proposed", "freezes")},
            "rejectedFeedback": {"current": total("current", "rejected"), "proposed": total("proposed", "rejected")},
            "differingTraitMovements": sum(a.differing_movements for a in self.agents),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "currentRulesVersion": self.current_version,
            "caveat": CAVEAT,
            "totals": self.totals(),
            "agents": [a.to_dict() for a in self.agents],
        }


def replay_window(
    service: LearningService,
    proposed: LearningSettings,
    agent_ids: Iterable[str],
    now: datetime,
    days: float,
) -> ReplayReport:
    current = service.refresh_rules()
    since = now - timedelta(days=days)
    report = ReplayReport(since, now, current.rules_version, [])
    for agent_id in agent_ids:
        history = service.history(agent_id)
        before = [e for e in history if e.occurred_at < since or isinstance(e, Agent.AgentRegistered)]
        window = [e for e in history if e.occurred_at >= since and not isinstance(e, Agent.AgentRegistered)]
        window = [e for e in window if e.occurred_at <= now]
        inputs = []
        for index, event in enumerate(window):
            previous = window[index - 1] if index else (before[-1] if before else None)
            item = logged_input(event, agent_id, previous)
            if item is not None:
                inputs.append(item)
        if not inputs:
            continue
        recorded = sum(1 for e in window if isinstance(e, Agent.PolicyRecalculated))
        report.agents.append(
            AgentReplay(
                agent_id,
                inputs=len(inputs),
                recorded_recalculations=recorded,
                current=_run(before, inputs, current),
                proposed=_run(before, inputs, proposed),
            )
        )
    return report


def logged_input(event: Any, agent_id: str, previous: Any | None) -> Any | None:
    """The command (or tick time) that made this event, for what came from outside; None for the rest.

    A tick leaves a trace only when it did something: a timer recalculation, or a freeze that
    no event came just before (a freeze right after an event, at its time, was that event's)."""
    if isinstance(event, Agent.FeedbackRecorded):
        return RecordFeedback(
            event.event_id,
            agent_id,
            event.occurred_at,
            kind=event.kind,
            value=event.value,
            traits=dict(event.traits),
            action=event.action,
            session_id=event.session_id,
            interaction_id=event.interaction_id,
            user_id=event.user_id,
        )
    if isinstance(event, Agent.SessionEnded):
        return EndSession(event.event_id, agent_id, event.occurred_at, event.session_id)
    if isinstance(event, Agent.ActivityRecorded):
        return RecordActivity(event.event_id, agent_id, event.occurred_at, event.activity)
    if isinstance(event, Agent.LearningConfigured):
        return ConfigureLearning(event.event_id, agent_id, event.occurred_at, LearningConfig.from_dict(event.config))
    if isinstance(event, Agent.RegistrationAmended):
        return RegisterAgent(event.event_id, agent_id, event.occurred_at, event.archetype, event.owner_id)
    if isinstance(event, Agent.PolicyRecalculated) and event.trigger == TIMER:
        return event.occurred_at  # a tick that fired then
    if isinstance(event, Agent.UpdatesFrozen):
        if event.by is not None:
            return FreezeUpdates(agent_id, event.reason, event.occurred_at, event.by)
        if previous is None or previous.occurred_at != event.occurred_at:
            return event.occurred_at  # the tick that froze it
        return None
    if isinstance(event, Agent.UpdatesUnfrozen):
        return UnfreezeUpdates(agent_id, event.reason, event.occurred_at, event.by)
    if isinstance(event, Agent.PriorsRefreshed):
        return event
    return None


def _run(before: list[Any], inputs: list[Any], settings: LearningSettings) -> SideOutcome:
    agent = replay(before)
    assert agent is not None
    outcome = SideOutcome()
    for item in inputs:
        try:
            feed_input(agent, item, settings)
        except UnknownFeedback:
            outcome.rejected += 1
            continue
        for produced in agent.collect_events():
            if isinstance(produced, Agent.PolicyRecalculated):
                outcome.recalculations += 1
                outcome.recalculated_traits.append(dict(produced.effective))
            elif isinstance(produced, Agent.UpdatesFrozen) and produced.by is None:
                outcome.freezes += 1
    outcome.traits = dict(agent.effective)
    return outcome


def feed_input(agent: Agent, item: Any, settings: LearningSettings) -> None:
    if isinstance(item, datetime):
        agent.tick(item, settings)
    elif isinstance(item, RecordFeedback):
        agent.record_feedback(item, settings)
    elif isinstance(item, EndSession):
        agent.end_session(item, settings)
    elif isinstance(item, RecordActivity):
        agent.record_activity(item, settings)
    elif isinstance(item, ConfigureLearning):
        agent.configure(item, settings)
    elif isinstance(item, RegisterAgent):
        agent.amend_registration(item, settings)
    elif isinstance(item, FreezeUpdates):
        agent.freeze(item)
    elif isinstance(item, UnfreezeUpdates):
        agent.unfreeze(item)
    elif isinstance(item, Agent.PriorsRefreshed):
        agent.refresh_priors(item.archetype, item.after, item.period, item.occurred_at)
