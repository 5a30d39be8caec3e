"""The Kafka relay sink: publishes the outbox to Kafka and keeps the relay's position in a compacted topic.

Exactly-once (the default), as Kafka Connect's exactly-once source connectors keep their offsets:
one transaction per page holds the page's messages and a position record keyed by the relay's
name in `topics.relay_positions`, `{"position": N, "from": P, "written": {"topic:partition":
[first, last], …}}` (the publication went from notification P to N and wrote those offsets). A new
sink calls `init_transactions`, which fences an older instance with the same `transactional.id`
and ends its open transaction; then it reads the position topic to its end with a read_committed
consumer and resumes from the last record of its key.

On a broker that honours aborts that is all: a position record is visible exactly when its
transaction, and so its messages, committed. Tansu 0.6.0 (docs/test-servers.md) shows the records
of aborted transactions to read_committed consumers, so there a position record may come from an
aborted transaction, and trusting it while some of its messages were never written would lose
them. So the position record is produced only after every message of the page is *written*
(flushed, each delivery report checked), and a failed publish forgets the cached position and
reads it again. Then, on either kind of broker, a visible position record means every message up
to it is visible to a read_committed consumer: committed on a correct broker; written, and shown
after the abort, on Tansu. The position always names what consumers can see: nothing is lost and
nothing the position covers is published again. What Tansu can still show twice are messages of a
transaction that died before its position record was written (killed, or failed, between its
first write and the record); the next attempt publishes them again with the same `event-id`
header, for consumer dedup. The `written` ranges tell such leftovers apart: an output record
inside no position record's ranges belongs to no publication the relay stands by.

At-least-once (`exactly_once=False`, for brokers without transactions): an idempotent producer
writes the page, every delivery report is checked, and only then is the position record written
and confirmed. A crash between the two publishes the page again, with the same `event-id` headers.

The position topic is read from its start at every start of a sink: compaction keeps that short on
Kafka; on a broker that does not compact (Tansu may not) it grows by one record a page.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from adapters.kafka.topics import KafkaTopics, client_config
from adapters.messages.outbound import OutboundMessage
from adapters.service.outbox_relay import RelaySink

DEFAULT_RELAY_NAME = "agent-learning-relay"


class RelaySinkError(RuntimeError):
    pass


def transactional_id(relay_name: str) -> str:
    """One per relay: a second instance started under the same name fences the first."""
    return f"{relay_name}.outbox"


class KafkaRelaySink(RelaySink):
    def __init__(
        self,
        bootstrap: str,
        topics: KafkaTopics,
        relay_name: str = DEFAULT_RELAY_NAME,
        exactly_once: bool = True,
        timeout: float = 30.0,
        producer_config: Mapping[str, Any] | None = None,
        consumer_config: Mapping[str, Any] | None = None,
    ):
        self.bootstrap = bootstrap
        self.topics = topics
        self.relay_name = relay_name
        self.exactly_once = exactly_once
        self.timeout = timeout
        self._consumer_config = dict(consumer_config or {})
        config = client_config(
            bootstrap,
            **{
                "enable.idempotence": True,
                "acks": "all",
                # Java's partitioner, so an agent's updates land where Java and TypeScript clients put its key.
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                **(producer_config or {}),
            },
        )
        if exactly_once:
            config["transactional.id"] = transactional_id(relay_name)
        self._producer = Producer(config)
        if exactly_once:
            # Fences an older instance and ends its open transaction, before the position is read.
            self._producer.init_transactions(timeout)
        self._position: int | None = None

    # ------------------------------------------------------------------ the port

    def position(self) -> int:
        if self._position is None:
            records = read_position_records(
                self.bootstrap, self.topics.relay_positions, self.relay_name, self.timeout, self._consumer_config
            )
            self._position = records[-1]["position"] if records else 0
        return self._position

    def publish(self, messages: Sequence[OutboundMessage], position: int) -> None:
        start = self.position()
        if self.exactly_once:
            self._publish_in_a_transaction(messages, position, start)
        else:
            self._publish_confirmed(messages, position, start)
        self._position = position

    def close(self) -> None:
        with warnings.catch_warnings():
            # A fenced producer cannot abort at close; the broker ends its transaction anyway.
            warnings.simplefilter("ignore", RuntimeWarning)
            self._producer.close()  # aborts an open transaction, flushes the rest

    # ---------------------------------------------------------------- exactly once

    def _publish_in_a_transaction(self, messages: Sequence[OutboundMessage], position: int, start: int) -> None:
        self._producer.begin_transaction()
        try:
            written = self._write_messages(messages)
            self._write_position(position, start, written)
            self._commit()
        except BaseException as error:
            # Whether what was written is visible now depends on the broker: read the position again.
            self._position = None
            self._abort()
            if isinstance(error, KafkaException) and error.args[0].code() == KafkaError._FENCED:
                raise RelaySinkError(
                    f"another relay named {self.relay_name!r} started and took over (transactional.id "
                    f"{transactional_id(self.relay_name)!r}); run one relay per name"
                ) from error
            raise

    def _commit(self) -> None:
        self._producer.commit_transaction(self.timeout)

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(self.timeout)
        except KafkaException:
            pass  # a fenced or failed producer cannot abort; the broker ends the transaction itself

    # --------------------------------------------------------------- at least once

    def _publish_confirmed(self, messages: Sequence[OutboundMessage], position: int, start: int) -> None:
        try:
            written = self._write_messages(messages)
            self._flush_and_check(self._write_position(position, start, written), expected=1)
        except BaseException:
            self._position = None
            raise

    # ---------------------------------------------------------------- both modes

    def _write_messages(self, messages: Sequence[OutboundMessage]) -> dict[str, list[int]]:
        """Produces the messages in order and returns once each is written: the offset range
        written in each partition, as `{"topic:partition": [first, last]}`."""
        reports: list[Message] = []
        for message in messages:
            self._produce(
                self.topics.physical(message.topic),
                message.key,
                message.value,
                [(name, value.encode()) for name, value in message.headers.items()],
                reports,
            )
        self._flush_and_check(reports, expected=len(messages))
        written: dict[str, list[int]] = {}
        for report in reports:
            where = f"{report.topic()}:{report.partition()}"
            first, last = written.get(where, (report.offset(), report.offset()))
            written[where] = [min(first, report.offset()), max(last, report.offset())]
        return written

    def _write_position(self, position: int, start: int, written: dict[str, list[int]]) -> list[Message]:
        """Produces the position record; returns the list its delivery report will land in."""
        reports: list[Message] = []
        record = {"position": position, "from": start, "written": written}
        self._produce(
            self.topics.relay_positions,
            self.relay_name,
            json.dumps(record, separators=(",", ":")).encode(),
            None,
            reports,
        )
        return reports

    def _produce(self, topic: str, key: str, value: bytes, headers: list | None, reports: list[Message]) -> None:
        def delivered(error: KafkaError | None, message: Message) -> None:
            reports.append(message)

        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value, headers=headers, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: let it drain
                self._producer.poll(0.1)

    def _flush_and_check(self, reports: list[Message], expected: int) -> None:
        if self._producer.flush(self.timeout) > 0:
            raise RelaySinkError(
                f"Kafka at {self.bootstrap} did not confirm the relay's messages within "
                f"{self.timeout} s; check that the broker is up and the topics exist"
            )
        failed = [r for r in reports if r.error() is not None]
        if failed:
            raise KafkaException(failed[0].error())
        unplaced = [r for r in reports if r.offset() is None or r.offset() < 0]
        if unplaced:  # seen around broker restarts: "delivered" without an offset is not a confirmation
            raise RelaySinkError(
                f"{len(unplaced)} of {expected} messages were reported delivered without an "
                "offset; the page will be published again"
            )
        if len(reports) != expected:
            raise RelaySinkError(f"{expected - len(reports)} of {expected} messages got no delivery report")


def read_position_records(
    bootstrap: str,
    topic: str,
    relay_name: str,
    timeout: float = 30.0,
    consumer_config: Mapping[str, Any] | None = None,
) -> list[dict]:
    """Every position record of `relay_name`, oldest first, as a read_committed consumer sees them
    now (the partitions are assigned, not subscribed, so no group join)."""
    consumer = Consumer(
        client_config(
            bootstrap,
            **{
                "group.id": f"{relay_name}.position-reader",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,  # the end of a partition shows as an empty fetch: do not wait long for it
                **(consumer_config or {}),
            },
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None or not metadata.partitions:
            raise RelaySinkError(
                f"the relay's position topic {topic!r} is missing at {bootstrap} ({metadata.error}); "
                "create it (compacted) with adapters.kafka.relay_sink.ensure_topics or infra/k8s/topics.yaml"
            )
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        # With read_committed, the end of a partition is its last stable offset.
        unfinished = set(metadata.partitions)
        records: list[dict] = []
        deadline = time.monotonic() + timeout
        key = relay_name.encode()
        while unfinished:
            if time.monotonic() > deadline:
                raise RelaySinkError(
                    f"could not read the relay's position topic {topic!r} to its end within "
                    f"{timeout} s ({len(records)} records of {relay_name!r} read; "
                    f"{where_reading_stopped(consumer, topic, sorted(unfinished))}): the broker reports "
                    "an end it does not reach (Tansu after a durable restart does, docs/test-servers.md), "
                    "or it is too slow to answer; the relay tries again"
                )
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    unfinished.discard(message.partition())
                    continue
                raise KafkaException(message.error())
            if message.key() == key and message.value() is not None:
                records.append(json.loads(message.value()))
        return records
    finally:
        consumer.close()


def where_reading_stopped(consumer: Consumer, topic: str, partitions: list[int]) -> str:
    """For an error: each unfinished partition's position and its watermarks as the broker reports them
    (the high watermark is the last stable offset for a read_committed consumer)."""
    parts = []
    for partition in partitions:
        place = TopicPartition(topic, partition)
        try:
            [position] = consumer.position([place])
            _, high = consumer.get_watermark_offsets(place, timeout=2.0, cached=False)
            parts.append(f"partition {partition} at {position.offset}, end {high}")
        except KafkaException as error:
            parts.append(f"partition {partition}: {error}")
    return "; ".join(parts)


# ------------------------------------------------------------------------ topics

RETENTION_7_DAYS = "604800000"
RETENTION_30_DAYS = "2592000000"


def topic_specs(topics: KafkaTopics, partitions: int = 12, replication_factor: int = -1) -> list[NewTopic]:
    """The topics of the realtime loop with the settings of infra/k8s/topics.yaml; keyed topics get
    `partitions`, the small ones at most 3; `replication_factor=-1` takes the broker's default."""
    durable = {"min.insync.replicas": "2"} if replication_factor >= 3 else {}
    small = min(partitions, 3)

    def spec(name: str, count: int, **config: str) -> NewTopic:
        return NewTopic(name, num_partitions=count, replication_factor=replication_factor, config={**config, **durable})

    return [
        spec(topics.feedback, partitions, **{"retention.ms": RETENTION_7_DAYS}),
        spec(topics.dead_letters, small, **{"retention.ms": RETENTION_30_DAYS}),
        spec(topics.learning_updates, partitions, **{"retention.ms": RETENTION_7_DAYS}),
        spec(topics.model_updates, small, **{"retention.ms": RETENTION_30_DAYS}),
        # Only the latest position of each relay matters; one partition keeps them all in order.
        spec(topics.relay_positions, 1, **{"cleanup.policy": "compact"}),
    ]


def ensure_topics(
    admin: AdminClient, topics: KafkaTopics, partitions: int = 12, replication_factor: int = -1, timeout: float = 30.0
) -> list[str]:
    """Creates the topics that are missing; returns the names created. An existing position topic
    that is not compacted is refused: its history would grow without bound and be read at every start."""
    created = []
    futures = admin.create_topics(topic_specs(topics, partitions, replication_factor), operation_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    if topics.relay_positions not in created:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topics.relay_positions)
        config = admin.describe_configs([resource])[resource].result(timeout)
        policy = config["cleanup.policy"].value if "cleanup.policy" in config else "delete"
        if "compact" not in policy:
            raise RelaySinkError(
                f"the relay's position topic {topics.relay_positions!r} exists with cleanup.policy={policy}; "
                "set it to compact (kafka-configs --alter --add-config cleanup.policy=compact)"
            )
    return created
