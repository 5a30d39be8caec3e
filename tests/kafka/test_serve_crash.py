"""`agent-learning serve` killed at random moments, and the broker under it killed and restarted:
every feedback is recorded once, every recalculation is published once, the read models equal a
rebuild.

The crash test kills the whole worker (consumer, projections, relay and tick together) with SIGKILL
several times in the middle of a stream of 20,000 messages, then lets a last run catch up. The
relay's position records name the offsets of every publication it stands by (adapters/kafka/relay_sink.py);
on Tansu, which shows aborted records to read_committed consumers (docs/test-servers.md), anything
outside them is a leftover of a transaction that died, and must be an exact repeat.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from confluent_kafka.admin import AdminClient

from adapters.bootstrap import System
from adapters.kafka.feedback_consumer import tracking_name
from adapters.kafka.relay_sink import DEFAULT_RELAY_NAME, ensure_topics, read_position_records
from adapters.messages.outbound import stable_event_id
from domain.agent import Agent, agent_id_of
from domain.dead_letter import DeadLetter
from infra.local_servers import TANSU_CONSUMER_SETTINGS, KafkaBroker, LocalBucket, PostgresServer
from tests.conftest import feedback
from tests.contract.test_relay_sink_kafka import (
    Record,
    StalledAtOpenTransaction,
    output_topics,
    read_records,
    shows_aborted_records,
    stood_by,
)
from tests.kafka.serve_process import ServeProcess, ServeSetup, sample, samples
from tests.kafka.test_feedback_consumer import at, produce
from tests.support.exactly_once import (
    assert_read_models_equal_a_rebuild,
    assert_recorded_exactly_once,
    logged_events,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KINDS = [
    "thumbs_up",
    "thumbs_down",
    "draft_approved",
    "draft_rejected",
    "message_copied",
    "conversation_continued",
    "conversation_abandoned",
    "draft_edited",
    "rating",
]
TRAITS = ["empathy", "humor", "sarcasm"]
ROUNDS = 8  # SIGKILLs of the crash test


# ------------------------------------------------------------------ the stream


def mixed_stream(n: int, agents: int, seed: int, prefix: str = "e") -> tuple[list, set[str], int]:
    """Feedback of every kind, a few session ends, and about one poison message in a hundred (bad JSON,
    unknown kind, a rating without a value, no value at all); the eventIds to record; how many poison."""
    rng = random.Random(seed)
    messages, ids, poison = [], set(), 0
    for i in range(n):
        agent_id = f"a-{rng.randrange(agents)}"
        event_id = f"{prefix}-{i}"
        if i % 97 == 50:
            poison += 1
            messages.append(
                (
                    agent_id,
                    [
                        b'{"type": "feedback", "agentId": "' + agent_id.encode() + b'"',
                        json.dumps(feedback(event_id, agent_id, at(i), "shrug")).encode(),
                        json.dumps(feedback(event_id, agent_id, at(i), "rating")).encode(),
                        None,
                    ][poison % 4],
                )
            )
            continue
        ids.add(event_id)
        if i % 53 == 7:
            messages.append(
                (
                    agent_id,
                    json.dumps(
                        {
                            "type": "session_ended",
                            "eventId": event_id,
                            "agentId": agent_id,
                            "sessionId": f"s-{i}",
                            "occurredAt": at(i),
                        }
                    ).encode(),
                )
            )
            continue
        kind = rng.choice(KINDS)
        fields = {"traits": {rng.choice(TRAITS): rng.uniform(-1, 1)}, "action": "answer", "userId": f"u-{i % 17}"}
        if kind == "rating":
            fields["value"] = rng.randint(1, 5)
        messages.append((agent_id, json.dumps(feedback(event_id, agent_id, at(i), kind, **fields)).encode()))
    return messages, ids, poison


# ------------------------------------------------------------------ what happened


def saved_offsets(system: System, topic: str, partitions) -> int:
    """How many messages of the topic the event store says are consumed."""
    return sum(system.service.recorder.max_tracking_id(tracking_name(topic, p)) or 0 for p in partitions)


def caught_up(serve: ServeProcess, system: System, feedback_topic: str, ends: dict[int, int]) -> bool:
    """Everything consumed (by the store's positions), published and projected, as the worker reports it."""
    if saved_offsets(system, feedback_topic, ends) < sum(ends.values()):
        return False
    metrics = serve.metrics()
    head = system.service.recorder.max_notification_id() or 0
    projection_lags = samples(metrics, "agent_learning_projection_lag")
    consumer_lags = samples(metrics, "agent_learning_consumer_lag")
    return (
        sample(metrics, "agent_learning_relay_lag") == 0
        and bool(projection_lags)
        and set(projection_lags.values()) == {0}
        and bool(consumer_lags)
        and set(consumer_lags.values()) == {0}
        and (system.service.recorder.max_notification_id() or 0) == head
    )


def wait_until_quiet(
    serve: ServeProcess, system: System, feedback_topic: str, ends: dict[int, int], timeout: float
) -> None:
    """Caught up, and still caught up a few ticks later (the tick may add recalculations of its own)."""
    deadline = time.monotonic() + timeout
    while True:
        serve.wait_until(
            lambda: caught_up(serve, system, feedback_topic, ends),
            "catching up",
            timeout=max(1.0, deadline - time.monotonic()),
            interval=0.5,
        )
        head = system.service.recorder.max_notification_id()
        time.sleep(3 * 1.0)  # three tick intervals
        if system.service.recorder.max_notification_id() == head and caught_up(serve, system, feedback_topic, ends):
            return


def read_after_restarts(bootstrap: str, names: dict[str, str], broker_restarted: bool) -> list[Record]:
    """Every record of the topics, read_committed; after a durable Tansu restart, read_uncommitted when
    read_committed stalls (see check_published_exactly_once)."""
    # After a durable restart Tansu reads slowly from its S3 store and under-reports high watermarks.
    timeout, settle = (240, 10.0) if broker_restarted else (60, None)
    try:
        return read_records(bootstrap, names, timeout=timeout, settle=settle)
    except StalledAtOpenTransaction as stalled:
        if not broker_restarted:
            raise
        print(f"{stalled}: reading read_uncommitted, as a transaction the broker restart left open holds it back")
        return read_records(bootstrap, names, timeout=timeout, isolation="read_uncommitted", settle=settle)


def position_chain(bootstrap: str, setup: ServeSetup, broker_restarted: bool) -> list[dict]:
    """The relay's position records, oldest first. Without a broker restart, read by the relay's own
    reader; after one, the position topic is read like the outputs: a transaction the restart left open
    on it would stall a read_committed reader for good, and so would the under-reported high watermark."""
    if not broker_restarted:
        return read_position_records(
            bootstrap, setup.topics.relay_positions, DEFAULT_RELAY_NAME, 30, TANSU_CONSUMER_SETTINGS
        )
    topic = setup.topics.relay_positions
    records = read_after_restarts(bootstrap, {topic: topic}, broker_restarted=True)
    return [json.loads(r.message.value) for r in records if r.message.key == DEFAULT_RELAY_NAME and r.message.value]


def check_published_exactly_once(
    bootstrap: str, setup: ServeSetup, events: list, broker_restarted: bool = False
) -> tuple[int, int]:
    """Every public event of the log published once by what the relay stands by, in each agent's order;
    anything else an exact repeat. Returns (messages stood by, repeats).

    After a durable Tansu restart, a transaction that was open when the broker died is never ended
    (Tansu 0.6 keeps no transaction state across a restart, docs/test-servers.md), so its last stable
    offset stays put and read_committed readers stop there for good; real Kafka aborts it after
    `transaction.timeout.ms`. Then the records are read with read_uncommitted, which on Tansu shows
    exactly what read_committed shows plus that transaction's records (Tansu hides no aborted ones
    either): what counts is decided by the relay's position chain below, as for every abort."""
    # After a durable restart Tansu reads slowly from its S3 store and under-reports high watermarks.
    timeout, settle = (240, 10.0) if broker_restarted else (60, None)
    records = read_after_restarts(bootstrap, output_topics(setup.topics), broker_restarted)
    chain = position_chain(bootstrap, setup, broker_restarted)
    assert chain, "the relay wrote no position record"
    assert [r["from"] for r in chain] == [0] + [r["position"] for r in chain[:-1]]

    recalculations = [e for e in events if isinstance(e, Agent.PolicyRecalculated)]
    rejections = [e for e in events if isinstance(e, DeadLetter.MessageRejected)]
    stood = stood_by(records, chain)
    kept = [r.message for r in stood]
    assert Counter(m.headers["event-id"] for m in kept if m.headers["event-type"] == "AgentLearningUpdated") == Counter(
        stable_event_id(e) for e in recalculations
    )
    assert Counter(m.headers["event-id"] for m in kept if m.headers["event-type"] == "MessageRejected") == Counter(
        stable_event_id(e) for e in rejections
    )
    expected_order: dict[str, list[int]] = defaultdict(list)
    for e in recalculations:
        expected_order[agent_id_of(e.originator_id)].append(e.policy_version)
    seen_order: dict[str, list[int]] = defaultdict(list)
    for m in kept:
        if m.headers["event-type"] == "AgentLearningUpdated":
            seen_order[m.key].append(json.loads(m.value)["version"])
    assert seen_order == expected_order

    by_event_id = {m.headers["event-id"]: m for m in kept}
    stood_at = {(r.topic, r.partition, r.offset) for r in stood}
    leftovers = [r.message for r in records if (r.topic, r.partition, r.offset) not in stood_at]
    assert all(by_event_id.get(m.headers["event-id"]) == m for m in leftovers), "a leftover that is no repeat"
    if not shows_aborted_records(bootstrap):
        assert leftovers == []
    return len(kept), len(leftovers)


# ------------------------------------------------------------------ the tests


@pytest.fixture
def processes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for process in started:
        process.kill()


def test_serve_killed_at_random_moments_records_and_publishes_every_feedback_exactly_once(
    kafka_bootstrap: str, tmp_path: Path, processes: list[ServeProcess]
):
    killed_at_random(ServeSetup(kafka_bootstrap, tmp_path / "home"), processes)


@pytest.mark.postgresql
def test_serve_on_postgresql_killed_at_random_moments_records_and_publishes_every_feedback_exactly_once(
    kafka_bootstrap: str, tmp_path: Path, processes: list[ServeProcess], postgres_url: str
):
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home", event_store=postgres_url, read_models=postgres_url)
    killed_at_random(setup, processes)


def killed_at_random(setup: ServeSetup, processes: list[ServeProcess]) -> None:
    """ROUNDS serve processes killed with SIGKILL mid-stream, then one to the end: every feedback
    recorded once, every public event published once, the read models equal a rebuild."""
    kafka_bootstrap = setup.bootstrap
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), setup.topics, partitions=4)
    messages, ids, poison = mixed_stream(20_000, agents=300, seed=17)
    ends = produce(kafka_bootstrap, setup.topics.feedback, messages)
    assert sum(ends.values()) == len(messages) and len(ends) == 4
    total = len(messages)
    rng = random.Random(23)
    started = time.monotonic()

    kills = 0
    with setup.system() as watcher:
        for round_ in range(ROUNDS):
            before = saved_offsets(watcher, setup.topics.feedback, ends)
            serve = setup.start(f"serve-{round_}.log")
            processes.append(serve)
            if rng.random() < 0.25:  # while it starts: creating topics, fencing, joining the group
                time.sleep(rng.uniform(0.0, 1.5))
            else:  # somewhere in a batch, a publication, a projection page
                serve.wait_until(
                    lambda before=before: saved_offsets(watcher, setup.topics.feedback, ends) > before,
                    "consuming",
                    timeout=60,
                    interval=0.05,
                )
                time.sleep(rng.uniform(0.0, 0.6))
            serve.kill()
            kills += serve.popen.returncode == -9
        consumed_before_the_last_run = saved_offsets(watcher, setup.topics.feedback, ends)

        serve = setup.start("serve-last.log")
        processes.append(serve)
        wait_until_quiet(serve, watcher, setup.topics.feedback, ends, timeout=150)
        status, health = serve.health()
        assert status == 200, health
        assert serve.terminate() == 0, serve.log_tail()

    assert kills == ROUNDS
    assert consumed_before_the_last_run < total, (
        "serve consumed everything before the last kill; make the stream longer"
    )

    stood, repeats = assert_everything_once(setup, ids, poison)
    print(
        f"{kills} kills, {consumed_before_the_last_run} of {total} consumed before the last run, "
        f"{stood} messages published, {repeats} repeats, {time.monotonic() - started:.0f} s"
    )


