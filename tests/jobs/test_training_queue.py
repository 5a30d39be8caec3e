"""The training queue with the `command` trainer (real processes): on-demand jobs under the eligibility
rules, priority then age, cancel before and during a run, progress events, a failed run reported as
failed, and warm starts from the archetype's champion with the lineage naming the parent."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.config import Config, TrainerSettings
from adapters.service.learning_service import UnknownAgent
from adapters.service.unit_of_work import load_fresh
from domain.batch_run import BatchRun
from domain.training_examples import Scope
from domain.training_job import TrainingJob, training_job_aggregate_id
from jobs.lease import Lease
from jobs.model_registry_service import list_models, register_trained_model, served_models
from jobs.trainers.command import CommandTrainer
from jobs.training_queue import (
    JobConflict,
    NotAllowed,
    NotEligible,
    NoTrainer,
    Requester,
    TrainingQueueError,
    cancel_job,
    create_job,
    job_document,
    job_events,
)
from jobs.training_worker import needs_work, run_worker
from tests.jobs.batch_fixtures import (
    NOW,
    MovableClock,
    good_interactions,
    ingest,
    iso,
    settings,
    tiny_trainer,
    trainer_command,
)

UNIGRAM = Path(__file__).parents[2] / "docs" / "examples" / "unigram_trainer.py"
ADMIN = Requester("admin", True, lambda owner: True)


def owner(owner_id: str) -> Requester:
    return Requester(f"owner:{owner_id}", False, lambda seen: seen == owner_id)


@pytest.fixture
def queue_system(home):
    built = bootstrap(Config(home=home, trainer=TrainerSettings(choice="command", command=trainer_command())))
    yield built
    built.close()


def agent(system, agent_id: str, owner_id: str = "o-1", archetype: str = "mentor", good: int = 100) -> None:
    registration = {
        "type": "agent_registered",
        "eventId": f"reg-{agent_id}",
        "agentId": agent_id,
        "ownerId": owner_id,
        "archetype": archetype,
        "occurredAt": iso(NOW - timedelta(days=10)),
    }
    ingest(system, [registration, *good_interactions(agent_id, good, NOW - timedelta(days=3))])


def create(system, home, agent_id: str | None = None, requester: Requester = ADMIN, **options) -> TrainingJob:
    scope = Scope(agent_id, options.pop("archetype", None))
    return create_job(system, settings(home), scope=scope, requester=requester, now=NOW, **options)


def work(system, home, trainer, at=NOW + timedelta(minutes=1), **options) -> dict:
    clock = MovableClock(at)
    return run_worker(
        system, settings=settings(home), clock=clock, sleep=clock.sleep, trainer_factory=lambda: trainer, **options
    )


def alive(pid: int) -> bool:
    """Running (a killed process nobody has reaped yet is a zombie: not running)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def unigram() -> CommandTrainer:
    return CommandTrainer(f"{sys.executable} {UNIGRAM} {{dataset}} {{output}}", environment=os.environ)


def test_an_owner_queues_a_job_for_their_agent_and_a_worker_trains_it_reporting_progress(queue_system, home):
    agent(queue_system, "a-1", owner_id="o-1")
    job = create(
        queue_system, home, "a-1", owner("o-1"), reason="new data", hyperparameters_given={"steps": 3, "loraRank": 4}
    )
    doc = job_document(queue_system, job.job_id, owner("o-1"))
    assert (doc["status"], doc["period"], doc["requestedBy"], doc["reason"]) == (
        "pending",
        "on-demand",
        "owner:o-1",
        "new data",
    )
    assert doc["hyperparameters"] == {"steps": 3, "learningRate": 2e-4, "loraRank": 4}

    summary = work(queue_system, home, unigram())

    assert summary["succeeded"] == [f"{job.job_id} → agent:a-1/v1"]
    events = job_events(queue_system, job.job_id, owner("o-1"))
    kinds = [e["type"] for e in events]
    assert kinds == ["Queued", "Started"] + ["Progressed"] * 4 + ["Succeeded"]
    steps = [(e["data"]["step"], e["data"]["trainLoss"] is not None) for e in events if e["type"] == "Progressed"]
    assert steps == [(1, True), (2, True), (3, True), (3, False)], "a training loss per step, then the held-out loss"
    held_out = events[5]["data"]["heldoutLoss"]
    assert held_out == pytest.approx(events[-1]["data"]["metrics"]["heldoutLossAfter"])
    [model] = list_models(queue_system, Scope(agent_id="a-1"))
    assert model["hyperparameters"] == {"steps": 3, "learningRate": 2e-4, "loraRank": 4}, "the lineage records them"
    assert job_document(queue_system, job.job_id, ADMIN)["progress"]["heldoutLoss"] == held_out


