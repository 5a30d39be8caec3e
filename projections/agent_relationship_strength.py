"""`agent_relationship_strength`: per agent and user, the interactions and an EWMA of reward."""

from __future__ import annotations

from typing import Any

from domain.agent import Agent, agent_id_of
from projections.projection import Projection, View
from projections.read_model_store import Collection
from projections.times import iso

RELATIONSHIPS = "agent_relationship_strength"
EWMA_ALPHA = 0.2


def _key(event: Any) -> str:
    return f"{agent_id_of(event.originator_id)}|{event.user_id}"


class AgentRelationshipStrength(Projection):
    name = RELATIONSHIPS
    version = 1
    collections = (Collection(RELATIONSHIPS, indexes=(("agentId",),)),)
    topics = frozenset({Agent.FeedbackRecorded.TOPIC})

    def prefetch(self, events: list[Any], view: View) -> None:
        view.prefetch(RELATIONSHIPS, {_key(e) for e in events if e.user_id is not None})

    def apply(self, event: Any, view: View) -> None:
        if event.user_id is None:
            return
        key = _key(event)
        doc = view.get(RELATIONSHIPS, key)
        if doc is None:
            doc = {
                "agentId": agent_id_of(event.originator_id),
                "userId": event.user_id,
                "interactions": 0,
                "strength": event.reward,
            }
        else:
            doc["strength"] += EWMA_ALPHA * (event.reward - doc["strength"])
        doc["interactions"] += 1
        doc["lastInteractionAt"] = iso(event.occurred_at)
        view.put(RELATIONSHIPS, key, doc)
