"""ClusteringInsights: what one monthly clustering found, kept beyond the run that printed it.

One aggregate per period (the UTC month): the centroids per archetype, the priors the run
refreshed, and the agents that sit nearer another archetype's centroid (mapping suggestions).
An administrator acts on a suggestion (the agent is remapped, `Agent.ArchetypeRemapped`) or
dismisses it; each is an event here, so the page and the API show what became of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.agent import RECORDED, UNCHANGED
from domain.text_id_aggregate import TextIdAggregate

INSIGHTS_ID_PREFIX = "clustering-insights:"
OPEN, REMAPPED, DISMISSED = "open", "remapped", "dismissed"


def insights_id(period: str) -> str:
    return INSIGHTS_ID_PREFIX + period


class UnknownSuggestion(LookupError):
    pass


class ClusteringInsights(TextIdAggregate):
    TOPIC = "agent_learning:ClusteringInsights"

    class Created(TextIdAggregate.Created):
        TOPIC = "agent_learning:ClusteringInsights.Created"

    class ClusteringRecorded(TextIdAggregate.Created):
        TOPIC = "agent_learning:ClusteringInsights.ClusteringRecorded"
        period: str
        agents: int
        clustered: int
        centroids: dict
        refreshed: list
        priors: dict
        suggestions: list
        occurred_at: datetime

    class SuggestionResolved(TextIdAggregate.Event):
        TOPIC = "agent_learning:ClusteringInsights.SuggestionResolved"
        agent_id: str
        outcome: str  # remapped | dismissed
        by: str
        reason: str
        occurred_at: datetime

    @staticmethod
    def create_id(period: str, **_: Any) -> str:
        return insights_id(period)

    @classmethod
    def record(
        cls,
        period: str,
        *,
        agents: int,
        clustered: int,
        centroids: dict,
        refreshed: list,
        priors: dict,
        suggestions: list,
        occurred_at: datetime,
    ) -> ClusteringInsights:
        return cls(
            period=period,
            agents=agents,
            clustered=clustered,
            centroids=centroids,
            refreshed=refreshed,
            priors=priors,
            suggestions=suggestions,
            occurred_at=occurred_at,
        )

    @event(ClusteringRecorded)
    def __init__(
        self,
        period: str,
        agents: int,
        clustered: int,
        centroids: dict,
        refreshed: list,
        priors: dict,
        suggestions: list,
        occurred_at: datetime,
    ) -> None:
        self.period = period
        self.suggestions = {s["agentId"]: {**s, "status": OPEN} for s in suggestions}

    def resolve(self, agent_id: str, outcome: str, by: str, reason: str, occurred_at: datetime) -> str:
        suggestion = self.suggestions.get(agent_id)
        if suggestion is None:
            raise UnknownSuggestion(
                f"the clustering of {self.period} made no suggestion for agent {agent_id!r} "
                "(see `agent-learning insights show`)"
            )
        if suggestion["status"] != OPEN:
            return UNCHANGED
        self._resolved(agent_id=agent_id, outcome=outcome, by=by, reason=reason, occurred_at=occurred_at)
        return RECORDED

    @event(SuggestionResolved)
    def _resolved(self, agent_id: str, outcome: str, by: str, reason: str, occurred_at: datetime) -> None:
        self.suggestions[agent_id] = {**self.suggestions[agent_id], "status": outcome}
