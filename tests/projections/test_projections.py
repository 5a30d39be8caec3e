"""Read models: caught up from the log, positions atomic with documents, blue/green rebuilds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.files.jsonl_ingest import ingest_lines
from adapters.observability.metrics import ServiceMetrics
from adapters.worker.workers import ProjectionsWorker
from domain.commands import RecordFeedback
from projections.agent_feedback_aggregations import AGGREGATIONS
from projections.agent_learning_state import STATE, AgentLearningState
from projections.agent_policy_history import HISTORY
from projections.agent_queries import agents_due_for_tick
from projections.agent_relationship_strength import RELATIONSHIPS
from projections.catch_up_runner import FAILED, CatchUpRunner, ProjectionFailed
from projections.dead_letters import DEAD_LETTERS
from projections.read_model_store import LIVE, Condition, ReadModelStoreUnavailable

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
COLLECTIONS = (STATE, HISTORY, AGGREGATIONS, RELATIONSHIPS)


def stream(n: int, agents: int = 3) -> list[RecordFeedback]:
    kinds = ["thumbs_up", "thumbs_down", "message_copied", "draft_edited"]
    return [
        RecordFeedback(
            f"e{i}",
            f"a-{i % agents}",
            T0 + timedelta(minutes=i),
            kinds[i % 4],
            traits={"humor": 0.5},
            action="answer",
            user_id=f"u-{i % 2}",
        )
        for i in range(n)
    ]


def snapshot_of(store) -> dict:
    return {c: sorted(store.find(c), key=repr) for c in COLLECTIONS}


def test_every_read_model_follows_the_log(system):
    system.service.process(stream(20))
    system.projections.catch_up()
    state = system.read_models.get(STATE, "a-0")
    assert state["feedbackCount"] == 7
    history = system.read_models.find(HISTORY, [Condition("agentId", "eq", "a-0")], order_by=("version",))
    assert [h["version"] for h in history] == list(range(1, state["version"] + 1))
    day = system.read_models.find(AGGREGATIONS, [Condition("agentId", "eq", "a-0")])
    assert sum(d["count"] for d in day) == 7
    relationships = system.read_models.find(RELATIONSHIPS, [Condition("agentId", "eq", "a-0")])
    assert sum(r["interactions"] for r in relationships) == 7


def test_feedback_aggregations_sum_the_rewards_per_day_and_kind(system):
    system.service.process(stream(8, agents=1))
    system.projections.catch_up()
    docs = {d["kind"]: d for d in system.read_models.find(AGGREGATIONS)}
    assert docs["thumbs_up"]["count"] == 2 and docs["thumbs_up"]["rewardSum"] == 2.0
    assert docs["thumbs_down"]["rewardSum"] == -2.0
    assert abs(docs["draft_edited"]["rewardSum"] - (-0.4)) < 1e-12


def test_a_rebuild_gives_the_same_documents_as_the_live_read_models(system):
    system.service.process(stream(40))
    system.projections.catch_up()
    before = snapshot_of(system.read_models)
    system.projections.rebuild()
    assert snapshot_of(system.read_models) == before
    assert all(c.state == LIVE for c in system.read_models.checkpoints())


def test_a_new_projection_version_is_built_beside_the_live_one_and_swapped_in(system):
    system.service.process(stream(10))
    system.projections.catch_up()
    old = system.read_models.live_checkpoint(STATE)

    class AgentLearningStateNext(AgentLearningState):
        version = AgentLearningState.version + 1

    runner = CatchUpRunner(
        system.service.recorder, system.service.mapper, system.read_models, [AgentLearningStateNext()]
    )
    runner.prepare()
    building = [c for c in system.read_models.checkpoints() if c.projection == STATE and c.state != LIVE]
    assert len(building) == 1 and building[0].version == AgentLearningStateNext.version
    assert system.read_models.get(STATE, "a-0")["feedbackCount"] == 4  # readers still see the live one

    runner.catch_up()
    live = system.read_models.live_checkpoint(STATE)
    assert (live.version, live.generation) == (AgentLearningStateNext.version, old.generation + 1)
    assert [c for c in system.read_models.checkpoints() if c.projection == STATE] == [live]
    assert system.read_models.get(STATE, "a-0")["feedbackCount"] == 4


def test_catch_up_resumes_from_the_stored_position(system):
    system.service.process(stream(6))
    system.projections.catch_up()
    position = system.read_models.live_checkpoint(STATE).position
    system.service.process(stream(12)[6:])
    read = system.projections.catch_up()
    assert read == system.service.recorder.max_notification_id() - position


def test_the_tick_query_finds_agents_with_pending_feedback_older_than_five_minutes(system):
    from domain.settings import DEFAULT_SETTINGS

    quiet = [RecordFeedback(f"q{i}", "a-0", T0 + timedelta(minutes=i), "message_copied") for i in range(2)]
    system.service.process(quiet)  # two weak feedbacks at 10:00 and 10:01: nothing recalculated yet
    system.projections.catch_up()
    assert agents_due_for_tick(system.read_models, T0 + timedelta(minutes=4), DEFAULT_SETTINGS) == []
    assert agents_due_for_tick(system.read_models, T0 + timedelta(minutes=5), DEFAULT_SETTINGS) == ["a-0"]
    # idle for more than 40 minutes since the last activity (10:01): skipped
    assert agents_due_for_tick(system.read_models, T0 + timedelta(minutes=42), DEFAULT_SETTINGS) == []


def test_a_projection_that_cannot_apply_an_event_stops_there_and_the_others_go_on(system):
    """A history recorded before the boundary normalised times (year 1 at +14:00 has no UTC equivalent):
    the projections that format it stop at it and say why; the rest reach the head."""
    system.service.process([RecordFeedback("g1", "a", T0, kind="thumbs_up")])
    ancient = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    system.service.process([RecordFeedback("x1", "x", ancient, kind="thumbs_up")])
    ingest_lines(system.service, [b"not json"], "test")  # a dead letter after it
    head = system.service.recorder.max_notification_id()

    system.projections.catch_up()

    status = {s.projection: s for s in system.projections.status()}
    failed = {name for name, s in status.items() if s.state == FAILED}
    assert STATE in failed
    assert status[DEAD_LETTERS].state == "live" and status[DEAD_LETTERS].position == head
    assert len(system.read_models.find(DEAD_LETTERS)) == 1
    assert "stopped at notification" in status[STATE].error and "OverflowError" in status[STATE].error
    stopped_at = int(status[STATE].error.split("stopped at notification ")[1].split(":")[0])
    assert status[STATE].position == stopped_at - 1 < head  # up to the event it cannot apply
    assert system.read_models.get(STATE, "a")["feedbackCount"] == 1  # what came before it stands

    health = ProjectionsWorker(system, ServiceMetrics()).health()
    assert health["ok"] is False
    assert any(STATE in line for line in health["failedProjections"])

    with pytest.raises(ProjectionFailed, match="the live read models are unchanged"):
        system.projections.rebuild([STATE])


class StoreThatStopsAnsweringOnce:
    """The read-model store, but its first `get_many` fails as a server that was killed does."""

    def __init__(self, store):
        self._store, self.failed = store, False

    def get_many(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise ReadModelStoreUnavailable("the read-model store did not answer: server closed the connection")
        return self._store.get_many(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_store_that_stops_answering_fails_the_batch_not_the_projection_and_the_next_batch_goes_on(system):
    system.service.process(stream(30))
    runner = system.projections
    runner.store = StoreThatStopsAnsweringOnce(runner.store)
    with pytest.raises(ConnectionError, match="did not answer"):
        runner.catch_up()
    assert runner.failures == {}  # no projection is marked failed for it
    runner.catch_up()
    assert all(s.state == "live" and s.lag == 0 for s in runner.status())
    live = snapshot_of(system.read_models)
    runner.store = runner.store._store
    runner.rebuild()
    assert snapshot_of(system.read_models) == live  # nothing applied twice, nothing lost
