"""Incoming messages (Kafka `agent-feedback`, JSONL lines, HTTP) → validated commands, or a rejection.

Every way a message can be wrong gets a reason a person can act on; nothing is
guessed. Learning rates that are out of bounds are *not* rejected here: a
configuration arriving by event is capped by the domain, which records the cap.

What is accepted (docs/operations.md, "What the service accepts"): a JSON object, nested
at most MAX_DEPTH deep; every field of the type the contract gives (a list where an object
belongs is bad input, even an empty one); numbers finite and within ±MAX_NUMBER; strings
valid Unicode (no lone surrogates); ids at most MAX_ID characters, without control
characters, and an `agentId` without `/`; texts (prompt, response) at most MAX_TEXT
characters; `occurredAt` with a zone, stored in UTC, in the years
`LearningSettings.accepted_years`. A reason quotes at most SHOWN characters of a bad value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from adapters.messages.dead_letter_codes import (
    INVALID_ID,
    INVALID_JSON,
    INVALID_TIME,
    INVALID_UNICODE,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    OUT_OF_RANGE,
    TOO_DEEP,
    TOO_LONG,
    TYPE_MISMATCH,
    UNKNOWN_KIND,
    UNKNOWN_NAME,
    UNKNOWN_TYPE,
    UNREADABLE,
)
from domain.commands import (
    AgentCommand,
    ConfigureLearning,
    EndSession,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
)
from domain.learning_config import PROFILES, LearningConfig
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.settings import LearningSettings
from domain.timestamps import parse_utc

MAX_DEPTH = 64
MAX_NUMBER = 1e15
MAX_ID = 256
MAX_TEXT = 200_000
SHOWN = 200
ID_FIELDS = ("eventId", "agentId", "ownerId", "userId", "sessionId", "interactionId", "activity")
CONTROL_CHARACTERS = "\u0000-\u001f\u007f-\u009f"  # C0, DEL and C1: an id holds none (a regex class)
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


class BadMessage(ValueError):
    """Why a message cannot be accepted (`code` for programs, the text for people); `agent_id` when it
    could be read."""

    def __init__(self, reason: str, code: str, agent_id: str | None = None):
        super().__init__(reason)
        self.code = code
        self.agent_id = agent_id


def shown(value: Any) -> str:
    """A value as a reason quotes it: its repr, cut to SHOWN characters."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # nested too deeply, or an int too long to print
        return f"a {type(value).__name__}"
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text):,} characters)"


def _cut(text: str) -> str:
    """An error's own words, cut to SHOWN characters."""
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}…"


def _no_constants(name: str) -> Any:
    raise BadMessage(f"{name} is not a number JSON allows; send a finite number", OUT_OF_RANGE)


def _text(message: dict, name: str, *, required: bool) -> str | None:
    value = message.get(name)
    if value is None:
        if required:
            raise BadMessage(f"missing required field {name!r}", MISSING_FIELD)
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadMessage(f"field {name!r} must be a non-empty string, got {shown(value)}", TYPE_MISMATCH)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadMessage(
            f"field {name!r} is not valid Unicode (a lone surrogate such as \\ud800)", INVALID_UNICODE
        ) from None
    if name in ID_FIELDS:
        if len(value) > MAX_ID:
            raise BadMessage(f"field {name!r} is {len(value):,} characters long; an id has at most {MAX_ID}", TOO_LONG)
        if _CONTROL.search(value):
            raise BadMessage(f"field {name!r} = {shown(value)} contains control characters", INVALID_ID)
        if name == "agentId" and "/" in value:
            raise BadMessage(
                f"field 'agentId' = {shown(value)} contains '/'; agent ids cannot (they are URL paths)", INVALID_ID
            )
    elif len(value) > MAX_TEXT:
        raise BadMessage(f"field {name!r} is {len(value):,} characters long; at most {MAX_TEXT:,} are kept", TOO_LONG)
    return value


def _name(
    message: dict, name: str, known: Any, what: str, default: str | None = None, check: bool = True
) -> str | None:
    """A field naming one of `known` (a kind, an archetype, an action): a string, and a known one."""
    value = message.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadMessage(f"field {name!r} must be a string naming the {what}, got {shown(value)}", TYPE_MISMATCH)
    if check and value not in known:
        raise BadMessage(f"unknown {what} {shown(value)}; expected one of: {', '.join(known)}", UNKNOWN_NAME)
    return value


def _object(message: dict, name: str, what: str) -> dict:
    """An optional object field: absent or null is empty; anything but an object is bad input."""
    value = message.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadMessage(f"field {name!r} must be an object of {what}, got {shown(value)}", TYPE_MISMATCH)
    return value


