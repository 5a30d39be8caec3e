"""The weekly job: queue eligible scopes, train with the command trainer, retry, deadlines, recovery."""

from __future__ import annotations

from datetime import timedelta

from adapters.files.file_sink import read_published
from adapters.service.unit_of_work import load_fresh
from domain.batch_run import BatchRun, period_of
from domain.training_examples import Scope
from domain.training_job import RetryPolicy, TrainingJob
from jobs.lease import Lease
from jobs.run import run_job
from jobs.weekly import job_id_for
from projections.training_jobs import TRAINING_JOBS
from tests.jobs.batch_fixtures import NOW, MovableClock, good_interactions, ingest, iso, settings, tiny_trainer

ROADMAP_FIELDS = {
    "jobId",
    "agentId",
    "archetype",
    "datasetId",
    "status",
    "createdAt",
    "startedAt",
    "finishedAt",
    "retries",
    "modelOutputId",
}
JOB = job_id_for("2026-W48", Scope(agent_id="a-1"))


def eligible_agent(system, agent_id: str = "a-1", at=NOW) -> None:
    ingest(system, good_interactions(agent_id, 100, at - timedelta(days=3)))


def weekly(system, home, clock, trainer, **changes):
    return run_job(
        system,
        "weekly",
        clock=clock,
        sleep=clock.sleep,
        settings=settings(home, **changes),
        trainer_factory=lambda: trainer,
    )


def job_doc(system, job_id: str = JOB) -> dict:
    system.projections.catch_up()
    return system.read_models.get(TRAINING_JOBS, job_id)


def test_an_eligible_agent_gets_a_job_a_model_and_the_champion_alias(system, home):
    eligible_agent(system)
    clock = MovableClock()
    report = weekly(system, home, clock, tiny_trainer())
    assert report.summary["queued"] == [JOB]
    assert report.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]
    doc = job_doc(system)
    beside = {
        "attempts",
        "deadline",
        "metrics",
        "error",
        "nextAttemptAt",
        "priority",
        "period",
        "forced",
        "hyperparameters",
    }
    assert set(doc) - beside == ROADMAP_FIELDS - {"archetype"}
    assert doc["hyperparameters"] == {"steps": 20, "learningRate": 2e-4, "loraRank": 8}, "today's defaults, recorded"
    assert (doc["priority"], doc["period"], doc["forced"]) == (0, "2026-W48", False)
    assert doc["status"] == "completed" and doc["retries"] == 0 and doc["modelOutputId"] == "agent:a-1/v1"
    assert doc["createdAt"] == doc["startedAt"] == doc["finishedAt"] == iso(NOW)
    assert doc["metrics"]["rows"]["sft.jsonl"] == 100
    system.relay().relay_all()
    types = [m["headers"]["event-type"] for m in read_published(home / "published.jsonl")]
    assert "TrainingDatasetReady" in types and "ModelUpdated" in types
    # a rerun in the same week does nothing
    assert weekly(system, home, clock, tiny_trainer()).outcome == "already-done"


def test_failures_are_retried_with_exponential_backoff_then_succeed(system, home, tmp_path):
    eligible_agent(system)
    clock = MovableClock()
    trainer = tiny_trainer("--fail-first", "2", "--counter", str(tmp_path / "calls"))
    report = weekly(system, home, clock, trainer, retry=RetryPolicy(max_retries=3, backoff=timedelta(seconds=60)))
    assert len(report.summary["retryScheduled"]) == 2
    assert report.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]
    assert sum(clock.slept) == 60 + 120  # waited out the backoffs: 60 s, then 120 s
    doc = job_doc(system)
    assert (doc["status"], doc["retries"], doc["attempts"]) == ("completed", 2, 3)
    events = system.service.events.get(f"training-job:{JOB}")
    retried = [e for e in events if isinstance(e, TrainingJob.Retried)]
    assert [e.next_attempt_at - e.occurred_at for e in retried] == [timedelta(seconds=60), timedelta(seconds=120)]
    failed = [e for e in system.service.events.get(f"training-job:{JOB}") if isinstance(e, TrainingJob.Failed)]
    assert all("exited with status 3" in e.reason and "simulated failure" in e.reason for e in failed)


def test_after_the_retry_limit_the_job_is_failed_for_good(system, home, tmp_path):
    eligible_agent(system)
    clock = MovableClock()
    trainer = tiny_trainer("--fail-first", "99", "--counter", str(tmp_path / "calls"))
    report = weekly(system, home, clock, trainer, retry=RetryPolicy(max_retries=2, backoff=timedelta(seconds=10)))
    assert len(report.summary["failed"]) == 1 and report.summary["succeeded"] == []
    doc = job_doc(system)
    assert (doc["status"], doc["retries"], doc["attempts"]) == ("failed", 2, 3)
    assert "exited with status 3" in doc["error"] and doc["finishedAt"]
    assert (tmp_path / "calls").read_text() == "3"


