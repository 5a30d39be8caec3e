"""Training on demand over HTTP: an owner queues a job for their agent, follows its events while a worker
trains it, sees which model the agent is served, and cancels another; what they may not do answers 403,
404, 409 or 422 with the reason."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import Config, bootstrap
from adapters.config import TrainerSettings
from adapters.web.api_tokens import TokenStore
from adapters.web.app import create_app
from jobs.training_worker import run_worker
from tests.jobs.batch_fixtures import NOW, good_interactions, ingest, settings, tiny_trainer, trainer_command
from tests.web.conftest import Api


def configured(home: Path) -> Config:
    return Config(home=home, trainer=TrainerSettings(choice="command", command=trainer_command()))


@pytest.fixture
def api(home: Path):
    tokens = TokenStore.in_home(home)
    # The service's clock is passed in: the feedback below is three days old at its `now`.
    app = create_app(lambda: bootstrap(configured(home), clock=lambda: NOW), tokens=tokens)
    with TestClient(app) as client:
        built = Api(client, tokens)
        built.register("a-1", "u-a")
        built.register("a-2", "u-a")
        built.register("b-1", "u-b")
        system = bootstrap(configured(home))
        try:
            for agent_id in ("a-1", "a-2", "b-1"):
                ingest(system, good_interactions(agent_id, 100, NOW - timedelta(days=3)))
        finally:
            system.close()
        yield built
    tokens.close()


def work(home: Path) -> dict:
    system = bootstrap(configured(home))
    try:
        return run_worker(system, settings=settings(home), now=NOW, trainer_factory=tiny_trainer)
    finally:
        system.close()


def test_an_owner_creates_a_job_follows_its_events_and_sees_the_model_their_agent_is_served(api, home):
    created = api.post(
        "/api/training-jobs",
        api.owner_a,
        json={"agentId": "a-1", "priority": 3, "reason": "new tone", "hyperparameters": {"steps": 4}},
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert created.headers["location"] == f"/api/training-jobs/{job['jobId']}"
    assert (job["status"], job["priority"], job["requestedBy"], job["hyperparameters"]["steps"]) == (
        "pending",
        3,
        "owner:u-a",
        4,
    )
    served = api.get("/api/agents/a-1/served-model", api.owner_a).json()
    assert (served["modelId"], served["source"]) == (None, "base-model")

    assert work(home)["succeeded"] == [f"{job['jobId']} → agent:a-1/v1"]

    shown = api.get(f"/api/training-jobs/{job['jobId']}", api.owner_a).json()
    assert (shown["status"], shown["modelOutputId"]) == ("completed", "agent:a-1/v1")
    events = api.get(f"/api/training-jobs/{job['jobId']}/events", api.owner_a).json()
    assert [e["type"] for e in events] == ["Queued", "Started", "Succeeded"]
    assert events[0]["data"]["reason"] == "new tone" and events[2]["data"]["modelOutputId"] == "agent:a-1/v1"
    served = api.get("/api/agents/a-1/served-model", api.owner_a).json()
    assert (served["modelId"], served["source"]) == ("agent:a-1/v1", "own-champion")
    [model] = api.get("/api/models?agentId=a-1", api.owner_a).json()
    assert model["servedTo"] == ["a-1"] and model["hyperparameters"]["steps"] == 4


def test_an_owner_cancels_a_queued_job_of_theirs_and_no_one_else_can_see_or_cancel_it(api, home):
    job = api.post("/api/training-jobs", api.owner_a, json={"agentId": "a-2"}).json()
    path = f"/api/training-jobs/{job['jobId']}"
    assert api.get(path, api.owner_b).status_code == 404
    assert api.get(f"{path}/events", api.owner_b).status_code == 404
    assert api.post(f"{path}/cancel", api.owner_b, json={"reason": "mine"}).status_code == 404
    assert api.post(f"{path}/cancel", api.owner_a, json={"reason": ""}).status_code == 422
    cancelled = api.post(f"{path}/cancel", api.owner_a, json={"reason": "wrong week"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.get(path, api.admin).json()["cancelledBy"] == "owner:u-a"
    assert work(home)["attempted"] == 0
    ended = api.post("/api/training-jobs", api.owner_a, json={"agentId": "a-2"}).json()
    work(home)
    late = api.post(f"/api/training-jobs/{ended['jobId']}/cancel", api.owner_a, json={"reason": "late"})
    assert late.status_code == 422 and "completed already" in late.json()["detail"]


def test_what_an_owner_may_not_ask_for_is_refused_with_the_reason(api):
    def post(token, body):
        return api.post("/api/training-jobs", token, json=body)

    assert post(api.owner_a, {"agentId": "b-1"}).status_code == 404, "another owner's agent looks missing"
    assert post(api.owner_a, {"archetype": "mentor"}).status_code == 403
    forced = post(api.owner_a, {"agentId": "a-1", "force": True, "reason": "now"})
    assert forced.status_code == 403 and "only administrators may force" in forced.json()["detail"]
    assert post(api.owner_a, {"agentId": "a-1", "archetype": "mentor"}).status_code == 422
    assert post(api.owner_a, {}).status_code == 422
    assert post(api.owner_a, {"agentId": "a-1", "hyperparameters": {"loraRank": 65}}).status_code == 422
    assert post(api.owner_a, {"agentId": "a-1", "hyperparameters": {"epochs": 2}}).status_code == 422
    assert post(api.owner_a, {"agentId": "a-1", "priority": 10**6}).status_code == 422
    assert post(api.owner_a, {"agentId": "a-1"}).status_code == 201
    conflict = post(api.owner_a, {"agentId": "a-1"})
    assert conflict.status_code == 409 and "already has an open job" in conflict.json()["detail"]
    archetype = post(api.admin, {"archetype": "mentor", "priority": -5})
    assert archetype.status_code == 201 and archetype.json()["archetype"] == "mentor"
    assert api.post("/api/training-jobs", json={"agentId": "a-1"}).status_code == 401
