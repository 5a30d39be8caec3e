"""Kafka topic names and client settings, shared by the feedback consumer and the relay sink.

Topic names are configurable (`adapters/config.py` reads them); the outbox maps
events to the logical names of the contract, which `KafkaTopics.physical` turns
into the configured ones.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from adapters.messages.outbound import FEEDBACK_DLQ, LEARNING_UPDATES, MODEL_UPDATES

FEEDBACK = "agent-feedback"
RELAY_POSITIONS = "agent-learning-relay-positions"
DEFAULT_GROUP_ID = "agent-learning"  # the feedback consumer's group
DEFAULT_POLL_SECONDS = 0.05  # the longest one poll waits for the first message of a batch


@frozen
class KafkaTopics:
    feedback: str = FEEDBACK
    dead_letters: str = FEEDBACK_DLQ
    learning_updates: str = LEARNING_UPDATES
    model_updates: str = MODEL_UPDATES
    relay_positions: str = RELAY_POSITIONS  # compacted: the relay's position, written with its messages

    @classmethod
    def prefixed(cls, prefix: str) -> KafkaTopics:
        """Every default name under `prefix.` (a benchmark's or a test's own set of topics)."""
        defaults = cls()
        return cls(
            feedback=f"{prefix}.{defaults.feedback}",
            dead_letters=f"{prefix}.{defaults.dead_letters}",
            learning_updates=f"{prefix}.{defaults.learning_updates}",
            model_updates=f"{prefix}.{defaults.model_updates}",
            relay_positions=f"{prefix}.{defaults.relay_positions}",
        )

    def physical(self, logical: str) -> str:
        """The configured name of a topic the outbox names by its contract name."""
        return {
            FEEDBACK: self.feedback,
            FEEDBACK_DLQ: self.dead_letters,
            LEARNING_UPDATES: self.learning_updates,
            MODEL_UPDATES: self.model_updates,
        }.get(logical, logical)


def client_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """Base librdkafka settings; `overrides` use librdkafka's dotted names via `**{"a.b": v}`."""
    return {"bootstrap.servers": bootstrap, "client.id": "agent-learning", **overrides}