def _number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadMessage(f"field {name!r} must be a number, got {shown(value)}", TYPE_MISMATCH)
    if isinstance(value, int) and abs(value) > MAX_NUMBER:
        raise BadMessage(
            f"field {name!r} is a {len(str(abs(value))):,}-digit number; at most ±{MAX_NUMBER:g}", OUT_OF_RANGE
        )
    if not math.isfinite(value):
        raise BadMessage(f"field {name!r} must be finite, got {value!r}", OUT_OF_RANGE)
    if abs(value) > MAX_NUMBER:
        raise BadMessage(f"field {name!r} = {value:g} is too large; at most ±{MAX_NUMBER:g}", OUT_OF_RANGE)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadMessage(f"field {name!r} = {value} is out of range [{low}, {high}]", OUT_OF_RANGE)
    return float(value)


def _optional_number(value: Any, name: str) -> float | None:
    return None if value is None else _number(value, name)


def _learning_config(value: Any, name: str, settings: LearningSettings) -> LearningConfig:
    if not isinstance(value, dict):
        raise BadMessage(f"field {name!r} must be an object, got {shown(value)}", TYPE_MISMATCH)
    profile = value.get("profile")
    if profile is not None and (not isinstance(profile, str) or profile not in PROFILES):
        raise BadMessage(
            f"{name}.profile {shown(profile)} is unknown; choose one of: {', '.join(PROFILES)}", UNKNOWN_NAME
        )
    trait_rates = value.get("traitRates")
    if trait_rates is None:
        trait_rates = {}
    if not isinstance(trait_rates, dict):
        raise BadMessage(
            f"{name}.traitRates must be an object of trait → rate, got {shown(trait_rates)}", TYPE_MISMATCH
        )
    for trait, rate in trait_rates.items():
        if trait not in settings.traits:
            raise BadMessage(
                f"{name}.traitRates names unknown trait {shown(trait)}; known: {', '.join(settings.traits)}",
                UNKNOWN_NAME,
            )
        _number(rate, f"{name}.traitRates.{trait}")
    options = {}
    for option, choices in OPTION_CHOICES.items():
        choice = value.get(option)
        if choice is None:
            continue
        if not isinstance(choice, str):
            raise BadMessage(
                f"{name}.{option} must be a string, one of: {', '.join(choices)}; got {shown(choice)}", TYPE_MISMATCH
            )
        if choice not in choices:
            raise BadMessage(
                f"{name}.{option} {shown(choice)} is unknown; choose one of: {', '.join(choices)}", UNKNOWN_NAME
            )
        options[option] = choice
    return LearningConfig(
        profile=profile,
        trait_rate=_optional_number(value.get("traitRate"), f"{name}.traitRate"),
        trait_rates={t: float(r) for t, r in trait_rates.items()},
        action_rate=_optional_number(value.get("actionRate"), f"{name}.actionRate"),
        epsilon=_optional_number(value.get("epsilon"), f"{name}.epsilon"),
        options=options,
        temperature=_optional_number(value.get("temperature"), f"{name}.temperature"),
    )


def _feedback(m: dict, common: dict, settings: LearningSettings) -> RecordFeedback:
    if m.get("kind") is None:
        raise BadMessage("missing required field 'kind'", MISSING_FIELD)
    kind = _name(m, "kind", (), "feedback kind", check=False)
    if kind not in settings.rewards.rules:
        raise BadMessage(
            f"unknown feedback kind {shown(kind)} in {settings.rewards.source}; "
            f"expected one of: {', '.join(settings.rewards.kinds)}",
            UNKNOWN_KIND,
        )
    value = m.get("value")
    if settings.rewards.rules[kind].rating:
        if value is None:
            raise BadMessage("a rating needs a 'value' from 1 to 5", MISSING_FIELD)
        value = _number(value, "value", 1, 5)
    elif value is not None:
        value = _number(value, "value")
    traits = _object(m, "traits", "trait → attribution in [-1, 1]")
    for trait, attribution in traits.items():
        if trait not in settings.traits:
            raise BadMessage(
                f"traits names unknown trait {shown(trait)}; known: {', '.join(settings.traits)}", UNKNOWN_NAME
            )
        _number(attribution, f"traits.{trait}", -1, 1)
    action = _name(m, "action", settings.actions, "action")
    policy_version, action_probability = _propensity(m, action)
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
        policy_version=policy_version,
        action_probability=action_probability,
    )


