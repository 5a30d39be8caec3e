"""An aggregate base whose ids are text, so every stored event names its agent (`agent:a-1`).

The library's `Aggregate` uses UUIDs; projections and the relay would then need a
lookup to find which agent an event belongs to. These are the library's own
building blocks, typed for `str` ids (stored with `ORIGINATOR_ID_TYPE=text`).
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


class TextIdAggregate(BaseAggregate[str]):
    class Event(TextIdEvent):
        pass

    class Created(Event, TextIdCreated):
        pass

    Snapshot = TextIdSnapshot
