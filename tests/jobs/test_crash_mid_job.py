"""A real `agent-learning jobs run weekly` killed with SIGKILL while its trainer runs: a concurrent
run is refused by the lease meanwhile, and the next run takes the lease over and finishes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.jobs.batch_fixtures import NOW, good_interactions, iso, trainer_command

pytestmark = pytest.mark.slow


def cli(home: Path, env: dict, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def wait_for(path: Path, process: subprocess.Popen, log: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended ({process.returncode}) before training: {log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the trainer never started: {log.read_text()}")
        time.sleep(0.05)


def test_a_weekly_run_killed_mid_job_is_completed_by_the_next_run(tmp_path):
    home = tmp_path / "home"
    marker = tmp_path / "trainer-started"
    env = {
        **os.environ,
        "AGENT_LEARNING_TRAINER": "command",
        "AGENT_LEARNING_TRAINER_COMMAND": trainer_command("--hang", str(marker)),
    }  # hangs the first time
    env.pop("AGENT_LEARNING_HOME", None)
    stream = tmp_path / "in.jsonl"
    stream.write_text("".join(json.dumps(m) + "\n" for m in good_interactions("a-1", 100, NOW - timedelta(days=2))))
    assert cli(home, env, "ingest", str(stream)).returncode == 0

    log = tmp_path / "first-run.log"
    with log.open("w") as out:
        first = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adapters.cli.main",
                "--home",
                str(home),
                "jobs",
                "run",
                "weekly",
                "--now",
                iso(NOW),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    trainer_pid = None
    try:
        wait_for(marker, first, log)
        trainer_pid = int(marker.read_text())

        concurrent = cli(home, env, "jobs", "run", "weekly", "--now", iso(NOW + timedelta(minutes=1)), "--json")
        assert concurrent.returncode == 0, concurrent.stderr
        assert json.loads(concurrent.stdout)["outcome"] == "held"

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        running = json.loads(cli(home, env, "jobs", "list", "--json").stdout)
        assert [job["status"] for job in running] == ["running"]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if trainer_pid is not None:  # the external trainer the dead run left behind
            try:
                os.kill(trainer_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # an hour later, the lease (10 minutes) has long expired; the job's deadline (2 hours) has not
    after = cli(home, env, "jobs", "run", "weekly", "--now", iso(NOW + timedelta(hours=1)), "--json")
    assert after.returncode == 0, after.stderr
    report = json.loads(after.stdout)
    assert report["outcome"] == "completed" and report["period"] == "2026-W48"
    assert "took over the weekly run for 2026-W48" in after.stderr
    [recovered] = report["summary"]["recovered"]
    assert "no longer holds its lease" in recovered
    assert len(report["summary"]["succeeded"]) == 1

    [job] = json.loads(cli(home, env, "jobs", "list", "--json").stdout)
    assert (job["status"], job["retries"], job["attempts"]) == ("completed", 1, 2)
    assert job["modelOutputId"] == "agent:a-1/v1"
    assert "running" not in cli(home, env, "jobs", "list").stdout
