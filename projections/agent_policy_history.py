"""`agent_policy_history`: one document per agent and policy version (what the charts draw)."""

from __future__ import annotations

from typing import Any

from domain.agent import Agent, agent_id_of
from domain.learning_update import learning_update
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
        view.put(HISTORY, f"{agent_id}|{event.policy_version:09d}", learning_update(event, iso))
