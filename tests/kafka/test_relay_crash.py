"""The Kafka relay killed with SIGKILL at random moments and restarted: nothing is lost, nothing the
relay stands by appears twice.

A child process relays a prepared embedded home of a few thousand policy events into Kafka and is
killed several times. Then a read_committed consumer reads the output topics. The relay's position
records name the offset ranges of every publication it stands by (adapters/kafka/relay_sink.py); inside
them each event-id appears exactly once, in each agent's order, and the records chain from 0 to the
end of the log. Outside them can only be the leftovers of a publication killed before its position
record was written: a correct broker never shows them in exactly-once mode, but Tansu shows aborted
records (docs/test-servers.md), and the at-least-once mode has no transactions to hide them. Such a
leftover is always an exact repeat (same event-id, same bytes) of a message the relay stands by, so
a consumer that drops repeated event-ids sees every update exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from adapters.bootstrap import Config, bootstrap
from adapters.kafka.relay_sink import ensure_topics, read_position_records
from adapters.messages.outbound import stable_event_id
from adapters.service.learning_service import Rejection
from domain.agent import Agent, agent_id_of
from domain.commands import RecordFeedback
from infra.local_servers import TANSU_CONSUMER_SETTINGS
from tests.contract.test_relay_sink_kafka import (
    output_topics,
    read_records,
    shows_aborted_records,
    stood_by,
    unique_topics,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
AGENTS = 40
ROUNDS = 75  # 40 × 75 = 3000 strong signals, each a recalculation
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prepared_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An embedded home with 3000 recalculations and a few rejections; the ids the relay must publish."""
    home = tmp_path_factory.mktemp("relay-crash") / "home"
    system = bootstrap(Config(home=home))
    try:
        for start in range(0, AGENTS * ROUNDS, 500):
            system.service.process(
                [
                    RecordFeedback(
                        f"fb-{n}",
                        f"agent-{n % AGENTS}",
                        T0 + timedelta(seconds=n),
                        kind="thumbs_down" if n % 3 else "draft_approved",
                        traits={"humor": 1.0},
                        action="answer",
                    )
                    for n in range(start, start + 500)
                ]
                + [Rejection("kafka", f"agent-feedback:0:{start}", b"{not json", "not valid JSON")]
            )
        expected = []
        for notification in system.service.recorder.select_notifications(start=1, limit=10**9):
            event = system.service.mapper.to_domain_event(notification)
            if isinstance(event, Agent.PolicyRecalculated):
                expected.append(stable_event_id(event))
        return home, expected
    finally:
        system.close()


def run_and_kill(command: list[str], rounds: int, rng: random.Random, progress: Callable[[], int]) -> int:
    """Starts the relay `rounds` times and kills it at a random moment once it has begun publishing;
    then runs it to the end."""
    kills = 0
    for _ in range(rounds):
        before = progress()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while progress() == before and process.poll() is None:
            assert time.monotonic() < deadline, "the relay published nothing in 30 s"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.25))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        _, errors = process.communicate()
        assert process.returncode in (0, -signal.SIGKILL), errors.decode()[-2000:]
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)  # and once more, to the end
    return kills


@pytest.fixture
def watermarks(kafka_bootstrap: str) -> Iterator[Consumer]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"progress-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_uncommitted",
        }
    )
    yield consumer
    consumer.close()


@pytest.mark.parametrize("mode", ["exactly-once", "at-least-once"])
def test_a_relay_killed_at_random_loses_nothing_and_repeats_nothing_it_stands_by(
    prepared_home: tuple[Path, list[str]], kafka_bootstrap: str, watermarks: Consumer, mode: str
) -> None:
    home, expected = prepared_home
    topics = unique_topics()
    relay_name = f"crash-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ensure_topics(admin, topics, partitions=4)
    command = [
        sys.executable,
        "-m",
        "tests.kafka.relay_process",
        str(home),
        kafka_bootstrap,
        json.dumps(attrs.asdict(topics)),
        relay_name,
        mode,
        "10",
    ]

    kills = run_and_kill(
        command,
        rounds=6,
        rng=random.Random(7),
        # progress: the position records written, committed or not
        progress=lambda: watermarks.get_watermark_offsets(TopicPartition(topics.relay_positions, 0), timeout=5)[1],
    )

    assert kills >= 3, "the relay finished before it could be killed; give it more to publish"
    records = read_records(kafka_bootstrap, output_topics(topics), timeout=60)
    chain = read_position_records(kafka_bootstrap, topics.relay_positions, relay_name, 30, TANSU_CONSUMER_SETTINGS)
    system = bootstrap(Config(home=home))
    try:
        head = system.service.recorder.max_notification_id()
    finally:
        system.close()

    # The position records chain every publication to the one before, up to the end of the log.
    assert [r["from"] for r in chain] == [0] + [r["position"] for r in chain[:-1]]
    assert chain[-1]["position"] == head

    # What the relay stands by: every update exactly once, in each agent's order.
    stood = stood_by(records, chain)
    kept = [r.message for r in stood]
    updates = [m for m in kept if m.headers["event-type"] == "AgentLearningUpdated"]
    assert Counter(m.headers["event-id"] for m in updates) == Counter(expected)
    per_agent: dict[str, list[str]] = defaultdict(list)
    for event_id in expected:
        per_agent[agent_id_of(event_id.rsplit(":", 1)[0])].append(event_id)
    seen: dict[str, list[str]] = defaultdict(list)
    for message in updates:
        seen[message.key].append(message.headers["event-id"])
    assert seen == per_agent
    assert Counter(m.headers["event-type"] for m in kept)["MessageRejected"] == AGENTS * ROUNDS // 500

    # Anything else is a leftover of a killed publication: an exact repeat, dropped by its event-id.
    by_event_id = {m.headers["event-id"]: m for m in kept}
    stood_at = {(r.topic, r.partition, r.offset) for r in stood}
    leftovers = [r.message for r in records if (r.topic, r.partition, r.offset) not in stood_at]
    assert all(by_event_id.get(m.headers["event-id"]) == m for m in leftovers)
    if mode == "exactly-once" and not shows_aborted_records(kafka_bootstrap):
        assert leftovers == []
    print(f"{mode}: {kills} kills, {len(chain)} publications, {len(kept)} messages, {len(leftovers)} repeats")
