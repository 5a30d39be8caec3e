"""The learning options end to end: set by message and by `config set`, recorded in each recalculation,
published in AgentLearningConfigured, exact under `audit`; a bad choice is dead-lettered, nothing valid lost."""

from __future__ import annotations

import json

import pytest

from adapters.cli.main import main
from tests.conftest import feedback, write_jsonl
from tests.support.contract_schemas import assert_published_valid

AT = "2026-11-24T10:{:02d}:00Z"


def configured(event_id: str, agent_id: str, **config) -> dict:
    return {
        "type": "learning_configured",
        "eventId": event_id,
        "agentId": agent_id,
        "occurredAt": AT.format(0),
        "learningConfig": config,
    }


def test_options_set_by_message_and_command_are_recorded_published_and_audited(tmp_path, home, capsys):
    lines = [
        configured("cfg-1", "a", profile="fast", rewardBaseline="sentiment", traitWeighting="per-feedback"),
        configured("cfg-bad", "b", rewardBaseline="median"),
        configured("cfg-bad-type", "b", rateSchedule=["anneal"]),
        *[
            feedback(
                f"fb-{i}", "a", AT.format(i + 1), "thumbs_down" if i % 3 == 0 else "thumbs_up", traits={"humor": 1}
            )
            for i in range(12)
        ],
    ]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lines))]) == 1
    out, err = capsys.readouterr()
    assert "15 messages: 13 recorded, 0 duplicates skipped, 2 rejected" in out
    assert "line 2: learningConfig.rewardBaseline 'median' is unknown; choose one of: none, sentiment" in err
    assert "line 3: learningConfig.rateSchedule must be a string, one of: constant, anneal; got ['anneal']" in err

    assert main(["--home", str(home), "config", "set", "a", "--rate-schedule", "anneal", "--by", "owner-1"]) == 0
    out = capsys.readouterr().out
    assert "rewardBaseline          sentiment    from override" in out
    assert "rateSchedule            anneal       from override" in out
    assert "actionWeighting         batch-mean   from default" in out

    assert main(["--home", str(home), "agent", "history", "a", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    recalculated = [e["data"] for e in history if e["type"] == "PolicyRecalculated"]
    assert len(recalculated) == 4  # each thumbs_down is a strong signal; 12 feedbacks make no full batch after
    assert all(r["rates"]["options"]["rewardBaseline"] == "sentiment" for r in recalculated)
    assert all(r["rates"]["options"]["traitWeighting"] == "per-feedback" for r in recalculated)

    assert main(["--home", str(home), "audit", "a"]) == 0
    assert "mismatch" not in capsys.readouterr().out

    assert main(["--home", str(home), "relay", "run", "--once"]) == 0
    published = [json.loads(line) for line in (home / "published.jsonl").read_text().splitlines()]
    assert_published_valid(published)
    configs = [m["value"] for m in published if m["headers"]["event-type"] == "AgentLearningConfigured"]
    assert configs[0]["overrides"]["rewardBaseline"] == "sentiment"
    assert configs[0]["effectiveRates"]["options"] == {
        "rewardBaseline": "sentiment",
        "traitWeighting": "per-feedback",
        "actionWeighting": "batch-mean",
        "rateSchedule": "constant",
        "exploration": "epsilon-greedy",
        "temperature": 0.1,
    }
    assert configs[-1]["overrides"]["rateSchedule"] == "anneal" and configs[-1]["by"] == "owner-1"

    assert main(["--home", str(home), "config", "unset", "a", "--reward-baseline", "--rate-schedule"]) == 0
    out = capsys.readouterr().out
    assert "rewardBaseline          none         from default" in out
    assert "traitWeighting          per-feedback from override" in out


def test_config_set_refuses_a_choice_it_does_not_have(home, capsys, tmp_path):
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", [configured("c", "a")]))]) == 0
    capsys.readouterr()
    try:
        main(["--home", str(home), "config", "set", "a", "--reward-baseline", "mean"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "invalid choice: 'mean' (choose from 'none', 'sentiment')" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["softmax", "thompson"])
def test_an_exploration_strategy_is_recorded_and_every_recalculation_audits_exactly(strategy, tmp_path, home, capsys):
    first = [configured("c-1", "s", profile="fast")]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "a.jsonl", first))]) == 0
    assert main(["--home", str(home), "config", "set", "s", "--exploration", strategy, "--temperature", "0.2"]) == 0
    kinds = ["thumbs_up", "thumbs_down", "message_copied", "rating"]
    lines = [
        feedback(f"s-{i}", "s", AT.format(i + 1), kinds[i % 4], value=4 if i % 4 == 3 else None, action="answer")
        for i in range(40)
    ]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "b.jsonl", lines))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "audit", "s"]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "agent", "history", "s", "--json"]) == 0
    recalculated = [e["data"] for e in json.loads(capsys.readouterr().out) if e["type"] == "PolicyRecalculated"]
    assert recalculated and all(r["exploration"]["strategy"] == strategy for r in recalculated)
    assert all(r["epsilon"] == 0.03 for r in recalculated)  # fast's ε, never lowered outside epsilon-greedy
