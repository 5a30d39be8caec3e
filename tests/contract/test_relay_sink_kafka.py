"""The relay sink contract on Kafka (the Tansu test broker) in both modes, and what only Kafka shows:
the topics, fencing, and where the position stands after a publish that failed half-way.

Tansu shows aborted records to read_committed consumers (docs/test-servers.md); the tests that
meet an abort ask the broker which kind it is and check what the sink promises on either kind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import pytest
from attrs import frozen
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from adapters.kafka.relay_sink import (
    KafkaRelaySink,
    RelaySinkError,
    ensure_topics,
    read_position_records,
)
from adapters.kafka.topics import KafkaTopics
from adapters.messages.outbound import FEEDBACK_DLQ, LEARNING_UPDATES, MODEL_UPDATES
from infra.local_servers import TANSU_CONSUMER_SETTINGS
from tests.contract.relay_sink_contract import Published, RelaySinkContract, update

pytestmark = pytest.mark.kafka


# ------------------------------------------------------------- reading Kafka back


@frozen
class Record:
    topic: str  # the physical name
    partition: int
    offset: int
    message: Published


def unique_topics() -> KafkaTopics:
    suffix = uuid.uuid4().hex[:10]
    return KafkaTopics(
        feedback=f"feedback-{suffix}",
        dead_letters=f"dlq-{suffix}",
        learning_updates=f"updates-{suffix}",
        model_updates=f"models-{suffix}",
        relay_positions=f"positions-{suffix}",
    )


def output_topics(topics: KafkaTopics) -> dict[str, str]:
    """The relay's output topics: physical name → contract name."""
    return {
        topics.learning_updates: LEARNING_UPDATES,
        topics.model_updates: MODEL_UPDATES,
        topics.dead_letters: FEEDBACK_DLQ,
    }


def _past_the_high_watermark(consumer: Consumer, partitions: set[tuple[str, int]]) -> set[tuple[str, int]]:
    done = set()
    for topic, partition in partitions:
        tp = TopicPartition(topic, partition)
        _, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
        [position] = consumer.position([tp])
        if position.offset >= 0 and position.offset >= high:
            done.add((topic, partition))
    return done


class StalledAtOpenTransaction(AssertionError):
    """A read_committed reader could not reach the end: an open transaction holds the stable offset."""


