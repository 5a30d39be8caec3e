"""Running queued training jobs: recover lost ones, take pending ones in queue order, train, register.

Used by the weekly run (after it has queued the eligible scopes) and by the queue worker
(`agent-learning jobs work`, `jobs/training_worker.py`), each holding its own lease, so a
job knows which run trains it and the next run can tell a crash from a failure.

1. Recover: a job still `running` whose deadline has passed is failed and retried after the
   backoff; one whose run no longer holds its lease is failed and retried (at once when the
   run crashed, after the backoff when the run recorded a failure, whose reason is quoted);
   one that was asked to stop is cancelled. No job stays `running` for ever.
2. Run: pending jobs that are due are taken in `queue_order` (priority, then age), one at a
   time, each decided afresh: started (with a warm start from its archetype's champion when it
   is an agent's first fine-tune), trained in a worker thread while the run renews its lease,
   watches the deadline, records the trainer's progress and looks for a cancel, then
   registered as a model and marked completed; or failed and retried with exponential backoff
   up to the limit; or cancelled. Retries falling due within `max_wait` are waited for.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from eventsourcing.application import AggregateNotFoundError

from adapters.bootstrap import System
from adapters.service.unit_of_work import load_fresh
from domain.agent import Agent, agent_aggregate_id
from domain.batch_run import FAILED as RUN_FAILED
from domain.batch_run import BatchRun, LeaseLost
from domain.model_choice import WarmStart, warm_start
from domain.model_registry import CHAMPION, ModelRegistry, registry_id
from domain.timestamps import to_iso
from domain.training_examples import Scope
from domain.training_hyperparameters import hyperparameters
from domain.training_job import CANCELLED, FAILED, PENDING, RUNNING, JobNotRunnable, TrainingJob, queue_order
from jobs.batch_settings import BatchSettings
from jobs.datasets import dataset_dir
from jobs.lease import owner_alive
from jobs.model_registry_service import register_trained_model
from jobs.trainers.choice import chosen_trainer
from jobs.trainers.port import Progress, Trainer, TrainingFailed, TrainingRequest

Clock = Callable[[], datetime]
STOP_GRACE_SECONDS = 120  # how long a cancelled trainer may take to finish its current step


def summary_lists() -> dict:
    """The keys a run's summary gets from the runner (each a list of lines)."""
    return {"recovered": [], "succeeded": [], "failed": [], "retryScheduled": [], "cancelled": [], "leftPending": []}


class Cancelled:
    """The attempt stopped because the job was asked to; nothing is registered."""


