"""The read-model store contract on PostgreSQL (a database of its own per test), and its stable names."""

from __future__ import annotations

import threading

import psycopg
import pytest

from adapters.readmodels.postgresql import PostgresReadModelStore
from tests.contract.read_model_store_contract import COLLECTIONS, PROJECTION, ReadModelStoreContract

pytestmark = pytest.mark.postgresql


class TestPostgresReadModelStore(ReadModelStoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str):
        self.url = postgres_url
        self.stores: list[PostgresReadModelStore] = []
        yield
        for store in self.stores:
            store.close()

    def make_store(self) -> PostgresReadModelStore:
        store = PostgresReadModelStore(self.url)
        self.stores.append(store)
        return store

    def is_stored(self, collection: str, generation: int) -> bool:
        with psycopg.connect(self.url) as db:
            row = db.execute("SELECT to_regclass(%s)", (f"rm_{collection}_g{generation}",)).fetchone()
        return row is not None and row[0] is not None


def test_each_read_model_is_readable_by_its_name_before_during_and_after_a_switch(postgres_url: str) -> None:
    store = PostgresReadModelStore(postgres_url)
    first = store.start_generation(PROJECTION, 1, COLLECTIONS)
    store.commit(PROJECTION, first.generation, {"agents": {f"k{i}": {"g": 1} for i in range(50)}}, 1, 0)
    store.activate(PROJECTION, first.generation)
    second = store.start_generation(PROJECTION, 2, COLLECTIONS)
    store.commit(PROJECTION, second.generation, {"agents": {f"k{i}": {"g": 2} for i in range(50)}}, 1, 0)

    def by_name(db: psycopg.Connection) -> frozenset:  # a neighbour: the name and its jsonb, nothing else
        return frozenset(db.execute("SELECT key, (doc->>'g')::int FROM agents").fetchall())

    seen: list[frozenset] = []
    reading, done = threading.Event(), threading.Event()

    def read() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as db:
            while not done.is_set():
                seen.append(by_name(db))
                reading.set()
            seen.append(by_name(db))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert reading.wait(30), "the reader never read"
        store.activate(PROJECTION, second.generation)
    finally:
        done.set()
        reader.join(10)
    old, new = (frozenset((f"k{i}", g) for i in range(50)) for g in (1, 2))
    assert seen and set(seen) <= {old, new}
    with psycopg.connect(postgres_url) as db:
        assert by_name(db) == new
        assert db.execute("SELECT to_regclass('rm_agents_g1')").fetchone() == (None,), "the old generation is gone"
    store.close()
