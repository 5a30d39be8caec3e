"""Incoming messages (Kafka `agent-feedback`, JSONL lines, HTTP) → validated commands, or a rejection.

Every way a message can be wrong gets a reason a person can act on; nothing is
guessed. Learning rates that are out of bounds are *not* rejected here: a
configuration arriving by event is capped by the domain, which records the cap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

from domain.commands import (
    AgentCommand,
    ConfigureLearning,
    EndSession,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
)
from domain.learning_config import PROFILES, LearningConfig
from domain.rewards import RATING
from domain.settings import LearningSettings
from domain.timestamps import parse_iso


class BadMessage(ValueError):
    """Why a message cannot be accepted; `agent_id` when it could be read."""

    def __init__(self, reason: str, agent_id: str | None = None):
        super().__init__(reason)
        self.agent_id = agent_id


def _no_constants(name: str) -> Any:
    raise BadMessage(f"{name} is not a number JSON allows; send a finite number")


def _text(message: dict, name: str, *, required: bool) -> str | None:
    value = message.get(name)
    if value is None:
        if required:
            raise BadMessage(f"missing required field {name!r}")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadMessage(f"field {name!r} must be a non-empty string, got {value!r}")
    return value


def _number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadMessage(f"field {name!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise BadMessage(f"field {name!r} must be finite, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadMessage(f"field {name!r} = {value} is out of range [{low}, {high}]")
    return float(value)


def _optional_number(value: Any, name: str) -> float | None:
    return None if value is None else _number(value, name)


def _learning_config(value: Any, name: str, settings: LearningSettings) -> LearningConfig:
    if not isinstance(value, dict):
        raise BadMessage(f"field {name!r} must be an object, got {value!r}")
    profile = value.get("profile")
    if profile is not None and profile not in PROFILES:
        raise BadMessage(f"{name}.profile {profile!r} is unknown; choose one of: {', '.join(PROFILES)}")
    trait_rates = value.get("traitRates") or {}
    if not isinstance(trait_rates, dict):
        raise BadMessage(f"{name}.traitRates must be an object of trait → rate")
    for trait, rate in trait_rates.items():
        if trait not in settings.traits:
            raise BadMessage(f"{name}.traitRates names unknown trait {trait!r}; known: {', '.join(settings.traits)}")
        _number(rate, f"{name}.traitRates.{trait}")
    return LearningConfig(
        profile=profile,
        trait_rate=_optional_number(value.get("traitRate"), f"{name}.traitRate"),
        trait_rates={t: float(r) for t, r in trait_rates.items()},
        action_rate=_optional_number(value.get("actionRate"), f"{name}.actionRate"),
        epsilon=_optional_number(value.get("epsilon"), f"{name}.epsilon"),
    )


def _feedback(m: dict, common: dict, settings: LearningSettings) -> RecordFeedback:
    kind = _text(m, "kind", required=True)
    if kind not in settings.rewards.rules:
        raise BadMessage(f"unknown feedback kind {kind!r}; expected one of: {', '.join(settings.rewards.kinds)}")
    value = m.get("value")
    if kind == RATING:
        if value is None:
            raise BadMessage("a rating needs a 'value' from 1 to 5")
        value = _number(value, "value", 1, 5)
    elif value is not None:
        value = _number(value, "value")
    traits = m.get("traits") or {}
    if not isinstance(traits, dict):
        raise BadMessage("field 'traits' must be an object of trait → attribution in [-1, 1]")
    for trait, attribution in traits.items():
        if trait not in settings.traits:
            raise BadMessage(f"traits names unknown trait {trait!r}; known: {', '.join(settings.traits)}")
        _number(attribution, f"traits.{trait}", -1, 1)
    action = m.get("action")
    if action is not None and action not in settings.actions:
        raise BadMessage(f"unknown action {action!r}; expected one of: {', '.join(settings.actions)}")
    return RecordFeedback(
        **common,
        kind=kind,
        value=value,
        traits={t: float(a) for t, a in traits.items()},
        action=action,
        session_id=_text(m, "sessionId", required=False),
        interaction_id=_text(m, "interactionId", required=False),
        user_id=_text(m, "userId", required=False),
        prompt=_text(m, "prompt", required=False),
        response=_text(m, "response", required=False),
    )


def _registered(m: dict, common: dict, settings: LearningSettings) -> RegisterAgent:
    archetype = m.get("archetype") or "default"
    if archetype not in settings.archetypes:
        raise BadMessage(f"unknown archetype {archetype!r}; expected one of: {', '.join(settings.archetypes)}")
    config = m.get("learningConfig")
    return RegisterAgent(
        **common,
        archetype=archetype,
        owner_id=_text(m, "ownerId", required=False),
        config=_learning_config(config, "learningConfig", settings) if config is not None else None,
    )


def _configured(m: dict, common: dict, settings: LearningSettings) -> ConfigureLearning:
    if m.get("learningConfig") is None:
        raise BadMessage("missing required field 'learningConfig'")
    return ConfigureLearning(**common, config=_learning_config(m["learningConfig"], "learningConfig", settings))


def _session_ended(m: dict, common: dict, settings: LearningSettings) -> EndSession:
    return EndSession(**common, session_id=_text(m, "sessionId", required=False))


def _activity(m: dict, common: dict, settings: LearningSettings) -> RecordActivity:
    return RecordActivity(**common, activity=_text(m, "activity", required=False) or "conversation")


PARSERS: dict[str, Callable[[dict, dict, LearningSettings], AgentCommand]] = {
    "agent_registered": _registered,
    "feedback": _feedback,
    "session_ended": _session_ended,
    "activity": _activity,
    "learning_configured": _configured,
}


def parse_message(raw: bytes | str, settings: LearningSettings) -> AgentCommand:
    """Parses one message; raises BadMessage with the reason."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        message = _parse_slowly(raw)  # the standard library's messages say more about what is wrong
    return _command(message, settings)


def _parse_slowly(raw: bytes | str) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except BadMessage:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise BadMessage(f"not valid JSON: {error}") from None


def _command(message: Any, settings: LearningSettings) -> AgentCommand:
    if not isinstance(message, dict):
        raise BadMessage(f"a message must be a JSON object, got {type(message).__name__}")
    agent_id = message.get("agentId") if isinstance(message.get("agentId"), str) else None
    try:
        kind = message.get("type")
        if kind not in PARSERS:
            raise BadMessage(f"unknown message type {kind!r}; expected one of: {', '.join(PARSERS)}")
        occurred_at_text = _text(message, "occurredAt", required=True)
        try:
            occurred_at = parse_iso(occurred_at_text)
        except ValueError as error:
            raise BadMessage(f"field 'occurredAt' is not an ISO-8601 time with a zone: {error}") from None
        common = {
            "event_id": _text(message, "eventId", required=True),
            "agent_id": _text(message, "agentId", required=True),
            "occurred_at": occurred_at,
        }
        return PARSERS[kind](message, common, settings)
    except BadMessage as error:
        error.agent_id = agent_id
        raise