class TrainingRunner:
    def __init__(
        self,
        system: System,
        *,
        clock: Clock,
        settings: BatchSettings,
        progress: Callable[[str], None],
        run_id: str,
        batch_run: str,
        summary: dict,
        heartbeat: Callable[[], None] = lambda: None,
        trainer_factory: Callable[[], Trainer] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.system = system
        self.service = system.service
        self.clock = clock
        self.settings = settings
        self.progress = progress
        self.run_id = run_id
        self.batch_run = batch_run
        self.summary = summary
        self.heartbeat = heartbeat
        self.trainer_factory = trainer_factory
        self.sleep = sleep or time.sleep
        self._trainer: Trainer | None = None

    # --------------------------------------------------------------- trainer

    def trainer(self) -> Trainer:
        """The trainer this run uses; raises ValueError saying what to configure when there is none."""
        if self._trainer is None:
            if self.trainer_factory is None:
                self._trainer = chosen_trainer(self.system.config.trainer)
            else:
                self._trainer = self.trainer_factory()
        return self._trainer

    # --------------------------------------------------------------- recover

    def recover(self, aggregate_ids: Iterable[str]) -> None:
        for aggregate_id in list(aggregate_ids):
            self.heartbeat()
            now = self.clock()
            job = self._load(aggregate_id)
            if job is None or job.status != RUNNING:
                continue
            if job.past_deadline(now):
                reason = (
                    f"attempt {job.attempts} ran past its deadline {to_iso(job.deadline)}; "
                    f"found running by {self.run_id} at {to_iso(now)}"
                )
                backoff = True
            elif not owner_alive(self.service, job.batch_run, job.run_id, now):
                failure = self._run_failure(job)
                if failure is not None:
                    reason = (
                        f"attempt {job.attempts} stopped when its run {job.run_id} failed ({failure}); "
                        f"found by {self.run_id} at {to_iso(now)}"
                    )
                    backoff = True
                else:
                    reason = (
                        f"attempt {job.attempts} was left running by {job.run_id}, which no longer holds "
                        f"its lease (the run stopped); found by {self.run_id} at {to_iso(now)}"
                    )
                    backoff = False
            else:
                continue  # a live run is training it
            self.fail(job.id, reason, now, backoff=backoff, recovered=True)

    def _run_failure(self, job: TrainingJob) -> str | None:
        """The reason the job's run recorded when it failed, or None when it crashed (recorded nothing)."""
        try:
            run: BatchRun = load_fresh(self.service, job.batch_run)
        except (AggregateNotFoundError, TypeError):
            return None
        if run.status == RUN_FAILED and run.run_id == job.run_id:
            return run.last_error or "no reason recorded"
        return None

    # ------------------------------------------------------------------- run

    def run_due(self, open_jobs: Callable[[], Iterable[str]], *, limit: int | None = None) -> int:
        """Trains due pending jobs in queue order until none is due (or `limit` were attempted);
        waits for retries due within `max_wait`. `open_jobs` lists the candidates, asked again
        after every attempt, so a job queued meanwhile with a higher priority goes next."""
        attempted = 0
        while limit is None or attempted < limit:
            now = self.clock()
            pending = [j for j in (self._load(a) for a in open_jobs()) if j is not None and j.status == PENDING]
            due = sorted((j for j in pending if j.due(now)), key=queue_order)
            if due:
                self.attempt(due[0].id)
                attempted += 1
                continue
            if not pending:
                return attempted
            next_at = min(j.next_attempt_at for j in pending)
            wait = next_at - now
            if wait > self.settings.max_wait:
                self.summary["leftPending"] = [
                    f"{j.job_id} (next attempt {to_iso(j.next_attempt_at)})" for j in sorted(pending, key=queue_order)
                ]
                return attempted
            self.progress(f"waiting {wait.total_seconds():.0f} s for the next retry at {to_iso(next_at)}")
            self._wait(wait.total_seconds())
        return attempted

    def _wait(self, seconds: float) -> None:
        slice_ = self.poll_seconds()
        while seconds > 0:
            self.heartbeat()
            step = min(seconds, slice_)
            self.sleep(step)
            seconds -= step

    def attempt(self, aggregate_id: str) -> None:
        now = self.clock()
        trainer = self.trainer()
        job = self._load(aggregate_id)
        if job is None:
            return
        start = self._warm_start(job)
        hyper = hyperparameters(job.hyperparameters, self.settings.default_hyperparameters)

        def begin(job: TrainingJob) -> None:
            output = self.settings.models_dir / job.job_id / f"attempt-{job.attempts + 1}"
            job.start(
                run_id=self.run_id,
                batch_run=self.batch_run,
                now=now,
                deadline=self.settings.job_deadline,
                output_dir=str(output),
                parent_model_id=start.parent_model_id,
                start_note=start.note,
            )

        try:
            self.service.work.change(aggregate_id, begin)
        except JobNotRunnable:
            return  # another run started it (or it was cancelled) a moment ago
        job = load_fresh(self.service, aggregate_id)
        job_id = job.job_id
        dataset = dataset_dir(self.settings.datasets_dir, job.dataset_id)
        output = Path(job.output_dir)
        self.progress(
            f"training {job_id} (attempt {job.attempts}, priority {job.priority}, deadline {to_iso(job.deadline)}) "
            f"with the {trainer.name} trainer on {dataset}; {start.note}"
        )
        if not (dataset / "manifest.json").is_file():
            self.fail(
                aggregate_id,
                f"dataset folder {dataset} is missing (was the datasets directory moved? "
                "it is AGENT_LEARNING_DATASETS_DIR)",
                self.clock(),
                backoff=True,
            )
            return
        output.mkdir(parents=True, exist_ok=True)
        reports: queue.Queue[Progress] = queue.Queue()
        request = TrainingRequest(
            job_id=job_id,
            dataset_dir=dataset,
            output_dir=output,
            base_model=self.settings.base_model,
            max_steps=hyper.steps,
            learning_rate=hyper.learning_rate,
            lora_rank=hyper.lora_rank,
            init_adapter_dir=Path(start.parent_adapter_dir) if start.parent_adapter_dir else None,
            on_progress=reports.put,
        )
        outcome = self._train_watching(trainer, request, job, reports)
        now = self.clock()
        if isinstance(outcome, Cancelled):
            self._finish_cancel(aggregate_id, now)
            return
        if isinstance(outcome, str):
            self.fail(aggregate_id, outcome, now, backoff=True)
            return
        if load_fresh(self.service, aggregate_id).cancel_requested is not None:  # asked while it finished
            self._finish_cancel(aggregate_id, now)
            return
        try:
            model_id = register_trained_model(
                self.system,
                scope_agent_id=job.agent_id,
                scope_archetype=job.archetype,
                adapter_dir=outcome.adapter_dir,
                base_model=outcome.base_model,
                dataset_id=job.dataset_id,
                job_id=job.job_id,
                metrics=outcome.metrics,
                now=now,
                parent_model_id=start.parent_model_id,
                hyperparameters=hyper.as_dict(),
            )
        except Exception as error:  # the registry refused: the attempt failed, retry it
            self.fail(aggregate_id, f"registering the trained model failed: {error}", now, backoff=True)
            return
        # Registered: the job completes even if a cancel arrived in this last moment.
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

    def _warm_start(self, job: TrainingJob) -> WarmStart:
        hyper = hyperparameters(job.hyperparameters, self.settings.default_hyperparameters)
        if job.agent_id is None:
            return warm_start(None, job.archetype, 0, None, hyper.lora_rank, None)
        try:
            agent: Agent = load_fresh(self.service, agent_aggregate_id(job.agent_id))
            archetype = agent.archetype
        except AggregateNotFoundError:
            archetype = None
        own = self._registry(Scope(agent_id=job.agent_id))
        champion = None
        parent_rank = None
        if archetype is not None:
            archetype_registry = self._registry(Scope(archetype=archetype))
            if archetype_registry is not None and CHAMPION in archetype_registry.aliases:
                model_id = archetype_registry.aliases[CHAMPION]
                adapter_dir = archetype_registry.versions[model_id]["adapter_dir"]
                champion = {"model_id": model_id, "adapter_dir": adapter_dir}
                parent_rank = adapter_rank(Path(adapter_dir))
        versions = len(own.versions) if own is not None else 0
        return warm_start(job.agent_id, archetype, versions, champion, hyper.lora_rank, parent_rank)

    def _registry(self, scope: Scope) -> ModelRegistry | None:
        try:
            return load_fresh(self.service, registry_id(scope))
        except AggregateNotFoundError:
            return None

    def _train_watching(self, trainer: Trainer, request: TrainingRequest, job: TrainingJob, reports: queue.Queue):
        """The TrainingResult, why the attempt failed (a string), or Cancelled. Meanwhile renews the
        lease, records progress and looks for a cancel; raises LeaseLost (after stopping the trainer)
        if another run took the lease."""
        box: dict = {}
        deadline = job.deadline

        def work() -> None:
            try:
                box["result"] = trainer.train(request)
            except BaseException as error:  # reported to the run, which records it on the job
                box["error"] = error

        worker = threading.Thread(target=work, name=f"train-{request.job_id}", daemon=True)
        worker.start()
        slice_ = self.poll_seconds()
        while worker.is_alive():
            try:
                self.heartbeat()
            except LeaseLost:
                _cancel(trainer)
                raise
            self._record_progress(job.id, reports)
            if self._load(job.id).cancel_requested is not None:  # type: ignore[union-attr]
                self.progress(f"{request.job_id}: cancel requested; stopping the trainer after its current step")
                _cancel(trainer)
                worker.join(timeout=STOP_GRACE_SECONDS)
                self._record_progress(job.id, reports)
                return Cancelled()
            remaining = (deadline - self.clock()).total_seconds()
            if remaining <= 0:
                _cancel(trainer)
                worker.join(timeout=10)
                return (
                    f"attempt ran past its deadline {to_iso(deadline)} "
                    f"({self.settings.job_deadline.total_seconds():g} s); stopped"
                )
            worker.join(timeout=min(remaining, slice_))
        self._record_progress(job.id, reports)
        if "error" in box:
            error = box["error"]
            if isinstance(error, TrainingFailed):
                return f"training failed: {error}"
            return f"trainer {trainer.name} raised {type(error).__name__}: {error}"
        return box["result"]

    def _record_progress(self, aggregate_id: str, reports: queue.Queue) -> None:
        taken: list[Progress] = []
        while True:
            try:
                taken.append(reports.get_nowait())
            except queue.Empty:
                break
        if not taken:
            return
        now = self.clock()

        def record(job: TrainingJob) -> None:
            for report in taken:
                job.report(
                    stage=report.stage,
                    step=report.step,
                    max_steps=report.max_steps,
                    train_loss=report.train_loss,
                    heldout_loss=report.heldout_loss,
                    now=now,
                )

        try:
            self.service.work.change(aggregate_id, record)
        except JobNotRunnable:
            pass  # recovered by another run meanwhile; its reports no longer belong to an attempt

    # --------------------------------------------------------------- endings

    def fail(
        self, aggregate_id: str, reason: str, now: datetime, *, backoff: bool, recovered: bool = False
    ) -> str | None:
        """Records the failure (and the retry, if any are left; a job asked to stop is cancelled
        instead); returns the job's status after."""
        outcome: dict = {}

        def fail(job: TrainingJob) -> None:
            if job.cancel_requested is not None:
                job.stopped_on_request(now)
            else:
                job.fail(reason, now, self.settings.retry, backoff=backoff)
            outcome.update(job_id=job.job_id, status=job.status, next=job.next_attempt_at, retries=job.retries)

        try:
            self.service.work.change(aggregate_id, fail)
        except JobNotRunnable:
            return None  # another run settled it first
        line = f"{outcome['job_id']}: {reason}"
        if recovered:
            self.summary["recovered"].append(line)
        if outcome["status"] == CANCELLED:
            self.summary["cancelled"].append(f"{outcome['job_id']} (as asked; {reason})")
            self.progress(f"{outcome['job_id']} cancelled as asked")
        elif outcome["status"] == FAILED:
            self.summary["failed"].append(line)
            self.progress(f"{outcome['job_id']} failed for good after {outcome['retries']} retries: {reason}")
        else:
            self.summary["retryScheduled"].append(f"{line} (retry {outcome['retries']} at {to_iso(outcome['next'])})")
            self.progress(
                f"{outcome['job_id']} failed: {reason}; retry {outcome['retries']} at {to_iso(outcome['next'])}"
            )
        return outcome["status"]

    def _finish_cancel(self, aggregate_id: str, now: datetime) -> None:
        try:
            self.service.work.change(aggregate_id, lambda job: job.stopped_on_request(now))
        except JobNotRunnable:
            return
        job = load_fresh(self.service, aggregate_id)
        by, reason = job.cancel_requested
        self.summary["cancelled"].append(f"{job.job_id} (by {by}: {reason})")
        self.progress(f"{job.job_id} cancelled by {by}: {reason}")

    # --------------------------------------------------------------- helpers

    def _load(self, aggregate_id: str) -> TrainingJob | None:
        try:
            return load_fresh(self.service, aggregate_id)
        except AggregateNotFoundError:
            return None

    def poll_seconds(self) -> float:
        """How often a waiting run renews its lease, looks at the deadline and for a cancel (wall seconds)."""
        return max(0.05, min(1.0, self.settings.lease.total_seconds() / 6))


def adapter_rank(adapter_dir: Path) -> int | None:
    """The LoRA rank an adapter folder was saved with (`r` in adapter_config.json), when it says."""
    try:
        rank = json.loads((adapter_dir / "adapter_config.json").read_text()).get("r")
    except (OSError, ValueError, AttributeError):
        return None
    return rank if isinstance(rank, int) and not isinstance(rank, bool) else None


def _cancel(trainer: Trainer) -> None:
    cancel = getattr(trainer, "cancel", None)
    if callable(cancel):
        cancel()