def test_an_ineligible_scope_is_refused_with_its_reasons_and_only_an_administrator_may_force_it(queue_system, home):
    agent(queue_system, "a-1", good=20)
    with pytest.raises(NotEligible, match=r"not eligible for training: 20 positive feedback in 30 days, needs 100; "):
        create(queue_system, home, "a-1", owner("o-1"))
    with pytest.raises(NotAllowed, match="only administrators may force"):
        create(queue_system, home, "a-1", owner("o-1"), force=True, reason="please")
    with pytest.raises(TrainingQueueError, match="a forced job records why"):
        create(queue_system, home, "a-1", force=True)
    job = create(queue_system, home, "a-1", force=True, reason="demo for the customer")
    assert (job.forced, job.reason, job.requested_by) == (True, "demo for the customer", "admin")
    assert job_document(queue_system, job.job_id, ADMIN)["forced"] is True


def test_another_owners_agent_answers_like_a_missing_one_and_archetypes_are_for_administrators(queue_system, home):
    agent(queue_system, "a-1", owner_id="o-1")
    agent(queue_system, "a-2", owner_id="o-1")
    with pytest.raises(UnknownAgent):
        create(queue_system, home, "a-1", owner("o-2"))
    with pytest.raises(UnknownAgent):
        create(queue_system, home, "nobody", ADMIN)
    with pytest.raises(NotAllowed, match="whole archetype"):
        create(queue_system, home, requester=owner("o-1"), archetype="mentor")
    job = create(queue_system, home, archetype="mentor")
    assert (job.archetype, job.agent_id) == ("mentor", None)
    mine = create(queue_system, home, "a-1", owner("o-1"))
    with pytest.raises(TrainingQueueError, match="no training job"):
        job_events(queue_system, mine.job_id, owner("o-2"))
    with pytest.raises(TrainingQueueError, match="no training job"):
        cancel_job(queue_system, mine.job_id, requester=owner("o-2"), reason="mine now", now=NOW)
    with pytest.raises(TrainingQueueError, match="no training job"):  # archetype jobs are administrators' only
        job_document(queue_system, job.job_id, owner("o-1"))


def test_a_scope_has_one_open_job_at_a_time(queue_system, home):
    agent(queue_system, "a-1")
    first = create(queue_system, home, "a-1")
    with pytest.raises(JobConflict, match=f"already has an open job, {first.job_id} \\(pending\\)"):
        create(queue_system, home, "a-1")
    cancel_job(queue_system, first.job_id, requester=ADMIN, reason="wrong settings", now=NOW)
    second = create(queue_system, home, "a-1", hyperparameters_given={"steps": 2})
    assert second.job_id != first.job_id


def test_hyperparameters_out_of_bounds_are_refused_naming_each_one(queue_system, home):
    agent(queue_system, "a-1")
    with pytest.raises(TrainingQueueError) as refused:
        create(queue_system, home, "a-1", hyperparameters_given={"steps": 10_000, "loraRank": 0})
    assert "steps=10000 is outside 1 … 2000" in str(refused.value) and "loraRank=0" in str(refused.value)
    with pytest.raises(TrainingQueueError, match="priority must be a whole number"):
        create(queue_system, home, "a-1", priority=5000)


