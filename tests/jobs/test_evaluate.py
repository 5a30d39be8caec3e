"""`agent-learning evaluate`: the logged samples, the replayed policies, the report; nothing recorded."""

from __future__ import annotations

import json

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from domain.agent import Agent
from domain.propensity import policy_in_force
from jobs.evaluation.evaluate import evaluate_history, logged, replayed_policies
from jobs.simulation.configurations import parse_configuration
from tests.conftest import feedback, write_jsonl


@pytest.fixture
def demo_home(home, capsys):
    assert main(["--home", str(home), "demo", "--quiet"]) == 0
    capsys.readouterr()
    return home


def test_replaying_an_agents_history_under_its_own_configuration_gives_back_the_policies_that_acted(demo_home):
    system = bootstrap(Config(home=demo_home))
    try:
        history = list(system.service.history("aria"))
        settings = system.service.settings
    finally:
        system.close()
    feedbacks, samples, sources = logged(history)
    assert len(samples) > 100 and set(sources) == {"logged"}  # the demo's runtime logs its propensities
    log, acted = [[0, history[0].occurred_at, None]], {}
    for event in history:  # the policies published before each feedback was recorded
        if isinstance(event, Agent.PolicyRecalculated):
            log.append([event.policy_version, event.occurred_at, event.policy])
        elif isinstance(event, Agent.FeedbackRecorded):
            acted[event.event_id] = policy_in_force(log, event.occurred_at)
    own = parse_configuration("fast", settings)  # aria's profile in the demo
    replayed = replayed_policies(history, feedbacks, own, settings)
    acted = [acted[e.event_id] for e in feedbacks]
    for policy, (version, _, recorded) in zip(replayed, acted, strict=True):
        if version > 0:  # version 0 is the registration's policy, rebuilt by the replay itself
            assert policy == recorded
    other = replayed_policies(history, feedbacks, parse_configuration("conservative", settings), settings)
    assert other != replayed


def test_evaluate_reports_every_estimator_for_every_target_and_records_nothing(demo_home, capsys):
    assert main(["--home", str(demo_home), "agent", "history", "aria", "--json"]) == 0
    before = len(json.loads(capsys.readouterr().out))
    assert main(["--home", str(demo_home), "evaluate", "aria", "--config", "fast", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["agentId"] == "aria" and report["propensities"]["derived"] == 0
    targets = [row["target"] for row in report["targets"]]
    assert targets == ["uniform", "current", "greedy", "replay:own (fast)", "replay:fast"]
    for row in report["targets"]:
        for estimator in ("ips", "snips", "clipped_ips", "dm", "dr"):
            assert row[estimator]["low"] <= row[estimator]["value"] <= row[estimator]["high"]
        assert 0 < row["ess"] <= report["samples"]
    own, fast = report["targets"][3], report["targets"][4]
    assert own["dr"] == fast["dr"]  # the same configuration replayed twice
    assert report["recommendation"]["keep"] is True
    assert main(["--home", str(demo_home), "agent", "history", "aria", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == before


def test_the_printed_report_names_the_estimators_the_warnings_and_the_recommendation(demo_home, capsys):
    assert main(["--home", str(demo_home), "evaluate", "--all"]) == 0
    out = capsys.readouterr().out
    for agent in ("aria", "atlas", "blaze", "sage"):
        assert f"{agent}: " in out
    assert "IPS" in out and "SNIPS" in out and "clipped IPS" in out and "DR" in out
    assert "recommended: " in out
    assert "actions never logged" in out  # the demo's agents take two actions at most


def test_derived_propensities_are_warned_of(tmp_path, home, capsys):
    lines = [feedback(f"f-{i}", "a", f"2026-11-24T10:{i:02d}:00Z", action="answer") for i in range(12)]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lines))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "evaluate", "a", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["propensities"] == {"logged": 0, "derived": 12}
    assert any("100% of the propensities were derived" in w for w in report["warnings"])


def test_an_agent_without_actions_has_nothing_to_evaluate(tmp_path, home, capsys):
    lines = [feedback("f-1", "a", "2026-11-24T10:00:00Z")]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lines))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "evaluate", "a"]) == 0
    assert "there is nothing to evaluate" in capsys.readouterr().out


def test_evaluate_refuses_what_it_cannot_do_with_the_fix(home, capsys):
    assert main(["--home", str(home), "evaluate"]) == 2
    assert "name the agents to evaluate, or pass --all" in capsys.readouterr().err
    assert main(["--home", str(home), "evaluate", "nobody"]) == 1
    assert "nobody" in capsys.readouterr().err
    assert main(["--home", str(home), "evaluate", "a", "--clip", "1"]) == 2
    assert main(["--home", str(home), "evaluate", "a", "--config", "hasty"]) == 2
    assert "unknown profile 'hasty'" in capsys.readouterr().err


def test_evaluate_history_is_the_same_report_the_command_gives(demo_home, capsys):
    system = bootstrap(Config(home=demo_home))
    try:
        direct = evaluate_history(list(system.service.history("sage")), (), 10.0, system.service.settings)
    finally:
        system.close()
    assert main(["--home", str(demo_home), "evaluate", "sage", "--config", "balanced", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r for r in report["targets"] if not r["target"].startswith("replay:")] == direct["targets"][:3]