def read_records(
    bootstrap: str,
    names: dict[str, str],
    timeout: float = 20.0,
    isolation: str = "read_committed",
    settle: float | None = None,
) -> list[Record]:
    """Every record of the topics as a consumer of `isolation` sees it, in offset order per partition.

    A partition is read when the consumer reports its end. With `settle`, also when nothing came
    for that many seconds and the position is at or past the broker's high watermark: after a
    durable Tansu restart the broker reports a high watermark below records it still serves, so
    the end is never reported (docs/test-servers.md). Ending early cannot pass a test that then
    looks for every event; it can only fail it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
            "fetch.wait.max.ms": 50,
            **TANSU_CONSUMER_SETTINGS,
        }
    )
    try:
        partitions = [
            TopicPartition(name, p, OFFSET_BEGINNING)
            for name in names
            for p in consumer.list_topics(name, timeout=timeout).topics[name].partitions
        ]
        consumer.assign(partitions)
        unfinished = {(tp.topic, tp.partition) for tp in partitions}
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        last_message = time.monotonic()
        while unfinished and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                if settle is not None and time.monotonic() - last_message > settle:
                    unfinished -= _past_the_high_watermark(consumer, unfinished)
                continue
            last_message = time.monotonic()
            if message.error() is not None:
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                unfinished.discard((message.topic(), message.partition()))
                continue
            headers = {name: value.decode() for name, value in message.headers() or []}
            records.append(
                Record(
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    Published(names[message.topic()], message.key().decode(), headers, message.value()),
                )
            )
        if unfinished:
            where = []
            for topic, partition in sorted(unfinished):
                tp = TopicPartition(topic, partition)
                try:
                    low, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                except Exception as error:  # noqa: BLE001 - a diagnosis, not the test
                    low = high = f"({error})"
                [position] = consumer.position([tp])
                where.append(f"{topic}/{partition}: at {position.offset}, watermarks {low}..{high}")
            raise StalledAtOpenTransaction(
                f"could not read {sorted(unfinished)} to the end within {timeout} s ({isolation}): {'; '.join(where)}"
            )
        return records
    finally:
        consumer.close()


def stood_by(records: Iterable[Record], position_records: list[dict]) -> list[Record]:
    """The records inside the offset ranges that the relay's position records name: what the relay
    published and stands by. Outside them are only leftovers of transactions that died before
    their position record, which a broker that honours aborts never shows."""
    ranges = [
        (where, first, last) for position in position_records for where, (first, last) in position["written"].items()
    ]
    return [
        r
        for r in records
        if any(where == f"{r.topic}:{r.partition}" and first <= r.offset <= last for where, first, last in ranges)
    ]


def shows_aborted_records(bootstrap: str) -> bool:
    """Whether this broker lets read_committed consumers see aborted records (Tansu 0.6.0 does)."""
    topic = f"abort-probe-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1)])[topic].result(15)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"probe-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(15)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"aborted")
    producer.flush(15)
    producer.abort_transaction(15)
    producer.begin_transaction()
    producer.produce(topic, key=b"k", value=b"committed")
    producer.commit_transaction(15)
    producer.close()
    return any(r.message.value == b"aborted" for r in read_records(bootstrap, {topic: topic}))


@pytest.fixture(scope="module")
def broker_shows_aborted_records(kafka_bootstrap: str) -> bool:
    return shows_aborted_records(kafka_bootstrap)


def event_ids(messages: Iterable[Published]) -> list[str]:
    return [m.headers["event-id"] for m in messages]


# ------------------------------------------------------------------ the sinks


class FailingSink(KafkaRelaySink):
    """Fails the next publish at the step named in `fail_next`, as a broker or network error would."""

    fail_next: str | None = None

    def _fail(self, step: str) -> None:
        if self.fail_next == step:
            self.fail_next = None
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, f"injected failure at {step}"))

    def _write_position(self, *args, **kwargs):
        self._fail("position")
        return super()._write_position(*args, **kwargs)

    def _commit(self) -> None:
        if self.fail_next == "commit":  # everything is written; the commit request is what fails
            self._producer.flush(10)
        self._fail("commit")
        super()._commit()


class KafkaSinkContract(RelaySinkContract):
    exactly_once: bool

    @pytest.fixture(autouse=True)
    def _topics(self, kafka_bootstrap: str) -> None:
        self.bootstrap = kafka_bootstrap
        self.topics = unique_topics()
        self.relay_name = f"relay-{uuid.uuid4().hex[:8]}"
        ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), self.topics, partitions=3)

    def make_sink(self) -> FailingSink:
        return FailingSink(
            self.bootstrap,
            self.topics,
            self.relay_name,
            exactly_once=self.exactly_once,
            timeout=15,
            consumer_config=TANSU_CONSUMER_SETTINGS,
        )

    def records(self) -> list[Record]:
        return read_records(self.bootstrap, output_topics(self.topics))

    def published(self) -> list[Published]:
        return [r.message for r in self.records()]

    def position_records(self) -> list[dict]:
        return read_position_records(
            self.bootstrap, self.topics.relay_positions, self.relay_name, 15, TANSU_CONSUMER_SETTINGS
        )

    # What only Kafka shows.

    def test_the_topics_exist_once_with_a_compacted_single_partition_position_topic(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})

        assert ensure_topics(admin, self.topics, partitions=3) == []

        metadata = admin.list_topics(timeout=10).topics
        assert len(metadata[self.topics.learning_updates].partitions) == 3
        assert len(metadata[self.topics.relay_positions].partitions) == 1
        resource = ConfigResource(ConfigResource.Type.TOPIC, self.topics.relay_positions)
        assert admin.describe_configs([resource])[resource].result(10)["cleanup.policy"].value == "compact"

    def test_a_position_topic_that_is_not_compacted_is_refused(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        topics = unique_topics()
        admin.create_topics([NewTopic(topics.relay_positions, 1)])[topics.relay_positions].result(15)

        with pytest.raises(RelaySinkError, match="cleanup.policy"):
            ensure_topics(admin, topics, partitions=1)

    def test_a_sink_without_its_position_topic_says_how_to_create_it(self) -> None:
        sink = KafkaRelaySink(
            self.bootstrap, unique_topics(), self.relay_name, exactly_once=self.exactly_once, timeout=10
        )
        self._sinks.append(sink)

        with pytest.raises(RelaySinkError, match="ensure_topics"):
            sink.position()

    def test_the_position_records_chain_each_publish_to_the_one_before(self) -> None:
        sink = self.sink()
        sink.publish([update(1), update(2, "a-2")], 2)
        sink.publish([], 4)
        self.sink().publish([update(5)], 5)

        chain = self.position_records()

        assert [(r["from"], r["position"]) for r in chain] == [(0, 2), (2, 4), (4, 5)]
        assert sorted(event_ids(r.message for r in stood_by(self.records(), chain))) == sorted(
            event_ids(self.published())
        )

    def test_a_publish_that_fails_before_its_position_record_is_published_again_with_the_same_event_ids(
        self, broker_shows_aborted_records: bool
    ) -> None:
        sink = self.make_sink()
        self._sinks.append(sink)
        sink.publish([update(1), update(2)], 2)
        sink.fail_next = "position"

        with pytest.raises(KafkaException, match="injected"):
            sink.publish([update(3), update(4)], 4)

        assert sink.position() == 2
        sink.publish([update(3), update(4)], 4)  # the relay's next attempt
        assert self.sink().position() == 4

        everything = self.records()
        ids = ["agent:a-1:1", "agent:a-1:2", "agent:a-1:3", "agent:a-1:4"]
        assert event_ids(r.message for r in stood_by(everything, self.position_records())) == ids
        if self.exactly_once and not broker_shows_aborted_records:
            assert event_ids(r.message for r in everything) == ids
        else:  # the first attempt's messages were written and stay visible: repeats, same event-id
            assert event_ids(r.message for r in everything) == ids + ids[2:]


class TestKafkaRelaySinkExactlyOnce(KafkaSinkContract):
    exactly_once = True

    def test_after_a_failed_commit_the_position_names_exactly_what_consumers_can_see(
        self, broker_shows_aborted_records: bool
    ) -> None:
        sink = self.make_sink()
        self._sinks.append(sink)
        sink.publish([update(1)], 1)
        sink.fail_next = "commit"

        with pytest.raises(KafkaException, match="injected"):
            sink.publish([update(2), update(3)], 3)

        reported = sink.position()
        assert self.sink().position() == reported
        # Aborted, so gone from a correct broker; still shown by Tansu, whose position then counts it.
        assert reported == (3 if broker_shows_aborted_records else 1)
        assert event_ids(self.published()) == [f"agent:a-1:{n}" for n in range(1, reported + 1)]

    def test_a_second_instance_fences_the_first(self) -> None:
        first = self.sink()
        first.publish([update(1)], 1)
        second = self.sink()

        with pytest.raises(RelaySinkError, match="took over"):
            first.publish([update(2)], 2)

        second.publish([update(2)], 2)
        assert self.sink().position() == 2
        assert event_ids(r.message for r in stood_by(self.records(), self.position_records())) == [
            "agent:a-1:1",
            "agent:a-1:2",
        ]


class TestKafkaRelaySinkAtLeastOnce(KafkaSinkContract):
    exactly_once = False