def assert_everything_once(setup: ServeSetup, ids: set[str], poison) -> tuple[int, int]:
    """Every feedback recorded once, the relay's chain at the head, every public event published once,
    the read models equal a rebuild; returns (messages stood by, repeats)."""
    with setup.system() as system:
        events = logged_events(system)
        assert_recorded_exactly_once(events, ids, dead_letters=poison)
        head = system.service.recorder.max_notification_id()
        chain = read_position_records(
            setup.bootstrap, setup.topics.relay_positions, DEFAULT_RELAY_NAME, 30, TANSU_CONSUMER_SETTINGS
        )
        assert chain[-1]["position"] == head
        stood, repeats = check_published_exactly_once(setup.bootstrap, setup, events)

        assert system.projections.catch_up() == 0
        live = assert_read_models_equal_a_rebuild(system)
        assert sum(len(docs) for docs in live.values()) > 0
    return stood, repeats


@pytest.mark.postgresql
def test_when_postgresql_is_killed_and_restarted_mid_stream_serve_goes_on_and_loses_nothing(
    kafka_bootstrap: str, tmp_path: Path, processes: list[ServeProcess]
):
    server = PostgresServer.start(tmp_path / "cluster")
    try:
        url = server.create_database("agent_learning")
        setup = ServeSetup(kafka_bootstrap, tmp_path / "home", event_store=url, read_models=url)
        ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), setup.topics, partitions=4)
        messages, ids, poison = mixed_stream(30_000, agents=300, seed=29)
        ends = produce(kafka_bootstrap, setup.topics.feedback, messages)
        serve = setup.start("serve.log")
        processes.append(serve)
        with setup.system() as watcher:
            serve.wait_until(
                lambda: saved_offsets(watcher, setup.topics.feedback, ends) > 0, "consuming", timeout=60, interval=0.05
            )
            time.sleep(0.5)
            consumed_when_killed = saved_offsets(watcher, setup.topics.feedback, ends)
            server.kill()  # the database dies under a consuming, relaying, projecting serve
        assert consumed_when_killed < len(messages), "serve consumed everything before the kill; a longer stream"
        time.sleep(2.0)
        server = server.restart()
        with setup.system() as watcher:
            wait_until_quiet(serve, watcher, setup.topics.feedback, ends, timeout=240)
        # The pools wait for the database (up to 30 s) rather than fail, so serve may log no failure at all.
        status, health = serve.health()
        assert status == 200, health
        assert serve.terminate() == 0, serve.log_tail()
        assert_everything_once(setup, ids, poison)
    finally:
        server.stop()


