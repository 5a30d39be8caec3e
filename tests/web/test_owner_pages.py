"""The owner's page: sign in with a token, see one's own agent with its chart, change its configuration."""

from __future__ import annotations

import re

from adapters.web.sessions import SESSION_COOKIE, Sessions
from tests.conftest import feedback


def _sign_in(api, token: str):
    return api.client.post("/login", data={"token": token, "next": "/agents/a-1"}, follow_redirects=False)


def _recalculate(api, agent_id: str = "a-1") -> None:
    for i in range(5):
        api.post(
            "/api/feedback",
            api.admin,
            json=feedback(
                f"p-{agent_id}-{i}", agent_id, f"2026-11-24T10:0{i}:00Z", traits={"empathy": 1}, action="answer"
            ),
        )


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


def test_signing_in_never_redirects_to_another_site(api):
    for target in (
        "https://elsewhere.example/",
        "//elsewhere.example/",
        "/\\elsewhere.example/",
        "/agents\\..\\\\elsewhere.example",
    ):
        response = api.client.post("/login", data={"token": api.owner_a, "next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/", target


def test_a_wrong_token_does_not_sign_in(api):
    response = _sign_in(api, "guessed")
    assert response.status_code == 401
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


CHARTS = ("traits", "reward-sentiment", "epsilon", "feedback-volume", "recalculations")


def test_the_owner_sees_their_agent_with_every_chart(api):
    _recalculate(api)
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1")
    assert page.status_code == 200
    assert "Agent a-1" in page.text
    for chart in CHARTS:
        assert re.search(rf'<svg [^>]*data-chart="{chart}"', page.text), chart
    assert 'data-trait="empathy"' in page.text
    assert 'class="empty"' not in page.text.split("<h2>Training jobs")[0]


def test_a_new_agent_shows_empty_states_that_say_what_to_do(api):
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1").text
    for chart in ("traits", "reward-sentiment", "feedback-volume", "recalculations"):
        assert re.search(rf'<p class="empty" data-chart="{chart}">', page), chart
    assert "<code>agent-learning ingest FILE</code>" in page and "<code>POST /api/feedback</code>" in page
    assert 'data-chart="epsilon"' in page  # ε exists from registration on
    assert 'id="jobs-empty"' in page and 'id="models-empty"' in page


def test_another_owners_agent_is_not_found(api):
    _sign_in(api, api.owner_b)
    assert api.client.get("/agents/a-1").status_code == 404
    assert api.client.get("/agents/zz-9").status_code == 404


def test_the_configuration_form_needs_the_sessions_csrf_token(api):
    _sign_in(api, api.owner_a)
    response = api.client.post(
        "/agents/a-1/learning-config", data={"csrf": "forged", "profile": "fast"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"].get("profile") is None


def test_the_owner_changes_the_configuration_from_the_page(api):
    _sign_in(api, api.owner_a)
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/agents/a-1").text).group(1)
    saved = api.client.post(
        "/agents/a-1/learning-config", data={"csrf": csrf, "profile": "fast", "epsilon": "0.02"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert api.get("/api/agents/a-1", api.owner_a).json()["learningConfig"]["profile"] == "fast"
    rejected = api.client.post("/agents/a-1/learning-config", data={"csrf": csrf, "actionRate": "0.9"})
    assert rejected.status_code == 422
    assert "actionRate=0.9 is outside" in rejected.text


def test_the_page_shows_the_configuration_change_in_the_recent_history(api):
    _sign_in(api, api.owner_a)
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/agents/a-1").text).group(1)
    api.client.post("/agents/a-1/learning-config", data={"csrf": csrf, "profile": "conservative"})
    history = api.client.get("/agents/a-1").text.split('id="history"')[1]
    newest = re.search(r'<tr data-type="([^"]+)">.*?</tr>', history, re.S)
    assert newest.group(1) == "LearningConfigured"
    assert "learning configured: profile conservative" in newest.group(0)


def test_an_administrator_unfreezes_from_the_page_and_an_owner_may_not(api):
    api.post("/api/agents/a-1/freeze", api.admin, json={"reason": "complaints"})
    _sign_in(api, api.owner_a)
    owner_page = api.client.get("/agents/a-1").text
    assert "updates frozen" in owner_page and "/agents/a-1/unfreeze" not in owner_page
    csrf = re.search(r'name="csrf" value="([^"]+)"', owner_page).group(1)
    refused = api.client.post("/agents/a-1/unfreeze", data={"csrf": csrf, "reason": "mine"})
    assert refused.status_code == 403
    assert api.get("/api/agents/a-1", api.admin).json()["frozen"] is True

    api.client.cookies.clear()
    api.client.post("/login", data={"token": api.admin, "next": "/agents/a-1"})
    page = api.client.get("/agents/a-1").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    missing_reason = api.client.post("/agents/a-1/unfreeze", data={"csrf": csrf, "reason": " "})
    assert missing_reason.status_code == 422 and "give a reason" in missing_reason.text
    done = api.client.post("/agents/a-1/unfreeze", data={"csrf": csrf, "reason": "reviewed"}, follow_redirects=False)
    assert done.status_code == 303
    assert api.get("/api/agents/a-1", api.admin).json()["frozen"] is False
    assert "updates unfrozen by admin: reviewed" in api.client.get("/agents/a-1").text


def test_signing_out_ends_the_session(api):
    _sign_in(api, api.owner_a)
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/agents/a-1").text).group(1)
    assert api.client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert api.client.get("/agents/a-1", follow_redirects=False).status_code == 303


def test_an_expired_session_asks_to_sign_in_again(api):
    now = [1000.0]
    api.client.app.state.sessions = Sessions(lifetime=3600, clock=lambda: now[0])
    _sign_in(api, api.owner_a)
    assert api.client.get("/agents/a-1").status_code == 200
    now[0] += 3601
    response = api.client.get("/agents/a-1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_the_page_shows_the_current_policys_estimated_value_against_uniform(api):
    for i in range(30):
        action = ("answer", "escalate")[i % 2]
        kind = "thumbs_up" if action == "answer" else "thumbs_down"
        message = feedback(f"v-{i}", "a-1", f"2026-11-24T10:{i:02d}:00Z", kind, action=action, actionProbability=0.5)
        assert api.post("/api/feedback", api.admin, json=message).status_code == 200
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1").text
    section = page.split("<h2>Is its policy better than chance?</h2>")[1].split("<h2>")[0]
    assert "from 30 feedbacks with an action" in section
    assert "<td>current policy</td>" in section and "<td>uniform (random)</td>" in section
    assert "intervals" in section and "propensities were derived" not in section  # all were logged


def test_a_new_agent_has_no_policy_value_to_show(api):
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1").text
    assert "No feedback with an action yet: nothing to estimate." in page