def test_a_worker_takes_the_highest_priority_first_then_the_oldest(queue_system, home):
    for agent_id in ("a-1", "a-2", "a-3", "a-4"):
        agent(queue_system, agent_id)
    low_old = create(queue_system, home, "a-1")
    high_new = create_job(
        queue_system, settings(home), scope=Scope("a-2"), requester=ADMIN, now=NOW + timedelta(seconds=2), priority=9
    )
    high_old = create_job(
        queue_system, settings(home), scope=Scope("a-3"), requester=ADMIN, now=NOW + timedelta(seconds=1), priority=9
    )
    low_new = create_job(
        queue_system, settings(home), scope=Scope("a-4"), requester=ADMIN, now=NOW + timedelta(seconds=3)
    )
    summary = work(queue_system, home, tiny_trainer())
    order = [line.split(" → ")[0] for line in summary["succeeded"]]
    assert order == [high_old.job_id, high_new.job_id, low_old.job_id, low_new.job_id]
    assert summary["attempted"] == 4


def test_max_jobs_bounds_one_worker_run_and_leaves_the_rest_pending(queue_system, home):
    agent(queue_system, "a-1")
    agent(queue_system, "a-2")
    jobs = [create(queue_system, home, "a-1"), create(queue_system, home, "a-2")]
    assert needs_work(queue_system, NOW)
    summary = work(queue_system, home, tiny_trainer(), max_jobs=1)
    assert summary["attempted"] == 1
    statuses = sorted(job_document(queue_system, j.job_id, ADMIN)["status"] for j in jobs)
    assert statuses == ["completed", "pending"]
    assert needs_work(queue_system, NOW + timedelta(minutes=1)), "the other is still due"


def test_a_cancelled_pending_job_is_never_trained(queue_system, home):
    agent(queue_system, "a-1")
    job = create(queue_system, home, "a-1")
    assert (
        cancel_job(queue_system, job.job_id, requester=owner("o-1"), reason="changed my mind", now=NOW) == "cancelled"
    )
    assert not needs_work(queue_system, NOW)
    summary = work(queue_system, home, tiny_trainer())
    assert summary["attempted"] == 0 and summary["succeeded"] == []
    leases = queue_system.service.recorder.select_notifications(start=1, limit=100, topics=[BatchRun.Started.TOPIC])
    assert leases == [], "an idle worker takes no lease and records nothing"
    doc = job_document(queue_system, job.job_id, ADMIN)
    assert (doc["status"], doc["cancelledBy"], doc["cancelReason"]) == ("cancelled", "owner:o-1", "changed my mind")
    assert cancel_job(queue_system, job.job_id, requester=ADMIN, reason="again", now=NOW) == "cancelled"
    assert [e["type"] for e in job_events(queue_system, job.job_id, ADMIN)] == ["Queued", "Cancelled"]


def test_a_running_job_cancelled_mid_run_stops_its_trainer_and_ends_cancelled(queue_system, home, tmp_path):
    agent(queue_system, "a-1")
    job = create(queue_system, home, "a-1")
    marker = tmp_path / "trainer.pid"
    outcome: dict = {}
    # The worker runs in its own thread with its own System, as `jobs work` would in its own process.
    worker_system = bootstrap(Config(home=home))

    def worker() -> None:
        outcome["summary"] = work(worker_system, home, tiny_trainer("--hang", str(marker)))

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:  # the trainer process has started
            time.sleep(0.05)
        assert marker.exists(), "the trainer never started"
        pid = int(marker.read_text())
        assert cancel_job(queue_system, job.job_id, requester=ADMIN, reason="wrong base", now=NOW) == "running"
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        thread.join(timeout=60)
        worker_system.close()
    summary = outcome["summary"]
    assert summary["cancelled"] == [f"{job.job_id} (by admin: wrong base)"] and summary["succeeded"] == []
    assert not alive(pid), "the trainer process was stopped"
    kinds = [e["type"] for e in job_events(queue_system, job.job_id, ADMIN)]
    assert kinds == ["Queued", "Started", "CancelRequested", "Cancelled"]
    assert list_models(queue_system, Scope(agent_id="a-1")) == [], "nothing was registered"
    assert job_document(queue_system, job.job_id, ADMIN)["status"] == "cancelled"


