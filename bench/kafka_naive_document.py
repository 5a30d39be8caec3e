"""The naive design's learning rules: one mutable document per agent, changed in place.

What a team writes without event sourcing: the same rules (the pure functions of
`domain/`: the reward table, `triggers`, `recalculate`, `effective_rates`,
`cap_event_config`), but applied to a plain dict that overwrites itself. No
history, no dedup by eventId, no audit; a recalculation returns the
AgentLearningUpdated body (the contract's fields) for the caller to produce.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.commands import ConfigureLearning, EndSession, RecordActivity, RecordFeedback, RegisterAgent
from domain.learning_config import LearningConfig, cap_event_config, effective_rates
from domain.recalculation import ARCHETYPE, LearningState, PendingFeedback, published_policy, recalculate
from domain.settings import LearningSettings
from domain.timestamps import to_iso
from domain.triggers import freeze_due, trigger_after_event

Document = dict[str, Any]


def new_document(
    agent_id: str,
    at: datetime,
    settings: LearningSettings,
    archetype: str = "default",
    owner_id: str | None = None,
    config: LearningConfig | None = None,
) -> Document:
    chosen = settings.archetype(archetype)
    capped, _caps = cap_event_config(config or LearningConfig(), settings)
    epsilon = effective_rates(capped, settings).epsilon
    preferences = dict(chosen.action_priors)
    return {
        "_id": agent_id,
        "archetype": chosen.name,
        "ownerId": owner_id,
        "priors": dict(chosen.trait_priors),
        "learned": dict(chosen.trait_priors),
        "effective": dict(chosen.trait_priors),
        "preferences": preferences,
        "epsilon": epsilon,
        "policy": published_policy(preferences, epsilon, tuple(chosen.action_priors)),
        "config": capped.to_dict(),
        "feedbackCount": 0,
        "pending": [],
        "sentiment": 0.0,
        "belowSince": None,
        "frozen": False,
        "lastUpdateAt": at,
        "lastActivityAt": at,
        "lastBatchFeedbackAt": None,
        "lastBatchVariance": None,
        "version": 0,
        "confidence": ARCHETYPE,
    }


def apply(doc: Document | None, command: Any, settings: LearningSettings) -> tuple[Document, list[dict]]:
    """The agent's document after `command`, and the update messages (bodies) it causes."""
    if doc is None:
        if isinstance(command, RegisterAgent):
            return new_document(
                command.agent_id, command.occurred_at, settings, command.archetype, command.owner_id, command.config
            ), []
        doc = new_document(command.agent_id, command.occurred_at, settings)  # feedback before registration
    elif isinstance(command, RegisterAgent):
        chosen = settings.archetype(command.archetype)
        doc.update(archetype=chosen.name, ownerId=command.owner_id, priors=dict(chosen.trait_priors))
        if command.config is not None:
            _configure(doc, command.config, settings)
    strong = session_end = False
    if isinstance(command, RecordFeedback):
        reward = settings.rewards.reward_for(command.kind, command.value)
        sentiment = doc["sentiment"] + settings.sentiment_alpha * (reward - doc["sentiment"])
        below = sentiment < settings.freeze_threshold
        doc["belowSince"] = (doc["belowSince"] or command.occurred_at) if below else None
        doc["sentiment"] = sentiment
        doc["feedbackCount"] += 1
        doc["pending"].append(
            {
                "reward": reward,
                "traits": dict(command.traits),
                "action": command.action,
                "occurredAt": command.occurred_at,
            }
        )
        strong = settings.rewards.is_strong_signal(command.kind)
    elif isinstance(command, ConfigureLearning):
        _configure(doc, command.config, settings)
    elif isinstance(command, EndSession):
        session_end = True
    elif not isinstance(command, (RecordActivity, RegisterAgent)):
        raise TypeError(f"not an agent command: {command!r}")
    doc["lastActivityAt"] = command.occurred_at
    return doc, _after_event(doc, command.occurred_at, settings, strong, session_end)


def _configure(doc: Document, config: LearningConfig, settings: LearningSettings) -> None:
    capped, _caps = cap_event_config(config, settings)
    new_epsilon = effective_rates(capped, settings).epsilon
    old_epsilon = effective_rates(LearningConfig.from_dict(doc["config"]), settings).epsilon
    doc["epsilon"] = new_epsilon if new_epsilon != old_epsilon else doc["epsilon"]
    doc["config"] = capped.to_dict()


def _after_event(
    doc: Document, at: datetime, settings: LearningSettings, strong: bool, session_end: bool
) -> list[dict]:
    if freeze_due(frozen=doc["frozen"], below_since=doc["belowSince"], time=at, settings=settings):
        doc["frozen"] = True
        return [
            {
                "type": "AgentUpdatesFrozen",
                "eventId": f"{doc['_id']}:frozen:{to_iso(at)}",
                "agentId": doc["_id"],
                "reason": "sentiment",
                "sentiment": doc["sentiment"],
                "occurredAt": to_iso(at),
            }
        ]
    trigger = trigger_after_event(
        frozen=doc["frozen"],
        pending_count=len(doc["pending"]),
        strong_signal=strong,
        session_end=session_end,
        settings=settings,
    )
    if trigger is None:
        return []
    state = LearningState(
        priors=doc["priors"],
        learned=doc["learned"],
        preferences=doc["preferences"],
        epsilon=doc["epsilon"],
        feedback_count=doc["feedbackCount"],
        sentiment=doc["sentiment"],
        last_batch_feedback_at=doc["lastBatchFeedbackAt"],
        last_batch_variance=doc["lastBatchVariance"],
    )
    batch = [PendingFeedback(p["reward"], p["traits"], p["action"], p["occurredAt"]) for p in doc["pending"]]
    result = recalculate(state, batch, effective_rates(LearningConfig.from_dict(doc["config"]), settings), settings)
    doc.update(
        version=doc["version"] + 1,
        learned=result.learned,
        effective=result.effective,
        preferences=result.preferences,
        policy=result.policy,
        epsilon=result.epsilon,
        lastBatchVariance=result.last_batch_variance,
        lastBatchFeedbackAt=result.last_batch_feedback_at,
        confidence=result.confidence,
        lastUpdateAt=at,
        pending=[],
    )
    return [
        {
            "type": "AgentLearningUpdated",
            "eventId": f"{doc['_id']}:{doc['version']}",
            "agentId": doc["_id"],
            "version": doc["version"],
            "trigger": trigger,
            "traits": result.effective,
            "learnedTraits": result.learned,
            "actionPolicy": result.policy,
            "explorationEpsilon": result.epsilon,
            "confidence": result.confidence,
            "metrics": result.metrics,
            "occurredAt": to_iso(at),
        }
    ]
