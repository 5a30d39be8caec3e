"""`training_jobs`: one document per training job, keyed by `jobId`, with the roadmap's fields.

`jobId`, `agentId?`, `archetype?`, `datasetId`, `status` (pending|running|completed|failed|
cancelled), `createdAt`, `startedAt?`, `finishedAt?`, `retries`, `modelOutputId?`; beside them
`attempts`, `error`, `nextAttemptAt`, `deadline` and `metrics` for operators, and (v2) the
queue's `priority`, `period` (an ISO week, or `on-demand`), `reason`, `requestedBy`, `forced`,
`hyperparameters`, `parentModelId` (a warm start), `cancelRequested` / `cancelledBy` /
`cancelReason`, and `progress` (the latest report: stage, step, losses). Optional fields are
left out while they have no value. A retried job is `pending` again until its next attempt.
"""

from __future__ import annotations

from typing import Any

from domain.timestamps import to_iso
from domain.training_job import CANCELLED, COMPLETED, FAILED, PENDING, RUNNING, TrainingJob, job_id_of
from projections.projection import Projection, View
from projections.read_model_store import Collection

TRAINING_JOBS = "training_jobs"


class TrainingJobs(Projection):
    name = TRAINING_JOBS
    version = 2
    collections = (Collection(TRAINING_JOBS, indexes=(("agentId",), ("archetype",), ("status",), ("createdAt",))),)
    topics = frozenset(
        {
            TrainingJob.Queued.TOPIC,
            TrainingJob.Started.TOPIC,
            TrainingJob.Succeeded.TOPIC,
            TrainingJob.Failed.TOPIC,
            TrainingJob.Retried.TOPIC,
            TrainingJob.Progressed.TOPIC,
            TrainingJob.CancelRequested.TOPIC,
            TrainingJob.Cancelled.TOPIC,
        }
    )

    def apply(self, event: Any, view: View) -> None:
        if isinstance(event, TrainingJob.Queued):
            doc: dict[str, Any] = {
                "jobId": event.job_id,
                "datasetId": event.dataset_id,
                "status": PENDING,
                "createdAt": to_iso(event.occurred_at),
                "retries": 0,
                "attempts": 0,
                "nextAttemptAt": to_iso(event.occurred_at),
                "priority": event.priority,
                "period": event.period,
                "forced": event.forced,
                "hyperparameters": event.hyperparameters,
            }
            for key, value in (("reason", event.reason), ("requestedBy", event.requested_by)):
                if value is not None:
                    doc[key] = value
            if event.agent_id is not None:
                doc["agentId"] = event.agent_id
            if event.archetype is not None:
                doc["archetype"] = event.archetype
            view.put(TRAINING_JOBS, event.job_id, doc)
            return
        job_id = job_id_of(event.originator_id)
        stored = view.get(TRAINING_JOBS, job_id)
        if stored is None:  # cannot happen in one log: a job's first event is Queued
            return
        doc = dict(stored)
        if isinstance(event, TrainingJob.Started):
            doc.update(
                status=RUNNING,
                startedAt=to_iso(event.occurred_at),
                attempts=event.attempt,
                deadline=to_iso(event.deadline),
            )
            for stale in ("finishedAt", "nextAttemptAt", "progress", "parentModelId"):
                doc.pop(stale, None)
            if event.parent_model_id is not None:
                doc["parentModelId"] = event.parent_model_id
        elif isinstance(event, TrainingJob.Succeeded):
            doc.update(
                status=COMPLETED,
                finishedAt=to_iso(event.occurred_at),
                modelOutputId=event.model_output_id,
                metrics=event.metrics,
            )
            doc.pop("error", None)
        elif isinstance(event, TrainingJob.Failed):
            doc.update(status=FAILED, finishedAt=to_iso(event.occurred_at), error=event.reason)
        elif isinstance(event, TrainingJob.Retried):
            doc.update(status=PENDING, retries=event.retries, nextAttemptAt=to_iso(event.next_attempt_at))
            doc.pop("finishedAt", None)
        elif isinstance(event, TrainingJob.Progressed):
            report = {
                "stage": event.stage,
                "step": event.step,
                "maxSteps": event.max_steps,
                "at": to_iso(event.occurred_at),
            }
            if event.train_loss is not None:
                report["trainLoss"] = event.train_loss
            if event.heldout_loss is not None:
                report["heldoutLoss"] = event.heldout_loss
            doc["progress"] = report
        elif isinstance(event, TrainingJob.CancelRequested):
            doc.update(cancelRequested=True, cancelledBy=event.by, cancelReason=event.reason)
        elif isinstance(event, TrainingJob.Cancelled):
            doc.update(
                status=CANCELLED,
                finishedAt=to_iso(event.occurred_at),
                cancelRequested=True,
                cancelledBy=event.by,
                cancelReason=event.reason,
            )
            doc.pop("nextAttemptAt", None)
        view.put(TRAINING_JOBS, job_id, doc)
