"""The HTTP API: every route, who may call it, and how bad input is answered."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.service.agent_state import SHOW_FIELDS
from domain.commands import RecordFeedback
from tests.conftest import feedback

AGENT_ROUTES = [
    ("get", "/api/agents/a-1", None),
    ("get", "/api/agents/a-1/history", None),
    ("put", "/api/agents/a-1/learning-config", {"profile": "fast"}),
    ("post", "/api/agents/a-1/freeze", {"reason": "test"}),
    ("post", "/api/agents/a-1/unfreeze", {"reason": "test"}),
    ("post", "/api/feedback", feedback("f-1", "a-1", "2026-11-24T10:00:00Z")),
    ("get", "/api/training-jobs", None),
    ("get", "/api/models", None),
]


def _call(api, method: str, path: str, body, token: str | None):
    kwargs = {"json": body} if body is not None else {}
    return getattr(api, method)(path, token, **kwargs)


# ------------------------------------------------------------ authentication


@pytest.mark.parametrize("method,path,body", AGENT_ROUTES)
def test_no_token_is_401(api, method, path, body):
    response = _call(api, method, path, body, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("method,path,body", AGENT_ROUTES)
def test_wrong_token_is_401(api, method, path, body):
    response = _call(api, method, path, body, "not-a-token")
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_a_token_of_another_scheme_is_401(api):
    response = api.client.get("/api/agents/a-1", headers={"Authorization": f"Basic {api.owner_a}"})
    assert response.status_code == 401


# ------------------------------------------------------------- authorization


def test_an_owner_sees_their_agent_as_agent_show_does(api):
    response = api.get("/api/agents/a-1", api.owner_a)
    assert response.status_code == 200
    doc = response.json()
    assert list(doc) == list(SHOW_FIELDS)
    assert (doc["agentId"], doc["ownerId"], doc["archetype"], doc["frozen"]) == ("a-1", "u-a", "mentor", False)


@pytest.mark.parametrize(
    "method,path,body",
    [r for r in AGENT_ROUTES[:3]]
    + [
        ("post", "/api/feedback", feedback("f-b", "b-1", "2026-11-24T10:00:00Z")),
    ],
)
def test_an_owner_asking_for_another_owners_agent_hears_it_does_not_exist(api, method, path, body):
    path = path.replace("a-1", "b-1")
    other = _call(api, method, path, body, api.owner_a)
    missing = _call(api, method, path.replace("b-1", "zz-9"), _retarget(body, "zz-9"), api.owner_a)
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == missing.json()["detail"].replace("zz-9", "b-1")


def _retarget(body, agent_id):
    return {**body, "agentId": agent_id} if body and "agentId" in body else body


def test_an_administrator_sees_every_agent(api):
    assert api.get("/api/agents/a-1", api.admin).json()["ownerId"] == "u-a"
    assert api.get("/api/agents/b-1", api.admin).json()["ownerId"] == "u-b"


@pytest.mark.parametrize("action", ["freeze", "unfreeze"])
def test_owners_may_not_freeze_or_unfreeze_even_their_own_agents(api, action):
    response = api.post(f"/api/agents/a-1/{action}", api.owner_a, json={"reason": "mine"})
    assert response.status_code == 403
    assert "administrators" in response.json()["detail"]


def test_an_administrator_freezes_and_unfreezes_an_agent(api):
    frozen = api.post("/api/agents/a-1/freeze", api.admin, json={"reason": "abuse reports"})
    assert frozen.json() == {"agentId": "a-1", "frozen": True, "changed": True}
    assert api.get("/api/agents/a-1", api.owner_a).json()["frozen"] is True
    again = api.post("/api/agents/a-1/freeze", api.admin, json={"reason": "abuse reports"})
    assert again.json()["changed"] is False
    unfrozen = api.post("/api/agents/a-1/unfreeze", api.admin, json={"reason": "reviewed"})
    assert unfrozen.json() == {"agentId": "a-1", "frozen": False, "changed": True}
    history = api.get("/api/agents/a-1/history", api.admin).json()
    freeze = next(e for e in history if e["type"] == "UpdatesFrozen")
    assert freeze["data"]["reason"] == "abuse reports"
    assert freeze["data"]["by"] == "admin"


def test_freezing_an_unknown_agent_is_404(api):
    assert api.post("/api/agents/zz-9/freeze", api.admin, json={"reason": "x"}).status_code == 404


def test_freezing_without_a_reason_is_422_naming_it(api):
    response = api.post("/api/agents/a-1/freeze", api.admin, json={})
    assert response.status_code == 422
    assert "reason" in response.json()["detail"]


# ------------------------------------------------------------------- history


def test_history_lists_the_agents_events_oldest_first(api):
    api.post("/api/feedback", api.owner_a, json=feedback("f-1", "a-1", "2026-11-24T10:00:00Z"))
    history = api.get("/api/agents/a-1/history", api.owner_a).json()
    assert [e["type"] for e in history] == ["AgentRegistered", "FeedbackRecorded"]
    assert [e["version"] for e in history] == [1, 2]
    assert set(history[1]) == {"type", "version", "occurredAt", "data"}


# ---------------------------------------------------------- learning config


def test_an_owner_sets_the_learning_configuration(api):
    response = api.put(
        "/api/agents/a-1/learning-config",
        api.owner_a,
        json={"profile": "fast", "traitRates": {"humor": 0.1}, "epsilon": 0.02},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["learningConfig"] == {
        "profile": "fast",
        "traitRate": None,
        "traitRates": {"humor": 0.1},
        "actionRate": None,
        "epsilon": 0.02,
    }
    assert body["effective"]["traitRates"]["humor"] == 0.1
    assert body["effective"]["actionRate"] == 0.08  # the fast profile's
    assert api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"]["profile"] == "fast"


@pytest.mark.parametrize(
    "config,field",
    [
        ({"actionRate": 0.9}, "actionRate"),
        ({"epsilon": 0.9}, "epsilon"),
        ({"traitRates": {"humor": 5.0}}, "traitRates.humor"),
        ({"traitRate": -1}, "traitRate"),
    ],
)
def test_a_rate_out_of_bounds_is_422_naming_the_field_and_the_bound(api, config, field):
    response = api.put("/api/agents/a-1/learning-config", api.owner_a, json=config)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f"{field}=" in detail and "outside [" in detail
    assert (
        api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"]
        == api.get("/api/agents/a-1", api.admin).json()["learningConfig"]
    )


@pytest.mark.parametrize(
    "config,named",
    [
        ({"profile": "reckless"}, "reckless"),
        ({"traitRates": {"charm": 0.1}}, "charm"),
        ({"epsilon": "high"}, "epsilon"),
        ({"traitRates": [0.1]}, "traitRates"),
        ({"speed": 1}, "speed"),
    ],
)
def test_a_malformed_configuration_is_422_naming_what_is_wrong(api, config, named):
    response = api.put("/api/agents/a-1/learning-config", api.owner_a, json=config)
    assert response.status_code == 422
    assert named in response.json()["detail"]


def test_a_rejected_configuration_changes_nothing(api):
    before = api.get("/api/agents/a-1/history", api.owner_a).json()
    api.put("/api/agents/a-1/learning-config", api.owner_a, json={"actionRate": 0.9})
    assert api.get("/api/agents/a-1/history", api.owner_a).json() == before


# ------------------------------------------------------------------ feedback


def test_feedback_is_idempotent_on_event_id(api):
    message = feedback("f-1", "a-1", "2026-11-24T10:00:00Z", traits={"empathy": 1.0}, action="answer")
    first = api.post("/api/feedback", api.owner_a, json=message)
    second = api.post("/api/feedback", api.owner_a, json=message)
    assert first.status_code == second.status_code == 200
    assert first.json() == {"eventId": "f-1", "agentId": "a-1", "result": "recorded"}
    assert second.json()["result"] == "duplicate"
    assert api.get("/api/agents/a-1", api.owner_a).json()["feedbackCount"] == 1


def test_five_thumbs_up_through_the_api_give_the_worked_example(api):
    for i in range(5):
        api.post(
            "/api/feedback",
            api.admin,
            json=feedback(f"w-{i}", "w-1", f"2026-11-24T10:0{i}:00Z", traits={"empathy": 1}, action="answer"),
        )
    doc = api.get("/api/agents/w-1", api.admin).json()
    assert doc["learnedTraits"]["empathy"] == pytest.approx(0.57)
    assert doc["traits"]["empathy"] == pytest.approx(0.507)


def test_feedback_that_is_not_json_is_400(api):
    response = api.client.post(
        "/api/feedback", content=b"{not json", headers={**api.auth(api.owner_a), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    "message,reason",
    [
        ({"type": "feedback", "agentId": "a-1", "occurredAt": "2026-11-24T10:00:00Z", "kind": "thumbs_up"}, "eventId"),
        (feedback("f-1", "a-1", "2026-11-24T10:00:00Z", kind="shrug"), "shrug"),
        (feedback("f-1", "a-1", "yesterday"), "occurredAt"),
        (feedback("f-1", "a-1", "2026-11-24T10:00:00Z", traits={"empathy": 3}), "traits.empathy"),
        ({"type": "gossip", "eventId": "f-1", "agentId": "a-1", "occurredAt": "2026-11-24T10:00:00Z"}, "gossip"),
        ([1, 2], "JSON object"),
    ],
)
def test_feedback_breaking_the_contract_is_422_with_the_reason(api, message, reason):
    response = api.post("/api/feedback", api.owner_a, json=message)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_an_owner_registers_a_new_agent_as_their_own(api):
    response = api.post(
        "/api/feedback",
        api.owner_a,
        json={"type": "agent_registered", "eventId": "r-n", "agentId": "a-2", "occurredAt": "2026-11-24T09:00:00Z"},
    )
    assert response.status_code == 200
    assert api.get("/api/agents/a-2", api.owner_a).json()["ownerId"] == "u-a"
    assert api.get("/api/agents/a-2", api.owner_b).status_code == 404


def test_an_owner_may_not_register_an_agent_for_someone_else(api):
    response = api.post(
        "/api/feedback",
        api.owner_a,
        json={
            "type": "agent_registered",
            "eventId": "r-x",
            "agentId": "a-3",
            "occurredAt": "2026-11-24T09:00:00Z",
            "ownerId": "u-b",
        },
    )
    assert response.status_code == 403
    assert api.get("/api/agents/a-3", api.admin).status_code == 404


def test_an_owners_feedback_for_an_unregistered_agent_is_404(api):
    # Feedback registers an unknown agent on the spot, without an owner: only administrators may.
    response = api.post("/api/feedback", api.owner_a, json=feedback("f-1", "new-1", "2026-11-24T10:00:00Z"))
    assert response.status_code == 404


def test_a_body_over_64_kb_is_413(api):
    message = feedback("f-big", "a-1", "2026-11-24T10:00:00Z", response="x" * 70_000)
    response = api.post("/api/feedback", api.owner_a, json=message)
    assert response.status_code == 413
    assert api.get("/api/agents/a-1", api.owner_a).json()["feedbackCount"] == 0


# ----------------------------------------------------- operations and others


def test_healthz_answers_without_a_token(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_metrics_are_prometheus_text_counting_requests_and_messages(api):
    api.post("/api/feedback", api.owner_a, json=feedback("f-1", "a-1", "2026-11-24T10:00:00Z"))
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'agent_learning_http_requests_total{method="POST",route="/api/feedback",status="200"}' in text
    assert 'agent_learning_messages_total{outcome="recorded"}' in text


def test_the_openapi_document_lists_every_route(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/api/agents/{agent_id}",
        "/api/agents/{agent_id}/history",
        "/api/agents/{agent_id}/learning-config",
        "/api/agents/{agent_id}/freeze",
        "/api/agents/{agent_id}/unfreeze",
        "/api/feedback",
        "/api/training-jobs",
        "/api/models",
        "/healthz",
        "/metrics",
    } <= set(paths)


def test_tokens_and_feedback_text_are_never_logged(api, caplog):
    caplog.set_level("DEBUG")
    api.post(
        "/api/feedback",
        api.owner_a,
        json=feedback("f-s", "a-1", "2026-11-24T10:00:00Z", prompt="SECRET-PROMPT", response="SECRET-RESPONSE"),
    )
    api.get("/api/agents/a-1", "wrong-token-SECRET")
    logged = caplog.text
    assert api.owner_a not in logged and "SECRET" not in logged


def test_healthz_is_not_ready_while_a_projection_has_stopped(api, home):
    """A history recorded before the boundary normalised times: the state projection cannot apply it."""
    assert api.client.get("/healthz").status_code == 200
    other = bootstrap(Config(home=home))
    ancient = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    other.service.process([RecordFeedback("x1", "x", ancient, kind="thumbs_up")])
    other.close()
    assert api.get("/api/agents/a-1", api.owner_a).status_code == 200  # the API goes on (and catches up)
    health = api.client.get("/healthz")
    assert health.status_code == 503
    assert any("agent_learning_state" in line for line in health.json()["failedProjections"])
