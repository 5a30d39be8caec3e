"""Does a warm start from the archetype's champion help? Held-out loss of a first fine-tune, cold and warm.

    python bench/warm_start.py [--steps 20] [--batch-size 8] [--agent aria]

On the demo's data (the shipped example: `agent-learning demo`, 24 simulated hours with prompts and
responses): the champion of the agent's archetype is a LoRA fine-tune on the *other* agents'
high-quality interactions (so none of the agent's own held-out pairs is in its training data); the
agent's first fine-tune then runs twice on the same dataset, same seed, same held-out pairs:
cold (a fresh adapter on the base model) and warm (through the training queue, which starts it from
the champion's adapter). Prints the held-out loss (mean NLL per completion token) before and after,
side by side, and the JSON of both runs. Needs the [train] extra (`bash infra/install-train.sh`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.bootstrap import Config, bootstrap  # noqa: E402
from adapters.cli.demo import run_demo  # noqa: E402
from adapters.config import TrainerSettings  # noqa: E402
from domain.training_examples import Scope, abuse_flags  # noqa: E402
from jobs.batch_settings import BatchSettings  # noqa: E402
from jobs.datasets import dataset_dir, ensure_dataset, plan, scoped_feedback  # noqa: E402
from jobs.feedback_log import read_log  # noqa: E402
from jobs.model_registry_service import list_models, register_trained_model  # noqa: E402
from jobs.trainers.lora import LoraTrainer  # noqa: E402
from jobs.trainers.port import DEFAULT_BASE_MODEL, TrainingRequest  # noqa: E402
from jobs.training_queue import Requester, create_job  # noqa: E402
from jobs.training_worker import run_worker  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)  # after the demo's 24 hours
ADMIN = Requester("bench", True, lambda owner: True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per stage (default 20, the default)")
    parser.add_argument("--batch-size", type=int, default=8, help="the lora trainer's batch size (default 8)")
    parser.add_argument("--agent", default="aria", help="the demo agent whose first fine-tune is compared")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="warm-start-")) / "home"
    config = Config(home=home, trainer=TrainerSettings(choice="lora"))
    system = bootstrap(config)
    run_demo(system, quiet=True)
    settings = BatchSettings.from_config(home, config.batch)
    trainer = LoraTrainer(batch_size=args.batch_size, progress=lambda line: print(f"  {line}", file=sys.stderr))

    view = read_log(system.service, NOW)
    archetype = view.archetypes[args.agent]
    flags = abuse_flags(view.feedback)
    scoped = scoped_feedback(view, NOW, settings.rules)
    others = [item for scope, items in scoped.items() if scope.agent_id not in (None, args.agent) for item in items]
    champion_plan = plan(Scope(archetype=archetype), others, flags)
    assert champion_plan is not None, "the other agents have no high-quality interactions"
    ensure_dataset(system.service, champion_plan, settings.datasets_dir, NOW)
    out = home / "bench-champion"
    out.mkdir(parents=True)
    print(f"training the {archetype} champion on the other agents' data ({champion_plan.dataset_id})", file=sys.stderr)
    started = time.monotonic()
    champion = trainer.train(
        TrainingRequest(
            job_id="bench-champion",
            dataset_dir=dataset_dir(settings.datasets_dir, champion_plan.dataset_id),
            output_dir=out,
            base_model=DEFAULT_BASE_MODEL,
            max_steps=args.steps,
        )
    )
    champion_seconds = time.monotonic() - started
    parent = register_trained_model(
        system,
        scope_agent_id=None,
        scope_archetype=archetype,
        adapter_dir=champion.adapter_dir,
        base_model=champion.base_model,
        dataset_id=champion_plan.dataset_id,
        job_id="bench-champion",
        metrics=champion.metrics,
        now=NOW,
    )

    job = create_job(
        system,
        settings,
        scope=Scope(args.agent),
        requester=ADMIN,
        now=NOW,
        force=True,
        reason="warm-start benchmark",
        hyperparameters_given={"steps": args.steps},
    )
    print(f"training {args.agent} warm (job {job.job_id}, from {parent})", file=sys.stderr)
    run_worker(system, settings=settings, now=NOW + timedelta(minutes=1), trainer_factory=lambda: trainer)
    [warm] = list_models(system, Scope(agent_id=args.agent))
    assert warm["parentModelId"] == parent, warm

    cold_out = home / "bench-cold"
    cold_out.mkdir()
    print(f"training {args.agent} cold on the same dataset {job.dataset_id}", file=sys.stderr)
    cold = trainer.train(
        TrainingRequest(
            job_id="bench-cold",
            dataset_dir=dataset_dir(settings.datasets_dir, job.dataset_id),
            output_dir=cold_out,
            base_model=DEFAULT_BASE_MODEL,
            max_steps=args.steps,
        )
    ).metrics
    system.close()

    rows = [
        ("cold (base model)", cold),
        (f"warm (from {parent})", warm["metrics"]),
    ]
    print(
        f"\n{args.agent} ({archetype}), {args.steps} steps per stage, batch {args.batch_size}, "
        f"{cold['heldoutExamples']} held-out pairs, {cold['sftExamples']} to train on; "
        f"champion trained on {champion.metrics['sftExamples']} pairs of the other agents in {champion_seconds:.0f} s"
    )
    print(f"{'start':<34} {'held-out before':>16} {'held-out after':>15} {'stages':>10} {'seconds':>8}")
    for label, metrics in rows:
        print(
            f"{label:<34} {metrics['heldoutLossBefore']:>16.4f} {metrics['heldoutLossAfter']:>15.4f} "
            f"{'+'.join(metrics['stages']):>10} {metrics['seconds']:>8.0f}"
        )
    gain = cold["heldoutLossAfter"] - warm["metrics"]["heldoutLossAfter"]
    print(
        f"warm start: held-out loss after training {gain:+.4f} nats/token lower than cold"
        if gain > 0
        else f"warm start: held-out loss after training {-gain:.4f} nats/token higher than cold"
    )
    print(json.dumps({"agent": args.agent, "archetype": archetype, "cold": cold, "warm": warm["metrics"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
