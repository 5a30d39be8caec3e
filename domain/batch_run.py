"""One batch job's run for one period (`daily:2026-11-24`): its lease, and whether it is done.

A run takes the lease before it works and renews it while it works; a second run
for the same period finds the lease held and stops, or finds the period done and
stops. A lease left by a run that crashed expires, and the next run takes it over.
Saves are optimistic (the aggregate's version), so two runs racing for a lease
cannot both win: the loser's save conflicts, it reloads and sees the winner.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from eventsourcing.domain import event

from domain.text_id_aggregate import TextIdAggregate

DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
JOB_KINDS = (DAILY, WEEKLY, MONTHLY)

ACQUIRED, TAKEN_OVER, HELD, DONE = "acquired", "taken-over", "held", "done"
RUNNING, COMPLETED, FAILED = "running", "completed", "failed"


def period_of(job: str, now: datetime) -> str:
    """The period a run at `now` (UTC) belongs to: a day, an ISO week or a month."""
    day: date = now.astimezone(timezone.utc).date()
    if job == DAILY:
        return day.isoformat()
    if job == WEEKLY:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if job == MONTHLY:
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"unknown batch job {job!r}; expected one of: {', '.join(JOB_KINDS)}")


def batch_run_id(job: str, period: str) -> str:
    return f"batch-run:{job}:{period}"


def _topic(name: str) -> str:
    return f"agent_learning:BatchRun.{name}"


class LeaseLost(RuntimeError):
    """This run's lease was taken over (it was not renewed in time): the run must stop."""


class BatchRun(TextIdAggregate):
    TOPIC = "agent_learning:BatchRun"

    class Created(TextIdAggregate.Created):
        TOPIC = _topic("Created")

    class Started(TextIdAggregate.Created):
        TOPIC = _topic("Started")
        job: str
        period: str
        run_id: str
        lease_until: datetime
        occurred_at: datetime

    class LeaseTakenOver(TextIdAggregate.Event):
        """A later run took the lease of a run that stopped renewing it (crashed, or failed)."""

        TOPIC = _topic("LeaseTakenOver")
        run_id: str
        previous_run_id: str
        lease_until: datetime
        occurred_at: datetime

    class LeaseRenewed(TextIdAggregate.Event):
        TOPIC = _topic("LeaseRenewed")
        run_id: str
        lease_until: datetime
        occurred_at: datetime

    class Completed(TextIdAggregate.Event):
        TOPIC = _topic("Completed")
        run_id: str
        summary: dict
        occurred_at: datetime

    class Failed(TextIdAggregate.Event):
        """The run stopped on an error; the lease is released so the next run tries again."""

        TOPIC = _topic("Failed")
        run_id: str
        reason: str
        occurred_at: datetime

    @staticmethod
    def create_id(job: str, period: str, **_: Any) -> str:
        return batch_run_id(job, period)

    @classmethod
    def start(cls, job: str, period: str, run_id: str, now: datetime, lease: timedelta) -> BatchRun:
        return cls(job=job, period=period, run_id=run_id, lease_until=now + lease, occurred_at=now)

    @event(Started)
    def __init__(self, job: str, period: str, run_id: str, lease_until: datetime, occurred_at: datetime) -> None:
        self.job = job
        self.period = period
        self.run_id = run_id
        self.lease_until = lease_until
        self.status = RUNNING
        self.started_at = occurred_at
        self.attempts = 1
        self.summary: dict | None = None
        self.last_error: str | None = None

    # ---------------------------------------------------------------- decisions

    def holds(self, run_id: str, now: datetime) -> bool:
        return self.status == RUNNING and self.run_id == run_id and now < self.lease_until

    def acquire(self, run_id: str, now: datetime, lease: timedelta) -> str:
        """Takes the lease for `run_id` if the period is not done and no live run holds it."""
        if self.status == COMPLETED:
            return DONE
        if self.status == RUNNING and now < self.lease_until:
            return HELD
        self._taken_over(run_id=run_id, previous_run_id=self.run_id, lease_until=now + lease, occurred_at=now)
        return TAKEN_OVER

    def renew(self, run_id: str, now: datetime, lease: timedelta) -> None:
        self._check_holder(run_id, now)
        self._renewed(run_id=run_id, lease_until=now + lease, occurred_at=now)

    def complete(self, run_id: str, now: datetime, summary: dict) -> None:
        self._check_holder(run_id, now)
        self._completed(run_id=run_id, summary=dict(summary), occurred_at=now)

    def fail(self, run_id: str, now: datetime, reason: str) -> None:
        if self.status == RUNNING and self.run_id == run_id:
            self._failed(run_id=run_id, reason=reason, occurred_at=now)

    def _check_holder(self, run_id: str, now: datetime) -> None:
        # A lease that expired but that no other run took over is still this run's: a takeover
        # would have been recorded (and this save is optimistic), so renewing late is safe.
        if self.status != RUNNING or self.run_id != run_id:
            raise LeaseLost(
                f"run {run_id} no longer holds the lease of {self.id} "
                f"(it is {self.status}, held by {self.run_id}); stopping"
            )

    # ------------------------------------------------------- state transitions

    @event(LeaseTakenOver)
    def _taken_over(self, run_id: str, previous_run_id: str, lease_until: datetime, occurred_at: datetime) -> None:
        self.run_id = run_id
        self.lease_until = lease_until
        self.status = RUNNING
        self.attempts += 1

    @event(LeaseRenewed)
    def _renewed(self, run_id: str, lease_until: datetime, occurred_at: datetime) -> None:
        self.lease_until = lease_until

    @event(Completed)
    def _completed(self, run_id: str, summary: dict, occurred_at: datetime) -> None:
        self.status = COMPLETED
        self.summary = dict(summary)
        self.lease_until = occurred_at

    @event(Failed)
    def _failed(self, run_id: str, reason: str, occurred_at: datetime) -> None:
        self.status = FAILED
        self.last_error = reason
        self.lease_until = occurred_at
