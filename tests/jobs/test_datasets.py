"""The daily job's datasets: TRL formats, content ids, abuse exclusion, idempotence, the event."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from adapters.cli.main import main
from adapters.files.file_sink import read_published
from jobs.run import run_job
from tests.jobs.batch_fixtures import NOW, feedback, good_interactions, ingest, iso, register, settings
from tests.support.contract_schemas import assert_published_valid

SFT_KEYS = {"prompt", "completion"}
PREFERENCE_KEYS = {"prompt", "chosen", "rejected"}
KTO_KEYS = {"prompt", "completion", "label"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def mixed_feedback(agent_id: str = "a-1") -> list[dict]:
    at = NOW - timedelta(days=1)
    return [
        feedback("up", agent_id, at, "thumbs_up", sessionId="s1", prompt="hi", response="hello!"),
        feedback("down", agent_id, at, "thumbs_down", sessionId="s1", prompt="joke?", response="no."),
        feedback("rate5", agent_id, at, "rating", value=5, prompt="sum 2+2", response="4"),
        feedback("rate4", agent_id, at, "rating", value=4, prompt="cap of France", response="Paris"),
        feedback("rate3", agent_id, at, "rating", value=3, prompt="meh", response="meh"),  # reward 0: not HQ
        feedback("notext", agent_id, at, "thumbs_up"),  # no text
        # a pair by interaction id, and a pair by prompt (no interaction id)
        feedback(
            "ap1", agent_id, at, "draft_approved", interactionId="i-1", prompt="write a haiku", response="an old pond"
        ),
        feedback(
            "rj1", agent_id, at, "draft_rejected", interactionId="i-1", prompt="write a haiku", response="roses are red"
        ),
        feedback("ap2", agent_id, at, "draft_approved", prompt="greet", response="Good morning"),
        feedback("rj2", agent_id, at, "draft_rejected", prompt="greet", response="yo"),
        # an abuse-flagged session: nothing from it is used
        feedback("bad-up", agent_id, at, "thumbs_up", sessionId="s-abuse", prompt="insult me", response="!!"),
        feedback("flag", agent_id, at + timedelta(minutes=1), "abuse_flag", sessionId="s-abuse"),
        # older than the 30-day window
        feedback("old", agent_id, NOW - timedelta(days=31), "thumbs_up", prompt="old", response="old"),
    ]


def test_the_daily_datasets_are_trl_files_that_read_back_and_validate(system, home):
    ingest(system, mixed_feedback())
    report = run_job(system, "daily", now=NOW, settings=settings(home))
    [dataset_id] = report.summary["newDatasetIds"]
    folder = home / "datasets" / dataset_id

    sft = read_jsonl(folder / "sft.jsonl")
    preference = read_jsonl(folder / "preference.jsonl")
    kto = read_jsonl(folder / "kto.jsonl")
    assert all(set(row) == SFT_KEYS and all(isinstance(v, str) for v in row.values()) for row in sft)
    assert all(set(row) == PREFERENCE_KEYS and all(isinstance(v, str) for v in row.values()) for row in preference)
    assert all(set(row) == KTO_KEYS and isinstance(row["label"], bool) for row in kto)

    assert sorted(r["completion"] for r in sft) == sorted(["hello!", "4", "Paris", "an old pond", "Good morning"])
    assert sorted((r["prompt"], r["chosen"], r["rejected"]) for r in preference) == [
        ("greet", "Good morning", "yo"),
        ("write a haiku", "an old pond", "roses are red"),
    ]
    assert sorted((r["completion"], r["label"]) for r in kto) == [("hello!", True), ("no.", False)]
    assert not any(
        "!!" in line
        for name in ("sft", "preference", "kto")
        for line in (folder / f"{name}.jsonl").read_text().splitlines()
    )

    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest) == {"datasetId", "scope", "counts", "timeRange", "sourcePositions", "createdAt"}
    assert manifest["datasetId"] == dataset_id and dataset_id.startswith("ds-") and len(dataset_id) == 19
    assert manifest["scope"] == {"agentId": "a-1"}
    assert manifest["counts"] == {"sft": 5, "preference": 2, "kto": 2}
    assert manifest["timeRange"] == {"from": iso(NOW - timedelta(days=1)), "to": iso(NOW - timedelta(days=1))}
    assert 1 <= manifest["sourcePositions"]["from"] <= manifest["sourcePositions"]["to"]
    assert manifest["createdAt"] == iso(NOW)


def test_the_same_data_gives_the_same_dataset_id(tmp_path, home):
    from adapters.bootstrap import Config, bootstrap

    ids = []
    for name in ("one", "two"):
        other = bootstrap(Config(home=tmp_path / name))
        try:
            ingest(other, mixed_feedback())
            ids.append(run_job(other, "daily", now=NOW, settings=settings(tmp_path / name)).summary["newDatasetIds"])
        finally:
            other.close()
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_a_second_daily_run_makes_nothing_twice_and_a_new_day_with_the_same_data_reuses_the_dataset(system, home):
    ingest(system, mixed_feedback())
    first = run_job(system, "daily", now=NOW, settings=settings(home))
    again = run_job(system, "daily", now=NOW + timedelta(hours=5), settings=settings(home))
    assert (first.outcome, again.outcome) == ("completed", "already-done")
    next_day = run_job(system, "daily", now=NOW + timedelta(days=1), settings=settings(home))
    assert next_day.outcome == "completed"
    assert next_day.summary["new"] == 0 and next_day.summary["unchanged"] == 1
    assert len(list((home / "datasets").iterdir())) == 1
    recorded = [
        n
        for n in system.service.recorder.select_notifications(1, 10_000)
        if n.topic == "agent_learning:TrainingDataset.DatasetRecorded"
    ]
    assert len(recorded) == 1


def test_a_dry_run_writes_and_records_nothing(system, home):
    ingest(system, mixed_feedback())
    head = system.service.recorder.max_notification_id()
    report = run_job(system, "daily", now=NOW, dry_run=True, settings=settings(home))
    assert report.outcome == "dry-run" and report.summary["new"] == 1
    assert not (home / "datasets").exists()
    assert system.service.recorder.max_notification_id() == head


def test_archetype_datasets_pool_two_agents_or_more(system, home):
    ingest(
        system,
        [
            register("a-1", "default", NOW - timedelta(days=9)),
            register("a-2", "default", NOW - timedelta(days=9)),
            register("b-1", "professional", NOW - timedelta(days=9)),
        ],
    )
    ingest(
        system,
        good_interactions("a-1", 3, NOW - timedelta(days=2))
        + good_interactions("a-2", 2, NOW - timedelta(days=2))
        + good_interactions("b-1", 4, NOW - timedelta(days=2)),
    )
    report = run_job(system, "daily", now=NOW, settings=settings(home))
    scopes = {}
    for dataset_id in report.summary["newDatasetIds"]:
        manifest = json.loads((home / "datasets" / dataset_id / "manifest.json").read_text())
        scopes[json.dumps(manifest["scope"])] = manifest["counts"]["sft"]
    # professional has one agent: its dataset would repeat b-1's, so none is made
    assert scopes == {
        '{"agentId": "a-1"}': 3,
        '{"agentId": "a-2"}': 2,
        '{"agentId": "b-1"}': 4,
        '{"archetype": "default"}': 5,
    }


def test_a_new_dataset_publishes_training_dataset_ready_after_relay_run_once(tmp_path, home, capsys):
    stream = tmp_path / "in.jsonl"
    stream.write_text("".join(json.dumps(m) + "\n" for m in mixed_feedback()))
    assert main(["--home", str(home), "ingest", str(stream)]) == 0
    assert main(["--home", str(home), "jobs", "run", "daily", "--now", iso(NOW)]) == 0
    assert main(["--home", str(home), "relay", "run", "--once"]) == 0
    [ready] = [
        m for m in read_published(home / "published.jsonl") if m["headers"]["event-type"] == "TrainingDatasetReady"
    ]
    [dataset_id] = [p.name for p in (home / "datasets").iterdir()]
    assert_published_valid(read_published(home / "published.jsonl"))  # docs/schemas/out, headers too
    assert ready["topic"] == "agent-model-updates" and ready["key"] == "a-1"
    assert ready["headers"] == {
        "event-id": f"training-dataset:{dataset_id}:1",
        "event-type": "TrainingDatasetReady",
        "content-type": "application/json",
    }
    body = ready["value"]
    assert body["datasetId"] == dataset_id and body["agentId"] == "a-1"
    assert body["counts"] == {"sft": 5, "preference": 2, "kto": 2}
    assert body["location"] == str(home / "datasets" / dataset_id)
    assert body["occurredAt"] == iso(NOW)
    # a second daily run and relay publish nothing new
    main(["--home", str(home), "jobs", "run", "daily", "--now", iso(NOW + timedelta(days=1))])
    main(["--home", str(home), "relay", "run", "--once"])
    assert (
        len(
            [
                m
                for m in read_published(home / "published.jsonl")
                if m["headers"]["event-type"] == "TrainingDatasetReady"
            ]
        )
        == 1
    )
