"""The public messages of the contract, made from recorded events (the outbox's mapping)."""

from __future__ import annotations

import base64
import json
from typing import Any

from attrs import frozen

from domain.agent import Agent, agent_id_of
from domain.dead_letter import DeadLetter
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.learning_update import learning_update
from domain.model_registry import ModelRegistry, scope_name, scope_of_registry
from domain.timestamps import to_iso
from domain.training_dataset import TrainingDataset
from domain.training_examples import Scope

LEARNING_UPDATES = "agent-learning-updates"
MODEL_UPDATES = "agent-model-updates"
FEEDBACK_DLQ = "agent-feedback-dlq"
JSON = "application/json"


@frozen
class OutboundMessage:
    topic: str
    key: str
    headers: dict[str, str]
    value: bytes
    position: int  # the notification id of the event it came from


def stable_event_id(event: Any) -> str:
    """The same for every re-publication of one event: the consumer's dedup key."""
    return f"{event.originator_id}:{event.originator_version}"


def _json_message(topic: str, event: Any, body: dict, position: int, key: str | None = None) -> OutboundMessage:
    event_id = stable_event_id(event)
    body = {"type": body.pop("type"), "eventId": event_id, **body}
    return OutboundMessage(
        topic=topic,
        key=key if key is not None else body["agentId"],
        headers={"event-id": event_id, "event-type": body["type"], "content-type": JSON},
        value=json.dumps(body, separators=(",", ":")).encode(),
        position=position,
    )


def learning_updated(event: Agent.PolicyRecalculated, position: int) -> OutboundMessage:
    return _json_message(LEARNING_UPDATES, event, {"type": "AgentLearningUpdated", **learning_update(event)}, position)


def updates_frozen(event: Agent.UpdatesFrozen, position: int) -> OutboundMessage:
    return _json_message(
        LEARNING_UPDATES,
        event,
        {
            "type": "AgentUpdatesFrozen",
            "agentId": agent_id_of(event.originator_id),
            "reason": event.reason,
            "sentiment": event.sentiment,
            "occurredAt": to_iso(event.occurred_at),
        },
        position,
    )


def updates_unfrozen(event: Agent.UpdatesUnfrozen, position: int) -> OutboundMessage:
    return _json_message(
        LEARNING_UPDATES,
        event,
        {
            "type": "AgentUpdatesUnfrozen",
            "agentId": agent_id_of(event.originator_id),
            "reason": event.reason,
            "occurredAt": to_iso(event.occurred_at),
        },
        position,
    )


def learning_configured(event: Agent.LearningConfigured, position: int) -> OutboundMessage:
    """An agent's learning configuration changed (CLI, API, owner page, or a message, capped): the agents
    service's `agent.learningConfig` follows it. `effectiveRates` and `sources` are those the change
    resolved to under the rules version it names (null for changes recorded before they were kept)."""
    config = event.config
    explained = event.rates or {}
    return _json_message(
        LEARNING_UPDATES,
        event,
        {
            "type": "AgentLearningConfigured",
            "agentId": agent_id_of(event.originator_id),
            "profile": config.get("profile"),
            "overrides": {
                "traitRate": config.get("traitRate"),
                "traitRates": config.get("traitRates") or {},
                "actionRate": config.get("actionRate"),
                "epsilon": config.get("epsilon"),
                **{
                    option: config[option]
                    for option in (*OPTION_CHOICES, "temperature")
                    if config.get(option) is not None
                },
            },
            "effectiveRates": explained.get("rates"),
            "sources": explained.get("sources"),
            "capsApplied": event.caps,
            "rulesVersion": event.rules_version,
            "by": event.by,
            "sourceEventId": event.event_id,
            "occurredAt": to_iso(event.occurred_at),
        },
        position,
    )


def dead_lettered(event: DeadLetter.MessageRejected, position: int) -> OutboundMessage:
    """The original bytes and key, with the reason in a header."""
    return OutboundMessage(
        topic=FEEDBACK_DLQ,
        key=event.key or event.agent_id or "",
        headers={
            "event-id": stable_event_id(event),
            "event-type": "MessageRejected",
            "rejection-code": event.code,
            "rejection-reason": event.reason,
            "source-position": f"{event.source}:{event.position}",
        },
        value=base64.b64decode(event.raw),
        position=position,
    )


def model_updated(event: ModelRegistry.AliasMoved, position: int) -> OutboundMessage:
    """An alias moved: consumers load `adapterDir` on `baseModel` for that agent or archetype. Key: its scope."""
    scope = scope_of_registry(event.originator_id)
    return _json_message(
        MODEL_UPDATES,
        event,
        {
            "type": "ModelUpdated",
            **scope.to_dict(),
            "alias": event.alias,
            "modelId": event.model_id,
            "previousModelId": event.previous_model_id,
            "version": event.version,
            "action": event.action,
            "baseModel": event.base_model,
            "datasetId": event.dataset_id,
            "adapterDir": event.adapter_dir,
            "movedBy": event.by,
            "reason": event.reason,
            "occurredAt": to_iso(event.occurred_at),
        },
        position,
        key=scope_name(scope),
    )


def training_dataset_ready(event: TrainingDataset.DatasetRecorded, position: int) -> OutboundMessage:
    """A new training dataset is on disk (`location`, TRL JSONL files and manifest.json). Key: its scope."""
    scope = Scope(agent_id=event.agent_id, archetype=event.archetype)
    return _json_message(
        MODEL_UPDATES,
        event,
        {
            "type": "TrainingDatasetReady",
            **scope.to_dict(),
            "datasetId": event.dataset_id,
            "counts": event.counts,
            "timeRange": event.time_range,
            "sourcePositions": event.source_positions,
            "location": event.location,
            "occurredAt": to_iso(event.occurred_at),
        },
        position,
        key=scope_name(scope),
    )


MAPPINGS = {
    Agent.PolicyRecalculated.TOPIC: learning_updated,
    Agent.LearningConfigured.TOPIC: learning_configured,
    Agent.UpdatesFrozen.TOPIC: updates_frozen,
    Agent.UpdatesUnfrozen.TOPIC: updates_unfrozen,
    DeadLetter.MessageRejected.TOPIC: dead_lettered,
    ModelRegistry.AliasMoved.TOPIC: model_updated,
    TrainingDataset.DatasetRecorded.TOPIC: training_dataset_ready,
}
