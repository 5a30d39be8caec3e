"""The owner's page: sign in with a token, see one's own agent with its chart, change its configuration."""

from __future__ import annotations

import re

from adapters.web.sessions import SESSION_COOKIE
from tests.conftest import feedback


def _sign_in(api, token: str):
    return api.client.post("/login", data={"token": token, "next": "/agents/a-1"}, follow_redirects=False)


def _recalculate(api, agent_id: str = "a-1") -> None:
    for i in range(5):
        api.post("/api/feedback", api.admin, json=feedback(
            f"p-{agent_id}-{i}", agent_id, f"2026-11-24T10:0{i}:00Z", traits={"empathy": 1}, action="answer"))


def test_without_a_session_the_page_asks_to_sign_in(api):
    response = api.client.get("/agents/a-1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fagents%2Fa-1"


def test_signing_in_sets_an_http_only_strict_session_cookie(api):
    response = _sign_in(api, api.owner_a)
    assert response.status_code == 303 and response.headers["location"] == "/agents/a-1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert api.owner_a not in cookie


def test_a_wrong_token_does_not_sign_in(api):
    response = _sign_in(api, "guessed")
    assert response.status_code == 401
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_the_owner_sees_their_agent_with_the_trait_chart(api):
    _recalculate(api)
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1")
    assert page.status_code == 200
    assert "Agent a-1" in page.text
    assert page.text.count("<svg") == 1
    assert 'data-trait="empathy"' in page.text


def test_another_owners_agent_is_not_found(api):
    _sign_in(api, api.owner_b)
    assert api.client.get("/agents/a-1").status_code == 404
    assert api.client.get("/agents/zz-9").status_code == 404


def test_the_configuration_form_needs_the_sessions_csrf_token(api):
    _sign_in(api, api.owner_a)
    response = api.client.post("/agents/a-1/learning-config", data={"csrf": "forged", "profile": "fast"},
                               follow_redirects=False)
    assert response.status_code == 403
    assert api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"].get("profile") is None


def test_the_owner_changes_the_configuration_from_the_page(api):
    _sign_in(api, api.owner_a)
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/agents/a-1").text).group(1)
    saved = api.client.post("/agents/a-1/learning-config", data={"csrf": csrf, "profile": "fast", "epsilon": "0.02"},
                            follow_redirects=False)
    assert saved.status_code == 303
    assert api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"]["profile"] == "fast"
    rejected = api.client.post("/agents/a-1/learning-config", data={"csrf": csrf, "actionRate": "0.9"})
    assert rejected.status_code == 422
    assert "actionRate=0.9 is outside" in rejected.text