@pytest.mark.parametrize("serve_restarted", [False, True], ids=["serve-kept-running", "serve-restarted"])
def test_after_the_broker_is_killed_and_restarted_serve_goes_on_and_loses_nothing(
    tmp_path: Path, processes: list[ServeProcess], serve_restarted: bool
):
    """The durable broker killed twice under a running serve: once with everything processed, once in the
    middle of a stream. The serve that kept running catches up by itself; a serve restarted once the
    broker is back does too."""
    bucket = LocalBucket.start(tmp_path / "bucket")
    broker = KafkaBroker.start(durable=True, s3_endpoint=bucket.endpoint, log_dir=tmp_path / "tansu")

    def restart_the_broker() -> KafkaBroker:
        time.sleep(3)  # every worker meets the dead broker
        return KafkaBroker.start(
            durable=True, s3_endpoint=bucket.endpoint, port=broker.port, log_dir=tmp_path / "tansu"
        )

    try:
        setup = ServeSetup(broker.bootstrap, tmp_path / "home")
        ensure_topics(AdminClient({"bootstrap.servers": broker.bootstrap}), setup.topics, partitions=3)
        streams = [
            mixed_stream(n, agents=30, seed=seed, prefix=prefix)
            for n, seed, prefix in ((600, 3, "b"), (2500, 4, "c"), (600, 5, "d"))  # read back slowly from S3
        ]
        serve = setup.start()
        processes.append(serve)
        serve.wait_until_answering()
        ends: dict[int, int] = {}

        def produce_stream(messages: list) -> None:
            for partition, end in produce(broker.bootstrap, setup.topics.feedback, messages).items():
                ends[partition] = max(ends.get(partition, 0), end)

        with setup.system() as watcher:
            produce_stream(streams[0][0])
            wait_until_quiet(serve, watcher, setup.topics.feedback, ends, timeout=90)
            broker.kill()  # with everything processed
            broker = restart_the_broker()

            published = sample(serve.metrics(), "agent_learning_relay_published_total")
            produce_stream(streams[1][0])
            serve.wait_until(
                lambda: sample(serve.metrics(), "agent_learning_relay_published_total") > published,
                "publishing",
                timeout=60,
                interval=0.05,
            )
            broker.kill()  # while the relay publishes the stream (the consumer may or may not be through it)
            broker = restart_the_broker()

            produce_stream(streams[2][0])
            if serve_restarted:
                assert serve.terminate() == 0, serve.log_tail()
                # A new group id: Tansu never completes a join of a group whose member was rejoining when
                # the broker restarted (plain clients show it too). The store holds the positions anyway.
                setup = attrs.evolve(setup, group=f"{setup.group}-restarted")
                serve = setup.start("serve-restarted.log")
                processes.append(serve)
            wait_until_quiet(serve, watcher, setup.topics.feedback, ends, timeout=60)
            serve.wait_until(lambda: serve.health()[0] == 200, "healthy again", timeout=30)
        assert serve.terminate() == 0, serve.log_tail()

        with setup.system() as system:
            events = logged_events(system)
            assert_recorded_exactly_once(
                events,
                set().union(*(ids for _, ids, _ in streams)),
                dead_letters=sum(poison for _, _, poison in streams),
            )
            reading = time.monotonic()
            chain = position_chain(broker.bootstrap, setup, broker_restarted=True)
            print(f"{len(chain)} position records read back in {time.monotonic() - reading:.1f} s")
            assert chain[-1]["position"] == system.service.recorder.max_notification_id()
            stood, repeats = check_published_exactly_once(broker.bootstrap, setup, events, broker_restarted=True)
        print(f"{stood} messages published, {repeats} repeats")
    finally:
        for process in processes:
            process.kill()
        broker.stop()
        bucket.stop()


