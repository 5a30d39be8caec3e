"""The spec's worked example (LEARNING_RULES §8), end to end through the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.cli.main import main
from tests.conftest import feedback, write_jsonl

FIVE = [feedback(f"w-{i}", "a-1", f"2026-11-24T10:0{i}:00Z", traits={"empathy": 1}, action="answer") for i in range(5)]


def test_worked_example_holds_through_ingest_and_agent_show(tmp_path, home, capsys):
    stream = write_jsonl(tmp_path / "five.jsonl", FIVE)
    assert main(["--home", str(home), "ingest", str(stream)]) == 0
    capsys.readouterr()

    assert main(["--home", str(home), "agent", "show", "a-1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)

    assert shown["version"] == 1
    assert shown["trigger"] == "feedback_count"
    assert shown["learnedTraits"]["empathy"] == pytest.approx(0.57, abs=1e-6)
    assert shown["traits"]["empathy"] == pytest.approx(0.507, abs=1e-6)
    assert shown["actionPolicy"]["answer"] == pytest.approx(0.267927, abs=1e-6)
    assert sum(shown["actionPolicy"].values()) == pytest.approx(1.0)
    assert shown["explorationEpsilon"] == pytest.approx(0.02)
    assert shown["confidence"] == "archetype"
    assert shown["metrics"]["blendWeight"] == pytest.approx(0.1)
    assert shown["metrics"]["batchSize"] == 5
    assert shown["feedbackCount"] == 5
    assert shown["pendingFeedbackCount"] == 0
    assert shown["frozen"] is False
    assert shown["archetype"] == "default"
    assert shown["lastUpdateAt"] == "2026-11-24T10:04:00Z"


def test_the_installed_console_script_runs_the_same_example(tmp_path, home):
    stream = write_jsonl(tmp_path / "five.jsonl", FIVE)
    script = [sys.executable, "-m", "adapters.cli.main", "--home", str(home)]
    subprocess.run([*script, "ingest", str(stream)], check=True, capture_output=True)
    shown = json.loads(
        subprocess.run([*script, "agent", "show", "a-1", "--json"], check=True, capture_output=True, text=True).stdout
    )
    assert shown["traits"]["empathy"] == pytest.approx(0.507, abs=1e-6)


def test_agent_history_lists_events_oldest_first_with_their_data(tmp_path, home, capsys):
    main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "five.jsonl", FIVE))])
    capsys.readouterr()
    assert main(["--home", str(home), "agent", "history", "a-1", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [e["type"] for e in history] == ["AgentRegistered"] + ["FeedbackRecorded"] * 5 + ["PolicyRecalculated"]
    assert [e["version"] for e in history] == list(range(1, 8))
    assert history[1]["occurredAt"] == "2026-11-24T10:00:00Z"
    assert history[1]["data"]["kind"] == "thumbs_up" and history[1]["data"]["reward"] == 1.0
    assert history[-1]["data"]["trigger"] == "feedback_count"


def test_unknown_agent_is_a_clear_error(home, capsys):
    assert main(["--home", str(home), "agent", "show", "nobody", "--json"]) == 1
    assert "no agent 'nobody'" in capsys.readouterr().err


def test_a_time_without_a_zone_is_a_usage_error(home, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(home), "tick", "--now", "2026-11-24T10:00:00"])
    assert exit_.value.code == 2
    assert "has no zone" in capsys.readouterr().err
