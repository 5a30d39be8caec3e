"""The batch loop's settings, from the environment (documented in docs/batch.md).

Every number has a default that suits a CronJob; tests and operators override them
with `AGENT_LEARNING_JOBS_*` variables. A value that does not parse names the variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from attrs import field, frozen

from domain.eligibility import DEFAULT_RULES, EligibilityRules
from domain.training_job import RetryPolicy
from jobs.trainer import DEFAULT_BASE_MODEL


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

    @classmethod
    def from_env(cls, home: Path, env: Mapping[str, str] | None = None) -> "BatchSettings":
        env = os.environ if env is None else env

        def seconds(name: str, default: timedelta) -> timedelta:
            text = env.get(name)
            if text is None or not text.strip():
                return default
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a number of seconds; e.g. {name}=600") from None
            if value < 0:
                raise ValueError(f"{name}={text!r} must not be negative")
            return timedelta(seconds=value)

        def integer(name: str, default: int) -> int:
            text = env.get(name)
            if text is None or not text.strip():
                return default
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a whole number; e.g. {name}={default}") from None
            if value < 0:
                raise ValueError(f"{name}={text!r} must not be negative")
            return value

        default_retry = RetryPolicy()
        return cls(
            datasets_dir=Path(env.get("AGENT_LEARNING_DATASETS_DIR") or home / "datasets"),
            models_dir=Path(env.get("AGENT_LEARNING_MODELS_DIR") or home / "models"),
            lease=seconds("AGENT_LEARNING_JOBS_LEASE_SECONDS", LEASE),
            job_deadline=seconds("AGENT_LEARNING_JOBS_DEADLINE_SECONDS", JOB_DEADLINE),
            retry=RetryPolicy(
                max_retries=integer("AGENT_LEARNING_JOBS_MAX_RETRIES", default_retry.max_retries),
                backoff=seconds("AGENT_LEARNING_JOBS_RETRY_BACKOFF_SECONDS", default_retry.backoff),
                max_backoff=default_retry.max_backoff,
            ),
            max_wait=seconds("AGENT_LEARNING_JOBS_MAX_WAIT_SECONDS", MAX_WAIT),
            base_model=env.get("AGENT_LEARNING_BASE_MODEL") or DEFAULT_BASE_MODEL,
            max_steps=integer("AGENT_LEARNING_TRAIN_MAX_STEPS", MAX_STEPS),
        )
