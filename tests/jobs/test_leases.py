"""Leases on a job's period: one run at a time, expiry after a crash, optimistic saves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.persistence import IntegrityError

from adapters.bootstrap import Config, bootstrap
from domain.batch_run import ACQUIRED, DONE, HELD, TAKEN_OVER, BatchRun, LeaseLost, period_of
from jobs.lease import Lease
from jobs.run import run_job
from tests.jobs.batch_fixtures import NOW, MovableClock, settings

LEASE = timedelta(minutes=10)


def lease(system, clock, run_id):
    return Lease(system.service, "daily", "2026-11-24", LEASE, clock, run_id=run_id)


def test_periods_are_a_day_an_iso_week_and_a_month():
    assert [period_of(job, NOW) for job in ("daily", "weekly", "monthly")] == ["2026-11-24", "2026-W48", "2026-11"]


def test_a_held_lease_blocks_a_second_run_until_it_expires(system):
    clock = MovableClock()
    first, second = lease(system, clock, "run-1"), lease(system, clock, "run-2")
    assert first.acquire() == ACQUIRED
    clock.advance(minutes=9, seconds=59)
    assert second.acquire() == HELD
    clock.advance(seconds=1)  # run-1 stopped renewing (it crashed): the lease expired
    assert second.acquire() == TAKEN_OVER
    with pytest.raises(LeaseLost):
        first.renew_if_due()
    second.complete({"ok": True})
    assert lease(system, clock, "run-3").acquire() == DONE


def test_a_run_that_failed_releases_its_lease_at_once(system):
    clock = MovableClock()
    first = lease(system, clock, "run-1")
    first.acquire()
    first.fail("boom")
    assert lease(system, clock, "run-2").acquire() == TAKEN_OVER


def test_two_processes_taking_an_expired_lease_cannot_both_win(tmp_path):
    """Each process loads the same version and takes the lease; the second save conflicts."""
    home = tmp_path / "home"
    one, two = bootstrap(Config(home=home)), bootstrap(Config(home=home))
    try:
        clock = MovableClock()
        assert lease(one, clock, "run-0").acquire() == ACQUIRED
        clock.advance(minutes=11)
        copy_one = one.service.repository.get("batch-run:daily:2026-11-24")
        copy_two = two.service.repository.get("batch-run:daily:2026-11-24")
        assert copy_one.acquire("run-1", clock(), LEASE) == TAKEN_OVER
        assert copy_two.acquire("run-2", clock(), LEASE) == TAKEN_OVER
        one.service.save(copy_one)
        with pytest.raises(IntegrityError):
            two.service.save(copy_two)
        # through the Lease, the loser reloads and sees the winner
        assert lease(two, clock, "run-2").acquire() == HELD
        winner: BatchRun = two.service.repository.get("batch-run:daily:2026-11-24")
        assert winner.run_id == "run-1"
    finally:
        one.close()
        two.close()


def test_a_run_while_another_holds_the_lease_does_nothing(system, home):
    clock = MovableClock()
    assert lease(system, clock, "run-elsewhere").acquire() == ACQUIRED
    head = system.service.recorder.max_notification_id()
    report = run_job(system, "daily", clock=clock, settings=settings(home))
    assert report.outcome == "held" and "run-elsewhere" in report.message
    assert system.service.recorder.max_notification_id() == head
