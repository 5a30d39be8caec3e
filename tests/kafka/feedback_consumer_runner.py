"""Runs one feedback consumer until SIGTERM/SIGINT: the child process of the crash test.

python -m tests.kafka.feedback_consumer_runner BOOTSTRAP TOPIC GROUP HOME [EVENT_STORE] [BATCH_SIZE]
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from adapters.bootstrap import Config, bootstrap
from adapters.kafka.feedback_consumer import (
    ConsumerSettings,
    FeedbackConsumer,
    install_signal_handlers,
)
from adapters.kafka.topics import KafkaTopics
from infra.local_servers import TANSU_CONSUMER_SETTINGS


def main(argv: list[str]) -> int:
    bootstrap_servers, topic, group, home = argv[:4]
    event_store = argv[4] if len(argv) > 4 else "sqlite"
    batch_size = int(argv[5]) if len(argv) > 5 else 100
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    system = bootstrap(Config(home=Path(home), event_store=event_store))
    consumer = FeedbackConsumer(
        system.service,
        bootstrap_servers,
        KafkaTopics(feedback=topic),
        ConsumerSettings(group_id=group, batch_size=batch_size, client=TANSU_CONSUMER_SETTINGS),
    )
    install_signal_handlers(consumer)
    try:
        stats = consumer.run()
    finally:
        system.close()
    print(stats.snapshot(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
