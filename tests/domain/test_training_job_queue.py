"""The training job as a queue entry: priority and age order, cancel before and during a run,
hyperparameters within bounds, which model an agent is served and where its fine-tune starts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain.model_choice import ARCHETYPE, BASE, OWN, served_model, warm_start
from domain.training_hyperparameters import Hyperparameters, InvalidHyperparameters, hyperparameters
from domain.training_job import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    JobNotCancellable,
    JobNotRunnable,
    RetryPolicy,
    TrainingJob,
    queue_order,
)

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)


def job(job_id: str = "j-1", *, priority: int = 0, at: datetime = T0) -> TrainingJob:
    return TrainingJob.queue(
        job_id,
        agent_id="a-1",
        archetype=None,
        dataset_id="ds-1",
        period="on-demand",
        now=at,
        priority=priority,
        requested_by="owner:o-1",
        hyperparameters={"steps": 5},
    )


def started(j: TrainingJob, at: datetime = T0) -> TrainingJob:
    j.start(run_id="run-1", batch_run="batch-run:work:run-1", now=at, deadline=timedelta(hours=1), output_dir="/out")
    return j


def test_workers_take_the_highest_priority_first_then_the_oldest_then_by_id():
    jobs = [
        job("old-low", priority=0, at=T0),
        job("new-high", priority=5, at=T0 + timedelta(hours=2)),
        job("old-high", priority=5, at=T0 + timedelta(hours=1)),
        job("b-same", priority=0, at=T0 + timedelta(hours=3)),
        job("a-same", priority=0, at=T0 + timedelta(hours=3)),
    ]
    assert [j.job_id for j in sorted(jobs, key=queue_order)] == ["old-high", "new-high", "old-low", "a-same", "b-same"]


@pytest.mark.parametrize("priority", [1001, -1001, 2.5, True, "3"])
def test_a_priority_outside_its_bounds_or_not_a_whole_number_is_refused(priority):
    with pytest.raises(ValueError, match="priority must be a whole number from -1000 to 1000"):
        job(priority=priority)


def test_cancelling_a_pending_job_ends_it_at_once_and_it_can_no_longer_start():
    j = job()
    assert j.cancel(by="owner:o-1", reason="wrong data", now=T0) == CANCELLED
    assert j.status == CANCELLED and j.cancel_requested == ("owner:o-1", "wrong data")
    with pytest.raises(JobNotRunnable):
        started(j)
    assert j.cancel(by="admin", reason="again", now=T0) == CANCELLED, "asking again changes nothing"
    assert [type(e).__name__ for e in j.collect_events()] == ["Queued", "Cancelled"]


def test_cancelling_a_running_job_asks_its_run_to_stop_which_then_records_cancelled():
    j = started(job())
    assert j.cancel(by="admin", reason="too slow", now=T0 + timedelta(minutes=1)) == RUNNING
    assert j.status == RUNNING and j.cancel_requested == ("admin", "too slow")
    assert j.cancel(by="admin", reason="still", now=T0) == RUNNING, "one request is enough"
    j.stopped_on_request(T0 + timedelta(minutes=2))
    assert j.status == CANCELLED
    names = [type(e).__name__ for e in j.collect_events()]
    assert names == ["Queued", "Started", "CancelRequested", "Cancelled"]


def test_a_failure_after_a_cancel_request_is_not_retried():
    j = started(job())
    j.cancel(by="admin", reason="stop", now=T0)
    j.fail("boom", T0, RetryPolicy(max_retries=3))
    assert j.status == FAILED and j.retries == 0


def test_an_ended_job_cannot_be_cancelled_and_the_error_says_how_it_ended():
    j = started(job())
    j.succeed(model_output_id="agent:a-1/v1", adapter_dir="/out/adapter", base_model="m", metrics={}, now=T0)
    assert j.status == COMPLETED
    with pytest.raises(JobNotCancellable, match=r"completed already \(model agent:a-1/v1\)"):
        j.cancel(by="admin", reason="late", now=T0)
    with pytest.raises(ValueError, match="non-empty reason"):
        job().cancel(by="admin", reason="  ", now=T0)


def test_progress_is_recorded_only_while_running_with_the_attempt_it_belongs_to():
    j = job()
    with pytest.raises(JobNotRunnable):
        j.report(stage="sft", step=1, max_steps=5, train_loss=2.0, heldout_loss=None, now=T0)
    started(j)
    j.report(stage="sft", step=1, max_steps=5, train_loss=2.0, heldout_loss=None, now=T0)
    [report] = [e for e in j.collect_events() if isinstance(e, TrainingJob.Progressed)]
    assert (report.attempt, report.stage, report.step, report.train_loss) == (1, "sft", 1, 2.0)


def test_a_version_1_queued_event_loads_with_the_defaults_of_version_2():
    state = {"job_id": "j", "agent_id": "a", "archetype": None, "dataset_id": "d", "period": "2026-W48"}
    TrainingJob.Queued.upcast_v1_v2(state)
    assert state == {
        **state,
        "priority": 0,
        "reason": None,
        "requested_by": None,
        "forced": False,
        "hyperparameters": {},
    }
    assert TrainingJob.Queued.class_version == 2


def test_hyperparameters_fill_defaults_and_report_every_problem_at_once():
    defaults = Hyperparameters(steps=20)
    assert hyperparameters({"loraRank": 16}, defaults).as_dict() == {"steps": 20, "learningRate": 2e-4, "loraRank": 16}
    assert hyperparameters(None, defaults) == defaults
    with pytest.raises(InvalidHyperparameters) as refused:
        hyperparameters({"steps": 0, "learningRate": 1.0, "loraRank": 2.5, "epochs": 3}, defaults)
    text = str(refused.value)
    assert "'epochs' is not a hyperparameter" in text
    assert "steps=0 is outside 1 … 2000" in text
    assert "learningRate=1.0 is outside 1e-06 … 0.01" in text
    assert "loraRank must be a whole number, got 2.5" in text
    for bad in (float("nan"), float("inf"), True, "3"):
        with pytest.raises(InvalidHyperparameters):
            hyperparameters({"learningRate": bad}, defaults)


def test_an_agent_is_served_its_own_champion_else_its_archetypes_else_the_base_model():
    own = served_model("a-1", "mentor", {"champion": "agent:a-1/v2"}, {"champion": "archetype:mentor/v1"})
    assert (own.model_id, own.source) == ("agent:a-1/v2", OWN)
    shared = served_model("a-1", "mentor", {"canary": "agent:a-1/v1"}, {"champion": "archetype:mentor/v1"})
    assert (shared.model_id, shared.source) == ("archetype:mentor/v1", ARCHETYPE)
    assert "no champion of its own yet" in shared.why
    base = served_model("a-1", "mentor", {}, {})
    assert (base.model_id, base.source) == (None, BASE)


def test_only_an_agents_first_fine_tune_starts_from_its_archetypes_champion_with_the_same_rank():
    champion = {"model_id": "archetype:mentor/v3", "adapter_dir": "/models/x/adapter"}
    first = warm_start("a-1", "mentor", 0, champion, lora_rank=8, parent_rank=8)
    assert (first.parent_model_id, first.parent_adapter_dir) == ("archetype:mentor/v3", "/models/x/adapter")
    assert warm_start("a-1", "mentor", 1, champion, 8, 8).parent_model_id is None, "it has a model of its own"
    assert warm_start("a-1", "mentor", 0, None, 8, None).parent_model_id is None, "no champion to start from"
    assert warm_start(None, "mentor", 0, champion, 8, 8).parent_model_id is None, "archetype jobs start cold"
    other_rank = warm_start("a-1", "mentor", 0, champion, lora_rank=16, parent_rank=8)
    assert other_rank.parent_model_id is None and "keeps its LoRA rank 8, the job asks for 16" in other_rank.note
    assert PENDING == "pending"
