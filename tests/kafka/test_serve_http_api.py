"""`agent-learning serve` serves the HTTP API and owner pages too, on its one address: feedback posted
over HTTP is learned from and published by serve's own workers, `/metrics` holds the workers' and the
API's metrics together, and `/healthz` still reports the workers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from adapters.cli.main import main
from tests.contract.test_relay_sink_kafka import output_topics, read_records
from tests.kafka.serve_process import ServeProcess, ServeSetup, sample

pytestmark = pytest.mark.kafka


def _request(serve: ServeProcess, method: str, path: str, token: str | None = None, body: dict | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{serve.port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _token(home, capsys, *args: str) -> str:
    assert main(["--home", str(home), "tokens", "create", *args]) == 0
    return capsys.readouterr().out.strip()


def test_serve_answers_the_api_shares_one_metrics_endpoint_and_keeps_worker_health(
    kafka_bootstrap: str, tmp_path, capsys
):
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home")
    setup.home.mkdir(parents=True)
    admin, owner = _token(setup.home, capsys, "--admin"), _token(setup.home, capsys, "--owner", "u-1")
    serve = setup.start().wait_until_answering()
    try:
        status, _ = _request(
            serve,
            "POST",
            "/api/feedback",
            admin,
            {
                "type": "agent_registered",
                "eventId": "r-1",
                "agentId": "a-1",
                "occurredAt": "2026-11-24T09:00:00Z",
                "archetype": "mentor",
                "ownerId": "u-1",
            },
        )
        assert status == 200
        for i in range(5):
            status, _ = _request(
                serve,
                "POST",
                "/api/feedback",
                owner,
                {
                    "type": "feedback",
                    "eventId": f"f-{i}",
                    "agentId": "a-1",
                    "occurredAt": f"2026-11-24T10:0{i}:00Z",
                    "kind": "thumbs_up",
                    "traits": {"empathy": 1},
                    "action": "answer",
                },
            )
            assert status == 200

        status, agent = _request(serve, "GET", "/api/agents/a-1", owner)
        assert status == 200 and (agent["version"], agent["trigger"]) == (1, "feedback_count")
        assert _request(serve, "GET", "/api/agents/a-1")[0] == 401
        assert _request(serve, "GET", "/api/training-jobs", owner)[0] == 200

        # serve's relay publishes what the API recorded
        serve.wait_until(
            lambda: any(
                r.message.headers.get("event-type") == "AgentLearningUpdated"
                for r in read_records(kafka_bootstrap, output_topics(setup.topics))
            ),
            "the update published",
            timeout=60,
            interval=0.5,
        )

        metrics = serve.metrics()
        assert (
            sample(metrics, "agent_learning_http_requests_total", method="POST", route="/api/feedback", status="200")
            == 6
        )
        assert sample(metrics, "agent_learning_relay_published_total") >= 1
        assert sample(metrics, "agent_learning_projection_lag", projection="agent_learning_state") is not None

        status, health = serve.health()
        assert status == 200 and health["ok"] is True
        assert {"projections", "consumer", "relay", "tick"} <= set(health["workers"])
        status, page = serve.get("/login")
        assert status == 200 and b"API token" in page
    finally:
        code = serve.terminate(timeout=30)
    assert code == 0, serve.log_tail()


def test_readyz_waits_for_the_consumers_partitions_while_healthz_is_alive(kafka_bootstrap: str, tmp_path):
    setup = ServeSetup(kafka_bootstrap, tmp_path / "home")
    serve = setup.start().wait_until_answering()
    try:
        seen = []
        serve.wait_until(
            lambda: seen.append(_request(serve, "GET", "/readyz")) or seen[-1][0] == 200,
            "ready",
            timeout=60,
            interval=0.05,
        )
        for status, body in seen[:-1]:
            assert status == 503 and body["ready"] is False and "consumer" in body["waitingFor"], body
        assert seen[-1][1] == {"ok": True, "ready": True, "waitingFor": {}}
        # The API answers before the group's first join completes (about a second on Tansu), so the
        # first answers are 503s naming the consumer: readiness really waited for the assignment.
        assert len(seen) >= 2, seen
        assert serve.health()[0] == 200
    finally:
        assert serve.terminate() == 0, serve.log_tail()
