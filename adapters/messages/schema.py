"""The JSON Schema of the messages in, built from the same vocabularies and limits the parser enforces.

`POST /api/feedback` publishes it in the OpenAPI document; the parser (`inbound.py`) stays the
judge. What a schema cannot say is in the descriptions: the accepted years of `occurredAt`
(in UTC), valid Unicode (no lone surrogates) and nesting at most MAX_DEPTH deep.
"""

from __future__ import annotations

from typing import Any

from adapters.messages.inbound import (
    CONTROL_CHARACTERS,
    MAX_DEPTH,
    MAX_ID,
    MAX_NUMBER,
    MAX_TEXT,
    PARSERS,
)
from domain.learning_config import PROFILES
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.settings import LearningSettings


def _id(required: bool, description: str, slash: bool = True) -> dict:
    forbidden = CONTROL_CHARACTERS + ("" if slash else "/")
    pattern = f"^(?=.*\\S)[^{forbidden}]{{1,{MAX_ID}}}$" if required else f"^[^{forbidden}]{{0,{MAX_ID}}}$"
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, "description": description}
    return schema if required else {"type": ["string", "null"], "pattern": pattern, "description": description}


def _number(low: float = -MAX_NUMBER, high: float = MAX_NUMBER, nullable: bool = True) -> dict:
    return {"type": ["number", "null"] if nullable else "number", "minimum": low, "maximum": high}


def _text(description: str) -> dict:
    return {"type": ["string", "null"], "maxLength": MAX_TEXT, "description": description}


def _names(values, description: str) -> dict:
    return {"type": ["string", "null"], "enum": [*values, None], "description": description}


def learning_config_schema(settings: LearningSettings) -> dict:
    return {
        "type": "object",
        "properties": {
            "profile": _names(PROFILES, "a learning profile"),
            "traitRate": _number(),
            "traitRates": {
                "type": ["object", "null"],
                "propertyNames": {"enum": list(settings.traits)},
                "additionalProperties": _number(nullable=False),
            },
            "actionRate": _number(),
            "epsilon": _number(),
            "temperature": {**_number(), "description": "softmax's temperature (the exploration option)"},
            **{
                option: _names(choices, f"a learning option (docs/learning-options.md); default {choices[0]}")
                for option, choices in OPTION_CHOICES.items()
            },
        },
    }


def message_schema(settings: LearningSettings) -> dict:
    """One message as on the `agent-feedback` topic: `oneOf` by `type`."""
    first, last = settings.accepted_years
    common = {
        "eventId": _id(True, "the idempotency key: a message with an eventId already recorded is skipped"),
        "agentId": _id(True, "the agent; no '/' (it is a URL path segment)", slash=False),
        "occurredAt": {
            "type": "string",
            "format": "date-time",
            "description": f"ISO-8601 with a zone; stored in UTC, and in the years {first}–{last} (in UTC)",
        },
    }
    by_type = {
        "agent_registered": {
            "archetype": _names(settings.archetypes, "left out: default for a new agent, unchanged for a known one"),
            "ownerId": _id(False, "left out: none for a new agent, unchanged for a known one"),
            "learningConfig": {**learning_config_schema(settings), "type": ["object", "null"]},
        },
        "feedback": {
            "kind": {"type": "string", "enum": list(settings.rewards.kinds)},
            "value": _number(),
            "traits": {
                "type": ["object", "null"],
                "propertyNames": {"enum": list(settings.traits)},
                "additionalProperties": _number(-1, 1, nullable=False),
                "description": "trait → attribution in [-1, 1]",
            },
            "action": _names(settings.actions, "the action the agent took"),
            "sessionId": _id(False, "the conversation"),
            "interactionId": _id(False, "the exchange (pairs an approved draft with a rejected one)"),
            "userId": _id(False, "the user who gave the feedback"),
            "prompt": _text("what the user said (the batch loop's training text)"),
            "response": _text("what the agent answered"),
            "policyVersion": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": MAX_NUMBER,
                "description": "the AgentLearningUpdated version the agent acted on; one it never published is "
                "refused. Left out: the policy in force at occurredAt",
            },
            "actionProbability": {
                "type": ["number", "null"],
                "exclusiveMinimum": 0,
                "maximum": 1,
                "description": "the probability that policy chose `action` with (needs `action`). Left out: "
                "derived from the policy, and recorded as derived",
            },
        },
        "session_ended": {"sessionId": _id(False, "the conversation")},
        "activity": {"activity": _id(False, "what happened (default conversation)")},
        "learning_configured": {"learningConfig": learning_config_schema(settings)},
    }
    required = {"feedback": ["kind"], "learning_configured": ["learningConfig"]}
    variants = []
    for kind in PARSERS:
        variant: dict[str, Any] = {
            "title": kind,
            "type": "object",
            "required": ["type", "eventId", "agentId", "occurredAt", *required.get(kind, [])],
            "properties": {"type": {"const": kind}, **common, **by_type[kind]},
        }
        if kind == "feedback":
            ratings = [k for k, rule in settings.rewards.rules.items() if rule.rating]
            variant["if"] = {"properties": {"kind": {"enum": ratings}}}
            variant["then"] = {"required": ["value"], "properties": {"value": _number(1, 5, nullable=False)}}
        variants.append(variant)
    return {
        "description": (
            "one message as on the agent-feedback topic (docs/contract.md); valid Unicode, nested at most "
            f"{MAX_DEPTH} deep; other fields are ignored"
        ),
        "oneOf": variants,
        "discriminator": {"propertyName": "type"},
    }
