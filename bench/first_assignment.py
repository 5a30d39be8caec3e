"""Time from a feedback consumer's start to its first partition assignment (what /readyz waits for).

    python bench/first_assignment.py [--rounds 5]

Starts a Tansu broker (as the tests do), a topic of 3 partitions, and for each setting starts a
FeedbackConsumer in a fresh group and times construction → the group's first assignment
(`ConsumerStats.first_assignment_at`), polling as `serve` does. Settings compared side by side in
one run, alternating: librdkafka's defaults; the test settings (session 2 s, heartbeat 300 ms);
cooperative-sticky assignment; static membership (`group.instance.id`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from adapters.bootstrap import Config, bootstrap  # noqa: E402
from adapters.kafka.feedback_consumer import ConsumerSettings, FeedbackConsumer  # noqa: E402
from adapters.kafka.topics import KafkaTopics  # noqa: E402
from infra.local_servers import TANSU_CONSUMER_SETTINGS, KafkaBroker  # noqa: E402

SETTINGS = {
    "librdkafka defaults": {},
    "session 6 s, heartbeat 1 s": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    "session 2 s, heartbeat 300 ms": dict(TANSU_CONSUMER_SETTINGS),
    "+ cooperative-sticky": {**TANSU_CONSUMER_SETTINGS, "partition.assignment.strategy": "cooperative-sticky"},
    "+ static membership": {**TANSU_CONSUMER_SETTINGS, "group.instance.id": "INSTANCE"},
}


def once(broker: str, topic: str, client: dict, home: Path, limit: float = 60.0) -> float:
    system = bootstrap(Config(home=home))
    extra = {k: (f"bench-{uuid.uuid4().hex[:8]}" if v == "INSTANCE" else v) for k, v in client.items()}
    settings = ConsumerSettings(group_id=f"bench-{uuid.uuid4().hex[:8]}", client=extra, poll_timeout=0.05)
    started = time.time()
    consumer = FeedbackConsumer(system.service, broker, KafkaTopics(feedback=topic), settings)
    try:
        while consumer.stats.first_assignment_at is None:
            if time.time() - started > limit:
                return float("inf")
            consumer.poll_batch()
        return consumer.stats.first_assignment_at - started
    finally:
        consumer.close()
        system.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    broker = KafkaBroker.start()
    try:
        topic = f"bench-feedback-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # held: a collected client cancels its calls
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(15)
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.rounds):
                for name, client in SETTINGS.items():
                    times[name].append(
                        once(broker.bootstrap, topic, client, Path(tmp) / f"{round_}-{len(times[name])}")
                    )
                    print(f"… round {round_ + 1} {name}: {times[name][-1]:.2f} s", file=sys.stderr)
        base = statistics.median(times["session 2 s, heartbeat 300 ms"])
        print(f"{'setting':<32} {'median':>8} {'min':>7} {'max':>7} {'ratio':>6}")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:<32} {median:>7.2f}s {min(values):>6.2f}s {max(values):>6.2f}s {median / base:>6.2f}")
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
