"""`GET /api/training-jobs`, `GET /api/models` and the agent page's section: owners see only their agents'
rows; rows for a whole archetype are for administrators only; the `champion` alias is shown.

Most tests write rows through the read-model store port into the live generation of `training_jobs`
and `model_versions`, to set up every case at once; the last one records them the real way (a queued
`TrainingJob` and `register_trained_model`), through the batch loop's own projections.
"""

from __future__ import annotations

import re

import pytest

from adapters.bootstrap import Config, bootstrap
from projections.read_model_store import Collection

JOBS, MODELS = "training_jobs", "model_versions"


def _write(home, collection: str, rows: dict[str, dict]) -> None:
    """Puts `rows` into the live generation of `collection` without moving its checkpoint."""
    system = bootstrap(Config(home=home))
    try:
        system.projections.catch_up()
        store = system.read_models
        checkpoint = store.live_checkpoint(collection)
        if checkpoint is None:  # the batch loop's projection is not registered in this build
            checkpoint = store.start_generation(collection, 1, [Collection(collection, indexes=(("agentId",),))])
            store.activate(collection, checkpoint.generation)
        store.commit(
            collection,
            checkpoint.generation,
            {collection: rows},
            position=checkpoint.position,
            expected_position=checkpoint.position,
        )
    finally:
        system.close()


def _job(job_id: str, created: str, agent_id: str | None = None, archetype: str | None = None, **extra) -> dict:
    doc = {
        "jobId": job_id,
        "datasetId": f"ds-{job_id}",
        "status": "completed",
        "createdAt": created,
        "startedAt": created,
        "finishedAt": created,
        "retries": 0,
        "modelOutputId": f"m-{job_id}",
        **extra,
    }
    doc.update({k: v for k, v in (("agentId", agent_id), ("archetype", archetype)) if v is not None})
    return doc


def _model(
    model_id: str,
    created: str,
    version: int,
    aliases: list[str],
    agent_id: str | None = None,
    archetype: str | None = None,
) -> dict:
    doc = {
        "modelId": model_id,
        "version": version,
        "datasetId": "ds-1",
        "baseModel": "HuggingFaceTB/SmolLM2-135M",
        "jobId": f"j-{model_id}",
        "metrics": {"heldoutLossAfter": 1.5},
        "adapterDir": f"/models/{model_id}",
        "aliases": aliases,
        "createdAt": created,
    }
    doc.update({k: v for k, v in (("agentId", agent_id), ("archetype", archetype)) if v is not None})
    return doc


@pytest.fixture
def batch_rows(api, home):
    _write(
        home,
        JOBS,
        {
            "j-a1": _job("j-a1", "2026-11-23T03:00:00Z", agent_id="a-1"),
            "j-a2": _job("j-a2", "2026-11-24T03:00:00Z", agent_id="a-1", status="failed", retries=2),
            "j-b1": _job("j-b1", "2026-11-24T03:30:00Z", agent_id="b-1"),
            "j-m": _job("j-m", "2026-11-24T04:00:00Z", archetype="mentor"),
        },
    )
    _write(
        home,
        MODELS,
        {
            "m-a1": _model("m-a1", "2026-11-23T04:00:00Z", 1, ["champion"], agent_id="a-1"),
            "m-a2": _model("m-a2", "2026-11-24T04:00:00Z", 2, ["challenger"], agent_id="a-1"),
            "m-b1": _model("m-b1", "2026-11-24T04:00:00Z", 1, ["champion"], agent_id="b-1"),
            "m-m": _model("m-m", "2026-11-24T05:00:00Z", 1, ["champion"], archetype="mentor"),
        },
    )
    return api


