"""The outbox relay: publishes the public events of the log, in log order, to a sink.

The sink owns the relay's position and stores it atomically with what it
publishes (the file sink in the file itself, the Kafka sink in a transaction),
so a relay killed at any moment resumes without losing or repeating a message.
Sinks that cannot do that still get each message's stable `event-id` header,
which consumers use to drop repeats.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from eventsourcing.persistence import ApplicationRecorder, Mapper

from adapters.messages.outbound import MAPPINGS, OutboundMessage


class RelaySink(ABC):
    @abstractmethod
    def position(self) -> int:
        """The notification id up to which everything has been published (0 before anything)."""

    @abstractmethod
    def publish(self, messages: Sequence[OutboundMessage], position: int) -> None:
        """Publishes the messages and records `position`, atomically; returns once confirmed."""

    def close(self) -> None:
        pass


class OutboxRelay:
    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper, sink: RelaySink, page_size: int = 1000):
        self.recorder = recorder
        self.mapper = mapper
        self.sink = sink
        self.page_size = page_size

    def relay_once(self) -> int:
        """Publishes one page; returns the number of messages published (0 with a full page of
        other events still moves the position)."""
        start = self.sink.position() + 1
        page = self.recorder.select_notifications(start=start, limit=self.page_size)
        if not page:
            return -1
        messages = [MAPPINGS[n.topic](self.mapper.to_domain_event(n), n.id) for n in page if n.topic in MAPPINGS]
        self.sink.publish(messages, page[-1].id)
        return len(messages)

    def relay_all(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Publishes everything recorded so far; returns how many messages."""
        total = 0
        while (published := self.relay_once()) >= 0:
            total += published
            if progress:
                progress(self.sink.position(), self.lag_head())
        return total

    def lag_head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def lag(self) -> int:
        return max(0, self.lag_head() - self.sink.position())
