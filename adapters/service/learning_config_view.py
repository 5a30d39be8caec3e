"""An agent's learning configuration with the effective rates and where each comes from
(`config show --json`, `GET /api/agents/{id}/learning-config`, the owner page)."""

from __future__ import annotations

from typing import Any

from adapters.service.learning_service import LearningService
from domain.learning_config import LearningConfig

SOURCES_EXPLAINED = {
    "default": "the rules' base rate for every agent",
    "global": "the rules' rate for this trait",
    "archetype": "the rules' rate for this agent's archetype",
    "profile": "the agent's learning profile",
    "override": "the agent's own value",
}


def learning_config_view(service: LearningService, agent_id: str) -> dict[str, Any]:
    """Read fresh from the event store (raises UnknownAgent); under the rules in force now."""
    agent = service.get_agent(agent_id)
    settings = service.refresh_rules()
    explained = agent.explained_rates(settings)
    return {
        "agentId": agent_id,
        "archetype": agent.archetype,
        "rulesVersion": settings.rules_version,
        "learningConfig": LearningConfig.from_dict(agent.config).to_dict(),
        "effective": explained.rates.to_dict(),
        "sources": dict(explained.sources),
        "capped": list(explained.capped),
        "learnedEpsilon": agent.epsilon,
        "sourcesExplained": SOURCES_EXPLAINED,
    }
