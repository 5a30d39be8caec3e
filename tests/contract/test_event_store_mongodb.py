from __future__ import annotations

import uuid

import pytest

from tests.contract.event_store_contract import EventStoreContract

pytestmark = pytest.mark.mongodb


class TestMongoDBEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, mongodb_url):
        self.url = mongodb_url

    def make_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "adapters.eventstore.mongodb",
            "MONGODB_URL": self.url,
            "MONGODB_DATABASE": f"contract_{uuid.uuid4().hex[:12]}",
        }
