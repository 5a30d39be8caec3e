"""The queue worker: `agent-learning jobs work` (also run by the weekly CronJob, and inside `serve`
with `AGENT_LEARNING_SERVE_TRAINING=yes`).

A worker holds its own lease (`batch-run:work:<run id>`), renewed while it trains, so a job it
leaves running when it dies is recovered by the next worker or weekly run, and one it leaves
after recording a failure is reported with that failure. It checks its trainer before
anything else, recovers lost jobs, then trains the due pending jobs in queue order (priority,
then age) until none is due, or `max_jobs` were attempted; `follow` keeps it waiting for more.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from eventsourcing.application import AggregateNotFoundError

from adapters.bootstrap import System
from adapters.service.unit_of_work import load_fresh
from domain.batch_run import LeaseLost
from domain.training_job import RUNNING, TrainingJob
from jobs.batch_settings import BatchSettings
from jobs.lease import Lease, owner_alive
from jobs.run import run_clock
from jobs.trainers.port import Trainer
from jobs.training_queue import open_job_ids
from jobs.training_runner import TrainingRunner, summary_lists

WORK = "work"  # the lease's job kind: one BatchRun per worker run, `batch-run:work:<run id>`
FOLLOW_POLL = timedelta(seconds=5)


def run_worker(
    system: System,
    *,
    settings: BatchSettings | None = None,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    progress: Callable[[str], None] = lambda line: None,
    trainer_factory: Callable[[], Trainer] | None = None,
    sleep: Callable[[float], None] | None = None,
    max_jobs: int | None = None,
    follow: threading.Event | None = None,
    run_id: str | None = None,
) -> dict:
    """Drains the queue; returns the summary. `follow`: keep polling for new jobs until the event is set.
    Raises ValueError, before taking anything, when no trainer is configured."""
    settings = settings or BatchSettings.from_config(system.config.home, system.config.batch)
    clock = clock or run_clock(now)
    summary: dict = {**summary_lists(), "attempted": 0}
    run_id = run_id or f"worker-{uuid.uuid4().hex[:12]}"
    # Each worker run is its own period, so workers run side by side, each with its own lease.
    lease = Lease(system.service, WORK, run_id, settings.lease, clock, run_id)
    runner = TrainingRunner(
        system,
        clock=clock,
        settings=settings,
        progress=progress,
        run_id=lease.run_id,
        batch_run=lease.aggregate_id,
        summary=summary,
        heartbeat=lease.renew_if_due,
        trainer_factory=trainer_factory,
        sleep=sleep,
    )
    runner.trainer()  # says what to configure before the worker takes a lease or a job
    if follow is None and not needs_work(system, clock()):
        progress("nothing to do: no due pending job, no lost one")
        return summary  # no lease taken, nothing recorded (the CronJob runs this every 10 minutes)
    lease.acquire()
    progress(f"worker {lease.run_id} started")
    try:
        while True:
            runner.recover(open_job_ids(system))
            left = None if max_jobs is None else max_jobs - summary["attempted"]
            summary["attempted"] += runner.run_due(lambda: open_job_ids(system), limit=left)
            if follow is None or follow.is_set() or (max_jobs is not None and summary["attempted"] >= max_jobs):
                break
            waited = 0.0
            while waited < FOLLOW_POLL.total_seconds() and not follow.is_set():
                lease.renew_if_due()
                follow.wait(runner.poll_seconds())
                waited += runner.poll_seconds()
    except LeaseLost:
        raise
    except BaseException as error:
        lease.fail(f"{type(error).__name__}: {error}")
        raise
    lease.complete(summary)
    system.projections.catch_up()
    return summary


def needs_work(system: System, now: datetime) -> bool:
    """Whether a worker would do something now: a pending job is due, or a running one has lost its
    run (its lease is gone) or its deadline. Cheap reads only, so `serve` can ask every few seconds
    without recording anything."""
    for aggregate_id in open_job_ids(system):
        try:
            job: TrainingJob = load_fresh(system.service, aggregate_id)
        except AggregateNotFoundError:
            continue
        if job.due(now) or job.past_deadline(now):
            return True
        if job.status == RUNNING and not owner_alive(system.service, job.batch_run, job.run_id, now):
            return True
    return False
