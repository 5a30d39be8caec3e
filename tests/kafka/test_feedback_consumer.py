"""The Kafka feedback consumer against a real broker: offsets saved with the events, exactly once.

Every test uses a topic and a group id of its own on the session's Tansu broker,
and runs against each event store (SQLite, MongoDB).
"""

from __future__ import annotations

import base64
import copy
import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from adapters.bootstrap import Config, System, bootstrap
from adapters.kafka.feedback_consumer import (
    NULL_VALUE_REASON,
    ConsumerSettings,
    FeedbackConsumer,
    batch_trackings,
    tracking_name,
)
from adapters.kafka.topics import KafkaTopics
from adapters.messages.inbound import parse_message
from adapters.service import rules_changes
from adapters.service.learning_service import Rejection
from domain.agent import Agent
from domain.dead_letter import DeadLetter
from domain.rules import document_from_settings
from domain.settings import DEFAULT_SETTINGS
from domain.timestamps import to_iso
from infra.local_servers import TANSU_CONSUMER_SETTINGS
from tests.conftest import feedback
from tests.support.exactly_once import assert_recorded_exactly_once, logged_events

pytestmark = pytest.mark.kafka

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def at(seconds: int) -> str:
    return to_iso(T0 + timedelta(seconds=seconds))


def message(event_id: str, agent_id: str, seconds: int, kind: str = "thumbs_up", **fields) -> tuple[str, bytes]:
    return agent_id, json.dumps(feedback(event_id, agent_id, at(seconds), kind, **fields)).encode()


def produce(bootstrap_servers: str, topic: str, messages: list[tuple[str | None, bytes | None]]) -> dict[int, int]:
    """Produces in order; returns partition → offset after the last message (the end to consume to)."""
    ends: dict[int, int] = {}

    def delivered(error, record) -> None:
        assert error is None, error
        ends[record.partition()] = max(ends.get(record.partition(), 0), record.offset() + 1)

    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 5})
    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(15) == 0
    return ends


