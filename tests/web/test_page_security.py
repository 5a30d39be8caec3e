"""The owner pages against a hostile browser: forged forms, other sites, caches, endless logins."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from adapters.bootstrap import Config, bootstrap
from adapters.web.api_tokens import Principal, TokenStore
from adapters.web.app import create_app
from adapters.web.sessions import SESSION_COOKIE, Sessions


def _sign_in(api, token: str, **headers):
    return api.client.post(
        "/login", data={"token": token, "next": "/agents/a-1"}, headers=headers, follow_redirects=False
    )


def test_a_csrf_value_outside_ascii_is_refused_with_403_not_a_500(api):
    _sign_in(api, api.owner_a)
    response = api.client.post("/agents/a-1/learning-config", data={"csrf": "é" * 43, "profile": "fast"})
    assert response.status_code == 403


def test_login_from_another_site_is_refused(api):
    forged = _sign_in(api, api.owner_a, origin="https://evil.example")
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.cookies
    assert _sign_in(api, api.owner_a, **{"sec-fetch-site": "cross-site"}).status_code == 403
    assert _sign_in(api, api.owner_a, origin="http://testserver").status_code == 303
    assert _sign_in(api, api.owner_a, origin="null", **{"sec-fetch-site": "same-origin"}).status_code == 303


def test_forms_from_another_site_are_refused_even_with_the_csrf_token(api):
    _sign_in(api, api.owner_a)
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/agents/a-1").text).group(1)
    response = api.client.post(
        "/agents/a-1/learning-config",
        data={"csrf": csrf, "profile": "fast"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_pages_carry_the_security_headers_and_are_never_cached(api):
    _sign_in(api, api.owner_a)
    page = api.client.get("/agents/a-1")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert api.client.get("/login").headers["cache-control"] == "no-store"


def test_authenticated_api_answers_are_not_cached_and_public_ones_may_be(api):
    answer = api.get("/api/agents/a-1", api.owner_a)
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in api.client.get("/healthz").headers
    assert "content-security-policy" not in answer.headers  # JSON, not a page


def test_the_session_store_is_bounded_ending_expired_then_oldest_sessions():
    now = [0.0]
    sessions = Sessions(lifetime=10, clock=lambda: now[0], limit=3)
    who = Principal(owner_id="u-a", admin=False)
    first = sessions.open(who)
    now[0] = 5
    second, third = sessions.open(who), sessions.open(who)
    now[0] = 12  # the first has expired
    fourth = sessions.open(who)
    assert len(sessions) == 3 and sessions.get(first) is None
    fifth = sessions.open(who)  # none expired: the oldest goes
    assert len(sessions) == 3
    assert sessions.get(second) is None
    assert all(sessions.get(s) is not None for s in (third, fourth, fifth))


def test_behind_tls_the_session_cookie_is_secure_even_over_plain_http(home: Path):
    tokens = TokenStore.in_home(home)
    token = tokens.create(owner_id="u-a")
    app = create_app(lambda: bootstrap(Config(home=home, behind_tls=True)), tokens=tokens)
    with TestClient(app) as client:
        response = client.post("/login", data={"token": token, "next": "/agents"}, follow_redirects=False)
    tokens.close()
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
