"""`agent-learning jobs run …` and `jobs list` from the command line."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from adapters.cli.main import main
from tests.jobs.batch_fixtures import NOW, good_interactions, iso


def test_the_monthly_entry_point_runs_the_clustering_once_per_month(home, capsys):
    assert main(["--home", str(home), "jobs", "run", "monthly", "--now", iso(NOW), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["job"], first["period"], first["outcome"]) == ("monthly", "2026-11", "completed")
    assert first["summary"]["period"] == "2026-11"  # the body's own summary
    assert main(["--home", str(home), "jobs", "run", "monthly", "--now", iso(NOW + timedelta(days=3)), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "already-done"


def test_without_the_monthly_body_the_run_fails_saying_what_is_missing(home, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jobs.monthly", None)  # as if jobs/monthly.py could not be imported
    assert main(["--home", str(home), "jobs", "run", "monthly", "--now", iso(NOW)]) == 1
    assert "jobs/monthly.py, run_monthly" in capsys.readouterr().err
    # the failed run released its lease: a run with the body present goes ahead at once
    monkeypatch.delitem(sys.modules, "jobs.monthly")
    assert main(["--home", str(home), "jobs", "run", "monthly", "--now", iso(NOW)]) == 0


def test_an_unknown_trainer_fails_the_run_with_the_choices_before_it_queues_anything(
    tmp_path, home, capsys, monkeypatch
):
    stream = tmp_path / "in.jsonl"
    stream.write_text("".join(json.dumps(m) + "\n" for m in good_interactions("a-1", 100, NOW - timedelta(days=1))))
    main(["--home", str(home), "ingest", str(stream)])
    monkeypatch.setenv("AGENT_LEARNING_TRAINER", "gpu-farm")
    assert main(["--home", str(home), "jobs", "run", "weekly", "--now", iso(NOW), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "a real run would stop before queuing anything" in dry and "'gpu-farm' is not a trainer" in dry
    assert main(["--home", str(home), "jobs", "run", "weekly", "--now", iso(NOW)]) == 1
    error = capsys.readouterr().err
    assert "nothing was queued" in error
    assert "AGENT_LEARNING_TRAINER='gpu-farm' is not a trainer; use 'lora' or 'command'" in error
    assert main(["--home", str(home), "jobs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_datasets_go_where_agent_learning_datasets_dir_says(tmp_path, home, capsys, monkeypatch):
    stream = tmp_path / "in.jsonl"
    stream.write_text("".join(json.dumps(m) + "\n" for m in good_interactions("a-1", 3, NOW - timedelta(days=1))))
    main(["--home", str(home), "ingest", str(stream)])
    monkeypatch.setenv("AGENT_LEARNING_DATASETS_DIR", str(tmp_path / "elsewhere"))
    assert main(["--home", str(home), "jobs", "run", "daily", "--now", iso(NOW)]) == 0
    assert [p.name.startswith("ds-") for p in (tmp_path / "elsewhere").iterdir()] == [True]
    assert not (home / "datasets").exists()


def test_jobs_list_says_how_jobs_come_when_there_are_none(home, capsys):
    assert main(["--home", str(home), "jobs", "list"]) == 0
    assert "jobs run weekly" in capsys.readouterr().out
