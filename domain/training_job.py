"""A training job: one fine-tune of one scope (an agent, or an archetype) on one dataset.

Statuses, as fine-tuning services name them: `pending` → `running` → `completed`, or
`failed`, or `cancelled`. A failure with retries left is followed by `Retried`, which makes
the job pending again from `next_attempt_at` on (exponential backoff). A job whose attempt
outlives its deadline, or whose run stopped renewing its lease (it crashed), is failed by
the next run and retried the same way, so no job is left `running` for ever.

Jobs are queued by the weekly run for eligible scopes, or on demand (`requested_by` says who,
`forced` whether an administrator overrode eligibility). Workers take pending jobs by
`priority` (higher first), then age (`queue_order`). Cancelling a pending job ends it at once;
cancelling a running one records `CancelRequested`, and the run training it stops the trainer
after its current step and records `Cancelled` (a crashed run's job is cancelled by the next).
While it trains, the run records `Progressed` (training loss every few steps, held-out loss at
the end of each stage).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from attrs import frozen
from eventsourcing.domain import event

from domain.text_id_aggregate import TextIdAggregate

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "pending", "running", "completed", "failed", "cancelled"
STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED)
OPEN_STATUSES = (PENDING, RUNNING)
ON_DEMAND = "on-demand"  # the period of a job queued on request
PRIORITY_BOUNDS = (-1_000, 1_000)


@frozen
class RetryPolicy:
    """How often, and how long after a failure, a job is tried again."""

    max_retries: int = 3
    backoff: timedelta = timedelta(seconds=60)
    max_backoff: timedelta = timedelta(hours=6)

    def delay(self, retries_so_far: int) -> timedelta:
        """The wait before retry number `retries_so_far + 1`: backoff, 2×, 4×, … capped."""
        return min(self.backoff * (2**retries_so_far), self.max_backoff)


def training_job_aggregate_id(job_id: str) -> str:
    return f"training-job:{job_id}"


def job_id_of(aggregate_id: str) -> str:
    """The job id inside a `training_job_aggregate_id`."""
    return aggregate_id.split(":", 1)[1]


def _topic(name: str) -> str:
    return f"agent_learning:TrainingJob.{name}"


class JobNotRunnable(ValueError):
    pass


class JobNotCancellable(ValueError):
    """Cancelling a job that has already ended; the message says how it ended."""


def check_priority(priority: object) -> int:
    low, high = PRIORITY_BOUNDS
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise ValueError(f"priority must be a whole number from {low} to {high} (higher runs first), got {priority!r}")
    return priority


def queue_order(job: TrainingJob) -> tuple:
    """The order workers take pending jobs in: higher priority first, then the oldest, then by id."""
    return (-job.priority, job.created_at, job.job_id)


class TrainingJob(TextIdAggregate):
    TOPIC = "agent_learning:TrainingJob"

    class Created(TextIdAggregate.Created):
        TOPIC = _topic("Created")

    class Queued(TextIdAggregate.Created):
        """v2 added `priority`, `reason`, `requested_by` (None: the weekly run), `forced` and `hyperparameters`."""

        TOPIC = _topic("Queued")
        class_version = 2
        job_id: str
        agent_id: str | None
        archetype: str | None
        dataset_id: str
        period: str
        occurred_at: datetime
        priority: int
        reason: str | None
        requested_by: str | None
        forced: bool
        hyperparameters: dict

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(priority=0, reason=None, requested_by=None, forced=False, hyperparameters={})

    class Started(TextIdAggregate.Event):
        """v2 added `parent_model_id` (the adapter a warm start begins from) and why (`start_note`)."""

        TOPIC = _topic("Started")
        class_version = 2
        attempt: int
        run_id: str
        batch_run: str
        deadline: datetime
        output_dir: str
        occurred_at: datetime
        parent_model_id: str | None
        start_note: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(parent_model_id=None, start_note=None)

    class Progressed(TextIdAggregate.Event):
        """A training report: `train_loss` at a step, `heldout_loss` at the end of a stage."""

        TOPIC = _topic("Progressed")
        attempt: int
        stage: str  # sft | dpo | kto
        step: int
        max_steps: int
        train_loss: float | None
        heldout_loss: float | None
        occurred_at: datetime

    class CancelRequested(TextIdAggregate.Event):
        TOPIC = _topic("CancelRequested")
        by: str
        reason: str
        occurred_at: datetime

    class Cancelled(TextIdAggregate.Event):
        TOPIC = _topic("Cancelled")
        by: str
        reason: str
        attempt: int
        occurred_at: datetime

    class Succeeded(TextIdAggregate.Event):
        TOPIC = _topic("Succeeded")
        model_output_id: str
        adapter_dir: str
        base_model: str
        metrics: dict
        occurred_at: datetime

    class Failed(TextIdAggregate.Event):
        TOPIC = _topic("Failed")
        attempt: int
        reason: str
        final: bool
        occurred_at: datetime

    class Retried(TextIdAggregate.Event):
        TOPIC = _topic("Retried")
        retries: int
        next_attempt_at: datetime
        occurred_at: datetime

    @staticmethod
    def create_id(job_id: str, **_: Any) -> str:
        return training_job_aggregate_id(job_id)

    @classmethod
    def queue(
        cls,
        job_id: str,
        *,
        agent_id: str | None,
        archetype: str | None,
        dataset_id: str,
        period: str,
        now: datetime,
        hyperparameters: dict | None = None,  # None or {}: the worker's defaults when it runs
        priority: int = 0,
        reason: str | None = None,
        requested_by: str | None = None,
        forced: bool = False,
    ) -> TrainingJob:
        if (agent_id is None) == (archetype is None):
            raise ValueError("a training job is for one agent or one archetype: give exactly one")
        return cls(
            job_id=job_id,
            agent_id=agent_id,
            archetype=archetype,
            dataset_id=dataset_id,
            period=period,
            occurred_at=now,
            priority=check_priority(priority),
            reason=reason,
            requested_by=requested_by,
            forced=forced,
            hyperparameters=dict(hyperparameters or {}),
        )

    @event(Queued)
    def __init__(
        self,
        job_id: str,
        agent_id: str | None,
        archetype: str | None,
        dataset_id: str,
        period: str,
        occurred_at: datetime,
        priority: int,
        reason: str | None,
        requested_by: str | None,
        forced: bool,
        hyperparameters: dict,
    ) -> None:
        self.job_id = job_id
        self.agent_id = agent_id
        self.archetype = archetype
        self.dataset_id = dataset_id
        self.period = period
        self.priority = priority
        self.reason = reason
        self.requested_by = requested_by
        self.forced = forced
        self.hyperparameters = dict(hyperparameters)
        self.cancel_requested: tuple[str, str] | None = None  # (by, reason)
        self.parent_model_id: str | None = None
        self.status = PENDING
        self.created_at = occurred_at
        self.next_attempt_at = occurred_at
        self.attempts = 0
        self.retries = 0
        self.run_id: str | None = None
        self.batch_run: str | None = None
        self.deadline: datetime | None = None
        self.output_dir: str | None = None
        self.model_output_id: str | None = None
        self.last_error: str | None = None

    # ---------------------------------------------------------------- decisions

    def due(self, now: datetime) -> bool:
        return self.status == PENDING and self.next_attempt_at <= now

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def start(
        self,
        *,
        run_id: str,
        batch_run: str,
        now: datetime,
        deadline: timedelta,
        output_dir: str,
        parent_model_id: str | None = None,
        start_note: str | None = None,
    ) -> None:
        if not self.due(now):
            raise JobNotRunnable(
                f"job {self.job_id} is {self.status} (next attempt at "
                f"{self.next_attempt_at.isoformat()}), not due at {now.isoformat()}"
            )
        self._started(
            attempt=self.attempts + 1,
            run_id=run_id,
            batch_run=batch_run,
            deadline=now + deadline,
            output_dir=output_dir,
            occurred_at=now,
            parent_model_id=parent_model_id,
            start_note=start_note,
        )

    def report(
        self,
        *,
        stage: str,
        step: int,
        max_steps: int,
        train_loss: float | None,
        heldout_loss: float | None,
        now: datetime,
    ) -> None:
        self._require_running("report progress of")
        self._progressed(
            attempt=self.attempts,
            stage=stage,
            step=step,
            max_steps=max_steps,
            train_loss=train_loss,
            heldout_loss=heldout_loss,
            occurred_at=now,
        )

    def cancel(self, *, by: str, reason: str, now: datetime) -> str:
        """A pending job ends `cancelled` at once (returns CANCELLED); a running one is asked to stop
        (returns RUNNING: its run records `Cancelled` once the trainer has stopped). Asking again
        changes nothing; an ended job cannot be cancelled."""
        if not reason or not reason.strip():
            raise ValueError("cancelling a job records why: give a non-empty reason")
        if self.status == CANCELLED or (self.status == RUNNING and self.cancel_requested is not None):
            return self.status
        if self.status == PENDING:
            self._cancelled(by=by, reason=reason, attempt=self.attempts, occurred_at=now)
            return CANCELLED
        if self.status == RUNNING:
            self._cancel_requested(by=by, reason=reason, occurred_at=now)
            return RUNNING
        raise JobNotCancellable(
            f"job {self.job_id} is {self.status} already"
            + (f" (model {self.model_output_id})" if self.model_output_id else "")
            + "; only pending or running jobs can be cancelled"
        )

    def stopped_on_request(self, now: datetime) -> None:
        """The run stopped the trainer as asked: the job ends `cancelled`."""
        self._require_running("finish the cancel of")
        if self.cancel_requested is None:
            raise JobNotRunnable(f"job {self.job_id} was not asked to stop")
        by, reason = self.cancel_requested
        self._cancelled(by=by, reason=reason, attempt=self.attempts, occurred_at=now)

    def succeed(self, *, model_output_id: str, adapter_dir: str, base_model: str, metrics: dict, now: datetime) -> None:
        self._require_running("succeed")
        self._succeeded(
            model_output_id=model_output_id,
            adapter_dir=adapter_dir,
            base_model=base_model,
            metrics=dict(metrics),
            occurred_at=now,
        )

    def fail(self, reason: str, now: datetime, policy: RetryPolicy, *, backoff: bool = True) -> None:
        """Records the failed attempt, then a retry if any are left (after the backoff, or at once
        when `backoff` is false: the run was lost, not the training)."""
        self._require_running("fail")
        final = self.retries >= policy.max_retries or self.cancel_requested is not None  # asked to stop: no retry
        self._failed(attempt=self.attempts, reason=reason, final=final, occurred_at=now)
        if not final:
            wait = policy.delay(self.retries) if backoff else timedelta(0)
            self._retried(retries=self.retries + 1, next_attempt_at=now + wait, occurred_at=now)

    def past_deadline(self, now: datetime) -> bool:
        return self.status == RUNNING and self.deadline is not None and now >= self.deadline

    def _require_running(self, what: str) -> None:
        if self.status != RUNNING:
            raise JobNotRunnable(f"cannot {what} job {self.job_id}: it is {self.status}, not running")

    # ------------------------------------------------------- state transitions

    @event(Started)
    def _started(
        self,
        attempt: int,
        run_id: str,
        batch_run: str,
        deadline: datetime,
        output_dir: str,
        occurred_at: datetime,
        parent_model_id: str | None,
        start_note: str | None,
    ) -> None:
        self.status = RUNNING
        self.attempts = attempt
        self.run_id = run_id
        self.batch_run = batch_run
        self.deadline = deadline
        self.output_dir = output_dir
        self.parent_model_id = parent_model_id

    @event(Progressed)
    def _progressed(
        self,
        attempt: int,
        stage: str,
        step: int,
        max_steps: int,
        train_loss: float | None,
        heldout_loss: float | None,
        occurred_at: datetime,
    ) -> None:
        pass

    @event(CancelRequested)
    def _cancel_requested(self, by: str, reason: str, occurred_at: datetime) -> None:
        self.cancel_requested = (by, reason)

    @event(Cancelled)
    def _cancelled(self, by: str, reason: str, attempt: int, occurred_at: datetime) -> None:
        self.status = CANCELLED
        self.cancel_requested = (by, reason)

    @event(Succeeded)
    def _succeeded(
        self, model_output_id: str, adapter_dir: str, base_model: str, metrics: dict, occurred_at: datetime
    ) -> None:
        self.status = COMPLETED
        self.model_output_id = model_output_id

    @event(Failed)
    def _failed(self, attempt: int, reason: str, final: bool, occurred_at: datetime) -> None:
        self.status = FAILED
        self.last_error = reason

    @event(Retried)
    def _retried(self, retries: int, next_attempt_at: datetime, occurred_at: datetime) -> None:
        self.status = PENDING
        self.retries = retries
        self.next_attempt_at = next_attempt_at