def assert_no_agent_recalculated_twice_by_the_tick(events: list) -> None:
    """A timer recalculation always has feedback to consume: had two replicas ticked one agent at once and
    both recorded, the second would have found nothing pending."""
    pending: Counter = Counter()
    for event in events:
        agent_id = agent_id_of(event.originator_id) if hasattr(event, "originator_id") else None
        if isinstance(event, Agent.FeedbackRecorded):
            pending[agent_id] += 1
        elif isinstance(event, Agent.PolicyRecalculated):
            if event.trigger == "timer":
                assert pending[agent_id] > 0, f"{agent_id} v{event.policy_version}: a timer recalculation of nothing"
            pending[agent_id] = 0


def assigned(serve: ServeProcess) -> bool:
    """The serve's consumer has had partitions (it reports their lag)."""
    return bool(samples(serve.metrics(), "agent_learning_consumer_lag"))


@pytest.mark.postgresql
@pytest.mark.slow
def test_three_serves_over_twelve_partitions_on_postgresql_take_over_a_killed_ones_partitions(
    kafka_bootstrap: str, tmp_path: Path, processes: list[ServeProcess], postgres_url: str
):
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home", event_store=postgres_url, read_models=postgres_url)
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), setup.topics, partitions=12)
    first, first_ids, first_poison = mixed_stream(20_000, agents=600, seed=31, prefix="first")
    ends = produce(kafka_bootstrap, setup.topics.feedback, first)
    assert len(ends) == 12
    relay = setup.start("serve-0.log")  # the one relay; the others are replicas (--no-relay)
    replicas = [setup.start(f"serve-{i}.log", relay=False) for i in (1, 2)]
    processes += [relay, *replicas]
    for serve in (relay, *replicas):  # each got a share of the partitions
        serve.wait_until_answering().wait_until(lambda serve=serve: assigned(serve), "assigned", 120)

    with setup.system() as watcher:
        relay.wait_until(lambda: saved_offsets(watcher, setup.topics.feedback, ends) > 2_000, "consuming", 120, 0.05)
        victim = replicas[0]
        victim.kill()  # kill -9 one replica mid-stream
        consumed_at_the_kill = saved_offsets(watcher, setup.topics.feedback, ends)
        # The other two take its partitions: everything is consumed, published and projected without it.
        try:
            wait_until_quiet(relay, watcher, setup.topics.feedback, ends, timeout=240)
        except AssertionError as stuck:  # the relay's log alone cannot say which replica stalled
            saved = saved_offsets(watcher, setup.topics.feedback, ends)
            survivor = f"--- serve-2, the surviving replica:\n{replicas[1].log_tail()}"
            raise AssertionError(f"{stuck}\n{saved:,} of {len(first):,} offsets saved\n{survivor}") from None
    assert consumed_at_the_kill < len(first), "everything was consumed before the kill; a longer stream"

    restarted = setup.start("serve-1-again.log", relay=False)  # it comes back and gets partitions again
    processes.append(restarted)
    restarted.wait_until_answering().wait_until(lambda: assigned(restarted), "assigned", 120)
    second, second_ids, second_poison = mixed_stream(8_000, agents=600, seed=37, prefix="second")
    more = produce(kafka_bootstrap, setup.topics.feedback, second)
    ends = {p: max(ends[p], more.get(p, 0)) for p in ends}  # the offsets after the last message
    with setup.system() as watcher:
        wait_until_quiet(relay, watcher, setup.topics.feedback, ends, timeout=240)
    for serve in (relay, replicas[1], restarted):
        assert serve.terminate() == 0, serve.log_tail()

    assert_everything_once(setup, first_ids | second_ids, first_poison + second_poison)
    with setup.system() as system:
        assert_no_agent_recalculated_twice_by_the_tick(logged_events(system))
