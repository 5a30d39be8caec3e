"""An aggregate base whose ids are text, so every stored event names its agent (`agent:a-1`).

The library's `Aggregate` uses UUIDs; projections and the relay would then need a
lookup to find which agent an event belongs to. These are the library's own
building blocks, typed for `str` ids (stored with `ORIGINATOR_ID_TYPE=text`).

Events that carry their own time (`occurred_at`) are also stamped with it, so
the domain never reads the clock (the library would stamp them with "now").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import (
    BaseAggregate,
    CanCreateTimestamp,
    CanInitAggregate,
    CanMutateAggregate,
    CanSnapshotAggregate,
    MetaDomainEvent,
)


@dataclass(frozen=True)
class TextIdEvent(CanMutateAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    originator_id: str
    originator_version: int
    timestamp: datetime


@dataclass(frozen=True)
class TextIdCreated(CanInitAggregate[str], TextIdEvent):
    originator_topic: str


@dataclass(frozen=True)
class TextIdSnapshot(CanSnapshotAggregate[str], CanCreateTimestamp, metaclass=MetaDomainEvent):
    originator_id: str
    originator_version: int
    timestamp: datetime
    topic: str
    state: dict[str, Any]


def _stamped_with_event_time(kwargs: dict[str, Any]) -> dict[str, Any]:
    if kwargs.get("timestamp") is None and isinstance(kwargs.get("occurred_at"), datetime):
        kwargs = {**kwargs, "timestamp": kwargs["occurred_at"]}
    return kwargs


class TextIdAggregate(BaseAggregate[str]):
    class Event(TextIdEvent):
        pass

    class Created(Event, TextIdCreated):
        pass

    Snapshot = TextIdSnapshot

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - the library's name
        return super()._create(event_class, id=id, **_stamped_with_event_time(kwargs))

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **_stamped_with_event_time(kwargs))
