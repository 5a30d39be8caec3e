"""Builders for the batch loop's tests: feedback with text, a clock that tests move, the tiny trainer."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from adapters.files.jsonl_ingest import ingest_lines
from jobs.batch_settings import BatchSettings
from jobs.trainers.command import CommandTrainer

TINY_TRAINER = Path(__file__).with_name("tiny_trainer.py")
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)  # a Tuesday: ISO week 2026-W48


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def feedback(event_id: str, agent_id: str, at: datetime, kind: str = "thumbs_up", **fields) -> dict:
    return {"type": "feedback", "eventId": event_id, "agentId": agent_id, "occurredAt": iso(at), "kind": kind, **fields}


def good_interactions(agent_id: str, count: int, start: datetime, prefix: str = "") -> list[dict]:
    """`count` thumbs-up with prompt and response: each is positive and high quality."""
    return [
        feedback(
            f"{prefix}{agent_id}-g{i}",
            agent_id,
            start + timedelta(minutes=i),
            "thumbs_up",
            sessionId=f"{agent_id}-s{i // 10}",
            interactionId=f"{agent_id}-i{i}",
            prompt=f"{prefix}question {i} for {agent_id}",
            response=f"{prefix}answer {i}",
        )
        for i in range(count)
    ]


def ingest(system, messages: list[dict]) -> None:
    outcome = ingest_lines(system.service, [json.dumps(m).encode() for m in messages], "test").outcome
    assert not outcome.rejected, outcome.rejected


def register(agent_id: str, archetype: str, at: datetime) -> dict:
    return {
        "type": "agent_registered",
        "eventId": f"reg-{agent_id}",
        "agentId": agent_id,
        "occurredAt": iso(at),
        "archetype": archetype,
    }


def trainer_command(*extra: str) -> str:
    return " ".join([sys.executable, str(TINY_TRAINER), "{dataset}", "{output}", *extra])


def tiny_trainer(*extra: str) -> CommandTrainer:
    return CommandTrainer(trainer_command(*extra), environment=os.environ)


def settings(home: Path, **changes) -> BatchSettings:
    return BatchSettings(datasets_dir=home / "datasets", models_dir=home / "models", **changes)


class MovableClock:
    """The run's clock, moved only by the test (and by the run's waits, through `sleep`)."""

    def __init__(self, start: datetime = NOW):
        self.moment = start
        self.slept: list[float] = []
        self.jumps: list[tuple[Path, timedelta]] = []

    def __call__(self) -> datetime:
        for marker, delta in list(self.jumps):
            if marker.exists():  # the trainer has started: time runs on past its deadline
                self.jumps.remove((marker, delta))
                self.moment += delta
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)

    def jump_when(self, marker: Path, delta: timedelta) -> None:
        self.jumps.append((marker, delta))
