"""The follower of a long ingest, and catch-up in batches of pages."""

from __future__ import annotations

from adapters.projections_alongside import MAX_WAIT_SECONDS, _follow
from adapters.sqlite_read_models import SQLiteReadModelStore
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import LIVE
from tests.test_projections import COLLECTIONS, snapshot_of, stream


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