def _ids(response, key: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [row[key] for row in response.json()]


def test_an_owner_sees_only_their_agents_jobs_newest_first(batch_rows):
    api = batch_rows
    assert _ids(api.get("/api/training-jobs", api.owner_a), "jobId") == ["j-a2", "j-a1"]
    assert _ids(api.get("/api/training-jobs", api.owner_b), "jobId") == ["j-b1"]
    job = api.get("/api/training-jobs", api.owner_a).json()[0]
    assert {"jobId", "agentId", "datasetId", "status", "createdAt", "retries"} <= set(job)
    assert (job["status"], job["retries"]) == ("failed", 2)


def test_an_administrator_sees_every_job_including_archetype_wide_ones(batch_rows):
    api = batch_rows
    assert _ids(api.get("/api/training-jobs", api.admin), "jobId") == ["j-m", "j-b1", "j-a2", "j-a1"]


def test_models_follow_the_same_rules_and_carry_their_aliases(batch_rows):
    api = batch_rows
    mine = api.get("/api/models", api.owner_a).json()
    assert [(m["modelId"], m["aliases"]) for m in mine] == [("m-a2", ["challenger"]), ("m-a1", ["champion"])]
    assert _ids(api.get("/api/models", api.admin), "modelId") == ["m-m", "m-b1", "m-a2", "m-a1"]


def test_narrowing_to_an_agent_and_limiting(batch_rows):
    api = batch_rows
    assert _ids(api.get("/api/training-jobs?agentId=b-1", api.admin), "jobId") == ["j-b1"]
    assert _ids(api.get("/api/models?agentId=a-1&limit=1", api.owner_a), "modelId") == ["m-a2"]
    assert api.get("/api/training-jobs?agentId=b-1", api.owner_a).status_code == 404
    assert api.get("/api/models?limit=0", api.owner_a).status_code == 422


def test_without_rows_the_lists_are_empty(api):
    assert api.get("/api/training-jobs", api.owner_a).json() == []
    assert api.get("/api/models", api.admin).json() == []


def test_the_agent_page_lists_its_jobs_and_models_with_the_champion(batch_rows):
    api = batch_rows
    api.client.post("/login", data={"token": api.owner_a, "next": "/agents/a-1"})
    page = api.client.get("/agents/a-1").text
    assert re.findall(r'<tr data-job="([^"]+)">', page) == ["j-a2", "j-a1"]
    assert re.findall(r'<tr data-model="([^"]+)">', page) == ["m-a2", "m-a1"]
    champion = re.search(r'<tr data-model="m-a1">.*?</tr>', page, re.S).group(0)
    assert '<span class="badge champion">champion</span>' in champion
    assert 'id="jobs-empty"' not in page and 'id="models-empty"' not in page


def test_rows_recorded_by_the_batch_loop_reach_the_api_and_the_page(api, home, tmp_path):
    """The real path: a queued `TrainingJob` and a model registered by the registry service, projected."""
    from datetime import datetime, timezone

    from domain.training_job import TrainingJob
    from jobs.model_registry_service import register_trained_model

    now = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    system = bootstrap(Config(home=home))
    try:
        system.service.save(
            TrainingJob.queue(
                "job-real", agent_id="a-1", archetype=None, dataset_id="ds-real", period="2026-W48", now=now
            )
        )
        model_id = register_trained_model(
            system,
            scope_agent_id="a-1",
            scope_archetype=None,
            adapter_dir=tmp_path / "adapter",
            base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
            dataset_id="ds-real",
            job_id="job-real",
            metrics={"heldoutLossBefore": 2.0, "heldoutLossAfter": 1.5, "steps": 20},
            now=now,
        )
    finally:
        system.close()
    jobs = api.get("/api/training-jobs", api.owner_a).json()
    assert [(j["jobId"], j["agentId"], j["status"], j["datasetId"]) for j in jobs] == [
        ("job-real", "a-1", "pending", "ds-real")
    ]
    assert api.get("/api/training-jobs", api.owner_b).json() == []
    models = api.get("/api/models", api.owner_a).json()
    assert [(m["modelId"], m["aliases"]) for m in models] == [(model_id, ["champion"])]
    api.client.post("/login", data={"token": api.owner_a, "next": "/agents/a-1"})
    page = api.client.get("/agents/a-1").text
    assert f'<tr data-model="{model_id}">' in page and '<tr data-job="job-real">' in page
