"""An agent's current learning state, as `agent show` prints it and `GET /api/agents/{id}` returns it."""

from __future__ import annotations

from adapters.service.learning_service import UnknownAgent
from projections.agent_learning_state import STATE
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import ReadModelStore

SHOW_FIELDS = (
    "agentId",
    "version",
    "trigger",
    "traits",
    "learnedTraits",
    "actionPolicy",
    "explorationEpsilon",
    "confidence",
    "metrics",
    "occurredAt",
    "frozen",
    "pendingFeedbackCount",
    "feedbackCount",
    "lastUpdateAt",
    "lastActivityAt",
    "archetype",
    "ownerId",
    "sentiment",
    "learningConfig",
)


def agent_document(projections: CatchUpRunner, read_models: ReadModelStore, agent_id: str) -> dict:
    """The agent's `agent_learning_state` fields, caught up to the head; raises UnknownAgent."""
    projections.catch_up()
    doc = read_models.get(STATE, agent_id)
    if doc is None:
        raise UnknownAgent(agent_id)
    return {k: doc.get(k) for k in SHOW_FIELDS}
