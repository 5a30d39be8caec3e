"""`agent_feedback_aggregations`: per agent, per day (UTC) and per kind, the count and the reward sum."""

from __future__ import annotations

from typing import Any

from domain.agent import Agent, agent_id_of
from projections.projection import Projection, View
from projections.read_model_store import Collection
from projections.times import utc_day

AGGREGATIONS = "agent_feedback_aggregations"


def _key(event: Any) -> tuple[str, str, str]:
    day = utc_day(event.occurred_at)
    return agent_id_of(event.originator_id), day, event.kind


class AgentFeedbackAggregations(Projection):
    name = AGGREGATIONS
    version = 1
    collections = (Collection(AGGREGATIONS, indexes=(("agentId", "day"),)),)
    topics = frozenset({Agent.FeedbackRecorded.TOPIC})

    def prefetch(self, events: list[Any], view: View) -> None:
        view.prefetch(AGGREGATIONS, {"|".join(_key(e)) for e in events})

    def apply(self, event: Any, view: View) -> None:
        agent_id, day, kind = _key(event)
        key = f"{agent_id}|{day}|{kind}"
        doc = view.get(AGGREGATIONS, key) or {
            "agentId": agent_id,
            "day": day,
            "kind": kind,
            "count": 0,
            "rewardSum": 0.0,
        }
        doc["count"] += 1
        doc["rewardSum"] += event.reward
        view.put(AGGREGATIONS, key, doc)
