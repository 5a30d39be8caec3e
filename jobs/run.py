"""Entry point of the three batch jobs: the period, the lease, the body, the summary.

A run's clock starts at `--now` (or the wall clock) and moves on with the wall clock, so
leases and deadlines measured on it are real durations even when `--now` is in the past.
The period (day, ISO week, month) comes from the start time. A period already completed is
not run again; a period whose lease a live run holds is left to it; a lease left by a crashed
run is taken over once it expires. `--dry-run` takes no lease and records nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from attrs import frozen

from adapters.bootstrap import System
from adapters.service.clock import utc_now
from domain.batch_run import ACQUIRED, DAILY, DONE, HELD, JOB_KINDS, MONTHLY, WEEKLY, LeaseLost, batch_run_id, period_of
from domain.timestamps import to_iso
from jobs.batch_settings import BatchSettings
from jobs.daily import run_daily
from jobs.lease import Lease
from jobs.weekly import WeeklyRun

COMPLETED, ALREADY_DONE, HELD_ELSEWHERE, FAILED, DRY_RUN = "completed", "already-done", "held", "failed", "dry-run"

Progress = Callable[[str], None]


class MonthlyJobMissing(RuntimeError):
    pass


@frozen
class RunReport:
    job: str
    period: str
    outcome: str
    run_id: str | None
    summary: dict
    message: str = ""


def run_clock(start: datetime | None) -> Callable[[], datetime]:
    """`start` (default: now), moving on with the monotonic clock."""
    origin = start or utc_now()
    ticks = time.monotonic()
    # Whole milliseconds: the first reading is `start` itself, and stored times stay short.
    return lambda: origin + timedelta(milliseconds=int((time.monotonic() - ticks) * 1000))


def run_job(
    system: System,
    job: str,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Progress = lambda line: None,
    settings: BatchSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    trainer_factory=None,
    run_id: str | None = None,
) -> RunReport:
    if job not in JOB_KINDS:
        raise ValueError(f"unknown batch job {job!r}; expected one of: {', '.join(JOB_KINDS)}")
    settings = settings or BatchSettings.from_config(system.config.home, system.config.batch)
    clock = clock or run_clock(now)
    start = clock()
    period = period_of(job, start)

    if dry_run:
        summary = _body(
            system,
            job,
            period,
            start,
            clock,
            settings,
            progress,
            dry_run=True,
            run_id="dry-run",
            heartbeat=lambda: None,
            sleep=sleep,
            trainer_factory=trainer_factory,
        )
        return RunReport(job, period, DRY_RUN, None, summary, "dry run: nothing was recorded")

    lease = Lease(system.service, job, period, settings.lease, clock, run_id)
    outcome = lease.acquire()
    if outcome == DONE:
        state = lease.state()
        return RunReport(
            job,
            period,
            ALREADY_DONE,
            None,
            dict(state.summary or {}),
            f"the {job} job for {period} already completed; nothing to do",
        )
    if outcome == HELD:
        state = lease.state()
        return RunReport(
            job,
            period,
            HELD_ELSEWHERE,
            None,
            {},
            f"run {state.run_id} holds the {job} lease for {period} until "
            f"{to_iso(state.lease_until)}; not starting a second run",
        )
    if outcome != ACQUIRED and lease.previous is not None:
        progress(
            f"took over the {job} run for {period} from {lease.previous.run_id}, "
            f"whose lease expired at {to_iso(lease.previous.lease_until)}"
        )
    try:
        summary = _body(
            system,
            job,
            period,
            start,
            clock,
            settings,
            progress,
            dry_run=False,
            run_id=lease.run_id,
            heartbeat=lease.renew_if_due,
            sleep=sleep,
            trainer_factory=trainer_factory,
        )
    except LeaseLost:
        raise
    except BaseException as error:
        lease.fail(f"{type(error).__name__}: {error}")
        raise
    lease.complete(_storable(summary))
    system.projections.catch_up()
    return RunReport(job, period, COMPLETED, lease.run_id, summary)


def _body(
    system: System,
    job: str,
    period: str,
    start: datetime,
    clock,
    settings: BatchSettings,
    progress: Progress,
    *,
    dry_run: bool,
    run_id: str,
    heartbeat,
    sleep,
    trainer_factory,
) -> dict:
    if job == DAILY:
        return run_daily(system, start, dry_run, progress, settings, heartbeat)
    if job == WEEKLY:
        return WeeklyRun(
            system,
            clock=clock,
            settings=settings,
            progress=progress,
            period=period,
            run_id=run_id,
            batch_run=batch_run_id(job, period),
            heartbeat=heartbeat,
            trainer_factory=trainer_factory,
            sleep=sleep,
            dry_run=dry_run,
        ).run()
    if job == MONTHLY:
        try:  # imported only when run: it needs scikit-learn, and says so when that is missing
            from jobs.monthly import run_monthly
        except ImportError as error:
            raise MonthlyJobMissing(
                f"the monthly job's body (jobs/monthly.py, run_monthly) cannot be imported: {error}; "
                "it comes with the archetype clustering (install scikit-learn if that is what is missing)"
            ) from error
        return run_monthly(system, start, dry_run, progress)
    raise AssertionError(job)


def _storable(summary: dict) -> dict:
    """The summary as plain JSON values, long lists cut to their first 100 (it is stored on the
    BatchRun's Completed event)."""
    plain = json.loads(json.dumps(summary, default=str))
    return {
        k: (v[:100] + [f"… and {len(v) - 100} more"] if isinstance(v, list) and len(v) > 100 else v)
        for k, v in plain.items()
    }