def _propensity(m: dict, action: str | None) -> tuple[int | None, float | None]:
    """`policyVersion` (a whole number ≥ 0) and `actionProbability` (in (0, 1], with an `action`); whether the
    version was ever published is the agent's to say (domain/propensity.py)."""
    version = m.get("policyVersion")
    if version is not None:
        number = _number(version, "policyVersion", 0)  # type, size and range first
        if not number.is_integer():
            raise BadMessage(f"field 'policyVersion' must be a whole number, got {shown(version)}", TYPE_MISMATCH)
        version = int(number)
    probability = m.get("actionProbability")
    if probability is not None:
        probability = _number(probability, "actionProbability")
        if not 0 < probability <= 1:
            raise BadMessage(
                f"field 'actionProbability' = {probability:g} is out of range (0, 1]: the chance the action had",
                OUT_OF_RANGE,
            )
        if action is None:
            raise BadMessage("field 'actionProbability' needs the 'action' it is the probability of", MISSING_FIELD)
    return version, probability


def _registered(m: dict, common: dict, settings: LearningSettings) -> RegisterAgent:
    # Left out, it is left as it is: "default" for a new agent, the current one for a known agent.
    archetype = _name(m, "archetype", settings.archetypes, "archetype")
    config = m.get("learningConfig")
    return RegisterAgent(
        **common,
        archetype=archetype,
        owner_id=_text(m, "ownerId", required=False),
        config=_learning_config(config, "learningConfig", settings) if config is not None else None,
    )


def _configured(m: dict, common: dict, settings: LearningSettings) -> ConfigureLearning:
    if m.get("learningConfig") is None:
        raise BadMessage("missing required field 'learningConfig'", MISSING_FIELD)
    return ConfigureLearning(**common, config=_learning_config(m["learningConfig"], "learningConfig", settings))


def _session_ended(m: dict, common: dict, settings: LearningSettings) -> EndSession:
    return EndSession(**common, session_id=_text(m, "sessionId", required=False))


def _activity(m: dict, common: dict, settings: LearningSettings) -> RecordActivity:
    return RecordActivity(**common, activity=_text(m, "activity", required=False) or "conversation")


def _occurred_at(message: dict, settings: LearningSettings) -> datetime:
    text = _text(message, "occurredAt", required=True)
    try:
        moment = parse_utc(text)
    except ValueError as error:
        raise BadMessage(
            f"field 'occurredAt' is not an ISO-8601 time with a zone in the calendar: {_cut(str(error))}", INVALID_TIME
        ) from None
    first, last = settings.accepted_years
    if not first <= moment.year <= last:
        raise BadMessage(
            f"field 'occurredAt' = {shown(text)} is outside the accepted years {first}–{last} (in UTC)", INVALID_TIME
        )
    return moment


PARSERS: dict[str, Callable[[dict, dict, LearningSettings], AgentCommand]] = {
    "agent_registered": _registered,
    "feedback": _feedback,
    "session_ended": _session_ended,
    "activity": _activity,
    "learning_configured": _configured,
}


def parse_message(raw: bytes | str, settings: LearningSettings) -> AgentCommand:
    """Parses one message; raises BadMessage with the reason, and nothing else, whatever `raw` holds."""
    try:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            message = _parse_slowly(raw)  # the standard library's messages say more about what is wrong
        _check_depth(message)
        return _command(message, settings)
    except BadMessage:
        raise
    except Exception as error:  # a case the checks above missed: this message is bad, not the batch
        raise BadMessage(f"could not be read ({type(error).__name__}: {_cut(str(error))})", UNREADABLE) from error


def _parse_slowly(raw: bytes | str) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except BadMessage:
        raise
    except RecursionError:
        raise BadMessage(f"nested too deeply; a message nests at most {MAX_DEPTH} levels", TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadMessage(f"not valid JSON: {_cut(str(error))}", INVALID_JSON) from None


def _check_depth(value: Any) -> None:
    """Refuses nesting deeper than MAX_DEPTH (iteratively: a deep value must not exhaust the stack)."""
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return
    raise BadMessage(f"nested too deeply; a message nests at most {MAX_DEPTH} levels", TOO_DEEP)


def _command(message: Any, settings: LearningSettings) -> AgentCommand:
    if not isinstance(message, dict):
        raise BadMessage(f"a message must be a JSON object, got {type(message).__name__}", NOT_AN_OBJECT)
    try:  # the agent a rejection is filed under, when its id is one that could be stored
        agent_id = _text(message, "agentId", required=True)
    except BadMessage:
        agent_id = None
    try:
        kind = message.get("type")
        if not isinstance(kind, str) or kind not in PARSERS:
            raise BadMessage(f"unknown message type {shown(kind)}; expected one of: {', '.join(PARSERS)}", UNKNOWN_TYPE)
        occurred_at = _occurred_at(message, settings)
        common = {
            "event_id": _text(message, "eventId", required=True),
            "agent_id": _text(message, "agentId", required=True),
            "occurred_at": occurred_at,
        }
        return PARSERS[kind](message, common, settings)
    except BadMessage as error:
        error.agent_id = agent_id
        raise
