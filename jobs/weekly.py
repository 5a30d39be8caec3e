"""The weekly job: recover lost jobs, queue a training job per eligible scope, run the due ones.

1. Recover: a job still `running` whose deadline has passed is failed and retried after
   the backoff; one whose run no longer holds its lease (the run crashed) is failed and
   retried at once (the run was lost, not the training). No job stays `running` for ever.
2. Queue: every scope (agent, or archetype with two agents or more) that is eligible
   (`domain/eligibility.py`) and has no open job gets its dataset (made if missing) and a
   job whose id comes from the period and the scope, so a rerun queues nothing twice.
3. Run: each due job is started, trained in a worker thread while this run renews its
   lease and watches the deadline, then registered as a model (`register_trained_model`)
   and marked succeeded, or failed and retried with exponential backoff up to the limit.
   Retries falling due within `max_wait` are waited for; later ones are left to the next run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from eventsourcing.application import AggregateNotFoundError

from adapters.bootstrap import System
from adapters.service.unit_of_work import load_fresh
from domain.batch_run import LeaseLost
from domain.eligibility import activity, eligibility
from domain.timestamps import to_iso
from domain.training_examples import Scope, abuse_flags
from domain.training_job import FAILED, PENDING, RUNNING, JobNotRunnable, TrainingJob
from jobs.batch_settings import BatchSettings
from jobs.datasets import dataset_dir, ensure_dataset, plan, scoped_feedback
from jobs.feedback_log import LogView, read_log
from jobs.lease import owner_alive
from jobs.model_registry_service import register_trained_model
from jobs.trainers.choice import chosen_trainer
from jobs.trainers.port import Trainer, TrainingFailed, TrainingRequest

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
        self.trainer_factory = trainer_factory
        self.sleep = sleep or time.sleep
        self.dry_run = dry_run
        self._trainer: Trainer | None = None
        self.summary: dict = {
            "recovered": [],
            "eligible": [],
            "notEligible": [],
            "queued": [],
            "succeeded": [],
            "failed": [],
            "retryScheduled": [],
            "leftPending": [],
            "newDatasets": [],
            "dryRun": dry_run,
        }

    # ------------------------------------------------------------------- run

    def run(self) -> dict:
        now = self.clock()
        view = read_log(self.service, now, self.progress)
        if not self.dry_run:
            self.recover(view.open_jobs)
        self.queue_eligible(view, now)
        if not self.dry_run:
            self.run_due_jobs(view)
        return self.summary

    # --------------------------------------------------------------- recover

    def recover(self, open_jobs: dict[str, None]) -> None:
        for aggregate_id in list(open_jobs):
            self.heartbeat()
            now = self.clock()
            try:
                job: TrainingJob = load_fresh(self.service, aggregate_id)
            except AggregateNotFoundError:
                continue
            if job.status != RUNNING:
                continue
            if job.past_deadline(now):
                reason = (
                    f"attempt {job.attempts} ran past its deadline {to_iso(job.deadline)}; "
                    f"found running by {self.run_id} at {to_iso(now)}"
                )
                backoff = True
            elif not owner_alive(self.service, job.batch_run, job.run_id, now):
                reason = (
                    f"attempt {job.attempts} was left running by {job.run_id}, which no longer holds "
                    f"its lease (the run stopped); found by {self.run_id} at {to_iso(now)}"
                )
                backoff = False
            else:
                continue  # a live run is training it
            if self._fail(job.id, reason, now, backoff=backoff, recovered=True) == FAILED:
                open_jobs.pop(aggregate_id, None)  # its scope may be queued again

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
            )
            if not self.service.work.create(job):
                continue  # queued for this period already (a rerun, or a racing run)
            view.open_jobs[job.id] = None
            self.summary["queued"].append(job_id)
            self.progress(f"queued {job_id} for {scope.key} on {planned.dataset_id}")

    # ------------------------------------------------------------------- run

    def run_due_jobs(self, view: LogView) -> None:
        while True:
            now = self.clock()
            pending = []
            for aggregate_id in list(view.open_jobs):
                try:
                    job: TrainingJob = load_fresh(self.service, aggregate_id)
                except AggregateNotFoundError:
                    continue
                if job.status == PENDING:
                    pending.append(job)
                elif job.status != RUNNING:
                    view.open_jobs.pop(aggregate_id, None)
            due = [j for j in pending if j.due(now)]
            for job in due:
                self.attempt(job.id)
            if due:
                continue
            if not pending:
                return
            next_at = min(j.next_attempt_at for j in pending)
            wait = next_at - now
            if wait > self.settings.max_wait:
                self.summary["leftPending"] = [
                    f"{j.job_id} (next attempt {to_iso(j.next_attempt_at)})" for j in pending
                ]
                return
            self.progress(f"waiting {wait.total_seconds():.0f} s for the next retry at {to_iso(next_at)}")
            self._wait(wait.total_seconds())

    def _wait(self, seconds: float) -> None:
        slice_ = self._poll_seconds()
        while seconds > 0:
            self.heartbeat()
            step = min(seconds, slice_)
            self.sleep(step)
            seconds -= step

    def attempt(self, aggregate_id: str) -> None:
        now = self.clock()
        trainer = self._trainer_or_raise()

        def start(job: TrainingJob) -> None:
            output = self.settings.models_dir / job.job_id / f"attempt-{job.attempts + 1}"
            job.start(
                run_id=self.run_id,
                batch_run=self.batch_run,
                now=now,
                deadline=self.settings.job_deadline,
                output_dir=str(output),
            )

        try:
            self.service.work.change(aggregate_id, start)
        except JobNotRunnable:
            return  # another run started it a moment ago
        job: TrainingJob = load_fresh(self.service, aggregate_id)
        job_id = job.job_id
        dataset = dataset_dir(self.settings.datasets_dir, job.dataset_id)
        output = Path(job.output_dir)
        self.progress(
            f"training {job_id} (attempt {job.attempts}, deadline {to_iso(job.deadline)}) "
            f"with the {trainer.name} trainer on {dataset}"
        )
        if not (dataset / "manifest.json").is_file():
            self._fail(
                aggregate_id,
                f"dataset folder {dataset} is missing (was the datasets directory moved? "
                "it is AGENT_LEARNING_DATASETS_DIR)",
                self.clock(),
                backoff=True,
            )
            return
        output.mkdir(parents=True, exist_ok=True)
        request = TrainingRequest(
            job_id=job_id,
            dataset_dir=dataset,
            output_dir=output,
            base_model=self.settings.base_model,
            max_steps=self.settings.max_steps,
        )
        outcome = self._train_watching_deadline(trainer, request, job.deadline)
        now = self.clock()
        if isinstance(outcome, str):
            self._fail(aggregate_id, outcome, now, backoff=True)
            return
        try:
            model_id = _register(self.system, job, outcome, now)
        except Exception as error:  # the registry refused: the attempt failed, retry it
            self._fail(aggregate_id, f"registering the trained model failed: {error}", now, backoff=True)
            return
        self.service.work.change(
            aggregate_id,
            lambda j: j.succeed(
                model_output_id=model_id,
                adapter_dir=str(outcome.adapter_dir),
                base_model=outcome.base_model,
                metrics=outcome.metrics,
                now=now,
            ),
        )
        self.summary["succeeded"].append(f"{job_id} → {model_id}")
        self.progress(f"{job_id} succeeded: model {model_id}, metrics {outcome.metrics}")

    def _train_watching_deadline(self, trainer: Trainer, request: TrainingRequest, deadline: datetime):
        """The TrainingResult, or why the attempt failed (a string). Renews the lease meanwhile;
        raises LeaseLost (after stopping the trainer) if another run took the lease."""
        box: dict = {}

        def work() -> None:
            try:
                box["result"] = trainer.train(request)
            except BaseException as error:  # reported to the run, which records it on the job
                box["error"] = error

        worker = threading.Thread(target=work, name=f"train-{request.job_id}", daemon=True)
        worker.start()
        slice_ = self._poll_seconds()
        while worker.is_alive():
            try:
                self.heartbeat()
            except LeaseLost:
                _cancel(trainer)
                raise
            remaining = (deadline - self.clock()).total_seconds()
            if remaining <= 0:
                _cancel(trainer)
                worker.join(timeout=10)
                return (
                    f"attempt ran past its deadline {to_iso(deadline)} "
                    f"({self.settings.job_deadline.total_seconds():g} s); stopped"
                )
            worker.join(timeout=min(remaining, slice_))
        if "error" in box:
            error = box["error"]
            if isinstance(error, TrainingFailed):
                return f"training failed: {error}"
            return f"trainer {trainer.name} raised {type(error).__name__}: {error}"
        return box["result"]

    # --------------------------------------------------------------- helpers

    def _fail(
        self, aggregate_id: str, reason: str, now: datetime, *, backoff: bool, recovered: bool = False
    ) -> str | None:
        """Records the failure (and the retry, if any are left); returns the job's status after."""
        outcome: dict = {}

        def fail(job: TrainingJob) -> None:
            job.fail(reason, now, self.settings.retry, backoff=backoff)
            outcome.update(job_id=job.job_id, status=job.status, next=job.next_attempt_at, retries=job.retries)

        try:
            self.service.work.change(aggregate_id, fail)
        except JobNotRunnable:
            return None  # another run settled it first
        line = f"{outcome['job_id']}: {reason}"
        if recovered:
            self.summary["recovered"].append(line)
        if outcome["status"] == FAILED:
            self.summary["failed"].append(line)
            self.progress(f"{outcome['job_id']} failed for good after {outcome['retries']} retries: {reason}")
        else:
            self.summary["retryScheduled"].append(f"{line} (retry {outcome['retries']} at {to_iso(outcome['next'])})")
            self.progress(
                f"{outcome['job_id']} failed: {reason}; retry {outcome['retries']} at {to_iso(outcome['next'])}"
            )
        return outcome["status"]

    def _poll_seconds(self) -> float:
        """How often a waiting run renews its lease and looks at the deadline (wall seconds)."""
        return max(0.05, min(1.0, self.settings.lease.total_seconds() / 6))

    def _trainer_or_raise(self) -> Trainer:
        if self._trainer is None:
            if self.trainer_factory is None:
                self._trainer = chosen_trainer(self.system.config.trainer)
            else:
                self._trainer = self.trainer_factory()
        return self._trainer


def _cancel(trainer: Trainer) -> None:
    cancel = getattr(trainer, "cancel", None)
    if callable(cancel):
        cancel()


def _register(system: System, job: TrainingJob, result, now: datetime) -> str:
    return register_trained_model(
        system,
        scope_agent_id=job.agent_id,
        scope_archetype=job.archetype,
        adapter_dir=result.adapter_dir,
        base_model=result.base_model,
        dataset_id=job.dataset_id,
        job_id=job.job_id,
        metrics=result.metrics,
        now=now,
    )
