"""The feedback consumer: Kafka `agent-feedback` → LearningService, the consumed offsets saved with the events.

Each batch is applied in one transaction together with one tracking record per
partition (`kafka:{topic}:{partition}` = the next offset to read), so the event
store, not Kafka, says what has been consumed: a crash replays nothing that was
saved and loses nothing that was not. Kafka's committed offsets are only a
courtesy for lag monitoring.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen, validators
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    TopicPartition,
)
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.kafka.topics import DEFAULT_GROUP_ID, DEFAULT_POLL_SECONDS, KafkaTopics, client_config
from adapters.messages.dead_letter_codes import EMPTY_MESSAGE
from adapters.messages.inbound import BadMessage, parse_message
from adapters.service.learning_service import BatchOutcome, LearningService, Received, Rejection

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
NULL_VALUE_REASON = "the message has no value (null); send one JSON object per message"

Partition = tuple[str, int]


def tracking_name(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"


@frozen
class ConsumerSettings:
    """`client` holds extra librdkafka settings (dotted names); they override the defaults below."""

    group_id: str = DEFAULT_GROUP_ID
    batch_size: int = field(default=DEFAULT_BATCH_SIZE, validator=[validators.ge(1), validators.le(100_000)])
    # How long a poll waits for the *first* message of a batch; the rest of the batch is what has
    # already arrived (natural batching: no wait for a batch to fill, so under light load a message
    # waits for nothing but its fetch, and under load batches grow while the previous one is saved).
    # AGENT_LEARNING_KAFKA_POLL_SECONDS sets it in `serve`.
    poll_timeout: float = field(default=DEFAULT_POLL_SECONDS, validator=validators.gt(0))
    lag_interval: float = 5.0  # seconds between watermark queries; 0 turns lag reporting off
    client: Mapping[str, Any] = field(factory=dict)

    def librdkafka(self, bootstrap: str) -> dict[str, Any]:
        return client_config(
            bootstrap,
            **{
                "group.id": self.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # Memory under a backlog: librdkafka prefetches until one of these is reached,
                # on top of the one batch the loop holds.
                "queued.max.messages.kbytes": 16384,
                "queued.min.messages": max(1000, 2 * self.batch_size),
                "fetch.max.bytes": 8 * 1024 * 1024,
                "max.partition.fetch.bytes": 1024 * 1024,
                # A member's first assignment waits about half its session timeout (bench/first_assignment.py:
                # 23 s with librdkafka's 45 s default, 3 s with these); 6 s is the least Apache Kafka's
                # brokers accept by default (group.min.session.timeout.ms). Heartbeats run on their own thread.
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
                **self.client,
            },
        )


@define
class ConsumerStats:
    """Counters for /metrics; read from any thread (plain values, replaced whole)."""

    consumed: int = 0  # messages taken from Kafka for a batch
    recorded: int = 0  # commands that changed an agent
    duplicates: int = 0  # commands the agent had already seen (same eventId)
    rejected: int = 0  # dead letters
    batches: int = 0  # transactions committed
    already_recorded: int = 0  # messages dropped because another consumer had saved them
    tracking_conflicts: int = 0  # batches that met a position saved by another consumer
    assignments: int = 0  # partitions assigned to this member, over time
    last_batch_at: float | None = None  # unix time of the last committed batch
    last_batch_seconds: float = 0.0
    last_batch_size: int = 0
    assigned: tuple[Partition, ...] = ()
    first_assignment_at: float | None = None  # unix time the group first gave this member its share (maybe none)
    lag: dict[str, int] = field(factory=dict)  # tracking name → messages not yet recorded

    def snapshot(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "batches": self.batches,
            "already_recorded": self.already_recorded,
            "tracking_conflicts": self.tracking_conflicts,
            "assignments": self.assignments,
            "last_batch_at": self.last_batch_at,
            "last_batch_seconds": self.last_batch_seconds,
            "last_batch_size": self.last_batch_size,
            "assigned": list(self.assigned),
            "lag": dict(self.lag),
        }


def batch_trackings(messages: Sequence[Message]) -> list[Tracking]:
    """The tracking records that save a batch: per partition, a guard, then the next offset to read.

    The store only moves a position forward (a record not above the stored one fails).
    The guard `first offset + 1` therefore fails exactly when someone already saved the
    batch's first message, and `last offset + 1` then moves the position past the batch:
    together a compare-and-set, so a batch that overlaps another consumer's is never
    saved, however far that consumer got.
    """
    spans: dict[Partition, list[int]] = {}
    for message in messages:
        span = spans.setdefault((message.topic(), message.partition()), [message.offset(), message.offset()])
        span[0] = min(span[0], message.offset())
        span[1] = max(span[1], message.offset())
    trackings = []
    for (topic, partition), (first, last) in spans.items():
        name = tracking_name(topic, partition)
        if first < last:
            trackings.append(Tracking(name, first + 1))
        trackings.append(Tracking(name, last + 1))
    return trackings


class FeedbackConsumer:
    """One member of the consumer group; `run` until `stop` (or the stop event)."""

    def __init__(
        self,
        service: LearningService,
        bootstrap: str,
        topics: KafkaTopics | None = None,
        settings: ConsumerSettings | None = None,
        clock: Callable[[], float] = time.time,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        """`on_batch` is called with each committed batch's outcome (the worker's metrics)."""
        settings = settings or ConsumerSettings()
        self.service = service
        self.on_batch = on_batch
        self.topic = (topics or KafkaTopics()).feedback
        self.settings = settings
        self.clock = clock
        self.stats = ConsumerStats()
        self._stop = threading.Event()
        self._assigned: set[Partition] = set()
        self._positions: dict[Partition, int] = {}  # next offset to read, as saved
        self._lag_due = 0.0
        self._closed = False
        config = settings.librdkafka(bootstrap)
        self._cooperative = "cooperative" in str(config.get("partition.assignment.strategy", ""))
        self._consumer = Consumer({**config, "on_commit": self._on_commit})
        self._consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    # ------------------------------------------------------------------ loop

    def run(self, stop_event: threading.Event | None = None) -> ConsumerStats:
        """Consumes batches until stopped, then closes; a batch in progress is always finished first."""
        try:
            while not self._stop.is_set() and not (stop_event is not None and stop_event.is_set()):
                self.poll_batch()
        finally:
            self.close()
        return self.stats

    def stop(self) -> None:
        """Asks `run` to return after the current batch (safe from a signal handler or another thread)."""
        self._stop.set()

    def poll_batch(self, timeout: float | None = None) -> int:
        """Reads at most one batch and saves it; returns how many messages were saved (after drops)."""
        # consume(n, t) returns only when n messages came or t passed: waiting for a batch to fill
        # was most of a message's latency under light load (bench/kafka_loop.py, docs/performance.md).
        messages = self._consumer.consume(
            num_messages=1, timeout=self.settings.poll_timeout if timeout is None else timeout
        )
        if messages and self.settings.batch_size > 1:
            messages += self._consumer.consume(num_messages=self.settings.batch_size - 1, timeout=0)
        saved = self._save(self._usable(messages))
        self._report_lag()
        return saved

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()  # revokes (nothing is in flight here) and leaves the group

    # ---------------------------------------------------------------- batches

    def _usable(self, messages: Iterable[Message]) -> list[Message]:
        usable = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("feedback consumer: %s", error)
                continue
            # A partition revoked while this batch was fetched belongs to another member now.
            if (message.topic(), message.partition()) in self._assigned:
                usable.append(message)
        return usable

    def _save(self, messages: list[Message]) -> int:
        if not messages:
            return 0
        started = time.monotonic()
        self.stats.consumed += len(messages)
        self.service.refresh_rules()  # a batch is parsed and decided under the rules version in force now
        items = {id(m): self._parse(m) for m in messages}
        while messages:
            try:
                outcome = self.service.process(
                    [items[id(m)] for m in messages], trackings=batch_trackings(messages), refresh_rules=False
                )
            except IntegrityError:
                remaining = self._drop_already_recorded(messages)
                if len(remaining) == len(messages):
                    raise  # not a position conflict: let the worker fail and restart
                messages = remaining
                continue
            self._count(outcome, len(messages), started)
            if self.on_batch is not None:
                self.on_batch(outcome)
            self._advance(messages)
            return len(messages)
        return 0

    def _parse(self, message: Message) -> Any:
        source, position, key = message.topic(), f"{message.partition()}:{message.offset()}", message.key()
        raw = message.value()
        if raw is None:
            return Rejection(source, position, b"", NULL_VALUE_REASON, key=key, code=EMPTY_MESSAGE)
        try:
            return Received(parse_message(raw, self.service.settings), source, position, raw, key)
        except BadMessage as error:
            return Rejection(source, position, raw, str(error), key=key, agent_id=error.agent_id, code=error.code)

    def _drop_already_recorded(self, messages: list[Message]) -> list[Message]:
        """After a rebalance race: keeps only what the store has not saved, and skips ahead to it."""
        saved = {p: self._stored_position(*p) for p in {(m.topic(), m.partition()) for m in messages}}
        remaining = [m for m in messages if m.offset() >= (saved[(m.topic(), m.partition())] or 0)]
        self.stats.tracking_conflicts += 1
        self.stats.already_recorded += len(messages) - len(remaining)
        log.warning(
            "feedback consumer: %d message(s) were already saved by another consumer; dropped",
            len(messages) - len(remaining),
        )
        for (topic, partition), position in saved.items():
            if position is None:
                continue
            self._positions[(topic, partition)] = max(position, self._positions.get((topic, partition), 0))
            last = max(m.offset() for m in messages if (m.topic(), m.partition()) == (topic, partition))
            if position > last + 1 and (topic, partition) in self._assigned:
                self._consumer.seek(TopicPartition(topic, partition, position))
        return remaining

    def _stored_position(self, topic: str, partition: int) -> int | None:
        return self.service.recorder.max_tracking_id(tracking_name(topic, partition))

    def _count(self, outcome: BatchOutcome, size: int, started: float) -> None:
        stats = self.stats
        stats.recorded += outcome.recorded
        stats.duplicates += outcome.duplicates
        stats.rejected += len(outcome.rejected)
        stats.batches += 1
        stats.last_batch_size = size
        stats.last_batch_seconds = time.monotonic() - started
        stats.last_batch_at = self.clock()

    def _advance(self, messages: list[Message]) -> None:
        for message in messages:
            partition = (message.topic(), message.partition())
            self._positions[partition] = max(self._positions.get(partition, 0), message.offset() + 1)
        offsets = [
            TopicPartition(t, p, self._positions[(t, p)])
            for (t, p) in {(m.topic(), m.partition()) for m in messages}
            if (t, p) in self._assigned
        ]
        if offsets:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=True)  # advisory, for lag tools
            except Exception as error:  # noqa: BLE001 - the store holds the truth; never fail a batch here
                log.debug("feedback consumer: advisory commit failed: %s", error)

    @staticmethod
    def _on_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None:
            log.debug("feedback consumer: advisory commit failed: %s", error)

    # -------------------------------------------------------------- rebalance
    # librdkafka calls these from inside consume()/close(), on the loop's thread, so a
    # batch is never half done when a partition goes: it was saved before the call.

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            stored = self._stored_position(tp.topic, tp.partition)
            tp.offset = OFFSET_BEGINNING if stored is None else stored
            if stored is not None:
                self._positions[(tp.topic, tp.partition)] = stored
        if self._cooperative:
            consumer.incremental_assign(partitions)
            self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        else:
            consumer.assign(partitions)
            self._assigned = {(tp.topic, tp.partition) for tp in partitions}
        self.stats.assignments += len(partitions)
        if self.stats.first_assignment_at is None:
            self.stats.first_assignment_at = time.time()
        self._assignment_changed()
        log.info("feedback consumer: assigned %s", sorted(self._assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}
        if self._cooperative:
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()
        self._assignment_changed()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("feedback consumer: lost %s (session expired)", [(tp.topic, tp.partition) for tp in partitions])
        self._on_revoke(consumer, partitions)

    def _assignment_changed(self) -> None:
        self.stats.assigned = tuple(sorted(self._assigned))
        self._positions = {p: o for p, o in self._positions.items() if p in self._assigned}
        self.stats.lag = {
            name: n for name, n in self.stats.lag.items() if any(name == tracking_name(*p) for p in self._assigned)
        }
        self._lag_due = 0.0

    # -------------------------------------------------------------------- lag

    def _report_lag(self) -> None:
        if not self.settings.lag_interval or time.monotonic() < self._lag_due:
            return
        self._lag_due = time.monotonic() + self.settings.lag_interval
        lag = {}
        for topic, partition in sorted(self._assigned):
            try:
                # cached: the high watermark of the last fetch; asking the broker would stall the loop
                _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except Exception as error:  # noqa: BLE001 - monitoring only
                log.debug("feedback consumer: no watermark for %s:%d: %s", topic, partition, error)
                continue
            # Transaction markers take offsets too, so this may overstate by a few.
            lag[tracking_name(topic, partition)] = max(0, high - self._positions.get((topic, partition), 0))
        self.stats.lag = lag


def install_signal_handlers(consumer: FeedbackConsumer) -> None:
    """SIGTERM and SIGINT let the current batch finish, then `run` closes the consumer and returns."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: consumer.stop())
