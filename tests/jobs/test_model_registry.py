"""The model registry: versions with lineage, the champion alias, promote and rollback as events, ModelUpdated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from adapters.files.file_sink import read_published
from domain.model_registry import (
    CHAMPION,
    ModelRegistry,
    NothingToRollBack,
    Scope,
    UnknownModel,
    better_than_champion,
    registry_id,
    scope_of_model,
)
from jobs.model_registry_service import (
    aliases_of,
    list_models,
    promote_model,
    register_trained_model,
    rollback_alias,
)
from tests.support.contract_schemas import assert_published_valid

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
MODEL_UPDATED_FIELDS = {
    "type",
    "eventId",
    "agentId",
    "alias",
    "modelId",
    "previousModelId",
    "version",
    "action",
    "baseModel",
    "datasetId",
    "adapterDir",
    "movedBy",
    "reason",
    "occurredAt",
}


def metrics(before: float, after: float) -> dict:
    return {"heldoutLossBefore": before, "heldoutLossAfter": after, "steps": 4}


def register(
    system,
    job: str,
    after: float,
    *,
    agent: str | None = "a-1",
    archetype: str | None = None,
    before: float = 2.0,
    at: datetime = T0,
) -> str:
    return register_trained_model(
        system,
        scope_agent_id=agent,
        scope_archetype=archetype,
        adapter_dir=Path(f"/models/{job}"),
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        dataset_id=f"ds-{job}",
        job_id=job,
        metrics=metrics(before, after),
        now=at,
    )


def registry_events(system, scope: Scope) -> list:
    return list(system.service.events.get(registry_id(scope)))


# ------------------------------------------------------------------ the aggregate


def test_a_promotion_and_its_rollback_are_events_with_who_and_why():
    registry = ModelRegistry.open(Scope(agent_id="a-1"), T0)
    first = registry.register_version(
        dataset_id="ds-1", base_model="base", job_id="j-1", metrics=metrics(2, 1), adapter_dir="/m/1", occurred_at=T0
    )
    second = registry.register_version(
        dataset_id="ds-2", base_model="base", job_id="j-2", metrics=metrics(2, 1), adapter_dir="/m/2", occurred_at=T0
    )
    registry.promote(first, CHAMPION, by="ops", reason="first", occurred_at=T0)
    registry.promote(second, CHAMPION, by="alice", reason="better answers", occurred_at=T0)
    assert registry.rollback(CHAMPION, by="bob", reason="complaints", occurred_at=T0) == first

    moves = [e for e in registry.collect_events() if isinstance(e, ModelRegistry.AliasMoved)]
    assert [(m.alias, m.model_id, m.previous_model_id, m.action, m.by, m.reason) for m in moves] == [
        (CHAMPION, first, None, "promote", "ops", "first"),
        (CHAMPION, second, first, "promote", "alice", "better answers"),
        (CHAMPION, first, second, "rollback", "bob", "complaints"),
    ]
    assert registry.aliases == {CHAMPION: first}


def test_each_rollback_goes_one_promotion_further_back_until_none_is_left():
    registry = ModelRegistry.open(Scope(archetype="mentor"), T0)
    ids = [
        registry.register_version(
            dataset_id=f"ds-{i}", base_model="b", job_id=f"j-{i}", metrics={}, adapter_dir=f"/m/{i}", occurred_at=T0
        )
        for i in range(3)
    ]
    for model_id in ids:
        registry.promote(model_id, CHAMPION, by="ops", reason="next", occurred_at=T0)
    assert registry.rollback(CHAMPION, by="ops", reason="r", occurred_at=T0) == ids[1]
    assert registry.rollback(CHAMPION, by="ops", reason="r", occurred_at=T0) == ids[0]
    with pytest.raises(NothingToRollBack, match="no earlier model to roll back to; promote another model"):
        registry.rollback(CHAMPION, by="ops", reason="r", occurred_at=T0)
    with pytest.raises(NothingToRollBack, match="'canary' of archetype mentor points to no model"):
        registry.rollback("canary", by="ops", reason="r", occurred_at=T0)


def test_model_ids_name_their_scope_and_version():
    assert scope_of_model("agent:a-1/v3") == Scope(agent_id="a-1")
    assert scope_of_model("archetype:mentor/v12") == Scope(archetype="mentor")
    with pytest.raises(UnknownModel, match="'a-1' is not a model id"):
        scope_of_model("a-1")


def test_a_later_model_beats_the_champion_only_if_it_also_improved_on_its_own_held_out_set():
    champion = metrics(2.0, 1.5)
    assert better_than_champion(metrics(2.0, 1.4), champion)
    assert not better_than_champion(metrics(2.0, 1.5), champion)  # a tie keeps the champion
    assert not better_than_champion(metrics(1.3, 1.4), champion)  # below the champion, but training made it worse
    assert not better_than_champion({"steps": 3}, champion)  # no held-out losses: waits for a person


# ------------------------------------------------------------------ the service


def test_the_first_model_of_a_scope_becomes_champion_and_a_worse_one_waits(system):
    first = register(system, "j-1", after=1.5)
    worse = register(system, "j-2", after=1.8)
    assert aliases_of(system, Scope(agent_id="a-1")) == {CHAMPION: first}
    better = register(system, "j-3", after=1.2)
    assert aliases_of(system, Scope(agent_id="a-1")) == {CHAMPION: better}
    assert [first, worse, better] == ["agent:a-1/v1", "agent:a-1/v2", "agent:a-1/v3"]

    moves = [e for e in registry_events(system, Scope(agent_id="a-1")) if isinstance(e, ModelRegistry.AliasMoved)]
    assert [(m.model_id, m.by) for m in moves] == [(first, "weekly-job"), (better, "weekly-job")]
    assert "first model of agent a-1 (training job j-1)" == moves[0].reason
    assert "1.2000" in moves[1].reason and "agent:a-1/v1" in moves[1].reason


def test_registering_the_same_job_again_returns_its_model_and_records_nothing(system):
    model_id = register(system, "j-1", after=1.5)
    recorded = len(registry_events(system, Scope(agent_id="a-1")))
    assert register(system, "j-1", after=1.5) == model_id
    assert len(registry_events(system, Scope(agent_id="a-1"))) == recorded


def test_versions_and_lineage_reach_the_model_versions_read_model(system):
    first = register(system, "j-1", after=1.5)
    register(system, "j-2", after=1.9, at=T0 + timedelta(days=7))
    docs = list_models(system, Scope(agent_id="a-1"))
    assert docs[0] == {
        "modelId": first,
        "agentId": "a-1",
        "version": 1,
        "datasetId": "ds-j-1",
        "baseModel": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "jobId": "j-1",
        "metrics": metrics(2.0, 1.5),
        "adapterDir": "/models/j-1",
        "aliases": [CHAMPION],
        "createdAt": "2026-11-24T03:00:00Z",
        "parentModelId": None,  # trained from the base model
        "hyperparameters": {},  # registered without a job's hyperparameters
    }
    assert docs[1]["aliases"] == [] and docs[1]["createdAt"] == "2026-12-01T03:00:00Z"
    assert list_models(system, Scope(agent_id="someone-else")) == []


def test_a_move_is_decided_on_the_stored_registry_not_a_stale_cached_one(home):
    one, other = bootstrap(Config(home=home)), bootstrap(Config(home=home))
    try:
        first = register(one, "j-1", after=1.5)
        second = register(one, "j-2", after=1.9)
        aliases_of(other, Scope(agent_id="a-1"))  # `other` has now read (and cached) the registry
        promote_model(one, second, CHAMPION, by="alice", reason="try it", now=T0)
        move = rollback_alias(other, Scope(agent_id="a-1"), CHAMPION, by="bob", reason="undo", now=T0)
        assert (move.model_id, move.previous_model_id) == (first, second)
    finally:
        one.close()
        other.close()


# ------------------------------------------------------------------ the command line and the relay


def test_promote_and_rollback_from_the_cli_publish_model_updated(home, capsys):
    system = bootstrap(Config(home=home))
    try:
        first = register(system, "j-1", after=1.5)
        second = register(system, "j-2", after=1.9)
    finally:
        system.close()

    assert (
        main(
            [
                "--home",
                str(home),
                "models",
                "promote",
                second,
                "--alias",
                CHAMPION,
                "--by",
                "alice",
                "--reason",
                "owners prefer its tone",
            ]
        )
        == 0
    )
    assert f"champion → {second} (was {first})" in capsys.readouterr().out
    assert main(["--home", str(home), "models", "list", "--agent", "a-1", "--json"]) == 0
    assert {d["modelId"]: d["aliases"] for d in json.loads(capsys.readouterr().out)} == {first: [], second: [CHAMPION]}

    assert (
        main(
            [
                "--home",
                str(home),
                "models",
                "rollback",
                "--agent",
                "a-1",
                "--alias",
                CHAMPION,
                "--by",
                "bob",
                "--reason",
                "more complaints",
            ]
        )
        == 0
    )
    assert f"rolled back to {first} (was {second})" in capsys.readouterr().out
    assert (
        main(["--home", str(home), "models", "rollback", "--agent", "a-1", "--alias", CHAMPION, "--reason", "again"])
        == 1
    )
    assert "no earlier model to roll back to" in capsys.readouterr().err

    assert main(["--home", str(home), "relay", "run", "--once"]) == 0
    updates = [m for m in read_published(home / "published.jsonl") if m["topic"] == "agent-model-updates"]
    assert_published_valid(read_published(home / "published.jsonl"))  # docs/schemas/out, headers too
    assert [
        (
            u["value"]["modelId"],
            u["value"]["previousModelId"],
            u["value"]["action"],
            u["value"]["movedBy"],
            u["value"]["reason"],
        )
        for u in updates
    ] == [
        (first, None, "promote", "weekly-job", "first model of agent a-1 (training job j-1)"),
        (second, first, "promote", "alice", "owners prefer its tone"),
        (first, second, "rollback", "bob", "more complaints"),
    ]
    last = updates[-1]
    assert last["key"] == "a-1"
    assert last["headers"] == {
        "event-id": last["value"]["eventId"],
        "event-type": "ModelUpdated",
        "content-type": "application/json",
    }
    assert set(last["value"]) == MODEL_UPDATED_FIELDS
    assert last["value"]["datasetId"] == "ds-j-1" and last["value"]["adapterDir"] == "/models/j-1"
    assert last["value"]["baseModel"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and last["value"]["version"] == 1


def test_an_archetype_model_update_is_keyed_by_the_archetype(system):
    model_id = register(system, "j-9", after=1.0, agent=None, archetype="mentor")
    assert model_id == "archetype:mentor/v1"
    system.relay().relay_all()
    [update] = [
        m for m in read_published(system.config.home / "published.jsonl") if m["topic"] == "agent-model-updates"
    ]
    assert update["key"] == "mentor"
    assert update["value"]["archetype"] == "mentor" and "agentId" not in update["value"]


def test_cli_errors_name_the_model_and_the_fix(home, capsys):
    assert (
        main(["--home", str(home), "models", "promote", "agent:nobody/v1", "--alias", CHAMPION, "--reason", "x"]) == 1
    )
    assert "agent nobody has no trained models yet" in capsys.readouterr().err
    assert main(["--home", str(home), "models", "promote", "nonsense", "--alias", CHAMPION, "--reason", "x"]) == 1
    assert "model ids look like 'agent:AGENT_ID/v3'" in capsys.readouterr().err
    assert main(["--home", str(home), "models", "list"]) == 0
    assert "no trained models yet" in capsys.readouterr().out
