"""A training dataset, recorded once when the daily job first writes it (its id is its content hash).

The event carries the manifest's facts and where the files are; the relay publishes it as
`TrainingDatasetReady`. Recording the same dataset again is a no-op: the aggregate id is
the dataset id, so a second create conflicts, and callers check for it first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.text_id_aggregate import TextIdAggregate


def training_dataset_aggregate_id(dataset_id: str) -> str:
    return f"training-dataset:{dataset_id}"


def _topic(name: str) -> str:
    return f"agent_learning:TrainingDataset.{name}"


class TrainingDataset(TextIdAggregate):
    TOPIC = "agent_learning:TrainingDataset"

    class Created(TextIdAggregate.Created):
        TOPIC = _topic("Created")

    class DatasetRecorded(TextIdAggregate.Created):
        TOPIC = _topic("DatasetRecorded")
        dataset_id: str
        agent_id: str | None
        archetype: str | None
        counts: dict
        time_range: dict
        source_positions: dict
        location: str
        occurred_at: datetime

    @staticmethod
    def create_id(dataset_id: str, **_: Any) -> str:
        return training_dataset_aggregate_id(dataset_id)

    @event(DatasetRecorded)
    def __init__(
        self,
        dataset_id: str,
        agent_id: str | None,
        archetype: str | None,
        counts: dict,
        time_range: dict,
        source_positions: dict,
        location: str,
        occurred_at: datetime,
    ) -> None:
        self.dataset_id = dataset_id
        self.agent_id = agent_id
        self.archetype = archetype
        self.counts = dict(counts)
        self.time_range = dict(time_range)
        self.source_positions = dict(source_positions)
        self.location = location
        self.created_at = occurred_at
