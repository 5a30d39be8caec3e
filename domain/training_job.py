"""A training job: one fine-tune of one scope (an agent, or an archetype) on one dataset.

queued → started → succeeded, or → failed; a failure with retries left is followed by
`Retried`, which makes the job pending again from `next_attempt_at` on (exponential
backoff). A job whose attempt outlives its deadline, or whose run stopped renewing its
lease (it crashed), is failed by the next run and retried the same way, so no job is
left `running` for ever.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from attrs import frozen
from eventsourcing.domain import event

from domain.text_id_aggregate import TextIdAggregate

PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"


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


class TrainingJob(TextIdAggregate):
    TOPIC = "agent_learning:TrainingJob"

    class Created(TextIdAggregate.Created):
        TOPIC = _topic("Created")

    class Queued(TextIdAggregate.Created):
        TOPIC = _topic("Queued")
        job_id: str
        agent_id: str | None
        archetype: str | None
        dataset_id: str
        period: str
        occurred_at: datetime

    class Started(TextIdAggregate.Event):
        TOPIC = _topic("Started")
        attempt: int
        run_id: str
        batch_run: str
        deadline: datetime
        output_dir: str
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
        cls, job_id: str, *, agent_id: str | None, archetype: str | None, dataset_id: str, period: str, now: datetime
    ) -> TrainingJob:
        if (agent_id is None) == (archetype is None):
            raise ValueError("a training job is for one agent or one archetype: give exactly one")
        return cls(
            job_id=job_id, agent_id=agent_id, archetype=archetype, dataset_id=dataset_id, period=period, occurred_at=now
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
    ) -> None:
        self.job_id = job_id
        self.agent_id = agent_id
        self.archetype = archetype
        self.dataset_id = dataset_id
        self.period = period
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

    def start(self, *, run_id: str, batch_run: str, now: datetime, deadline: timedelta, output_dir: str) -> None:
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
        )

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
        final = self.retries >= policy.max_retries
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
        self, attempt: int, run_id: str, batch_run: str, deadline: datetime, output_dir: str, occurred_at: datetime
    ) -> None:
        self.status = RUNNING
        self.attempts = attempt
        self.run_id = run_id
        self.batch_run = batch_run
        self.deadline = deadline
        self.output_dir = output_dir

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
