"""An agent's recorded events as entries (`agent history --json`, the API) and as one readable line each
(what `agent history` prints and the agent page lists)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.service.learning_service import LearningService
from domain.agent import Agent
from domain.learning_options import CHOICES as OPTION_CHOICES
from domain.timestamps import to_iso

INTERNAL_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic")


def _event_data(event: Any) -> dict:
    data = {}
    for key, value in vars(event).items():
        if key in INTERNAL_FIELDS:
            continue
        camel = key.split("_")[0] + "".join(part.title() for part in key.split("_")[1:])
        data[camel] = to_iso(value) if isinstance(value, datetime) else value
    return data


def history_entries(service: LearningService, agent_id: str) -> list[dict]:
    """The agent's events, oldest first, with their fields in the contract's camelCase; raises UnknownAgent."""
    entries = []
    for event in service.history(agent_id):
        data = _event_data(event)
        entries.append(
            {
                "type": type(event).__name__,
                "version": event.originator_version,
                "occurredAt": data.pop("occurredAt", None) or to_iso(event.timestamp),
                "data": data,
            }
        )
    return entries


def _rates(config: dict) -> str:
    parts = [f"profile {config['profile']}"] if config.get("profile") else []
    for key, label in (("traitRate", "trait rate"), ("actionRate", "action rate"), ("epsilon", "ε")):
        if config.get(key) is not None:
            parts.append(f"{label} {config[key]}")
    for trait, rate in sorted((config.get("traitRates") or {}).items()):
        parts.append(f"{trait} rate {rate}")
    parts += [f"{option} {config[option]}" for option in OPTION_CHOICES if config.get(option) is not None]
    return ", ".join(parts) or "defaults"


def summarise(event: Any) -> str:
    """One short line per event, for `agent history` and the agent page; never the feedback's text."""
    if isinstance(event, Agent.AgentRegistered):
        return f"registered as {event.archetype}" + (f" for {event.owner_id}" if event.owner_id else "")
    if isinstance(event, Agent.RegistrationAmended):
        return f"registration amended: {event.archetype}" + (f" for {event.owner_id}" if event.owner_id else "")
    if isinstance(event, Agent.LearningConfigured):
        capped = f" (capped: {', '.join(map(str, event.caps))})" if event.caps else ""
        return f"learning configured: {_rates(event.config)}{capped}"
    if isinstance(event, Agent.FeedbackRecorded):
        return f"{event.kind}, reward {event.reward:+.2f}, sentiment {event.sentiment:+.3f}"
    if isinstance(event, Agent.PolicyRecalculated):
        return f"policy v{event.policy_version} by {event.trigger}, confidence {event.confidence}"
    if isinstance(event, Agent.UpdatesFrozen):
        return f"updates frozen{' by ' + event.by if event.by else ''}: {event.reason}"
    if isinstance(event, Agent.UpdatesUnfrozen):
        return f"updates unfrozen{' by ' + event.by if event.by else ''}: {event.reason}"
    if isinstance(event, Agent.SessionEnded):
        return "session ended"
    if isinstance(event, Agent.ActivityRecorded):
        return f"activity: {event.activity}"
    if isinstance(event, Agent.ArchetypeRemapped):
        return f"remapped from {event.before} to {event.after} by {event.by}: {event.reason}"
    if isinstance(event, Agent.PriorsRefreshed):
        moved = ", ".join(
            f"{trait} {value:.3f}→{event.after[trait]:.3f}"
            for trait, value in event.before.items()
            if value != event.after.get(trait)
        )
        return f"{event.archetype} priors refreshed ({event.period}): {moved or 'no change'}"
    return ""
