"""`agent-learning serve` end to end through Kafka: feedback in on the feedback topic, the contract's
messages out on the updates and dead-letter topics, /healthz and /metrics, and a clean SIGTERM.

Each test runs the real command as a child process with topics and a group id of its own on the
session's broker, and reads the output topics back with a read_committed consumer.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from adapters.kafka.feedback_consumer import NULL_VALUE_REASON
from adapters.kafka.topics import KafkaTopics
from domain.agent import Agent
from projections.catch_up_runner import all_projections
from tests.contract.test_relay_sink_kafka import Record, output_topics, read_records
from tests.kafka.serve_process import (
    ServeProcess,
    ServeSetup,
    mongodb_database_url,
    sample,
    samples,
)
from tests.kafka.test_feedback_consumer import at, feedback_event_ids, message, produce
from tests.service.test_bad_input import HOSTILE
from tests.support.contract_fields import METRIC_FIELDS, UPDATE_FIELDS

pytestmark = pytest.mark.kafka

# Every registered read model reports its lag (the five of the realtime core, plus the batch loop's).
PROJECTIONS = {p.name for p in all_projections()}
assert {
    "agent_learning_state",
    "agent_policy_history",
    "agent_feedback_aggregations",
    "agent_relationship_strength",
    "dead_letters",
} <= PROJECTIONS


def worked_example(agent_id: str = "a-1") -> list[tuple[str, bytes]]:
    """The README's worked example: five thumbs_up that credit empathy, for the `answer` action."""
    return [
        (
            agent_id,
            json.dumps(
                {
                    "type": "feedback",
                    "eventId": f"w-{agent_id}-{i}",
                    "agentId": agent_id,
                    "occurredAt": f"2026-11-24T10:0{i}:00Z",
                    "kind": "thumbs_up",
                    "traits": {"empathy": 1},
                    "action": "answer",
                }
            ).encode(),
        )
        for i in range(5)
    ]


