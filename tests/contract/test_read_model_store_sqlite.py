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


def test_each_read_model_is_readable_by_its_name_before_during_and_after_a_switch(tmp_path: Path) -> None:
    import json
    import threading

    from tests.contract.read_model_store_contract import COLLECTIONS, PROJECTION

    path = tmp_path / "read_models.db"
    store = SQLiteReadModelStore(str(path))
    first = store.start_generation(PROJECTION, 1, COLLECTIONS)
    store.commit(PROJECTION, first.generation, {"agents": {f"k{i}": {"g": 1} for i in range(50)}}, 1, 0)
    store.activate(PROJECTION, first.generation)
    second = store.start_generation(PROJECTION, 2, COLLECTIONS)
    store.commit(PROJECTION, second.generation, {"agents": {f"k{i}": {"g": 2} for i in range(50)}}, 1, 0)

    def by_name(db: sqlite3.Connection) -> frozenset:  # a neighbour: the name and its JSON, nothing else
        return frozenset((key, json.loads(doc)["g"]) for key, doc in db.execute("SELECT key, doc FROM agents"))

    seen: list[frozenset] = []
    done, reading = threading.Event(), threading.Event()

    def read() -> None:
        with sqlite3.connect(path) as db:
            while not done.is_set():
                seen.append(by_name(db))
                reading.set()

    reader = threading.Thread(target=read)
    reader.start()
    # On a busy machine the switch could end before the reader's first read, leaving nothing to check.
    assert reading.wait(10), "the reader never read"
    try:
        store.activate(PROJECTION, second.generation)
    finally:
        done.set()
        reader.join(10)
    old, new = (frozenset((f"k{i}", g) for i in range(50)) for g in (1, 2))
    assert seen and set(seen) <= {old, new}
    with sqlite3.connect(path) as db:
        assert by_name(db) == new
        assert db.execute("SELECT json_extract(doc, '$.g') FROM agents WHERE key = 'k3'").fetchone() == (2,)
    store.close()
    reopened = SQLiteReadModelStore(str(path))  # stores from before the views get them when opened
    with sqlite3.connect(path) as db:
        db.execute("DROP VIEW agents")
    reopened.close()
    SQLiteReadModelStore(str(path)).close()
    with sqlite3.connect(path) as db:
        assert by_name(db) == new
