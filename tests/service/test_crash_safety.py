"""Crash safety on the embedded store: real processes killed with SIGKILL at random moments.

After every crash the same command is simply run again; in the end every
feedback is recorded exactly once, policy versions are contiguous, the read
models equal a fresh rebuild, and the relay published each event exactly once,
in log order.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.files.file_sink import read_published
from domain.agent import Agent
from domain.timestamps import to_iso
from tests.support.exactly_once import (
    assert_read_models_equal_a_rebuild,
    assert_recorded_exactly_once,
    logged_events,
)

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
KINDS = ["thumbs_up", "thumbs_down", "message_copied", "conversation_continued", "draft_edited", "rating"]


def make_stream(path: Path, n: int, agents: int, seed: int = 3) -> set[str]:
    rng = random.Random(seed)
    ids = set()
    with path.open("w") as f:
        for i in range(n):
            kind = rng.choice(KINDS)
            message = {
                "type": "feedback",
                "eventId": f"e-{i}",
                "agentId": f"a-{rng.randrange(agents)}",
                "occurredAt": to_iso(T0 + timedelta(seconds=i)),
                "kind": kind,
                "traits": {"humor": rng.uniform(-1, 1)},
                "action": "answer",
                "userId": f"u-{i % 7}",
            }
            if kind == "rating":
                message["value"] = rng.randint(1, 5)
            f.write(json.dumps(message) + "\n")
            ids.add(message["eventId"])
    return ids


def run_and_kill(command: list[str], rounds: int, rng: random.Random, env: dict | None = None) -> int:
    kills = 0
    for _ in range(rounds):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0.4, 1.6))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)  # and once more, to the end
    return kills


def cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "adapters.cli.main", "--home", str(home), *args]


def test_ingest_and_relay_killed_at_random_lose_and_duplicate_nothing(tmp_path):
    home = tmp_path / "home"
    stream = tmp_path / "stream.jsonl"
    ids = make_stream(stream, n=20_000, agents=200)
    rng = random.Random(11)

    kills = run_and_kill(cli(home, "ingest", str(stream)), rounds=4, rng=rng)
    kills += run_and_kill(cli(home, "relay", "run", "--once"), rounds=3, rng=rng)
    assert kills >= 2, "the processes finished before they could be killed; make the stream longer"

    system = bootstrap(Config(home=home))
    try:
        events = logged_events(system)
        assert_recorded_exactly_once(events, ids)
        assert_read_models_equal_a_rebuild(system)
        expected_messages = [
            f"{e.originator_id}:{e.originator_version}"
            for e in events
            if isinstance(e, (Agent.PolicyRecalculated, Agent.UpdatesFrozen, Agent.UpdatesUnfrozen))
        ]
        published = [m["headers"]["event-id"] for m in read_published(home / "published.jsonl")]
        assert published == expected_messages  # each exactly once, in the order of the log
    finally:
        system.close()