def poll_until(condition: Callable[[], bool], *consumers: FeedbackConsumer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {[c.stats.snapshot() for c in consumers]}"
        for consumer in consumers:
            consumer.poll_batch(timeout=0.2)


def feedback_event_ids(system: System, agent_ids) -> Counter:
    return Counter(
        e.event_id
        for agent_id in agent_ids
        for e in system.service.history(agent_id)
        if isinstance(e, Agent.FeedbackRecorded)
    )


def dead_letter_events(system: System) -> list:
    recorder = system.service.recorder
    notifications = recorder.select_notifications(1, 1_000_000, topics=[DeadLetter.MessageRejected.TOPIC])
    return [system.service.mapper.to_domain_event(n) for n in notifications]


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)])
def event_store(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite"
    url: str = request.getfixturevalue("mongodb_url")
    return url.replace("/?", f"/consumer_{uuid.uuid4().hex[:10]}?", 1)


@pytest.fixture
def make_system(home: Path, event_store: str):
    built: list[System] = []

    def make() -> System:
        built.append(bootstrap(Config(home=home, event_store=event_store)))
        return built[-1]

    yield make
    for each in built:
        each.close()


@pytest.fixture
def make_consumer(kafka_bootstrap: str):
    made: list[FeedbackConsumer] = []

    def make(
        system: System, topic: str, group: str | None = None, batch_size: int = 100, lag_interval: float = 0
    ) -> FeedbackConsumer:
        settings = ConsumerSettings(
            group_id=group or f"group-{uuid.uuid4().hex[:8]}",
            batch_size=batch_size,
            poll_timeout=0.2,
            lag_interval=lag_interval,
            client=TANSU_CONSUMER_SETTINGS,
        )
        made.append(FeedbackConsumer(system.service, kafka_bootstrap, KafkaTopics(feedback=topic), settings))
        return made[-1]

    yield make
    for consumer in made:
        consumer.close()


def test_feedback_on_the_topic_is_recorded_with_its_offsets(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback")
    system = make_system()
    produce(kafka_bootstrap, topic, [message(f"e-{i}", "a-1", i) for i in range(5)])
    consumer = make_consumer(system, topic, lag_interval=0.001)

    poll_until(lambda: consumer.stats.recorded == 5, consumer)

    agent = system.service.get_agent("a-1")
    assert agent.feedback_count == 5
    assert agent.policy_version == 1  # five feedbacks trigger a recalculation
    assert system.service.recorder.max_tracking_id(tracking_name(topic, 0)) == 5
    assert consumer.stats.snapshot()["consumed"] == 5 and consumer.stats.last_batch_at is not None
    assert consumer.stats.lag == {tracking_name(topic, 0): 0}


def test_a_thumbs_down_recalculates_at_once(make_system, make_consumer, kafka_bootstrap, kafka_topic_factory):
    topic = kafka_topic_factory("feedback")
    system = make_system()
    produce(kafka_bootstrap, topic, [message("e-1", "a-1", 0, "thumbs_down", traits={"sarcasm": 1.0})])
    consumer = make_consumer(system, topic)

    poll_until(lambda: consumer.stats.recorded == 1, consumer)

    agent = system.service.get_agent("a-1")
    assert (agent.policy_version, agent.last_trigger) == (1, "strong_signal")


def test_a_running_consumer_takes_a_rules_version_another_process_applied_at_its_next_batch(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback")
    running, operator = make_system(), make_system()
    consumer = make_consumer(running, topic)
    produce(kafka_bootstrap, topic, [message("e-1", "a-1", 0, "regenerated")])
    poll_until(lambda: consumer.stats.rejected == 1, consumer)

    document = copy.deepcopy(document_from_settings(DEFAULT_SETTINGS))
    document["feedback"]["regenerated"] = {"reward": -0.4, "strong_signal": True, "rating": False}
    rules_changes.apply(operator.service, document, "", "ops", "a new signal", datetime(2026, 11, 24, tzinfo=UTC))
    produce(kafka_bootstrap, topic, [message("e-2", "a-1", 1, "regenerated")])
    poll_until(lambda: consumer.stats.recorded == 1, consumer)

    [letter] = dead_letter_events(running)
    assert "unknown feedback kind 'regenerated' in the built-in rules" in letter.reason
    history = running.service.history("a-1")
    assert [e.reward for e in history if isinstance(e, Agent.FeedbackRecorded)] == [-0.4]
    [recalculated] = [e for e in history if isinstance(e, Agent.PolicyRecalculated)]
    assert (recalculated.trigger, recalculated.rules_version) == ("strong_signal", 1)


def test_poison_messages_become_dead_letters_and_the_good_ones_around_them_are_processed(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback")
    system = make_system()
    bad_json = b'{"type": "feedback", "eventId": '
    unknown_kind = json.dumps(feedback("e-2", "a-1", at(2), "shrug")).encode()
    produce(
        kafka_bootstrap,
        topic,
        [
            message("e-0", "a-1", 0),
            ("a-1", bad_json),
            message("e-1", "a-1", 1),
            ("a-1", unknown_kind),
            ("a-1", None),
            message("e-3", "a-1", 3),
        ],
    )
    consumer = make_consumer(system, topic)

    poll_until(lambda: consumer.stats.recorded + consumer.stats.rejected == 6, consumer)

    assert feedback_event_ids(system, ["a-1"]) == Counter({"e-0": 1, "e-1": 1, "e-3": 1})
    assert consumer.stats.rejected == 3
    system.projections.catch_up()
    letters = sorted(system.read_models.find("dead_letters"), key=lambda d: d["position"])
    assert [(d["source"], d["position"], d["key"]) for d in letters] == [
        (topic, "0:1", "a-1"),
        (topic, "0:3", "a-1"),
        (topic, "0:4", "a-1"),
    ]
    assert [base64.b64decode(d["raw"]) for d in letters] == [bad_json, unknown_kind, b""]
    assert letters[0]["reason"].startswith("not valid JSON")
    assert "unknown feedback kind 'shrug'" in letters[1]["reason"] and letters[1]["agentId"] == "a-1"
    assert letters[2]["reason"] == NULL_VALUE_REASON


def test_a_restarted_consumer_resumes_from_the_stored_offsets_not_from_kafka(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback", partitions=2)
    first = make_system()
    produce(kafka_bootstrap, topic, [message(f"e-{i}", f"a-{i % 3}", i) for i in range(12)] + [("a-0", b"nope")])
    consumer = make_consumer(first, topic)
    poll_until(lambda: consumer.stats.consumed == 13, consumer)
    consumer.close()
    produce(kafka_bootstrap, topic, [message(f"e-{i}", f"a-{i % 3}", i) for i in range(12, 18)])

    # A new group has no Kafka offsets at all: only the store says where to go on.
    second = make_system()
    restarted = make_consumer(second, topic, group=f"other-{uuid.uuid4().hex[:8]}")
    poll_until(lambda: restarted.stats.consumed == 6, restarted)
    restarted.poll_batch(timeout=0.5)

    stats = restarted.stats
    assert (stats.consumed, stats.recorded, stats.duplicates, stats.rejected) == (6, 6, 0, 0)
    assert feedback_event_ids(second, ["a-0", "a-1", "a-2"]) == Counter({f"e-{i}": 1 for i in range(18)})
    assert len(dead_letter_events(second)) == 1


def test_two_consumers_in_one_group_split_the_partitions_and_record_each_message_once(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback", partitions=4)
    group = f"group-{uuid.uuid4().hex[:8]}"
    agents = [f"a-{n}" for n in range(8)]
    one = make_consumer(make_system(), topic, group, batch_size=20)
    poll_until(lambda: len(one.stats.assigned) == 4, one)
    produce(kafka_bootstrap, topic, [message(f"e-{i}", agents[i % 8], i) for i in range(100)])
    two = make_consumer(make_system(), topic, group, batch_size=20)
    poll_until(lambda: len(one.stats.assigned) + len(two.stats.assigned) == 4 and two.stats.assigned, one, two)
    produce(kafka_bootstrap, topic, [message(f"e-{i}", agents[i % 8], i) for i in range(100, 200)])

    poll_until(lambda: one.stats.recorded + two.stats.recorded == 200, one, two)

    assert not set(one.stats.assigned) & set(two.stats.assigned)
    assert two.stats.recorded > 0 and one.stats.recorded > 0
    assert one.stats.consumed + two.stats.consumed == 200
    assert one.stats.duplicates + two.stats.duplicates == 0
    assert feedback_event_ids(make_system(), agents) == Counter({f"e-{i}": 1 for i in range(200)})


def test_messages_another_consumer_saved_meanwhile_are_dropped_not_applied_twice(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback")
    system = make_system()
    consumer = make_consumer(system, topic)
    poll_until(lambda: len(consumer.stats.assigned) == 1, consumer)  # positioned at the start
    messages = [message(f"e-{i}", "a-1", i) for i in range(10)]
    messages[2] = ("a-1", b"poison")
    produce(kafka_bootstrap, topic, messages)

    # The race of a rebalance: a previous owner of the partition saves offsets 0..4 late.
    other = make_system().service
    items = [parse_message(value, other.settings) for _, value in messages[:5] if value != b"poison"]
    other.process(
        items[:2] + [Rejection(topic, "0:2", b"poison", "bad")] + items[2:],
        trackings=batch_trackings(_offsets(topic, range(5))),
    )

    poll_until(lambda: consumer.stats.recorded == 5, consumer)

    assert consumer.stats.already_recorded == 5 and consumer.stats.tracking_conflicts == 1
    assert consumer.stats.duplicates == 0 and consumer.stats.rejected == 0
    assert feedback_event_ids(system, ["a-1"]) == Counter({f"e-{i}": 1 for i in range(10) if i != 2})
    assert len(dead_letter_events(system)) == 1
    assert system.service.recorder.max_tracking_id(tracking_name(topic, 0)) == 10


def test_run_finishes_its_batch_and_closes_when_stopped(
    make_system, make_consumer, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback")
    system = make_system()
    produce(kafka_bootstrap, topic, [message(f"e-{i}", "a-1", i) for i in range(7)])
    consumer = make_consumer(system, topic)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while consumer.stats.recorded < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)

    assert not worker.is_alive()
    assert consumer.stats.recorded == 7
    assert system.service.recorder.max_tracking_id(tracking_name(topic, 0)) == 7


class _Offset:
    """Just enough of a confluent_kafka.Message for batch_trackings."""

    def __init__(self, topic: str, partition: int, offset: int):
        self._where = (topic, partition, offset)

    def topic(self) -> str:
        return self._where[0]

    def partition(self) -> int:
        return self._where[1]

    def offset(self) -> int:
        return self._where[2]


def _offsets(topic: str, offsets) -> list:
    return [_Offset(topic, 0, o) for o in offsets]


def test_a_batch_is_guarded_by_its_first_offset_and_saved_at_its_last():
    trackings = batch_trackings(_offsets("t", [4, 5, 9]) + [_Offset("t", 1, 7)])
    assert [(t.application_name, t.notification_id) for t in trackings] == [
        ("kafka:t:0", 5),
        ("kafka:t:0", 10),
        ("kafka:t:1", 8),
    ]


# ------------------------------------------------------------------ crash test

KINDS = ["thumbs_up", "thumbs_down", "message_copied", "conversation_continued", "draft_edited", "rating"]


def crash_stream(n: int, agents: int, seed: int = 5) -> tuple[list, set[str], int]:
    rng = random.Random(seed)
    messages, ids, poison = [], set(), 0
    for i in range(n):
        agent_id = f"a-{rng.randrange(agents)}"
        if i % 150 == 75:
            messages.append((agent_id, b'{"type": "feedback", "agentId": "' + agent_id.encode() + b'"'))
            poison += 1
            continue
        kind = rng.choice(KINDS)
        fields = {"traits": {"humor": rng.uniform(-1, 1)}, "action": "answer"}
        if kind == "rating":
            fields["value"] = rng.randint(1, 5)
        messages.append(message(f"e-{i}", agent_id, i, kind, **fields))
        ids.add(f"e-{i}")
    return messages, ids, poison


@pytest.mark.slow
def test_a_consumer_killed_at_random_moments_records_every_feedback_exactly_once(
    home, event_store, make_system, kafka_bootstrap, kafka_topic_factory
):
    topic = kafka_topic_factory("feedback", partitions=4)
    group = f"group-{uuid.uuid4().hex[:8]}"
    messages, ids, poison = crash_stream(6000, agents=25)
    ends = produce(kafka_bootstrap, topic, messages)
    total = sum(ends.values())
    watcher = make_system().service
    command = [
        sys.executable,
        "-m",
        "tests.kafka.feedback_consumer_runner",
        kafka_bootstrap,
        topic,
        group,
        str(home),
        event_store,
        "20",
    ]
    log_path = home.parent / "consumer-runs.log"
    log = log_path.open("ab")

    def saved() -> int:
        return sum(watcher.recorder.max_tracking_id(tracking_name(topic, p)) or 0 for p in ends)

    def start() -> subprocess.Popen:
        # Output to a file, not a pipe: nobody reads a pipe while the child runs, and once full it
        # blocks the child's logging, which looks exactly like a consumer that makes no progress.
        return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def output() -> str:
        return log_path.read_bytes()[-3000:].decode("utf-8", "replace")

    # A MongoDB transaction cut off by SIGKILL holds its writes until the server reaps it
    # (transactionLifetimeLimitSeconds, 60 s in mongod and SecantusDB): each kill there costs a minute.
    # Patience is a watchdog, not a speed requirement: a restart after SIGKILL waits for the dead member
    # to leave the group (about 4 s with TANSU_CONSUMER_SETTINGS), and two loaded cores stretch that.
    rounds, patience = (5, 90) if event_store == "sqlite" else (2, 120)
    # Each round is killed a random number of messages into its run, not a random time: a consumer
    # saves thousands of messages a second on SQLite, so timed kills let a fast machine reach the
    # end of the stream early, and the next consumer then waits, idle and correct, for messages
    # that never come (which once passed for a stalled restart).
    most_per_round = total // (3 * rounds)
    rng = random.Random(11)
    for round_ in range(rounds):
        before, child = saved(), start()
        target = before + rng.randint(1, most_per_round)
        deadline = time.monotonic() + patience
        while saved() < target:
            if child.poll() is not None:
                raise AssertionError(f"round {round_}: the consumer exited by itself:\n{output()}")
            if time.monotonic() >= deadline:
                child.kill()
                raise AssertionError(
                    f"round {round_}: the consumer did not get from {before} to {target} "
                    f"of {total} saved in {patience} s (now {saved()}):\n{output()}"
                )
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.02))  # somewhere in a batch
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert saved() < total, f"the consumers saved all {total} messages before the last kill; make the stream longer"

    child = start()
    deadline = time.monotonic() + patience + 60
    while saved() < total:
        assert child.poll() is None, output()
        if time.monotonic() >= deadline:
            child.kill()
            raise AssertionError(f"stuck at {saved()} of {total}:\n{output()}")
        time.sleep(0.1)
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=20)
    log.close()
    assert child.returncode == 0, output()

    assert_recorded_exactly_once(logged_events(make_system()), ids, dead_letters=poison)
