"""The read-model store contract on the embedded SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.readmodels.sqlite import SQLiteReadModelStore
from tests.contract.read_model_store_contract import ReadModelStoreContract


class TestSQLiteReadModelStore(ReadModelStoreContract):
    @pytest.fixture(autouse=True)
    def _database_file(self, tmp_path: Path) -> None:
        self.path = tmp_path / "read_models.db"

    def make_store(self) -> SQLiteReadModelStore:
        return SQLiteReadModelStore(str(self.path))

    def is_stored(self, collection: str, generation: int) -> bool:
        with sqlite3.connect(self.path) as db:
            row = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (f"rm_{collection}_g{generation}",)
            ).fetchone()
        return row is not None
