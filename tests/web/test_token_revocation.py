"""`tokens list` and `tokens revoke ID`: a token is listed by its id (never its secret) and, once revoked,
gets 401 from the API and ends the owner-page sessions opened with it."""

from __future__ import annotations

import json
import sqlite3

from adapters.cli.main import main
from adapters.web.api_tokens import TokenStore


def _create(home, capsys, *args: str) -> tuple[str, str]:
    assert main(["--home", str(home), "tokens", "create", *args]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    token_id = out.err.split(", id ")[1].split(";")[0]
    return token, token_id


def _listed(home, capsys) -> list[dict]:
    assert main(["--home", str(home), "tokens", "list", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_tokens_list_names_each_token_by_its_id_and_never_shows_the_secret(home, capsys):
    owner_token, owner_id = _create(home, capsys, "--owner", "u-7")
    admin_token, admin_id = _create(home, capsys, "--admin")
    listed = _listed(home, capsys)
    assert [(t["id"], t["ownerId"], t["admin"], t["revokedAt"]) for t in listed] == [
        (owner_id, "u-7", False, None),
        (admin_id, None, True, None),
    ]
    assert main(["--home", str(home), "tokens", "list"]) == 0
    table = capsys.readouterr().out
    assert owner_id in table and "owner u-7" in table and "administrators" in table
    for secret in (owner_token, admin_token):
        assert secret not in table and secret not in json.dumps(listed)


def test_an_empty_token_list_says_how_to_create_one(home, capsys):
    assert main(["--home", str(home), "tokens", "list"]) == 0
    assert "agent-learning tokens create --owner ID" in capsys.readouterr().out


def test_a_revoked_token_gets_401_and_stays_listed_as_revoked(api, home, capsys):
    assert api.get("/api/agents/a-1", api.owner_a).status_code == 200
    token_id = TokenStore.token_id(api.owner_a)
    assert main(["--home", str(home), "tokens", "revoke", token_id]) == 0
    assert f"token {token_id} for owner u-a revoked" in capsys.readouterr().out
    response = api.get("/api/agents/a-1", api.owner_a)
    assert response.status_code == 401 and "not valid" in response.json()["detail"]
    assert api.get("/api/agents/b-1", api.owner_b).status_code == 200  # other tokens still work
    revoked = {t["id"]: t["revokedAt"] for t in _listed(home, capsys)}
    assert revoked[token_id] is not None and revoked[TokenStore.token_id(api.owner_b)] is None


def test_revoking_a_token_ends_the_owner_page_sessions_opened_with_it(api, home, capsys):
    api.client.post("/login", data={"token": api.owner_a, "next": "/agents/a-1"})
    assert api.client.get("/agents/a-1").status_code == 200
    assert main(["--home", str(home), "tokens", "revoke", TokenStore.token_id(api.owner_a)]) == 0
    response = api.client.get("/agents/a-1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert api.client.post("/login", data={"token": api.owner_a}).status_code == 401


def test_revoking_an_unknown_or_malformed_id_fails_with_the_fix(home, capsys):
    _create(home, capsys, "--owner", "u-7")
    assert main(["--home", str(home), "tokens", "revoke", "0123456789ab"]) == 1
    assert "no token with id 0123456789ab: see `agent-learning tokens list`" in capsys.readouterr().err
    assert main(["--home", str(home), "tokens", "revoke", "not-an-id"]) == 1
    assert "ids are the 12 hex digits" in capsys.readouterr().err


def test_a_tokens_file_from_before_revocation_is_upgraded_in_place(tmp_path):
    db = sqlite3.connect(tmp_path / "tokens.db")
    db.execute(
        "CREATE TABLE api_tokens (token_sha256 TEXT PRIMARY KEY, owner_id TEXT, admin INTEGER NOT NULL,"
        " created_at TEXT NOT NULL, CHECK ((admin = 1) = (owner_id IS NULL)))"
    )
    db.commit()
    db.close()
    store = TokenStore.in_home(tmp_path)
    token = store.create(owner_id="u-1")
    store.revoke(TokenStore.token_id(token))
    assert store.principal(token) is None
    store.close()
