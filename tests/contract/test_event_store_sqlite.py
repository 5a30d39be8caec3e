from __future__ import annotations

import pytest

from tests.contract.event_store_contract import EventStoreContract


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.folder = tmp_path

    def make_env(self) -> dict[str, str]:
        return {
            "PERSISTENCE_MODULE": "adapters.eventstore.sqlite",
            "SQLITE_DBNAME": str(self.folder / "events.db"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