def published(
    topics: KafkaTopics, bootstrap: str, enough: Callable[[list[Record]], bool], timeout: float = 60.0
) -> list[Record]:
    """The output topics as a read_committed consumer sees them, once `enough` says they are complete."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(bootstrap, output_topics(topics))
        if enough(records):
            return records
        assert time.monotonic() < deadline, f"not published within {timeout} s: {[r.message for r in records]}"
        time.sleep(0.3)


def updates(records: list[Record]) -> list[Record]:
    return [r for r in records if r.message.headers.get("event-type") == "AgentLearningUpdated"]


def dead_letters(records: list[Record]) -> list[Record]:
    return [r for r in records if r.message.headers.get("event-type") == "MessageRejected"]


@pytest.fixture
def setup(kafka_bootstrap: str, tmp_path) -> ServeSetup:
    return ServeSetup(kafka_bootstrap, tmp_path / "home")


@pytest.fixture
def serve(setup: ServeSetup) -> Iterator[ServeProcess]:
    process = setup.start().wait_until_answering()
    yield process
    process.kill()


def assert_is_the_worked_example(record: Record, agent_id: str = "a-1") -> None:
    body = json.loads(record.message.value)
    assert record.message.key == agent_id
    assert record.message.headers["event-id"] == body["eventId"]
    assert record.message.headers["event-type"] == "AgentLearningUpdated"
    assert record.message.headers["content-type"] == "application/json"
    assert set(body) == UPDATE_FIELDS
    assert (body["type"], body["agentId"], body["version"], body["trigger"]) == (
        "AgentLearningUpdated",
        agent_id,
        1,
        "feedback_count",
    )
    assert body["traits"]["empathy"] == pytest.approx(0.507, abs=5e-4)
    assert body["learnedTraits"]["empathy"] == pytest.approx(0.57, abs=5e-4)
    assert body["actionPolicy"] and all(0 <= p <= 1 for p in body["actionPolicy"].values())
    assert sum(body["actionPolicy"].values()) == pytest.approx(1.0)
    assert body["actionPolicy"]["answer"] == max(body["actionPolicy"].values())
    assert 0 <= body["explorationEpsilon"] <= 1
    assert body["confidence"] in ("archetype", "blended", "data")
    assert set(body["metrics"]) == METRIC_FIELDS
    assert (body["metrics"]["feedbackCount"], body["metrics"]["batchSize"]) == (5, 5)
    assert body["metrics"]["avgReward"] == pytest.approx(1.0)
    assert body["metrics"]["rewardVariance"] == pytest.approx(0.0)
    assert datetime.fromisoformat(body["occurredAt"]).utcoffset() is not None


def test_five_thumbs_up_on_the_feedback_topic_become_an_agent_learning_updated_message(
    setup: ServeSetup, serve: ServeProcess, kafka_bootstrap: str
):
    produce(kafka_bootstrap, setup.topics.feedback, worked_example())

    records = published(setup.topics, kafka_bootstrap, lambda rs: len(updates(rs)) >= 1)

    [update] = updates(records)
    assert update.topic == setup.topics.learning_updates
    assert_is_the_worked_example(update)
    assert serve.terminate() == 0


def test_a_single_thumbs_down_is_published_at_once_as_a_strong_signal(
    setup: ServeSetup, serve: ServeProcess, kafka_bootstrap: str
):
    produce(
        kafka_bootstrap,
        setup.topics.feedback,
        [message("d-1", "a-2", 0, "thumbs_down", traits={"sarcasm": 1.0}, action="answer")],
    )

    records = published(setup.topics, kafka_bootstrap, lambda rs: len(updates(rs)) >= 1)

    [update] = updates(records)
    body = json.loads(update.message.value)
    assert update.message.key == "a-2"
    assert (body["agentId"], body["version"], body["trigger"]) == ("a-2", 1, "strong_signal")
    assert body["metrics"]["feedbackCount"] == 1 and body["metrics"]["avgReward"] < 0
    assert body["learnedTraits"]["sarcasm"] < 0.5
    assert serve.terminate() == 0


def test_poison_messages_go_to_the_dead_letter_topic_with_their_key_bytes_and_reason(
    setup: ServeSetup, serve: ServeProcess, kafka_bootstrap: str
):
    bad_json = b'{"type": "feedback", "eventId": '
    unknown_kind = json.dumps(
        {"type": "feedback", "eventId": "p-2", "agentId": "a-3", "occurredAt": at(2), "kind": "shrug"}
    ).encode()
    rating_without_value = json.dumps(
        {"type": "feedback", "eventId": "p-3", "agentId": "a-3", "occurredAt": at(3), "kind": "rating"}
    ).encode()
    good = [message(f"g-{i}", "a-3", i, action="answer") for i in range(5)]
    produce(
        kafka_bootstrap,
        setup.topics.feedback,
        [
            good[0],
            ("a-3", bad_json),
            good[1],
            ("a-3", unknown_kind),
            good[2],
            ("a-3", rating_without_value),
            good[3],
            ("a-3", None),
            good[4],
        ],
    )

    records = published(setup.topics, kafka_bootstrap, lambda rs: len(dead_letters(rs)) >= 4 and len(updates(rs)) >= 1)

    letters = sorted(dead_letters(records), key=lambda r: r.offset)  # one key, so one partition, in order
    assert {r.topic for r in letters} == {setup.topics.dead_letters}
    assert [r.message.key for r in letters] == ["a-3"] * 4
    assert [r.message.value for r in letters[:3]] == [bad_json, unknown_kind, rating_without_value]
    assert letters[3].message.value in (None, b"")  # a message without a value keeps having none
    reasons = [r.message.headers["rejection-reason"] for r in letters]
    assert reasons[0].startswith("not valid JSON")
    assert "unknown feedback kind 'shrug'" in reasons[1]
    assert "a rating needs a 'value'" in reasons[2]
    assert reasons[3] == NULL_VALUE_REASON
    assert [r.message.headers["source-position"].rsplit(":", 1)[1] for r in letters] == ["1", "3", "5", "7"]
    assert len({r.message.headers["event-id"] for r in letters}) == 4

    # The good messages around the poison were all processed, and the fifth recalculated.
    first = updates(records)[0]
    assert json.loads(first.message.value)["metrics"]["feedbackCount"] == 5
    assert serve.terminate() == 0
    with setup.system() as system:
        assert feedback_event_ids(system, ["a-3"]) == Counter({f"g-{i}": 1 for i in range(5)})


def test_healthz_and_metrics_report_the_workers_and_sigterm_stops_serve_cleanly(
    setup: ServeSetup, serve: ServeProcess, kafka_bootstrap: str
):
    produce(
        kafka_bootstrap,
        setup.topics.feedback,
        worked_example("a-4") + [message("d-1", "a-5", 0, "thumbs_down", action="answer"), ("a-6", b"not json")],
    )

    def settled() -> bool:
        m = serve.metrics()
        return (
            sample(m, "agent_learning_recalculations_total", trigger="feedback_count") == 1
            and sample(m, "agent_learning_recalculations_total", trigger="strong_signal") == 1
            and sample(m, "agent_learning_dead_letters_total") == 1
            and sample(m, "agent_learning_relay_published_total") == 3
            and sample(m, "agent_learning_relay_lag") == 0
            and set(samples(m, "agent_learning_consumer_lag").values()) == {0}
            and all(v == 0 for v in samples(m, "agent_learning_projection_lag").values())
        )

    serve.wait_until(settled, "everything consumed, projected and published", timeout=60, interval=0.5)

    metrics = serve.metrics()
    lag_labels = [dict(labels) for labels in samples(metrics, "agent_learning_consumer_lag")]
    assert {labels["topic"] for labels in lag_labels} == {setup.topics.feedback}
    assert len(lag_labels) == 12  # every partition serve created the topic with
    assert {dict(labels)["projection"] for labels in samples(metrics, "agent_learning_projection_lag")} == PROJECTIONS
    assert sample(metrics, "agent_learning_messages_total", outcome="recorded") == 6
    assert sample(metrics, "agent_learning_messages_total", outcome="rejected") == 1
    # how long each saved batch and each published page took: as many observations as there were
    assert 1 <= sample(metrics, "agent_learning_consumer_batch_seconds_count") <= 6
    assert 1 <= sample(metrics, "agent_learning_relay_page_seconds_count") <= 3
    assert sample(metrics, "agent_learning_relay_page_seconds_sum") > 0

    status, health = serve.health()
    assert status == 200 and health["ok"] is True
    assert set(health["workers"]) == {"projections", "consumer", "relay", "tick"}
    assert all(w["alive"] and w["ok"] and w["lastError"] is None for w in health["workers"].values())
    assert serve.get("/nowhere")[0] == 404

    started = time.monotonic()
    assert serve.terminate(timeout=30) == 0, serve.log_tail()
    assert time.monotonic() - started < 15
    assert '"message": "stopped"' in serve.log_path.read_text()


@pytest.mark.mongodb
def test_the_loop_runs_on_mongodb_event_store_and_read_models(kafka_bootstrap: str, mongodb_url: str, tmp_path):
    url = mongodb_database_url(mongodb_url, f"serve_{uuid.uuid4().hex[:10]}")
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home", event_store=url, read_models=url)
    serve = setup.start().wait_until_answering()
    try:
        produce(
            kafka_bootstrap,
            setup.topics.feedback,
            worked_example("a-7") + [message("d-1", "a-8", 0, "thumbs_down", action="answer"), ("a-8", b"{")],
        )

        records = published(
            setup.topics, kafka_bootstrap, lambda rs: len(updates(rs)) >= 2 and len(dead_letters(rs)) >= 1
        )
        # A lag the worker reported before the last events were recorded is 0 too: wait for the documents.
        with setup.system() as watcher:

            def projected() -> bool:
                state = watcher.read_models.get("agent_learning_state", "a-7")
                return (
                    state is not None and state["version"] == 1 and len(watcher.read_models.find("dead_letters")) == 1
                )

            serve.wait_until(projected, "the read models caught up", timeout=90)  # SecantusDB on busy cores is slow
        assert serve.terminate() == 0, serve.log_tail()
    finally:
        serve.kill()

    by_agent = {r.message.key: r for r in updates(records)}
    assert_is_the_worked_example(by_agent["a-7"], "a-7")
    assert json.loads(by_agent["a-8"].message.value)["trigger"] == "strong_signal"
    assert [r.message.value for r in dead_letters(records)] == [b"{"]
    assert not (setup.home / "events.db").exists()  # nothing went to the embedded store
    with setup.system() as system:
        assert feedback_event_ids(system, ["a-7", "a-8"]) == Counter({f"w-a-7-{i}": 1 for i in range(5)} | {"d-1": 1})
        assert [e.policy_version for e in system.service.history("a-7") if isinstance(e, Agent.PolicyRecalculated)] == [
            1
        ]
        state = system.read_models.get("agent_learning_state", "a-7")
        assert state is not None and state["version"] == 1 and state["feedbackCount"] == 5
        assert len(system.read_models.find("dead_letters")) == 1


def test_hostile_messages_go_to_the_dead_letter_topic_and_the_partition_keeps_moving(
    setup: ServeSetup, serve: ServeProcess, kafka_bootstrap: str
):
    """The messages that once stopped everything (tests/service/test_bad_input.py HOSTILE), on the real
    topic between good ones: each is one dead letter on the DLQ; every good one is recorded."""
    hostile = [line.encode("utf-8", "surrogatepass") for line, _ in HOSTILE.values()]
    stream: list[tuple[str, bytes]] = []
    for i, raw in enumerate(hostile):
        stream += [message(f"g-{i}", "a-4", i), ("a-4", raw)]
    stream.append(message("g-last", "a-4", len(hostile)))
    produce(kafka_bootstrap, setup.topics.feedback, stream)

    records = published(setup.topics, kafka_bootstrap, lambda rs: len(dead_letters(rs)) >= len(hostile))

    letters = sorted(dead_letters(records), key=lambda r: r.offset)
    assert [r.message.value for r in letters] == hostile
    reasons = [r.message.headers["rejection-reason"] for r in letters]
    for (_, expected), reason in zip(HOSTILE.values(), reasons, strict=True):
        assert expected in reason
        assert len(reason) < 1000
    assert serve.terminate() == 0
    with setup.system() as system:
        expected = Counter({f"g-{i}": 1 for i in range(len(hostile))} | {"g-last": 1})
        assert feedback_event_ids(system, ["a-4"]) == expected
