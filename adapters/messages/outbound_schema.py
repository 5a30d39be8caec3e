"""The JSON Schemas of every message out, and of their headers: what `outbound.py` builds, written down once.

Strict on purpose (`additionalProperties: false`, every field required): a field added to a
message without adding it here fails the tests that validate every published message, so the
schemas in `docs/schemas/` cannot drift from what is sent. Names of traits, actions and
kinds follow the rules document (`docs/rules.md`), so they are patterns, not lists.
"""

from __future__ import annotations

from typing import Any

from adapters.messages.dead_letter_codes import DEAD_LETTER_CODES
from adapters.messages.outbound import FEEDBACK_DLQ, JSON, LEARNING_UPDATES, MODEL_UPDATES
from domain.learning_config import PROFILES, RATE_SOURCES
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.model_registry import PROMOTE, ROLLBACK
from domain.recalculation import ARCHETYPE, BLENDED, DATA
from domain.rules import NAME
from domain.triggers import TRIGGERS

SCHEMA = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://agent-learning.dev/schemas/out/"

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time", "description": "ISO-8601 in UTC, e.g. 2026-11-24T10:00:00Z"}
EVENT_ID = {
    "type": "string",
    "description": "stable across re-publication (ORIGINATOR:VERSION): the consumer's dedup key; equals the event-id header",
}
UNIT = {"type": "number", "minimum": 0, "maximum": 1}


def _named(value: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "propertyNames": {"pattern": NAME.pattern},
        "additionalProperties": value,
        "description": description,
    }


def _message(name: str, description: str, properties: dict[str, Any], topic: str, key: str) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "$id": f"{BASE_ID}{name}.json",
        "title": name,
        "description": f"{description} Topic `{topic}`; Kafka key: {key}.",
        "type": "object",
        "properties": {"type": {"const": name}, "eventId": EVENT_ID, **properties},
        "required": ["type", "eventId", *properties],
        "additionalProperties": False,
    }


def _scoped(schema: dict[str, Any]) -> dict[str, Any]:
    """A batch-loop message about one agent (`agentId`) or one archetype (`archetype`), never both."""
    schema["properties"] = {"type": schema["properties"]["type"], "eventId": EVENT_ID, **schema["properties"]}
    schema["properties"]["agentId"] = STRING
    schema["properties"]["archetype"] = STRING
    schema["required"] = [r for r in schema["required"] if r not in ("agentId", "archetype")]
    schema["oneOf"] = [{"required": ["agentId"]}, {"required": ["archetype"]}]
    return schema


METRICS = {
    "type": "object",
    "properties": {
        "feedbackCount": {"type": "integer", "minimum": 0, "description": "feedback recorded before this batch"},
        "batchSize": {"type": "integer", "minimum": 1},
        "avgReward": {"type": "number", "minimum": -1, "maximum": 1},
        "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
        "rewardVariance": {"type": "number", "minimum": 0},
        "blendWeight": UNIT,
    },
    "required": ["feedbackCount", "batchSize", "avgReward", "sentiment", "rewardVariance", "blendWeight"],
    "additionalProperties": False,
}

