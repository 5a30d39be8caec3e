"""`/fleet` for administrators (refused for owners), `GET /api/insights`, and the agent page's users."""

from __future__ import annotations

from adapters.service.clock import utc_now
from domain.commands import FreezeUpdates
from tests.conftest import feedback


def sign_in(api, token: str) -> None:
    api.client.post("/login", data={"token": token, "next": "/fleet"}, follow_redirects=False)


def some_feedback(api) -> None:
    for i in range(6):
        api.post(
            "/api/feedback",
            api.admin,
            json=feedback(
                f"f-{i}",
                "a-1",
                f"2026-11-24T10:0{i}:00Z",
                kind="thumbs_down" if i % 3 else "thumbs_up",
                traits={"humor": 1.0},
                action="answer",
                userId=f"user-{i % 2}",
            ),
        )
    api.client.post(
        "/api/feedback",
        content=b'{"type": "feedback", "eventId": ',
        headers={**api.auth(api.admin), "content-type": "application/json"},
    )


def test_the_fleet_page_is_for_administrators_only(api):
    assert api.client.get("/fleet", follow_redirects=False).status_code == 303
    sign_in(api, api.owner_a)
    refused = api.client.get("/fleet")
    assert refused.status_code == 403 and "for administrators" in refused.text
    assert 'href="/fleet"' not in api.client.get("/agents").text


def test_the_fleet_page_shows_every_agent_and_the_fleets_charts(api):
    some_feedback(api)
    with api.client.app.state.pool.system() as system:
        system.service.freeze(FreezeUpdates("b-1", "checking", utc_now(), by="admin"))
    sign_in(api, api.admin)
    page = api.client.get("/fleet")
    assert page.status_code == 200
    html = page.text
    assert 'data-agent="a-1"' in html and 'data-agent="b-1"' in html
    assert "2 agents: 1 learning, 1 frozen" in " ".join(html.split())
    for chart in ("freezes", "triggers", "sentiment", "trait-distribution", "dead-letters"):
        assert f'data-chart="{chart}"' in html, chart
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no CDN
    assert "read model agent_learning_state" in html
    assert 'data-chart="training-jobs"' in html and "No training job yet" in html
    assert "No clustering recorded yet" in html and 'href="/fleet"' in html


def test_the_insights_api_is_for_administrators(api):
    assert api.get("/api/insights", api.owner_a).status_code == 403
    answer = api.get("/api/insights", api.admin)
    assert answer.status_code == 200 and answer.json() == {"latest": None, "clusterings": []}


def test_the_agent_page_shows_its_users_relationship_strength(api):
    some_feedback(api)
    api.client.post("/login", data={"token": api.owner_a, "next": "/agents/a-1"}, follow_redirects=False)
    page = api.client.get("/agents/a-1").text
    assert 'id="relationships"' in page and 'data-user="user-0"' in page and 'data-user="user-1"' in page


def test_a_recorded_clustering_shows_on_the_page_and_in_the_api(api):
    from datetime import UTC, datetime

    from domain.clustering_insights import ClusteringInsights

    with api.client.app.state.pool.system() as system:
        system.service.work.create(
            ClusteringInsights.record(
                "2026-12",
                agents=2,
                clustered=2,
                centroids={"mentor": {"empathy": 0.7, "humor": 0.3}, "companion": {"empathy": 0.9, "humor": 0.6}},
                refreshed=["mentor"],
                priors={},
                suggestions=[
                    {
                        "agentId": "a-1",
                        "archetype": "mentor",
                        "nearer": "companion",
                        "distanceOwn": 0.4,
                        "distanceNearer": 0.1,
                    }
                ],
                occurred_at=datetime(2026, 12, 1, 2, tzinfo=UTC),
            )
        )
    latest = api.get("/api/insights", api.admin).json()["latest"]
    assert latest["period"] == "2026-12" and latest["suggestions"][0]["status"] == "open"
    sign_in(api, api.admin)
    html = api.client.get("/fleet").text
    assert 'id="centroids"' in html and 'id="suggestions"' in html
    assert "2026-12: 2 of 2 agents clustered" in " ".join(html.split())
    assert '<tr data-agent="a-1"><td>a-1</td><td>mentor</td><td>companion</td>' in html
