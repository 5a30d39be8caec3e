"""A rejected message, kept as an event so the dead-letter view and the DLQ topic come from the log."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from eventsourcing.domain import event

from domain.text_id_aggregate import TextIdAggregate

UNCLASSIFIED = "unclassified"  # dead letters recorded before codes were


class DeadLetter(TextIdAggregate):
    TOPIC = "agent_learning:DeadLetter"

    class Created(TextIdAggregate.Created):
        TOPIC = "agent_learning:DeadLetter.Created"

    class MessageRejected(TextIdAggregate.Created):
        """v2 added `code`, the stable machine-readable kind of problem beside the reason."""

        TOPIC = "agent_learning:DeadLetter.MessageRejected"
        class_version = 2
        source: str
        position: str
        reason: str
        raw: str
        key: str | None
        agent_id: str | None
        code: str
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["code"] = UNCLASSIFIED

    @staticmethod
    def create_id(**_: object) -> str:
        return f"dead-letter:{uuid4()}"

    @event(MessageRejected)
    def __init__(
        self,
        source: str,
        position: str,
        reason: str,
        raw: str,
        key: str | None,
        agent_id: str | None,
        code: str,
        occurred_at: datetime,
    ) -> None:
        """`raw` is the original bytes, base64-encoded; `occurred_at` is when it was rejected."""
        self.source = source
        self.position = position
        self.reason = reason
        self.raw = raw
        self.key = key
        self.agent_id = agent_id
        self.code = code
        self.occurred_at = occurred_at
