"""Commands: what the outside world asks of an agent, already validated at the boundary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from attrs import field, frozen

from domain.learning_config import LearningConfig


@frozen
class RegisterAgent:
    event_id: str | None
    agent_id: str
    occurred_at: datetime
    archetype: str | None = None  # None: "default" for a new agent; an amendment keeps the current one
    owner_id: str | None = None  # None: none for a new agent; an amendment keeps the current owner
    config: LearningConfig | None = None


@frozen
class ConfigureLearning:
    """`from_event` configurations are capped; commands (CLI, HTTP) are validated strictly before this."""

    event_id: str | None
    agent_id: str
    occurred_at: datetime
    config: LearningConfig
    from_event: bool = True
    by: str | None = None  # who asked (the CLI's actor, the API's token); None for a message


@frozen
class RecordFeedback:
    event_id: str
    agent_id: str
    occurred_at: datetime
    kind: str
    value: float | None = None
    traits: Mapping[str, float] = field(factory=dict)
    action: str | None = None
    session_id: str | None = None
    interaction_id: str | None = None
    user_id: str | None = None
    prompt: str | None = None
    response: str | None = None
    # The propensity, when the agent runtime logs it: the policy version it acted on and the probability
    # with which that policy chose `action` (docs/contract.md, "Propensities").
    policy_version: int | None = None
    action_probability: float | None = None


@frozen
class EndSession:
    event_id: str
    agent_id: str
    occurred_at: datetime
    session_id: str | None = None


@frozen
class RecordActivity:
    event_id: str
    agent_id: str
    occurred_at: datetime
    activity: str = "conversation"


@frozen
class FreezeUpdates:
    agent_id: str
    reason: str
    occurred_at: datetime
    by: str | None = None


@frozen
class UnfreezeUpdates:
    agent_id: str
    reason: str
    occurred_at: datetime
    by: str | None = None


AgentCommand = RegisterAgent | ConfigureLearning | RecordFeedback | EndSession | RecordActivity
