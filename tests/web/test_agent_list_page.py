"""`GET /agents`: the owner's agents with confidence, version and frozen state; administrators see all."""

from __future__ import annotations

import re

from tests.conftest import feedback


def _sign_in(api, token: str) -> None:
    api.client.cookies.clear()
    assert api.client.post("/login", data={"token": token, "next": "/agents"}).status_code == 200


def _rows(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-agent="([^"]+)">(.*?)</tr>', page, re.S))


def test_without_a_session_the_list_asks_to_sign_in(api):
    response = api.client.get("/agents", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fagents"


def test_the_root_leads_to_the_list(api):
    response = api.client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/agents"


def test_an_owner_sees_only_their_agents_with_version_confidence_and_state(api):
    for i in range(5):
        api.post(
            "/api/feedback",
            api.admin,
            json=feedback(f"l-{i}", "a-1", f"2026-11-24T10:0{i}:00Z", traits={"empathy": 1}, action="answer"),
        )
    api.register("a-2", "u-a")
    api.post("/api/agents/a-2/freeze", api.admin, json={"reason": "review"})
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents").text
    rows = _rows(page)
    assert set(rows) == {"a-1", "a-2"}
    assert '<a href="/agents/a-1">a-1</a>' in rows["a-1"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows["a-1"], re.S)
    assert cells[2:5] == ["1", "archetype", '<span class="learning">learning</span>']
    assert '<span class="frozen">frozen</span>' in rows["a-2"]


def test_an_administrator_sees_every_agent_with_its_owner(api):
    _sign_in(api, api.admin)
    rows = _rows(api.client.get("/agents").text)
    assert set(rows) == {"a-1", "b-1"}
    assert "<td>u-b</td>" in rows["b-1"]


def test_an_owner_without_agents_is_told_how_to_register_one(api):
    api.client.cookies.clear()
    token = api.client.app.state.tokens.create(owner_id="u-new")
    _sign_in(api, token)
    page = api.client.get("/agents").text
    assert not _rows(page)
    assert "No agents belong to u-new yet" in page
    assert "<code>agent_registered</code>" in page and '"ownerId": "u-new"' in page
