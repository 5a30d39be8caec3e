"""Acting on what the monthly clustering found: remap an agent to the archetype it sits nearer, or dismiss it.

A remap is one write of two aggregates: the agent (`ArchetypeRemapped`, its priors become the
archetype's current ones: the monthly refresh's where there is one, else the rules') and the
period's insights (the suggestion resolved), decided on fresh state. An agent can be remapped
without a suggestion too (an administrator's call); then only the agent changes.
"""

from __future__ import annotations

from datetime import datetime

from adapters.service.learning_service import LearningService, UnknownAgent
from adapters.service.refreshed_archetypes import settings_with_refreshed_priors, stored_priors
from adapters.service.unit_of_work import Loaded
from domain.agent import RECORDED, agent_aggregate_id
from domain.clustering_insights import DISMISSED, REMAPPED, ClusteringInsights, UnknownSuggestion, insights_id


def _insights(loaded: Loaded, period: str) -> ClusteringInsights:
    insights = loaded.find(insights_id(period))
    if insights is None:
        raise UnknownSuggestion(f"no clustering was recorded for {period!r} (see `agent-learning insights show`)")
    return insights


def remap_agent(
    service: LearningService,
    agent_id: str,
    archetype: str,
    by: str,
    reason: str,
    now: datetime,
    period: str | None = None,
) -> str:
    """RECORDED, or UNCHANGED when the agent is of that archetype already; raises UnknownAgent,
    UnknownArchetype (a ValueError) or UnknownSuggestion (a period that suggested nothing for it)."""
    settings = service.refresh_rules()
    priors = dict(
        settings_with_refreshed_priors(settings, stored_priors(service.events)).archetype(archetype).trait_priors
    )

    def decide(loaded: Loaded) -> str:
        agent = loaded.find(agent_aggregate_id(agent_id))
        if agent is None:
            raise UnknownAgent(agent_id)
        if period is not None:
            _insights(loaded, period).resolve(agent_id, REMAPPED, by, reason, now)
        return agent.remap(archetype, priors, by, reason, now)

    return service.work.run(decide, fresh=True)


def dismiss_suggestion(
    service: LearningService, period: str, agent_id: str, by: str, reason: str, now: datetime
) -> str:
    def decide(loaded: Loaded) -> str:
        return _insights(loaded, period).resolve(agent_id, DISMISSED, by, reason, now)

    return service.work.run(decide, fresh=True)


__all__ = ["RECORDED", "dismiss_suggestion", "remap_agent"]
