"""The naive design, as a process: Kafka `agent-feedback` → read the agent's MongoDB document → change it
→ write it back → produce the update to Kafka directly. Run by bench/kafka_loop.py, beside `serve`.

One message at a time, as such consumers are usually written: `poll`, `find_one`, `replace_one`
(upsert), `produce`. Offsets are auto-committed by librdkafka every 5 s, independently of the
writes; the producer is neither transactional nor idempotent. So a crash can apply a message twice
(re-read after the last auto-commit) or drop an update (written to MongoDB, not yet produced), and
nothing remains to replay or audit: the document is all there is.

`--store memory` keeps the documents in a dict of this process instead: the same loop with a store
that costs nothing, an upper bound for the design whatever MongoDB it would run on.

    python bench/kafka_naive_consumer.py --bootstrap HOST:PORT (--mongodb URL --database NAME | --store memory) \\
        --group G --feedback-topic T --updates-topic T --dlq-topic T [--client-config JSON]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # domain/ and adapters/ from a checkout

from kafka_naive_document import apply  # noqa: E402

from adapters.messages.inbound import BadMessage, parse_message  # noqa: E402 - after the path
from domain.settings import DEFAULT_SETTINGS  # noqa: E402

CONSUMER_ONLY = ("session.timeout.ms", "heartbeat.interval.ms", "fetch.wait.max.ms", "isolation.level")


class InMemoryAgents:
    """The two collection methods the loop uses, over a dict: a store that takes no time."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}

    def find_one(self, query: dict) -> dict | None:
        return self.documents.get(query["_id"])

    def replace_one(self, query: dict, document: dict, upsert: bool = False) -> None:
        self.documents[query["_id"]] = document


def run(args: argparse.Namespace, stop: threading.Event) -> None:
    extra = json.loads(args.client_config or "{}")
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "naive",
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            **extra,
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "naive",
            "linger.ms": 5,
            **{k: v for k, v in extra.items() if k not in CONSUMER_ONLY},
        }
    )
    client: MongoClient | None = None
    if args.store == "memory":
        agents = InMemoryAgents()
    else:
        client = MongoClient(args.mongodb, tz_aware=True)
        agents = client[args.database]["agents"]
    consumer.subscribe([args.feedback_topic])
    try:
        while not stop.is_set():
            message = consumer.poll(0.5)
            producer.poll(0)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    print(f"naive consumer: {message.error()}", file=sys.stderr)
                continue
            handle(message, agents, producer, args)
    finally:
        consumer.close()
        producer.flush(10)
        if client is not None:
            client.close()


def handle(message, agents, producer: Producer, args: argparse.Namespace) -> None:
    try:
        command = parse_message(message.value() or b"", DEFAULT_SETTINGS)
    except BadMessage as error:
        producer.produce(
            args.dlq_topic,
            key=message.key(),
            value=message.value(),
            headers=[("rejection-reason", str(error).encode())],
        )
        return
    try:
        doc, updates = apply(agents.find_one({"_id": command.agent_id}), command, DEFAULT_SETTINGS)
    except ValueError as error:  # a rule the parser could not check (unknown archetype …)
        producer.produce(
            args.dlq_topic,
            key=message.key(),
            value=message.value(),
            headers=[("rejection-reason", str(error).encode())],
        )
        return
    agents.replace_one({"_id": command.agent_id}, doc, upsert=True)
    for body in updates:
        produce(producer, args.updates_topic, body)


def produce(producer: Producer, topic: str, body: dict) -> None:
    headers = [
        ("event-id", body["eventId"].encode()),
        ("event-type", body["type"].encode()),
        ("content-type", b"application/json"),
    ]
    value = json.dumps(body, separators=(",", ":")).encode()
    while True:
        try:
            producer.produce(topic, key=body["agentId"].encode(), value=value, headers=headers)
            return
        except BufferError:
            producer.poll(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("bootstrap", "group", "feedback-topic", "updates-topic", "dlq-topic"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--store", choices=["mongodb", "memory"], default="mongodb")
    parser.add_argument("--mongodb", help="MongoDB URL (with --store mongodb)")
    parser.add_argument("--database", default="naive")
    parser.add_argument("--client-config", help="JSON object of extra librdkafka settings")
    args = parser.parse_args(argv)
    if args.store == "mongodb" and not args.mongodb:
        parser.error("--store mongodb needs --mongodb URL, e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(args, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
