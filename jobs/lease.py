"""A run's lease on its period, kept in the `BatchRun` aggregate with optimistic saves.

Every read here loads the aggregate afresh from the store (the application's cache may
hold a copy another process has since moved on), and every change goes through the
service's unit of work, which decides again on the fresh state when a save conflicts,
so two runs can never both hold one period.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from eventsourcing.application import AggregateNotFoundError

from adapters.service.learning_service import LearningService
from adapters.service.unit_of_work import load_fresh
from domain.batch_run import ACQUIRED, TAKEN_OVER, BatchRun, LeaseLost, batch_run_id


class Lease:
    """One run's hold on `<job>:<period>`."""

    def __init__(
        self,
        service: LearningService,
        job: str,
        period: str,
        lease: timedelta,
        clock: Callable[[], datetime],
        run_id: str | None = None,
    ):
        self.service = service
        self.job = job
        self.period = period
        self.duration = lease
        self.clock = clock
        self.run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
        self.aggregate_id = batch_run_id(job, period)
        self.lease_until: datetime | None = None
        self.previous: BatchRun | None = None

    def acquire(self) -> str:
        """ACQUIRED, TAKEN_OVER (a crashed run's expired lease), HELD (a live run has it) or DONE."""
        now = self.clock()

        def change(run: BatchRun) -> str:
            self.previous = run
            return run.acquire(self.run_id, now, self.duration)

        def create() -> BatchRun:
            self.previous = None
            return BatchRun.start(self.job, self.period, self.run_id, now, self.duration)

        outcome = self.service.work.change(self.aggregate_id, change, create)
        outcome = ACQUIRED if isinstance(outcome, BatchRun) else outcome
        if outcome in (ACQUIRED, TAKEN_OVER):
            self.lease_until = now + self.duration
        return outcome

    def renew_if_due(self) -> None:
        """Renews the lease once a third of it is used; raises LeaseLost if another run took it."""
        now = self.clock()
        if self.lease_until is not None and self.lease_until - now > self.duration * 2 / 3:
            return
        self.service.work.change(self.aggregate_id, lambda run: run.renew(self.run_id, now, self.duration))
        self.lease_until = now + self.duration

    def complete(self, summary: dict) -> None:
        now = self.clock()
        self.service.work.change(self.aggregate_id, lambda run: run.complete(self.run_id, now, summary))

    def fail(self, reason: str) -> None:
        now = self.clock()
        self.service.work.change(self.aggregate_id, lambda run: run.fail(self.run_id, now, reason))

    def state(self) -> BatchRun:
        return load_fresh(self.service, self.aggregate_id)


def owner_alive(service: LearningService, batch_run: str | None, run_id: str | None, now: datetime) -> bool:
    """Whether the run `run_id` still holds the lease of `batch_run` at `now`."""
    if batch_run is None or run_id is None:
        return False
    try:
        run: BatchRun = load_fresh(service, batch_run)
    except AggregateNotFoundError:
        return False
    return run.holds(run_id, now)


__all__ = ["Lease", "LeaseLost", "owner_alive"]
