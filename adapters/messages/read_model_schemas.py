"""The JSON Schemas of the read-model documents a neighbour may read, with each collection's key and indexes.

Beside the message schemas in `docs/schemas/read-models/`. The key and the indexes come from
the projections themselves (`Collection`), so they cannot drift; the tests validate what both
stores write against these. The store's own bookkeeping (checkpoints, generations) is internal.
"""

from __future__ import annotations

from typing import Any

from adapters.messages.dead_letter_codes import DEAD_LETTER_CODES
from adapters.messages.outbound_schema import METRICS, SCHEMA, TIME, UNIT, _named
from domain.recalculation import ARCHETYPE, BLENDED, DATA
from domain.training_job import STATUSES
from domain.triggers import TRIGGERS
from projections.catch_up_runner import all_projections

BASE_ID = "https://agent-learning.dev/schemas/read-models/"
S = {"type": "string"}
NS = {"type": ["string", "null"]}
N = {"type": "number"}
I = {"type": "integer", "minimum": 0}  # noqa: E741 - short names keep the tables below readable
NTIME = {**TIME, "type": ["string", "null"]}
OBJ = {"type": "object"}

KEYS = {
    "agent_learning_state": "agentId",
    "agent_policy_history": "agentId|version (the version zero-padded to 9 digits)",
    "agent_feedback_aggregations": "agentId|day|kind",
    "agent_relationship_strength": "agentId|userId",
    "dead_letters": "id (the dead letter's aggregate id)",
    "model_versions": "modelId",
    "training_jobs": "jobId",
    "clustering_insights": "period (YYYY-MM)",
}
INTERNAL = {
    "sqlite": ["checkpoints", "generation_collections", "rm_COLLECTION_gN (a generation's documents)"],
    "mongodb": ["projection_checkpoints", "read_model_generations", "COLLECTION__gN (a generation's documents)"],
}

UPDATE = {
    "agentId": S,
    "version": I,
    "trigger": {"enum": [*TRIGGERS, None]},
    "traits": _named(UNIT, "effective traits"),
    "learnedTraits": _named(UNIT, "learned traits"),
    "actionPolicy": _named(UNIT, "action → probability"),
    "explorationEpsilon": UNIT,
    "confidence": {"enum": [ARCHETYPE, BLENDED, DATA]},
    "metrics": {**METRICS, "type": ["object", "null"]},
    "occurredAt": TIME,
}
FIELDS: dict[str, tuple[dict[str, Any], list[str], str]] = {
    "agent_learning_state": (
        {
            **UPDATE,
            "ownerId": NS,
            "archetype": S,
            "frozen": {"type": "boolean"},
            "frozenReason": NS,
            "pendingFeedbackCount": I,
            "feedbackCount": I,
            "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
            "belowSince": NTIME,
            "belowSinceTs": {"type": ["number", "null"]},
            "lastUpdateAt": TIME,
            "lastUpdateTs": N,
            "lastActivityAt": TIME,
            "lastActivityTs": N,
            "registeredAt": TIME,
            "learningConfig": OBJ,
            "aggregateVersion": I,
        },
        ["agentId", "archetype", "version", "traits", "actionPolicy", "frozen", "feedbackCount", "sentiment"],
        "An agent's current learning state: the fields of AgentLearningUpdated, plus its state.",
    ),
    "agent_policy_history": (
        UPDATE,
        list(UPDATE),
        "One document per recalculation: the fields of AgentLearningUpdated.",
    ),
    "agent_feedback_aggregations": (
        {"agentId": S, "day": {"type": "string", "format": "date"}, "kind": S, "count": I, "rewardSum": N},
        ["agentId", "day", "kind", "count", "rewardSum"],
        "Feedback per agent, UTC day and kind.",
    ),
    "agent_relationship_strength": (
        {
            "agentId": S,
            "userId": S,
            "interactions": I,
            "strength": {"type": "number", "minimum": -1, "maximum": 1, "description": "EWMA of reward"},
            "lastInteractionAt": TIME,
        },
        ["agentId", "userId", "interactions", "strength", "lastInteractionAt"],
        "Per agent and user: interactions and an EWMA of the rewards the user gave.",
    ),
    "dead_letters": (
        {
            "id": S,
            "source": S,
            "position": S,
            "code": {"enum": list(DEAD_LETTER_CODES)},
            "reason": S,
            "raw": {"type": "string", "contentEncoding": "base64", "description": "the original bytes"},
            "key": NS,
            "agentId": NS,
            "rejectedAt": TIME,
        },
        ["id", "source", "position", "code", "reason", "raw", "rejectedAt"],
        "Every rejected message with its code, reason and original bytes.",
    ),
    "model_versions": (
        {
            "modelId": S,
            "agentId": S,
            "archetype": S,
            "version": I,
            "datasetId": S,
            "baseModel": S,
            "jobId": NS,
            "metrics": OBJ,
            "adapterDir": S,
            "aliases": {"type": "array", "items": S},
            "createdAt": TIME,
            "parentModelId": NS,
            "hyperparameters": OBJ,
        },
        ["modelId", "version", "datasetId", "baseModel", "aliases", "createdAt"],
        "One document per trained model version, with its lineage and the aliases pointing at it.",
    ),
    "training_jobs": (
        {
            "jobId": S,
            "agentId": S,
            "archetype": S,
            "datasetId": S,
            "status": {"enum": list(STATUSES)},
            "createdAt": TIME,
            "retries": I,
            "attempts": I,
            "nextAttemptAt": TIME,
            "startedAt": TIME,
            "deadline": TIME,
            "finishedAt": TIME,
            "modelOutputId": S,
            "metrics": OBJ,
            "error": S,
            "priority": {"type": "integer"},
            "period": S,
            "reason": S,
            "requestedBy": S,
            "forced": {"type": "boolean"},
            "hyperparameters": OBJ,
            "parentModelId": S,
            "cancelRequested": {"type": "boolean"},
            "cancelledBy": S,
            "cancelReason": S,
            "progress": OBJ,
        },
        ["jobId", "datasetId", "status", "createdAt", "retries", "attempts"],
        "Training jobs (the roadmap's training_jobs fields, camelCase).",
    ),
    "clustering_insights": (
        {
            "period": S,
            "agents": I,
            "clustered": I,
            "centroids": OBJ,
            "refreshed": {"type": "array", "items": S},
            "priors": OBJ,
            "suggestions": {"type": "array", "items": OBJ},
            "recordedAt": TIME,
        },
        ["period", "agents", "clustered", "centroids", "refreshed", "priors", "suggestions", "recordedAt"],
        "One document per monthly clustering: centroids, refreshed priors, suggestions and what became of them.",
    ),
}


def read_model_schemas() -> dict[str, dict[str, Any]]:
    """Collection → its schema; `x-key` and `x-indexes` say how to read it."""
    schemas = {}
    for projection in all_projections():
        for collection in projection.collections:
            properties, required, description = FIELDS[collection.name]
            schemas[collection.name] = {
                "$schema": SCHEMA,
                "$id": f"{BASE_ID}{collection.name}.json",
                "title": collection.name,
                "description": f"{description} Read it by this name (docs/contract.md, 'Read models').",
                "x-key": KEYS[collection.name],
                "x-indexes": [list(fields) for fields in collection.indexes],
                "x-projection-version": projection.version,
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
    return schemas
