"""The weekly job: check the trainer, recover lost jobs, queue a job per eligible scope, run the queue.

0. Check: the trainer the run would use is resolved first, so a run with none configured
   says so before it queues anything (a dry run lists it under `warnings`).
1. Recover: jobs left `running` by a run that crashed, failed or overran its deadline are
   failed and retried, or cancelled when they were asked to stop (`jobs/training_runner.py`).
2. Queue: every scope (agent, or archetype with two agents or more) that is eligible
   (`domain/eligibility.py`) and has no open job gets its dataset (made if missing) and a
   job whose id comes from the period and the scope, so a rerun queues nothing twice.
3. Run: every due pending job, the weekly ones and those queued on demand, in queue order
   (priority, then age), as the queue worker runs them (`TrainingRunner.run_due`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from adapters.bootstrap import System
from domain.eligibility import activity, eligibility
from domain.training_examples import Scope, abuse_flags
from domain.training_job import TrainingJob
from jobs.batch_settings import BatchSettings
from jobs.datasets import ensure_dataset, plan, scoped_feedback
from jobs.feedback_log import LogView, read_log
from jobs.trainers.port import Trainer
from jobs.training_queue import open_job_ids
from jobs.training_runner import TrainingRunner, summary_lists

Progress = Callable[[str], None]
Clock = Callable[[], datetime]


def job_id_for(period: str, scope: Scope) -> str:
    return f"tj-{period}-{hashlib.sha256(scope.key.encode()).hexdigest()[:10]}"


class WeeklyRun:
    def __init__(
        self,
        system: System,
        *,
        clock: Clock,
        settings: BatchSettings,
        progress: Progress,
        period: str,
        run_id: str,
        batch_run: str,
        heartbeat: Callable[[], None] = lambda: None,
        trainer_factory: Callable[[], Trainer] | None = None,
        sleep: Callable[[float], None] | None = None,
        dry_run: bool = False,
    ):
        self.system = system
        self.service = system.service
        self.clock = clock
        self.settings = settings
        self.progress = progress
        self.period = period
        self.run_id = run_id
        self.batch_run = batch_run
        self.heartbeat = heartbeat
        self.dry_run = dry_run
        self.summary: dict = {
            "eligible": [],
            "notEligible": [],
            "queued": [],
            "newDatasets": [],
            **summary_lists(),
            "warnings": [],
            "dryRun": dry_run,
        }
        self.runner = TrainingRunner(
            system,
            clock=clock,
            settings=settings,
            progress=progress,
            run_id=run_id,
            batch_run=batch_run,
            summary=self.summary,
            heartbeat=heartbeat,
            trainer_factory=trainer_factory,
            sleep=sleep,
        )

    # ------------------------------------------------------------------- run

    def run(self) -> dict:
        """Raises ValueError (before anything is queued) when no trainer is configured."""
        now = self.clock()
        try:
            self.runner.trainer()
        except ValueError as error:
            if not self.dry_run:
                raise ValueError(f"nothing was queued: {error}") from None
            self.summary["warnings"].append(f"a real run would stop before queuing anything: {error}")
        view = read_log(self.service, now, self.progress)
        if not self.dry_run:
            self.runner.recover(list(view.open_jobs))
            view.open_jobs = {a: None for a in open_job_ids(self.system)}  # the recovery may have closed some
        self.queue_eligible(view, now)
        if not self.dry_run:
            self.runner.run_due(lambda: open_job_ids(self.system))
        return self.summary

    # ----------------------------------------------------------------- queue

    def queue_eligible(self, view: LogView, now: datetime) -> None:
        rules = self.settings.rules
        flags = abuse_flags(view.feedback)
        open_scopes = {view.job_scopes.get(j) for j in view.open_jobs}
        for scope, items in scoped_feedback(view, now, rules).items():
            self.heartbeat()
            counts = activity(items, flags, now, rules)
            verdict = eligibility(counts, view.last_trained.get(scope.key), now, rules)
            if not verdict.eligible:
                self.summary["notEligible"].append(f"{scope.key}: {'; '.join(verdict.reasons)}")
                continue
            if scope.key in open_scopes:
                self.summary["notEligible"].append(f"{scope.key}: a training job is already queued or running")
                continue
            self.summary["eligible"].append(scope.key)
            planned = plan(scope, items, flags)
            if planned is None:  # eligibility needs high-quality examples, so this means a rules change
                continue
            job_id = job_id_for(self.period, scope)
            if self.dry_run:
                self.summary["queued"].append(f"{job_id} (would queue, dataset {planned.dataset_id})")
                continue
            _, new = ensure_dataset(self.service, planned, self.settings.datasets_dir, now)
            if new:
                self.summary["newDatasets"].append(planned.dataset_id)
            job = TrainingJob.queue(
                job_id,
                agent_id=scope.agent_id,
                archetype=scope.archetype,
                dataset_id=planned.dataset_id,
                period=self.period,
                now=now,
                hyperparameters=self.settings.default_hyperparameters.as_dict(),
            )
            if not self.service.work.create(job):
                continue  # queued for this period already (a rerun, or a racing run)
            view.open_jobs[job.id] = None
            self.summary["queued"].append(job_id)
            self.progress(f"queued {job_id} for {scope.key} on {planned.dataset_id}")
