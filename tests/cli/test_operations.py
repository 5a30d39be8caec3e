"""Operator and owner commands: audit, configuration, freeze, tick, projections, and the demo."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from domain.commands import RecordFeedback
from tests.conftest import feedback, write_jsonl

AT = "2026-11-24T10:00:00Z"


def ingest(tmp_path, home, messages) -> None:
    assert main(["--home", str(home), "ingest", str(write_jsonl(tmp_path / "in.jsonl", messages))]) in (0, 1)


def test_audit_passes_on_an_honest_history_and_names_the_first_tampered_recalculation(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback(f"e{i}", "a", AT, kind="thumbs_down", traits={"sarcasm": 1}) for i in range(3)])
    assert main(["--home", str(home), "audit", "a"]) == 0
    assert "3 recalculations re-derived" in capsys.readouterr().out

    db = sqlite3.connect(home / "events.db")
    [(state,)] = db.execute(
        "SELECT state FROM stored_events WHERE originator_id = 'agent:a' AND originator_version = 5"
    ).fetchall()
    doctored = json.loads(state)
    doctored["learned"]["sarcasm"] = 0.5
    db.execute(
        "UPDATE stored_events SET state = ? WHERE originator_id = 'agent:a' AND originator_version = 5",
        (json.dumps(doctored).encode(),),
    )
    db.commit()
    db.close()

    assert main(["--home", str(home), "audit", "a"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH — version 2" in out and "learned.sarcasm" in out


def test_config_set_rejects_a_rate_outside_its_bounds_and_records_nothing(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback("e1", "a", AT)])
    assert main(["--home", str(home), "config", "set", "a", "--trait-rate", "humor=0.5"]) == 2
    err = capsys.readouterr().err
    assert "traitRates.humor=0.5 is outside [0.02, 0.12]" in err
    main(["--home", str(home), "agent", "history", "a", "--json"])
    assert "LearningConfigured" not in capsys.readouterr().out


def test_config_set_keeps_what_it_is_not_told_to_change(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback("e1", "a", AT)])
    assert main(["--home", str(home), "config", "set", "a", "--profile", "fast"]) == 0
    assert main(["--home", str(home), "config", "set", "a", "--trait-rate", "humor=0.05"]) == 0
    capsys.readouterr()
    main(["--home", str(home), "agent", "show", "a", "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["learningConfig"]["profile"] == "fast"
    assert shown["learningConfig"]["traitRates"] == {"humor": 0.05}
    assert shown["explorationEpsilon"] == 0.03  # the fast profile's ε


def test_a_configuration_event_out_of_bounds_is_capped_and_the_cap_recorded(tmp_path, home, capsys):
    ingest(
        tmp_path,
        home,
        [
            {
                "type": "learning_configured",
                "eventId": "c1",
                "agentId": "a",
                "occurredAt": AT,
                "learningConfig": {"traitRates": {"humor": 0.5}, "epsilon": 0.9},
            }
        ],
    )
    capsys.readouterr()
    main(["--home", str(home), "agent", "history", "a", "--json"])
    [configured] = [e for e in json.loads(capsys.readouterr().out) if e["type"] == "LearningConfigured"]
    assert configured["data"]["config"]["traitRates"] == {"humor": 0.12}
    assert {"field": "traitRates.humor", "requested": 0.5, "applied": 0.12} in configured["data"]["caps"]
    assert {"field": "epsilon", "requested": 0.9, "applied": 0.1} in configured["data"]["caps"]


def test_admin_freeze_stops_recalculations_until_unfrozen(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback("e1", "a", AT)])
    assert main(["--home", str(home), "admin", "freeze", "a", "--reason", "complaint"]) == 0
    ingest(tmp_path, home, [feedback("e2", "a", AT, kind="thumbs_down")])
    capsys.readouterr()
    main(["--home", str(home), "agent", "show", "a", "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["frozen"] is True and shown["version"] == 0 and shown["pendingFeedbackCount"] == 2
    assert main(["--home", str(home), "admin", "unfreeze", "a", "--reason", "reviewed"]) == 0
    assert main(["--home", str(home), "admin", "unfreeze", "a", "--reason", "again"]) == 0
    assert "was not frozen" in capsys.readouterr().out


def test_tick_through_the_cli_fires_the_timer(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback("e1", "a", AT, kind="message_copied")])
    assert main(["--home", str(home), "tick", "--now", "2026-11-24T10:04:59Z"]) == 0
    assert "recalculations: none" in capsys.readouterr().out
    assert main(["--home", str(home), "tick", "--now", "2026-11-24T10:05:00Z"]) == 0
    assert "recalculations: timer 1" in capsys.readouterr().out


def test_projections_status_and_rebuild(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback(f"e{i}", "a", AT) for i in range(6)])
    assert main(["--home", str(home), "projections", "rebuild", "agent_learning_state"]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "projections", "status"]) == 0
    status = capsys.readouterr().out
    assert "agent_learning_state" in status and "live" in status
    assert main(["--home", str(home), "projections", "rebuild", "nope"]) == 2
    assert "unknown projection 'nope'" in capsys.readouterr().err


def test_the_demo_runs_the_whole_loop_and_every_agent_passes_the_audit(home, capsys):
    assert main(["--home", str(home), "demo"]) == 0
    out = capsys.readouterr().out
    for agent in ("aria", "sage", "atlas", "blaze"):
        assert agent in out
    assert "FROZEN" in out and "Dead letters: 3" in out
    assert main(["--home", str(home), "audit", "--all"]) == 0
    assert out.count("policy v") == 4
    assert (home / "published.jsonl").stat().st_size > 0


def test_freeze_and_unfreeze_refuse_an_empty_reason_and_record_nothing(tmp_path, home, capsys):
    ingest(tmp_path, home, [feedback("e1", "a", AT)])
    for command in ("freeze", "unfreeze"):
        assert main(["--home", str(home), "admin", command, "a", "--reason", "  "]) == 2
        assert "needs a --reason that says why" in capsys.readouterr().err
    main(["--home", str(home), "agent", "show", "a", "--json"])
    assert json.loads(capsys.readouterr().out)["frozen"] is False


def test_dead_letters_raw_gives_back_the_original_bytes_exactly(tmp_path, home, capsysbinary):
    latin1 = b'{"type": "feedback", "eventId": "caf\xe9"}'  # not UTF-8
    stream = tmp_path / "in.jsonl"
    stream.write_bytes(latin1 + b"\n" + b"\xff\xfe\x00garbage\n")
    assert main(["--home", str(home), "ingest", str(stream)]) == 1
    capsysbinary.readouterr()
    assert main(["--home", str(home), "dead-letters", "list", "--raw"]) == 0
    assert capsysbinary.readouterr().out == latin1 + b"\n" + b"\xff\xfe\x00garbage\n"


def test_control_characters_in_what_the_cli_prints_are_escaped(home, capsys):
    """The boundary now refuses such ids; a history recorded before it may still hold one."""
    system = bootstrap(Config(home=home))
    system.service.process([RecordFeedback("e1", "evil\x1b[2J", datetime(2026, 11, 24, tzinfo=UTC), "thumbs_up")])
    system.close()
    assert main(["--home", str(home), "agent", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[2J" in out


def test_an_unreachable_mongodb_is_one_line_naming_the_url_without_its_password(home, capsys, monkeypatch):
    monkeypatch.setenv("AGENT_LEARNING_READ_MODELS", "mongodb://ops:secret@127.0.0.1:1/agents")
    assert main(["--home", str(home), "agent", "list"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot reach MongoDB at mongodb://ops:***@127.0.0.1:1/agents" in err and "secret" not in err
    assert "replica set" in err
