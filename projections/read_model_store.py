"""The read-model store port: JSON documents in named collections, and projection checkpoints.

A projection writes its documents and its new position in one transaction
(`commit`), so a crash never applies an event twice or skips one. Each projection
writes into a *generation* of its collections; readers see the live generation,
and a rebuild fills a new one beside it and swaps it in when caught up (blue/green).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from attrs import frozen

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
LIVE, BUILDING = "live", "building"


@frozen
class Condition:
    field: str
    op: Op
    value: Any


@frozen
class Checkpoint:
    projection: str
    generation: int
    version: int
    position: int  # the last notification id applied; 0 before any
    state: str  # LIVE or BUILDING


@frozen
class Collection:
    name: str
    indexes: tuple[tuple[str, ...], ...] = ()


# A batch of document changes: collection -> key -> document (None deletes it).
Changes = Mapping[str, Mapping[str, dict | None]]


class ReadModelStore(ABC):
    # ---------------------------------------------------------------- reading
    @abstractmethod
    def get(self, collection: str, key: str) -> dict | None:
        """A document of the live generation of `collection`, or None."""

    @abstractmethod
    def find(
        self,
        collection: str,
        where: Sequence[Condition] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[dict]:
        """Documents of the live generation matching every condition (ascending order)."""

    # ------------------------------------------------------------ checkpoints
    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]: ...

    @abstractmethod
    def start_generation(self, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        """Creates empty collections for a new generation (with indexes) and a BUILDING checkpoint at 0."""

    @abstractmethod
    def activate(self, projection: str, generation: int) -> None:
        """Makes `generation` the live one and drops the collections of every other generation."""

    # ---------------------------------------------------------------- writing
    @abstractmethod
    def get_many(self, projection: str, generation: int, collection: str, keys: Iterable[str]) -> dict[str, dict]:
        """Documents of a given generation (what a projector reads before it writes)."""

    @abstractmethod
    def commit(self, projection: str, generation: int, changes: Changes, position: int, expected_position: int) -> None:
        """Writes the changes and moves the checkpoint from `expected_position` to `position`, atomically.

        Raises CheckpointMoved if the stored position is not `expected_position`
        (another runner got there first): nothing is written.
        """

    def live_checkpoint(self, projection: str) -> Checkpoint | None:
        for checkpoint in self.checkpoints():
            if checkpoint.projection == projection and checkpoint.state == LIVE:
                return checkpoint
        return None

    def close(self) -> None:
        pass


class ReadModelStoreUnavailable(ConnectionError):
    """The store did not answer (its server restarting, a dropped connection): the work is retried, and
    no projection is marked as failed on the event it was applying."""


class CheckpointMoved(RuntimeError):
    pass