def test_a_job_left_by_a_run_that_recorded_its_failure_is_reported_as_failed_not_as_a_lost_lease(queue_system, home):
    agent(queue_system, "a-1")
    job = create(queue_system, home, "a-1")
    lease = Lease(queue_system.service, "work", "run-x", timedelta(minutes=10), lambda: NOW, run_id="run-x")
    lease.acquire()
    queue_system.service.work.change(
        training_job_aggregate_id(job.job_id),
        lambda j: j.start(
            run_id="run-x", batch_run=lease.aggregate_id, now=NOW, deadline=timedelta(hours=2), output_dir=str(home)
        ),
    )
    lease.fail("OSError: [Errno 28] No space left on device")

    summary = work(queue_system, home, tiny_trainer())

    [recovered] = summary["recovered"]
    assert "stopped when its run run-x failed (OSError: [Errno 28] No space left on device)" in recovered
    assert "no longer holds its lease" not in recovered
    assert summary["succeeded"] == [f"{job.job_id} → agent:a-1/v1"], "retried after the backoff, within max_wait"


def test_an_agents_first_fine_tune_starts_from_its_archetypes_champion_and_the_lineage_names_it(
    queue_system, home, tmp_path
):
    agent(queue_system, "a-1", archetype="mentor")
    parent_adapter = tmp_path / "mentor-adapter"
    parent_adapter.mkdir()
    (parent_adapter / "adapter_config.json").write_text(json.dumps({"r": 8}))
    parent = register_trained_model(
        queue_system,
        scope_agent_id=None,
        scope_archetype="mentor",
        adapter_dir=parent_adapter,
        base_model="tiny",
        dataset_id="ds-mentor",
        job_id="tj-mentor",
        metrics={"heldoutLossBefore": 2.0, "heldoutLossAfter": 1.5, "steps": 1},
        now=NOW,
    )
    served = served_models(queue_system, ["a-1"])["a-1"]
    assert (served.model_id, served.source) == (parent, "archetype-champion"), "served the archetype's until its own"

    job = create(queue_system, home, "a-1")
    summary = work(queue_system, home, tiny_trainer())

    [line] = summary["succeeded"]
    own = line.split(" → ")[1]
    [model] = list_models(queue_system, Scope(agent_id="a-1"))
    assert (model["modelId"], model["parentModelId"]) == (own, parent)
    assert model["metrics"]["initAdapter"] == str(parent_adapter), "the trainer was handed the parent adapter"
    started = [e for e in job_events(queue_system, job.job_id, ADMIN) if e["type"] == "Started"]
    assert started[0]["data"]["parentModelId"] == parent
    assert "starts from archetype mentor's champion" in started[0]["data"]["startNote"]
    served = served_models(queue_system, ["a-1"])["a-1"]
    assert (served.model_id, served.source) == (own, "own-champion")

    # its second fine-tune has a model of its own, so it starts from the base model
    later = create_job(
        queue_system,
        settings(home),
        scope=Scope("a-1"),
        requester=ADMIN,
        now=NOW + timedelta(days=8),
        force=True,
        reason="again",
    )
    work(queue_system, home, tiny_trainer(), at=NOW + timedelta(days=8, minutes=1))
    second = load_fresh(queue_system.service, training_job_aggregate_id(later.job_id))
    assert second.parent_model_id is None and second.status == "completed"


def test_without_a_trainer_nothing_is_queued_and_no_worker_starts(home):
    system = bootstrap(Config(home=home, trainer=TrainerSettings(choice="command", command="")))
    try:
        agent(system, "a-1")
        with pytest.raises(NoTrainer, match="nothing was queued: AGENT_LEARNING_TRAINER=command needs"):
            create(system, home, "a-1")
        with pytest.raises(ValueError, match="AGENT_LEARNING_TRAINER=command needs AGENT_LEARNING_TRAINER_COMMAND"):
            run_worker(system, settings=settings(home), now=NOW)
        system.projections.catch_up()
        assert system.read_models.find("training_jobs", []) == []
    finally:
        system.close()
