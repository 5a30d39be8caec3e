"""Daily then weekly on MongoDB, as on the embedded store: a dataset, a completed job, a champion,
and a lease that blocks a second run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.files.file_sink import read_published
from jobs.lease import Lease
from jobs.run import run_job
from projections.training_jobs import TRAINING_JOBS
from tests.jobs.batch_fixtures import NOW, MovableClock, good_interactions, ingest, settings, tiny_trainer

pytestmark = pytest.mark.mongodb


def test_daily_then_weekly_on_mongodb(mongo_system):
    system, home = mongo_system, mongo_system.config.home
    ingest(system, good_interactions("a-1", 100, NOW - timedelta(days=2)))
    daily = run_job(system, "daily", now=NOW, settings=settings(home))
    [dataset_id] = daily.summary["newDatasetIds"]
    assert run_job(system, "daily", now=NOW, settings=settings(home)).outcome == "already-done"

    clock = MovableClock(NOW + timedelta(hours=1))
    held = Lease(system.service, "weekly", "2026-W48", timedelta(minutes=10), clock, run_id="other")
    assert held.acquire() == "acquired"
    assert run_job(system, "weekly", clock=clock, settings=settings(home)).outcome == "held"
    held.fail("handing over")

    weekly = run_job(
        system,
        "weekly",
        clock=clock,
        sleep=clock.sleep,
        settings=settings(home),
        trainer_factory=lambda: tiny_trainer(),
    )
    assert weekly.summary["succeeded"] == [f"{weekly.summary['queued'][0]} → agent:a-1/v1"]
    system.projections.catch_up()
    [job] = system.read_models.find(TRAINING_JOBS)
    assert (job["status"], job["datasetId"], job["modelOutputId"]) == ("completed", dataset_id, "agent:a-1/v1")
    system.relay().relay_all()
    types = [
        m["headers"]["event-type"]
        for m in read_published(home / "published.jsonl")
        if m["topic"] == "agent-model-updates"
    ]
    assert types == ["TrainingDatasetReady", "ModelUpdated"]
