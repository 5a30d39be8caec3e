"""Issue 12's whole path on the command line, from the demo's history: validate, dry-run, apply, a new kind
accepted, the audit across the change, and the published AgentLearningConfigured."""

from __future__ import annotations

import json

from adapters.cli.main import main
from tests.conftest import feedback, write_jsonl
from tests.support.contract_fields import LEARNING_CONFIGURED_FIELDS
from tests.support.contract_schemas import assert_published_valid

STRONGER_EDITS = """\
[feedback.draft_edited]
reward = -0.2
strong_signal = true
"""


def regenerated_file(tmp_path, home, capsys):
    assert main(["--home", str(home), "rules", "show"]) == 0
    text = capsys.readouterr().out
    text = text.replace("[feedback.draft_edited]\nreward = -0.2\nstrong_signal = false\n", STRONGER_EDITS)
    text += "\n[feedback.regenerated]\nreward = -0.4\n"
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def test_validate_names_each_problem_with_its_key_value_and_bound(tmp_path, home, capsys):
    path = regenerated_file(tmp_path, home, capsys)
    path.write_text(path.read_text().replace("trait_rate = 0.07", "trait_rate = 0.2"))
    assert main(["--home", str(home), "rules", "validate", str(path)]) == 1
    out = capsys.readouterr()
    assert "1 problem(s); nothing was changed" in out.err
    assert "rates.trait_rate: 0.2 is outside the hard cap: must be a number in [0.02, 0.12]" in out.out
    assert main(["--home", str(home), "rules", "apply", str(path), "--reason", "x"]) == 1
    assert "rates.trait_rate: 0.2 is outside" in capsys.readouterr().out
    assert main(["--home", str(home), "rules", "history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_demo_history_through_new_rules_dry_run_then_applied_then_audited(tmp_path, home, capsys):
    assert main(["--home", str(home), "demo"]) == 0
    capsys.readouterr()
    path = regenerated_file(tmp_path, home, capsys)

    assert main(["--home", str(home), "rules", "validate", str(path)]) == 0
    assert main(["--home", str(home), "rules", "diff", str(path)]) == 0
    diff = capsys.readouterr().out
    assert "2 change(s) against rules version 0" in diff
    assert "feedback.draft_edited.strong_signal: false -> true" in diff and "feedback.regenerated: (absent)" in diff

    window = ["--replay", "30", "--now", "2026-12-02T00:00:00Z"]  # the demo runs from 2026-11-23 for 8 days
    assert main(["--home", str(home), "rules", "apply", str(path), "--dry-run", *window]) == 0
    report = capsys.readouterr().out
    assert "cannot show how users would have reacted differently" in report
    assert "total" in report and "agents with inputs in the window would learn differently" in report
    assert main(["--home", str(home), "rules", "apply", str(path), "--dry-run", *window, "--json"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    totals = replayed["totals"]
    assert totals["recalculations"]["proposed"] > totals["recalculations"]["current"]  # edits recalculate now
    for agent in replayed["agents"]:  # the rules in force reproduce what was recorded
        assert agent["recalculations"]["current"] == agent["recordedRecalculations"]
    assert main(["--home", str(home), "rules", "history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # the dry run recorded nothing

    assert main(["--home", str(home), "rules", "apply", str(path)]) == 2
    assert "needs --reason" in capsys.readouterr().err
    assert main(["--home", str(home), "rules", "apply", str(path), "--reason", "regenerate is bad", "--by", "ops"]) == 0
    assert "applied as rules version 1 by ops" in capsys.readouterr().out

    lines = [
        feedback("r-1", "aria", "2026-12-02T09:00:00Z", kind="regenerated", traits={"humor": 1.0}),
        feedback("r-2", "aria", "2026-12-02T09:00:01Z", kind="draft_edited", traits={"humor": 0.5}),
    ]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "new.jsonl", lines))]) == 0
    assert "2 recorded" in capsys.readouterr().out
    assert main(["--home", str(home), "agent", "history", "aria", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    recorded = [e for e in history if e["type"] == "FeedbackRecorded" and e["data"]["eventId"].startswith("r-")]
    assert [e["data"]["reward"] for e in recorded] == [-0.4, -0.2]
    assert history[-1]["type"] == "PolicyRecalculated" and history[-1]["data"]["rulesVersion"] == 1
    assert history[-1]["data"]["trigger"] == "strong_signal"

    assert main(["--home", str(home), "audit", "--all"]) == 0
    assert "MISMATCH" not in capsys.readouterr().out

    assert main(["--home", str(home), "rules", "show", "--version", "1", "--as-written"]) == 0
    assert capsys.readouterr().out == path.read_text()
    assert main(["--home", str(home), "rules", "show", "--version", "2"]) == 2
    assert "no rules version 2 has been applied" in capsys.readouterr().err


def test_config_changes_are_published_as_agent_learning_configured_with_sources(tmp_path, home, capsys):
    capped = {
        "type": "learning_configured",
        "eventId": "cfg-1",
        "agentId": "a",
        "occurredAt": "2026-11-24T10:00:00Z",
        "learningConfig": {"profile": "fast", "traitRates": {"humor": 0.5}},
    }
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", [capped]))]) == 0
    assert main(["--home", str(home), "config", "set", "a", "--trait-rate", "empathy=0.05", "--by", "owner-7"]) == 0
    assert main(["--home", str(home), "config", "unset", "a", "--trait-rate", "humor"]) == 0
    assert main(["--home", str(home), "config", "show", "a", "--json"]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "config", "show", "a", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["sources"]["traitRates"] == {
        "empathy": "override",
        "humor": "profile",
        "sarcasm": "profile",
        "formality": "profile",
        "verbosity": "profile",
        "curiosity": "profile",
    }
    assert shown["effective"]["traitRates"]["empathy"] == 0.05 and shown["effective"]["actionRate"] == 0.08

    assert main(["--home", str(home), "relay", "run", "--once"]) == 0
    published = [json.loads(line) for line in (home / "published.jsonl").read_text().splitlines()]
    assert_published_valid(published)  # docs/schemas/out, headers too
    configured = [m for m in published if m["headers"]["event-type"] == "AgentLearningConfigured"]
    assert len(configured) == 3
    for message in configured:
        assert message["topic"] == "agent-learning-updates" and message["key"] == "a"
        assert message["headers"]["content-type"] == "application/json"
        assert message["headers"]["event-id"] == message["value"]["eventId"]
        assert list(message["value"]) == LEARNING_CONFIGURED_FIELDS
    first, second, third = (m["value"] for m in configured)
    assert first["capsApplied"] == [{"field": "traitRates.humor", "requested": 0.5, "applied": 0.12}]
    assert first["by"] is None and first["sourceEventId"] == "cfg-1"
    assert second["by"] == "owner-7" and second["overrides"]["traitRates"] == {"humor": 0.12, "empathy": 0.05}
    assert second["sources"]["traitRates"]["empathy"] == "override"
    assert third["overrides"]["traitRates"] == {"empathy": 0.05}
    assert (
        third["effectiveRates"]["traitRates"]["humor"] == 0.11 and third["sources"]["traitRates"]["humor"] == "profile"
    )

    assert main(["--home", str(home), "config", "unset", "a"]) == 2
    assert "config unset needs what to remove" in capsys.readouterr().err