def test_retries_due_later_than_the_run_waits_are_left_to_the_next_run(system, home, tmp_path):
    eligible_agent(system)
    clock = MovableClock()
    trainer = tiny_trainer("--fail-first", "1", "--counter", str(tmp_path / "calls"))
    slow = dict(retry=RetryPolicy(max_retries=3, backoff=timedelta(hours=2)), max_wait=timedelta(minutes=30))
    first = weekly(system, home, clock, trainer, **slow)
    assert first.summary["leftPending"] == [f"{JOB} (next attempt {iso(NOW + timedelta(hours=2))})"]
    assert job_doc(system)["status"] == "pending"
    clock.moment = NOW + timedelta(days=7)  # next week's run picks it up
    second = weekly(system, home, clock, trainer, **slow)
    assert second.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]
    assert job_doc(system)["retries"] == 1


def test_an_attempt_that_runs_past_its_deadline_is_stopped_failed_and_retried(system, home, tmp_path):
    eligible_agent(system)
    clock = MovableClock()
    marker = tmp_path / "hanging"
    clock.jump_when(marker, timedelta(hours=3))  # once the trainer runs, time passes its 2-hour deadline
    trainer = tiny_trainer("--hang", str(marker))  # hangs the first time only
    report = weekly(
        system,
        home,
        clock,
        trainer,
        retry=RetryPolicy(max_retries=1, backoff=timedelta(seconds=60)),
        job_deadline=timedelta(hours=2),
    )
    [retry] = report.summary["retryScheduled"]
    assert "ran past its deadline" in retry
    assert report.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]
    doc = job_doc(system)
    assert (doc["status"], doc["retries"], doc["attempts"]) == ("completed", 1, 2)
    failed = [e for e in system.service.events.get(f"training-job:{JOB}") if isinstance(e, TrainingJob.Failed)]
    assert [e.reason.startswith("attempt ran past its deadline") for e in failed] == [True]
    assert process_ends(int(marker.read_text())), "the command trainer's process was not stopped"


def process_ends(pid: int, within: float = 10.0) -> bool:
    """Whether the process is gone (or a zombie) within `within` seconds: a kill takes a moment to land."""
    import time

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def started_by_a_lost_run(system, home, at, deadline=timedelta(hours=2), lease=timedelta(minutes=10)):
    """A job that a run started before it died: the job is `running` and the lease is never renewed."""
    eligible_agent(system, at=at)
    [dataset_id] = run_job(system, "daily", now=at, settings=settings(home)).summary["newDatasetIds"]
    period = period_of("weekly", at)
    lost = Lease(system.service, "weekly", period, lease, lambda: at, run_id="run-lost")
    assert lost.acquire() == "acquired"
    job_id = job_id_for(period, Scope(agent_id="a-1"))
    job = TrainingJob.queue(job_id, agent_id="a-1", archetype=None, dataset_id=dataset_id, period=period, now=at)
    job.start(
        run_id="run-lost",
        batch_run=lost.aggregate_id,
        now=at,
        deadline=deadline,
        output_dir=str(home / "models" / job_id / "attempt-1"),
    )
    system.service.save(job)
    return job_id


def test_a_job_left_running_by_a_crashed_run_is_retried_at_once_by_the_next_run(system, home):
    started_by_a_lost_run(system, home, NOW)
    clock = MovableClock(NOW + timedelta(minutes=30))  # the lost run's lease ran out at 03:10
    report = weekly(system, home, clock, tiny_trainer())
    [recovered] = report.summary["recovered"]
    assert "left running by run-lost, which no longer holds its lease" in recovered
    assert report.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]
    assert clock.slept == []  # a lost run is not the training's fault: no backoff
    run = load_fresh(system.service, "batch-run:weekly:2026-W48")
    assert isinstance(run, BatchRun) and run.status == "completed" and run.attempts == 2
    doc = job_doc(system)
    assert (doc["status"], doc["retries"], doc["attempts"]) == ("completed", 1, 2)


def test_a_job_running_past_its_deadline_is_failed_by_the_next_run_even_if_its_run_lives(system, home):
    stale = started_by_a_lost_run(
        system, home, NOW - timedelta(days=7), deadline=timedelta(hours=2), lease=timedelta(days=30)
    )  # its run still holds its (long) lease
    clock = MovableClock(NOW)  # a week later, in another period
    report = weekly(system, home, clock, tiny_trainer(), retry=RetryPolicy(max_retries=0))
    [recovered] = report.summary["recovered"]
    assert recovered.startswith(f"{stale}: attempt 1 ran past its deadline {iso(NOW - timedelta(days=7, hours=-2))}")
    assert job_doc(system, stale)["status"] == "failed"
    # the scope has no open job any more, so this week's job is queued and trained
    assert report.summary["succeeded"] == [f"{JOB} → agent:a-1/v1"]


def test_a_job_a_live_run_is_training_is_left_alone(system, home):
    started_by_a_lost_run(system, home, NOW)
    clock = MovableClock(NOW + timedelta(minutes=5))  # within the other run's lease: it is alive
    report = run_job(
        system, "weekly", clock=clock, sleep=clock.sleep, settings=settings(home), trainer_factory=tiny_trainer
    )
    assert report.outcome == "held"
    assert job_doc(system)["status"] == "running"
