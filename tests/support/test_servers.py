"""The real test servers behave as the event store and the message bus rely on:
Mongo transactions, unique indexes and write conflicts; Kafka consumer groups,
transactions (with Tansu's known gap pinned down) and a durable broker's restart."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.write_concern import WriteConcern

from infra.local_servers import TANSU_CONSUMER_SETTINGS, KafkaBroker, LocalBucket
from tests.support.servers_plugin import TopicFactory


@pytest.fixture
def database(mongodb_url: str) -> Iterator[Database]:
    client: MongoClient = MongoClient(mongodb_url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield client.get_database(name, write_concern=WriteConcern(w="majority", j=True))
    client.drop_database(name)
    client.close()


@pytest.mark.mongodb
def test_a_committed_transaction_writes_all_its_documents(database: Database) -> None:
    with database.client.start_session() as session:
        session.with_transaction(lambda s: database.events.insert_many([{"_id": 1}, {"_id": 2}], session=s))

    assert database.events.count_documents({}) == 2


@pytest.mark.mongodb
def test_an_aborted_transaction_writes_none_of_its_documents(database: Database) -> None:
    class Refused(Exception):
        pass

    def insert_then_refuse(session) -> None:
        database.events.insert_many([{"_id": 1}, {"_id": 2}], session=session)
        raise Refused

    with database.client.start_session() as session, pytest.raises(Refused):
        session.with_transaction(insert_then_refuse)

    assert database.events.count_documents({}) == 0


@pytest.mark.mongodb
def test_a_unique_index_rejects_a_second_event_of_the_same_stream_version(database: Database) -> None:
    database.events.create_index([("stream", 1), ("version", 1)], unique=True)
    database.events.insert_one({"stream": "agent-1", "version": 1})

    with pytest.raises(DuplicateKeyError):
        database.events.insert_one({"stream": "agent-1", "version": 1})


@pytest.mark.mongodb
def test_the_second_of_two_transactions_writing_one_document_gets_a_transient_write_conflict(
    database: Database,
) -> None:
    database.counters.insert_one({"_id": "notifications", "last": 0})
    first, second = database.client.start_session(), database.client.start_session()
    first.start_transaction()
    second.start_transaction()
    database.counters.update_one({"_id": "notifications"}, {"$inc": {"last": 1}}, session=first)

    with pytest.raises(OperationFailure) as conflict:
        database.counters.update_one({"_id": "notifications"}, {"$inc": {"last": 1}}, session=second)
    first.commit_transaction()
    second.abort_transaction()

    assert conflict.value.code == 112  # WriteConflict
    assert conflict.value.has_error_label("TransientTransactionError")
    assert database.counters.find_one({"_id": "notifications"}) == {"_id": "notifications", "last": 1}


def _consumer(bootstrap: str, group: str, **settings: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **TANSU_CONSUMER_SETTINGS,
            **settings,
        }
    )


def _poll(consumer: Consumer, count: int, within: float = 15.0) -> list[Message]:
    """Up to ``count`` messages, polling until they came or ``within`` seconds passed."""
    messages: list[Message] = []
    deadline = time.monotonic() + within
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None:
            assert message.error() is None, message.error()
            messages.append(message)
    return messages


@pytest.mark.kafka
def test_a_consumer_group_reads_every_message_and_resumes_after_its_commit(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("events", partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for number in range(9):
        producer.produce(topic, key=f"agent-{number % 3}", value=f"event-{number}")
    assert producer.flush(10) == 0
    group = f"group-{uuid.uuid4().hex[:8]}"

    consumer = _consumer(kafka_bootstrap, group)
    consumer.subscribe([topic])
    first_read = _poll(consumer, 9)
    consumer.commit(asynchronous=False)
    consumer.close()
    producer.produce(topic, key="agent-0", value="event-9")
    producer.flush(10)
    producer.close()
    consumer = _consumer(kafka_bootstrap, group)
    consumer.subscribe([topic])
    second_read = _poll(consumer, 1)
    consumer.close()

    assert sorted(m.value() or b"" for m in first_read) == [f"event-{n}".encode() for n in range(9)]
    assert [m.value() for m in second_read] == [b"event-9"]


def _transactional_producer(bootstrap: str) -> Producer:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(10)
    return producer


@pytest.mark.kafka
def test_a_read_committed_consumer_sees_committed_messages_but_not_an_open_transaction(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("outbox")
    producer = _transactional_producer(kafka_bootstrap)
    producer.begin_transaction()
    producer.produce(topic, value="committed")
    producer.commit_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, value="still open")
    producer.flush(10)

    consumer = _consumer(kafka_bootstrap, f"group-{uuid.uuid4().hex[:8]}", **{"isolation.level": "read_committed"})
    consumer.subscribe([topic])
    seen = _poll(consumer, 2, within=3.0)
    consumer.close()
    producer.abort_transaction(10)
    producer.close()

    assert [m.value() for m in seen] == [b"committed"]


@pytest.mark.kafka
@pytest.mark.xfail(
    strict=True,
    reason="Tansu 0.6.0 sends no aborted-transaction list in fetch replies, so aborted "
    "records reach read_committed consumers (docs/test-servers.md); drop this mark when it passes",
)
def test_a_read_committed_consumer_does_not_see_aborted_messages(
    kafka_bootstrap: str, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory("outbox")
    producer = _transactional_producer(kafka_bootstrap)
    producer.begin_transaction()
    producer.produce(topic, value="aborted")
    producer.flush(10)
    producer.abort_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, value="committed")
    producer.commit_transaction(10)

    consumer = _consumer(kafka_bootstrap, f"group-{uuid.uuid4().hex[:8]}", **{"isolation.level": "read_committed"})
    consumer.subscribe([topic])
    seen = _poll(consumer, 2, within=3.0)
    consumer.close()
    producer.close()

    assert [m.value() for m in seen] == [b"committed"]


@pytest.mark.kafka
@pytest.mark.slow
def test_a_durable_broker_keeps_committed_messages_and_group_offsets_through_a_crash(tmp_path: Path) -> None:
    bucket = LocalBucket.start(tmp_path / "s3")
    broker = KafkaBroker.start(durable=True, s3_endpoint=bucket.endpoint, log_dir=tmp_path)
    try:
        topic = f"durable-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=15)
        del admin  # an idle client would log connection errors while the broker is down
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
        for number in range(3):
            producer.produce(topic, value=f"event-{number}")
        assert producer.flush(10) == 0
        producer.close()
        consumer = _consumer(broker.bootstrap, "projector")
        consumer.subscribe([topic])
        before_crash = _poll(consumer, 1)
        consumer.commit(asynchronous=False)
        consumer.close()

        broker.kill()
        broker = KafkaBroker.start(durable=True, s3_endpoint=bucket.endpoint, port=broker.port, log_dir=tmp_path)
        consumer = _consumer(broker.bootstrap, "projector")
        consumer.subscribe([topic])
        after_crash = _poll(consumer, 2)
        consumer.close()
    finally:
        broker.stop()
        bucket.stop()

    assert [m.value() for m in before_crash + after_crash] == [b"event-0", b"event-1", b"event-2"]
