"""Runs the outbox relay of an embedded home into Kafka until everything is published: the child
process of the relay crash test (`python -m tests.kafka.relay_process HOME BOOTSTRAP TOPICS_JSON NAME MODE PAGE`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adapters.bootstrap import Config, bootstrap
from adapters.kafka.relay_sink import KafkaRelaySink
from adapters.kafka.topics import KafkaTopics
from infra.local_servers import TANSU_CONSUMER_SETTINGS


def main(home: str, servers: str, topics: str, relay_name: str, mode: str, page_size: str) -> None:
    system = bootstrap(Config(home=Path(home)))
    sink = KafkaRelaySink(
        servers,
        KafkaTopics(**json.loads(topics)),
        relay_name,
        exactly_once=mode == "exactly-once",
        consumer_config=TANSU_CONSUMER_SETTINGS,
    )
    try:
        relay = system.relay(sink)
        relay.page_size = int(page_size)
        relay.relay_all()
    finally:
        sink.close()
        system.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
