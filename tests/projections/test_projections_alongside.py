"""The follower of a long ingest, and catch-up in batches of pages."""

from __future__ import annotations

from adapters.readmodels.sqlite import SQLiteReadModelStore
from adapters.worker.projections_alongside import MAX_WAIT_SECONDS, _follow
from projections.agent_learning_state import STATE
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import LIVE
from tests.projections.test_projections import COLLECTIONS, snapshot_of, stream


class StopAfter:
    """A stop signal that is set after `checks` looks at it; waiting takes no time."""

    def __init__(self, checks: int):
        self.checks = checks

    def is_set(self) -> bool:
        self.checks -= 1
        return self.checks < 0

    def wait(self, seconds: float) -> bool:
        return False


def test_a_follower_on_a_new_home_starts_the_read_models_and_catches_them_up(system):
    system.service.process(stream(30))
    assert system.read_models.checkpoints() == []  # nothing has prepared them yet
    head = system.service.recorder.max_notification_id()

    # Fewer notifications than a run waits for: it applies them once it has waited long enough.
    _follow(system.config, StopAfter(checks=int(MAX_WAIT_SECONDS / 0.1) + 3))

    checkpoints = system.read_models.checkpoints()
    assert {c.projection for c in checkpoints} == set(system.projections.projections)
    assert all(c.state == LIVE and c.position == head for c in checkpoints)
    assert all(snapshot_of(system.read_models)[c] for c in COLLECTIONS)


def test_small_pages_and_batches_give_the_same_documents_as_one_batch(system, tmp_path):
    system.service.process(stream(40, agents=4))
    system.projections.catch_up()
    small = SQLiteReadModelStore(str(tmp_path / "small.db"))
    try:
        runner = CatchUpRunner(system.service.recorder, system.service.mapper, small, page_size=3, batch_size=7)
        runner.prepare()
        reads = []
        while read := runner.run_once():
            reads.append(read)
        assert reads[0] == 7 and sum(reads) == system.service.recorder.max_notification_id()
        assert snapshot_of(small) == snapshot_of(system.read_models)
    finally:
        small.close()


def test_documents_kept_between_batches_are_dropped_once_another_runner_moved_on(system, tmp_path):
    reference = SQLiteReadModelStore(str(tmp_path / "reference.db"))
    try:
        keeping = CatchUpRunner(system.service.recorder, system.service.mapper, system.read_models)
        keeping.keep_documents = 1_000
        other = CatchUpRunner(system.service.recorder, system.service.mapper, system.read_models)
        events = stream(60, agents=3)
        system.service.process(events[:20])
        keeping.catch_up()  # keeps the state and relationship documents it read
        system.service.process(events[20:40])
        other.catch_up()  # moves every checkpoint past what `keeping` kept
        system.service.process(events[40:])
        keeping.catch_up()  # must read the documents again, not use its stale copies

        CatchUpRunner(system.service.recorder, system.service.mapper, reference).catch_up()
        assert snapshot_of(system.read_models) == snapshot_of(reference)
        assert system.read_models.get(STATE, "a-0")["feedbackCount"] == 20
    finally:
        reference.close()


def test_documents_kept_between_batches_give_the_same_read_models(system, tmp_path):
    reference = SQLiteReadModelStore(str(tmp_path / "reference.db"))
    try:
        keeping = CatchUpRunner(system.service.recorder, system.service.mapper, system.read_models)
        keeping.keep_documents = 1_000
        events = stream(60, agents=3)
        for start in range(0, 60, 7):
            system.service.process(events[start : start + 7])
            keeping.catch_up()
        assert keeping._kept  # it did keep some

        CatchUpRunner(system.service.recorder, system.service.mapper, reference).catch_up()
        assert snapshot_of(system.read_models) == snapshot_of(reference)
    finally:
        reference.close()
