"""`agent_learning_state`: one document per agent, what `agent show` and the tick read."""

from __future__ import annotations

from typing import Any

from domain.agent import Agent, agent_id_of
from domain.learning_update import learning_update
from domain.recalculation import published_policy
from projections.projection import Projection, View
from projections.read_model_store import Collection
from projections.times import iso

STATE = "agent_learning_state"


def _epoch(moment) -> float | None:
    return moment.timestamp() if moment is not None else None


class AgentLearningState(Projection):
    name = STATE
    version = 2  # 2: follows ArchetypeRemapped
    collections = (
        Collection(STATE, indexes=(("pendingFeedbackCount", "lastUpdateTs"), ("belowSinceTs",), ("ownerId",))),
    )
    topics = frozenset(
        cls.TOPIC
        for cls in (
            Agent.AgentRegistered,
            Agent.RegistrationAmended,
            Agent.LearningConfigured,
            Agent.FeedbackRecorded,
            Agent.SessionEnded,
            Agent.ActivityRecorded,
            Agent.PolicyRecalculated,
            Agent.UpdatesFrozen,
            Agent.UpdatesUnfrozen,
            Agent.ArchetypeRemapped,
        )
    )

    def prefetch(self, events: list[Any], view: View) -> None:
        view.prefetch(STATE, {agent_id_of(e.originator_id) for e in events})

    def apply(self, event: Any, view: View) -> None:
        agent_id = agent_id_of(event.originator_id)
        doc: dict | None
        if isinstance(event, Agent.AgentRegistered):
            doc = new_state_document(agent_id, event)
        else:
            doc = view.get(STATE, agent_id)  # the page's own copy: changed in place
            if doc is None:  # history without its registration: nothing sensible to show
                return
            _apply_change(doc, event)
        if isinstance(
            event,
            (
                Agent.AgentRegistered,
                Agent.RegistrationAmended,
                Agent.LearningConfigured,
                Agent.FeedbackRecorded,
                Agent.SessionEnded,
                Agent.ActivityRecorded,
            ),
        ):
            doc["lastActivityAt"] = iso(event.occurred_at)
            doc["lastActivityTs"] = _epoch(event.occurred_at)
        doc["aggregateVersion"] = event.originator_version
        view.put(STATE, agent_id, doc)


def new_state_document(agent_id: str, event: Agent.AgentRegistered) -> dict:
    at = iso(event.occurred_at)
    return {
        "agentId": agent_id,
        "ownerId": event.owner_id,
        "archetype": event.archetype,
        "version": 0,
        "trigger": None,
        "traits": dict(event.priors),
        "learnedTraits": dict(event.priors),
        "actionPolicy": published_policy(event.action_priors, event.epsilon, tuple(event.action_priors)),
        "explorationEpsilon": event.epsilon,
        "confidence": "archetype",
        "metrics": None,
        "occurredAt": at,
        "frozen": False,
        "frozenReason": None,
        "pendingFeedbackCount": 0,
        "feedbackCount": 0,
        "sentiment": 0.0,
        "belowSince": None,
        "belowSinceTs": None,
        "lastUpdateAt": at,
        "lastUpdateTs": _epoch(event.occurred_at),
        "registeredAt": at,
        "learningConfig": dict(event.config),
    }


def _apply_change(doc: dict, event: Any) -> None:
    if isinstance(event, Agent.RegistrationAmended):
        doc["archetype"] = event.archetype
        doc["ownerId"] = event.owner_id
    elif isinstance(event, Agent.LearningConfigured):
        doc["learningConfig"] = event.config
        doc["explorationEpsilon"] = event.epsilon
    elif isinstance(event, Agent.FeedbackRecorded):
        doc["feedbackCount"] += 1
        doc["pendingFeedbackCount"] += 1
        doc["sentiment"] = event.sentiment
        doc["belowSince"] = iso(event.below_since)
        doc["belowSinceTs"] = _epoch(event.below_since)
    elif isinstance(event, Agent.PolicyRecalculated):
        doc.update(learning_update(event, iso))
        doc.update(
            pendingFeedbackCount=0,
            lastUpdateAt=iso(event.occurred_at),
            lastUpdateTs=_epoch(event.occurred_at),
        )
    elif isinstance(event, Agent.UpdatesFrozen):
        doc["frozen"] = True
        doc["frozenReason"] = event.reason
    elif isinstance(event, Agent.ArchetypeRemapped):
        doc["archetype"] = event.after
    elif isinstance(event, Agent.UpdatesUnfrozen):
        doc.update(frozen=False, frozenReason=None, sentiment=0.0, belowSince=None, belowSinceTs=None)
