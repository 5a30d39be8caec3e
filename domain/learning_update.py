"""What a recalculation tells the world: the fields of `AgentLearningUpdated`.

The outbound message, the policy-history read model and the agent's state document all
carry exactly these fields, so they are written down once, here (docs/contract.md, "Messages out").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.agent import Agent, agent_id_of
from domain.timestamps import to_iso


def learning_update(event: Agent.PolicyRecalculated, iso: Callable[[datetime], str | None] = to_iso) -> dict:
    """The update's fields in the contract's order; `iso` formats `occurredAt` (projections pass a cached one)."""
    return {
        "agentId": agent_id_of(event.originator_id),
        "version": event.policy_version,
        "trigger": event.trigger,
        "traits": event.effective,
        "learnedTraits": event.learned,
        "actionPolicy": event.policy,
        "explorationEpsilon": event.epsilon,
        "confidence": event.confidence,
        "metrics": event.metrics,
        "occurredAt": iso(event.occurred_at),
    }
