"""The audit: replay an agent's history and re-derive every recalculation from the events before it."""

from __future__ import annotations

import math
from typing import Any

from attrs import define

from adapters.service.learning_service import LearningService
from domain.agent import Agent

COMPARED = (
    "learned",
    "effective",
    "preferences",
    "policy",
    "epsilon",
    "last_batch_variance",
    "last_batch_feedback_at",
    "confidence",
    "metrics",
    "rates",
    "exploration",
)


@define
class AuditReport:
    agent_id: str
    events: int = 0
    recalculations: int = 0
    mismatch: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _differences(recorded: Any, derived: Any, path: str) -> list[str]:
    if isinstance(recorded, dict) and isinstance(derived, dict):
        out = []
        for key in sorted(set(recorded) | set(derived)):
            out += _differences(recorded.get(key), derived.get(key), f"{path}.{key}")
        return out
    if isinstance(recorded, (int, float)) and isinstance(derived, (int, float)) and not isinstance(recorded, bool):
        return (
            []
            if math.isclose(recorded, derived, rel_tol=1e-12, abs_tol=1e-12)
            else [f"{path}: recorded {recorded!r}, derived {derived!r}"]
        )
    return [] if recorded == derived else [f"{path}: recorded {recorded!r}, derived {derived!r}"]


def audit_agent(service: LearningService, agent_id: str) -> AuditReport:
    report = AuditReport(agent_id)
    agent: Agent | None = None
    for event in service.history(agent_id):
        report.events += 1
        if isinstance(event, Agent.PolicyRecalculated):
            report.recalculations += 1
            assert agent is not None
            # The rules in force when it was made: changing the rules never breaks the audit of old history.
            try:
                settings = service.rules.at(event.rules_version)
            except LookupError as error:
                report.mismatch = f"version {event.policy_version} (event {event.originator_version}): {error}"
                return report
            derived = agent.derive_recalculation(settings)
            derived_fields = {
                "learned": derived.learned,
                "effective": derived.effective,
                "preferences": derived.preferences,
                "policy": derived.policy,
                "epsilon": derived.epsilon,
                "last_batch_variance": derived.last_batch_variance,
                "last_batch_feedback_at": derived.last_batch_feedback_at,
                "confidence": derived.confidence,
                "metrics": derived.metrics,
                "rates": agent.rates(settings).to_dict(),
                "exploration": derived.exploration,
            }
            problems = []
            if event.policy_version != agent.policy_version + 1:
                problems.append(f"version: recorded {event.policy_version}, expected {agent.policy_version + 1}")
            for name in COMPARED:
                problems += _differences(getattr(event, name), derived_fields[name], name)
            if problems:
                report.mismatch = (
                    f"version {event.policy_version} (event {event.originator_version}, trigger {event.trigger}, "
                    f"rules version {event.rules_version}) "
                    f"does not match: "
                    + "; ".join(problems[:5])
                    + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
                )
                return report
        agent = event.mutate(agent)
    if agent is not None:
        stored = service.get_agent(agent_id)  # through snapshots and the cache
        replayed, loaded = dict(vars(agent)), dict(vars(stored))
        for state in (replayed, loaded):
            state.pop("_pending_events", None)
        if replayed != loaded:
            keys = sorted(k for k in set(replayed) | set(loaded) if replayed.get(k) != loaded.get(k))
            report.mismatch = f"replaying the history does not rebuild the stored state (differs in: {', '.join(keys)})"
    return report
