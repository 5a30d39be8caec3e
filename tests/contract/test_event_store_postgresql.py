from __future__ import annotations

import pytest

from adapters.bootstrap import postgres_settings
from tests.contract.event_store_contract import EventStoreContract

pytestmark = pytest.mark.postgresql


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url):
        self.url = postgres_url

    def make_env(self) -> dict[str, str]:
        return {"PERSISTENCE_MODULE": "adapters.eventstore.postgresql", **postgres_settings(self.url)}
