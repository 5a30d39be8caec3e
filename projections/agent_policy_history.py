"""`agent_policy_history`: one document per agent and policy version (what the charts draw)."""

from __future__ import annotations

from typing import Any

from domain.agent import Agent, agent_id_of
from projections.projection import Projection, View
from projections.read_model_store import Collection
from projections.times import iso

HISTORY = "agent_policy_history"


class AgentPolicyHistory(Projection):
    name = HISTORY
    version = 1
    collections = (Collection(HISTORY, indexes=(("agentId", "version"),)),)
    topics = frozenset({Agent.PolicyRecalculated.TOPIC})

    def apply(self, event: Any, view: View) -> None:
        agent_id = agent_id_of(event.originator_id)
        view.put(HISTORY, f"{agent_id}|{event.policy_version:09d}", {
            "agentId": agent_id,
            "version": event.policy_version,
            "trigger": event.trigger,
            "traits": event.effective,
            "learnedTraits": event.learned,
            "actionPolicy": event.policy,
            "explorationEpsilon": event.epsilon,
            "confidence": event.confidence,
            "metrics": event.metrics,
            "occurredAt": iso(event.occurred_at),
        })
