"""The batch loop's settings (documented in docs/batch.md).

Every number has a default that suits a CronJob; tests and operators override them
with `AGENT_LEARNING_JOBS_*` variables, which `adapters/config.py` parses (a value that
does not parse names the variable).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from attrs import field, frozen

from adapters.config import BatchOverrides
from domain.eligibility import DEFAULT_RULES, EligibilityRules
from domain.training_hyperparameters import Hyperparameters
from domain.training_job import RetryPolicy
from jobs.trainers.port import DEFAULT_BASE_MODEL

LEASE = timedelta(minutes=10)
JOB_DEADLINE = timedelta(hours=2)
MAX_WAIT = timedelta(minutes=30)
MAX_STEPS = 20


@frozen
class BatchSettings:
    datasets_dir: Path
    models_dir: Path
    lease: timedelta = LEASE
    job_deadline: timedelta = JOB_DEADLINE
    retry: RetryPolicy = field(factory=RetryPolicy)
    # How long one run waits for a retry that falls due; later retries are left to the next run.
    max_wait: timedelta = MAX_WAIT
    rules: EligibilityRules = DEFAULT_RULES
    base_model: str = DEFAULT_BASE_MODEL
    max_steps: int = MAX_STEPS

    @property
    def default_hyperparameters(self) -> Hyperparameters:
        """What a job that asks for nothing is trained with (today's: 20 steps, 2e-4, rank 8)."""
        return Hyperparameters(steps=self.max_steps)

    @classmethod
    def from_config(cls, home: Path, given: BatchOverrides) -> BatchSettings:
        """The settings in force: what the configuration gives (`AGENT_LEARNING_JOBS_*` and the rest), else the defaults."""

        def duration(seconds: float | None, default: timedelta) -> timedelta:
            return default if seconds is None else timedelta(seconds=seconds)

        default_retry = RetryPolicy()
        return cls(
            datasets_dir=given.datasets_dir or home / "datasets",
            models_dir=given.models_dir or home / "models",
            lease=duration(given.lease_seconds, LEASE),
            job_deadline=duration(given.deadline_seconds, JOB_DEADLINE),
            retry=RetryPolicy(
                max_retries=given.max_retries if given.max_retries is not None else default_retry.max_retries,
                backoff=duration(given.retry_backoff_seconds, default_retry.backoff),
                max_backoff=default_retry.max_backoff,
            ),
            max_wait=duration(given.max_wait_seconds, MAX_WAIT),
            base_model=given.base_model or DEFAULT_BASE_MODEL,
            max_steps=given.max_steps if given.max_steps is not None else MAX_STEPS,
        )