RATE = {"type": "number", "minimum": 0, "maximum": 1}
OPTIONS = {
    "type": "object",
    "description": "the learning options in force (docs/learning-options.md); absent when all are at their defaults",
    "properties": {
        **{option: {"enum": list(choices)} for option, choices in OPTION_CHOICES.items()},
        "temperature": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": [*OPTION_CHOICES, "temperature"],
    "additionalProperties": False,
}
RATES = {
    "type": "object",
    "properties": {
        "traitRates": _named(RATE, "trait → rate"),
        "actionRate": RATE,
        "epsilon": RATE,
        "options": OPTIONS,
    },
    "required": ["traitRates", "actionRate", "epsilon"],
    "additionalProperties": False,
}
SOURCE = {"enum": list(RATE_SOURCES)}
SOURCES = {
    "type": "object",
    "properties": {
        "traitRates": _named(SOURCE, "trait → where its rate comes from"),
        "actionRate": SOURCE,
        "epsilon": SOURCE,
        "options": {
            "type": "object",
            "properties": {option: SOURCE for option in (*OPTION_CHOICES, "temperature")},
            "additionalProperties": False,
        },
    },
    "required": ["traitRates", "actionRate", "epsilon"],
    "additionalProperties": False,
}
NULLABLE_RATE = {"type": ["number", "null"]}


def outbound_schemas() -> dict[str, dict[str, Any]]:
    """Message type → its JSON Schema."""
    return {
        "AgentLearningUpdated": _message(
            "AgentLearningUpdated",
            "A recalculation of the agent's learning (docs/learning-rules.md section 6).",
            {
                "agentId": STRING,
                "version": {"type": "integer", "minimum": 1, "description": "the policy version, 1, 2, … per agent"},
                "trigger": {"enum": list(TRIGGERS)},
                "traits": _named(UNIT, "the effective traits: priors blended with what was learned"),
                "learnedTraits": _named(UNIT, "the traits learned from feedback alone"),
                "actionPolicy": _named(UNIT, "action → probability; sums to 1; the runtime samples from it"),
                "explorationEpsilon": UNIT,
                "confidence": {"enum": [ARCHETYPE, BLENDED, DATA]},
                "metrics": METRICS,
                "occurredAt": TIME,
            },
            LEARNING_UPDATES,
            "agentId",
        ),
        "AgentUpdatesFrozen": _message(
            "AgentUpdatesFrozen",
            "The agent's updates stopped: sentiment stayed below the threshold, or an operator froze it.",
            {
                "agentId": STRING,
                "reason": {
                    "type": "string",
                    "description": "`sentiment` for the automatic freeze, else the operator's",
                },
                "sentiment": {"type": "number", "minimum": -1, "maximum": 1},
                "occurredAt": TIME,
            },
            LEARNING_UPDATES,
            "agentId",
        ),
        "AgentUpdatesUnfrozen": _message(
            "AgentUpdatesUnfrozen",
            "An operator resumed the agent's updates; its sentiment restarts at 0.",
            {"agentId": STRING, "reason": STRING, "occurredAt": TIME},
            LEARNING_UPDATES,
            "agentId",
        ),
        "AgentLearningConfigured": _message(
            "AgentLearningConfigured",
            "The agent's learning configuration changed (docs/rules.md, 'Published configuration').",
            {
                "agentId": STRING,
                "profile": {"enum": [*PROFILES, None]},
                "overrides": {
                    "type": "object",
                    "properties": {
                        "traitRate": NULLABLE_RATE,
                        "traitRates": _named({"type": "number"}, "trait → the agent's own rate"),
                        "actionRate": NULLABLE_RATE,
                        "epsilon": NULLABLE_RATE,
                        **{option: {"enum": list(choices)} for option, choices in OPTION_CHOICES.items()},
                        "temperature": NULLABLE_RATE,
                    },
                    "required": ["traitRate", "traitRates", "actionRate", "epsilon"],
                    "additionalProperties": False,
                },
                "effectiveRates": {**RATES, "type": ["object", "null"]},
                "sources": {**SOURCES, "type": ["object", "null"]},
                "capsApplied": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": STRING, "requested": {"type": "number"}, "applied": {"type": "number"}},
                        "required": ["field", "requested", "applied"],
                        "additionalProperties": False,
                    },
                },
                "rulesVersion": {"type": ["integer", "null"], "minimum": 0},
                "by": NULLABLE_STRING,
                "sourceEventId": NULLABLE_STRING,
                "occurredAt": TIME,
            },
            LEARNING_UPDATES,
            "agentId",
        ),
        "TrainingDatasetReady": _scoped(
            _message(
                "TrainingDatasetReady",
                "A new training dataset is on disk: TRL JSONL files and manifest.json in `location` (docs/batch.md).",
                {
                    "datasetId": STRING,
                    "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                    "timeRange": {
                        "type": "object",
                        "properties": {"from": TIME, "to": TIME},
                        "required": ["from", "to"],
                        "additionalProperties": False,
                    },
                    "sourcePositions": {
                        "type": "object",
                        "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}},
                        "required": ["from", "to"],
                        "additionalProperties": False,
                    },
                    "location": STRING,
                    "occurredAt": TIME,
                },
                MODEL_UPDATES,
                "the agent id or the archetype",
            )
        ),
        "ModelUpdated": _scoped(
            _message(
                "ModelUpdated",
                "An alias of the model registry moved: load `adapterDir` on `baseModel` (docs/batch.md).",
                {
                    "alias": STRING,
                    "modelId": STRING,
                    "previousModelId": NULLABLE_STRING,
                    "version": {"type": "integer", "minimum": 1},
                    "action": {"enum": [PROMOTE, ROLLBACK]},
                    "baseModel": STRING,
                    "datasetId": STRING,
                    "adapterDir": STRING,
                    "movedBy": STRING,
                    "reason": STRING,
                    "occurredAt": TIME,
                },
                MODEL_UPDATES,
                "the agent id or the archetype",
            )
        ),
    }


def headers_schema(event_type: str) -> dict[str, Any]:
    """The Kafka headers of a message of this type (the file sink writes them beside the value)."""
    if event_type == "MessageRejected":
        return {
            "$schema": SCHEMA,
            "$id": f"{BASE_ID}MessageRejected.headers.json",
            "title": "MessageRejected headers",
            "description": (
                f"A dead letter on `{FEEDBACK_DLQ}`: the value is the original message's bytes, the key its "
                "original key (or the agent id); the reason and where it came from are headers."
            ),
            "type": "object",
            "properties": {
                "event-id": STRING,
                "event-type": {"const": "MessageRejected"},
                "rejection-code": {
                    "enum": list(DEAD_LETTER_CODES),
                    "description": "what kind of problem, for programs",
                },
                "rejection-reason": STRING,
                "source-position": {
                    "type": "string",
                    "description": "SOURCE:POSITION, e.g. agent-feedback:2:1041 or in.jsonl:line 7",
                },
            },
            "required": ["event-id", "event-type", "rejection-code", "rejection-reason", "source-position"],
            "additionalProperties": False,
        }
    return {
        "$schema": SCHEMA,
        "$id": f"{BASE_ID}{event_type}.headers.json",
        "title": f"{event_type} headers",
        "type": "object",
        "properties": {"event-id": STRING, "event-type": {"const": event_type}, "content-type": {"const": JSON}},
        "required": ["event-id", "event-type", "content-type"],
        "additionalProperties": False,
    }
