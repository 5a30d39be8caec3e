"""A run's lease on its period, kept in the `BatchRun` aggregate with optimistic saves.

Every read here loads the aggregate afresh from the store (the application's cache may
hold a copy another process has since moved on), and every save that conflicts is
decided again on the fresh state, so two runs can never both hold one period.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Callable

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from adapters.learning_service import LearningService
from domain.batch_run import ACQUIRED, TAKEN_OVER, BatchRun, LeaseLost, batch_run_id

MAX_CONFLICTS = 10


def load_fresh(service: LearningService, aggregate_id: str) -> Any:
    """The aggregate as stored now (never a cached copy); raises AggregateNotFoundError."""
    forget(service, aggregate_id)
    return service.repository.get(aggregate_id)


def forget(service: LearningService, aggregate_id: str) -> None:
    try:
        service.repository.cache.get(aggregate_id, evict=True)
    except (KeyError, AttributeError):
        pass


def save_fresh(service: LearningService, aggregate_id: str, change: Callable[[Any], Any],
               create: Callable[[], Any] | None = None) -> Any:
    """Loads the aggregate afresh, applies `change` (or `create` when there is none), saves;
    on a conflicting concurrent save, does it all again. Returns what `change`/`create` returned."""
    for _ in range(MAX_CONFLICTS):
        try:
            aggregate = load_fresh(service, aggregate_id)
            result = change(aggregate)
        except AggregateNotFoundError:
            if create is None:
                raise
            aggregate = create()
            result = aggregate
        try:
            service.save(aggregate)
            return result
        except IntegrityError:
            forget(service, aggregate_id)
    raise RuntimeError(f"{aggregate_id}: more than {MAX_CONFLICTS} conflicting saves in a row; try again")


class Lease:
    """One run's hold on `<job>:<period>`."""

    def __init__(self, service: LearningService, job: str, period: str, lease: timedelta,
                 clock: Callable[[], datetime], run_id: str | None = None):
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

        outcome = save_fresh(self.service, self.aggregate_id, change, create)
        outcome = ACQUIRED if isinstance(outcome, BatchRun) else outcome
        if outcome in (ACQUIRED, TAKEN_OVER):
            self.lease_until = now + self.duration
        return outcome

    def renew_if_due(self) -> None:
        """Renews the lease once a third of it is used; raises LeaseLost if another run took it."""
        now = self.clock()
        if self.lease_until is not None and self.lease_until - now > self.duration * 2 / 3:
            return
        save_fresh(self.service, self.aggregate_id, lambda run: run.renew(self.run_id, now, self.duration))
        self.lease_until = now + self.duration

    def complete(self, summary: dict) -> None:
        now = self.clock()
        save_fresh(self.service, self.aggregate_id, lambda run: run.complete(self.run_id, now, summary))

    def fail(self, reason: str) -> None:
        now = self.clock()
        save_fresh(self.service, self.aggregate_id, lambda run: run.fail(self.run_id, now, reason))

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


__all__ = ["Lease", "LeaseLost", "load_fresh", "owner_alive", "save_fresh"]
