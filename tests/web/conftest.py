"""The HTTP API over a real embedded System in a temporary home, with one token per role."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.bootstrap import Config, bootstrap
from adapters.web.api_tokens import TokenStore
from adapters.web.app import create_app


class Api:
    """A client and the tokens of two owners and an administrator."""

    def __init__(self, client: TestClient, tokens: TokenStore):
        self.client = client
        self.admin = tokens.create(admin=True)
        self.owner_a = tokens.create(owner_id="u-a")
        self.owner_b = tokens.create(owner_id="u-b")

    @staticmethod
    def auth(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, token: str | None = None, **kwargs):
        return self.client.get(path, headers=self.auth(token) if token else {}, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs):
        return self.client.post(path, headers=self.auth(token) if token else {}, **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs):
        return self.client.put(path, headers=self.auth(token) if token else {}, **kwargs)

    def register(self, agent_id: str, owner_id: str, archetype: str = "mentor") -> None:
        response = self.post(
            "/api/feedback",
            self.admin,
            json={
                "type": "agent_registered",
                "eventId": f"reg-{agent_id}",
                "agentId": agent_id,
                "occurredAt": "2026-11-24T09:00:00Z",
                "archetype": archetype,
                "ownerId": owner_id,
            },
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def api(home: Path):
    tokens = TokenStore.in_home(home)
    app = create_app(lambda: bootstrap(Config(home=home)), tokens=tokens)
    with TestClient(app) as client:
        built = Api(client, tokens)
        built.register("a-1", "u-a")
        built.register("b-1", "u-b")
        yield built
    tokens.close()
