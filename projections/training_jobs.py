"""`training_jobs`: one document per training job, keyed by `jobId`, with the roadmap's fields.

`jobId`, `agentId?`, `archetype?`, `datasetId`, `status` (pending|running|completed|failed),
`createdAt`, `startedAt?`, `finishedAt?`, `retries`, `modelOutputId?`; plus `attempts`,
`error`, `nextAttemptAt`, `deadline` and `metrics` for operators. Optional fields are left
out while they have no value. A retried job is `pending` again until its next attempt.
"""

from __future__ import annotations

from typing import Any

from domain.timestamps import to_iso
from domain.training_job import COMPLETED, FAILED, PENDING, RUNNING, TrainingJob, job_id_of
from projections.projection import Projection, View
from projections.read_model_store import Collection

TRAINING_JOBS = "training_jobs"


class TrainingJobs(Projection):
    name = TRAINING_JOBS
    version = 1
    collections = (Collection(TRAINING_JOBS, indexes=(("agentId",), ("status",), ("createdAt",))),)
    topics = frozenset(
        {
            TrainingJob.Queued.TOPIC,
            TrainingJob.Started.TOPIC,
            TrainingJob.Succeeded.TOPIC,
            TrainingJob.Failed.TOPIC,
            TrainingJob.Retried.TOPIC,
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
            }
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
            for stale in ("finishedAt", "nextAttemptAt"):
                doc.pop(stale, None)
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
        view.put(TRAINING_JOBS, job_id, doc)
