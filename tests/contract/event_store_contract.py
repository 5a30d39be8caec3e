"""What the service needs of an event store, as one suite every backend must pass.

Beyond the library's own recorder test cases, these are the properties the
service relies on: agents round-trip through a store (snapshots included),
the notification log is gap-free in commit order, a concurrent write of the same
version is refused, several tracking records go in one transaction with the
events or not at all, and a tracking position only moves forward.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.service.learning_service import SNAPSHOT_INTERVAL, LearningService
from adapters.service.unit_of_work import TrackingConflict
from domain.agent import Agent, replay
from domain.commands import RecordFeedback

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def feedback(agent: str, start: int, n: int, kind: str = "message_copied") -> list[RecordFeedback]:
    return [
        RecordFeedback(
            f"{agent}-{start + i}",
            agent,
            T0 + timedelta(seconds=start + i),
            kind,
            traits={"humor": 0.5},
            action="answer",
            user_id="u",
        )
        for i in range(n)
    ]


class EventStoreContract:
    def make_env(self) -> dict[str, str]:
        """The environment of a LearningService on a fresh, empty store of this backend."""
        raise NotImplementedError

    @pytest.fixture
    def env(self) -> dict[str, str]:
        return self.make_env()

    def service(self, env: dict[str, str]) -> LearningService:
        return LearningService(env=env)

    def test_an_agent_round_trips_through_the_store_and_a_fresh_service(self, env):
        self.service(env).process(feedback("a", 0, 7))
        loaded = self.service(env).get_agent("a")
        assert loaded.feedback_count == 7 and loaded.policy_version == 1
        assert loaded.last_update_at == T0 + timedelta(seconds=4)

    def test_a_long_history_loads_from_a_snapshot_to_the_replayed_state(self, env):
        writer = self.service(env)
        for start in range(0, SNAPSHOT_INTERVAL + 50, 50):
            writer.process(feedback("a", start, 50))
        fresh = self.service(env)
        assert list(fresh.snapshots.get("agent:a"))
        loaded, replayed = fresh.get_agent("a"), replay(fresh.history("a"))
        assert {**vars(loaded), "_pending_events": []} == {**vars(replayed), "_pending_events": []}

    def test_the_notification_log_is_gap_free_and_in_commit_order(self, env):
        writers = [self.service(env) for _ in range(3)]
        errors = []

        def write(number: int) -> None:
            try:
                for round_ in range(5):
                    writers[number].process(feedback(f"w{number}", round_ * 4, 4))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        reader = self.service(env)  # held: a service closes its store when it is garbage-collected
        log = reader.recorder.select_notifications(start=1, limit=10_000)
        assert [n.id for n in log] == list(range(1, len(log) + 1))
        per_agent: dict[str, list[int]] = {}
        for notification in log:
            per_agent.setdefault(notification.originator_id, []).append(notification.originator_version)
        assert all(versions == sorted(versions) for versions in per_agent.values())

    def test_a_concurrent_write_of_the_same_version_is_refused(self, env):
        first, second = self.service(env), self.service(env)
        first.process(feedback("a", 0, 1))
        stale = second.get_agent("a")
        first.process(feedback("a", 1, 1))
        stale.record_feedback(feedback("a", 2, 1)[0], second.settings)
        with pytest.raises(IntegrityError):
            second.recorder.insert_events([second.mapper.to_stored_event(e) for e in stale.collect_events()])

    def test_several_trackings_are_saved_with_the_events_or_not_at_all(self, env):
        service = self.service(env)
        service.process(feedback("a", 0, 2), trackings=[Tracking("kafka:t:0", 3), Tracking("kafka:t:1", 8)])
        assert service.recorder.max_tracking_id("kafka:t:0") == 3
        assert service.recorder.max_tracking_id("kafka:t:1") == 8
        before = service.recorder.max_notification_id()
        with pytest.raises(TrackingConflict):  # partition 1 is already at 8: the batch is refused whole
            service.process(feedback("a", 2, 2), trackings=[Tracking("kafka:t:0", 5), Tracking("kafka:t:1", 8)])
        assert service.recorder.max_notification_id() == before
        assert service.recorder.max_tracking_id("kafka:t:0") == 3
        assert self.service(env).get_agent("a").feedback_count == 2

    def test_two_ticks_at_once_recalculate_an_agent_once(self, env):
        first, second = self.service(env), self.service(env)
        first.process(feedback("a", 0, 2))
        second.get_agent("a")  # both now hold the agent with its two pending feedbacks
        now = T0 + timedelta(minutes=6)
        first.tick(now, ["a"])
        second.tick(now, ["a"])  # stale: conflicts, reloads, finds nothing due
        recalculations = [e for e in self.service(env).history("a") if isinstance(e, Agent.PolicyRecalculated)]
        assert [r.trigger for r in recalculations] == ["timer"]
