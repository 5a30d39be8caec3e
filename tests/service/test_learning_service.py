"""The application service: batches, auto-registration, conflicts between writers, snapshots, tick."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.service.learning_service import SNAPSHOT_INTERVAL, LearningService
from domain.agent import Agent, replay
from domain.commands import RecordFeedback, RegisterAgent

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def thumbs(n: int, agent: str = "a-1", start: int = 0, kind: str = "thumbs_up") -> list[RecordFeedback]:
    return [
        RecordFeedback(
            f"{agent}-e{start + i}",
            agent,
            T0 + timedelta(seconds=start + i),
            kind,
            traits={"empathy": 1.0},
            action="answer",
        )
        for i in range(n)
    ]


def test_feedback_before_registration_registers_the_agent_at_that_time(system):
    system.service.process(thumbs(1))
    agent = system.service.get_agent("a-1")
    history = system.service.history("a-1")
    assert isinstance(history[0], Agent.AgentRegistered)
    assert history[0].occurred_at == T0
    assert agent.archetype == "default"


def test_a_late_registration_amends_owner_and_archetype(system):
    system.service.process(thumbs(1))
    system.service.process([RegisterAgent("r-1", "a-1", T0 + timedelta(minutes=1), "mentor", "owner-9")])
    agent = system.service.get_agent("a-1")
    assert (agent.archetype, agent.owner_id) == ("mentor", "owner-9")
    assert agent.priors["curiosity"] == pytest.approx(0.8)
    assert agent.feedback_count == 1


def test_one_batch_is_saved_in_one_transaction_with_every_agent(system):
    outcome = system.service.process(thumbs(3, "a-1") + thumbs(3, "a-2"))
    assert outcome.recorded == 6
    assert outcome.agents == {"a-1", "a-2"}
    assert system.service.recorder.max_notification_id() == 8  # 2 registrations + 6 feedback


def test_two_writers_on_one_agent_never_lose_an_event(home):
    """The second writer holds a stale cached agent; its save conflicts and it retries on fresh state."""
    first = bootstrap(Config(home=home))
    second = bootstrap(Config(home=home))
    try:
        first.service.process(thumbs(1, start=0))
        second.service.process(thumbs(1, start=1))  # second now caches the agent at version 3
        first.service.process(thumbs(2, start=2))  # first moves it to version 5 behind second's back
        second.service.process(thumbs(1, start=4))  # conflict → reload → record on top
        agent = bootstrap(Config(home=home)).service.get_agent("a-1")
        assert agent.feedback_count == 5
        assert agent.policy_version == 1  # the fifth feedback fired the batch trigger exactly once
        kinds = [type(e).__name__ for e in first.service.history("a-1")]
        assert kinds.count("FeedbackRecorded") == 5 and kinds.count("PolicyRecalculated") == 1
    finally:
        first.close()
        second.close()


def test_long_histories_are_snapshotted_and_load_to_the_replayed_state(home):
    system = bootstrap(Config(home=home))
    for start in range(0, 450, 50):
        system.service.process(thumbs(50, start=start, kind="message_copied"))
    system.close()

    fresh = bootstrap(Config(home=home))  # cold cache: loads from the latest snapshot
    try:
        snapshots = list(fresh.service.snapshots.get("agent:a-1"))
        assert len(snapshots) >= 2
        assert snapshots[-1].originator_version >= 2 * SNAPSHOT_INTERVAL
        loaded = fresh.service.get_agent("a-1")
        replayed = replay(fresh.service.history("a-1"))
        assert vars(loaded) | {"_pending_events": []} == vars(replayed) | {"_pending_events": []}
        assert loaded.feedback_count == 450
    finally:
        fresh.close()


def test_the_tick_recalculates_agents_with_pending_feedback_after_five_minutes(system):
    system.service.process(thumbs(2))
    assert system.service.tick(T0 + timedelta(minutes=4), ["a-1"]).events == 0
    outcome = system.service.tick(T0 + timedelta(minutes=5), ["a-1"])
    assert outcome.recalculations == {"timer": 1}
    assert system.service.get_agent("a-1").last_update_at == T0 + timedelta(minutes=5)


def test_the_tick_ignores_agents_it_does_not_know(system):
    assert system.service.tick(T0, ["ghost"]).events == 0


def test_a_service_built_twice_on_one_home_sees_the_same_history(home):
    one = bootstrap(Config(home=home))
    one.service.process(thumbs(5))
    one.close()
    two = LearningService(
        env={"PERSISTENCE_MODULE": "adapters.eventstore.sqlite", "SQLITE_DBNAME": str(home / "events.db")}
    )
    assert two.get_agent("a-1").policy_version == 1
