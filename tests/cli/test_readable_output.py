"""The CLI reads well: named columns, plurals, the tick naming whom it froze, summaries without dumped dicts."""

from __future__ import annotations

import json

from adapters.cli.main import build_parser, main
from tests.conftest import feedback, write_jsonl

AT = "2026-11-24T10:00:00Z"


def test_agent_list_has_a_header_and_named_columns_and_json(tmp_path, home, capsys):
    lines = [{"type": "agent_registered", "eventId": "r", "agentId": "a-1", "occurredAt": AT, "archetype": "mentor"}]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lines))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "agent", "list"]) == 0
    header, rule, row, total = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "agent",
        "archetype",
        "owner",
        "state",
        "version",
        "confidence",
        "sentiment",
        "feedback",
        "last",
        "update",
    ]
    assert set(rule.replace(" ", "")) == {"-"}
    assert row.split()[:4] == ["a-1", "mentor", "-", "learning"] and total == "1 agent, 0 frozen"
    assert main(["--home", str(home), "agent", "list", "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["agentId"] == "a-1" and shown["confidence"] == "archetype" and shown["frozen"] is False


def test_the_tick_says_whom_it_froze(tmp_path, home, capsys):
    lows = [feedback(f"e{i}", "grim", f"2026-11-24T10:{i:02d}:00Z", kind="rating", value=1) for i in range(20)]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lows))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "tick", "--now", "2026-12-02T10:00:00Z", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["frozen"] == ["grim"] and done["checked"] == 1
    assert main(["--home", str(home), "tick", "--now", "2026-12-03T10:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "tick at 2026-12-03T10:00:00Z: 0 agents checked" in out and "froze" not in out


def test_a_tick_that_freezes_prints_it(tmp_path, home, capsys):
    lows = [feedback(f"e{i}", "grim", f"2026-11-24T10:{i:02d}:00Z", kind="rating", value=1) for i in range(20)]
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", lows))]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "tick", "--now", "2026-12-02T10:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "1 agent checked" in out
    assert "froze 1 agent whose sentiment stayed below the threshold: grim" in out


def test_a_job_summary_is_an_aligned_table_not_a_dumped_dict(home, capsys):
    assert main(["--home", str(home), "jobs", "run", "daily", "--now", AT, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dryRun" not in out and "True" not in out and "{" not in out
    assert "feedback read" in out and "datasets" in out


def test_every_option_says_what_it_takes():
    parser = build_parser()
    missing = []
    for group in parser._subparsers._group_actions[0].choices.values():  # noqa: SLF001 - argparse has no public walk
        for command in group._actions:
            choices = getattr(command, "choices", None)
            for sub in (choices or {}).values() if isinstance(choices, dict) else []:
                for action in sub._actions:
                    if action.option_strings and action.help is None and action.dest != "help":
                        missing.append(f"{sub.prog} {action.option_strings[0]}")
        for action in group._actions:
            if action.option_strings and action.help is None and action.dest != "help":
                missing.append(f"{group.prog} {action.option_strings[0]}")
    assert not missing, f"options without help: {missing}"


def test_projections_status_as_json(home, capsys):
    assert main(["--home", str(home), "projections", "status", "--json"]) == 0
    statuses = json.loads(capsys.readouterr().out)
    assert {s["projection"] for s in statuses} >= {"agent_learning_state", "clustering_insights"}
    assert all(s["state"] == "live" and s["lag"] == 0 for s in statuses)
