"""The read-model store contract on MongoDB, and the real projections there agreeing with SQLite.

Needs the session fixture ``mongodb_url`` (a MongoDB-protocol replica set);
each test works in a database of its own, dropped afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest
from pymongo import MongoClient

from adapters.bootstrap import Config, bootstrap
from adapters.readmodels.mongodb import CHECKPOINTS, GENERATIONS, MongoDBReadModelStore
from adapters.readmodels.sqlite import SQLiteReadModelStore
from adapters.service.learning_service import Rejection
from domain.clustering_insights import ClusteringInsights
from domain.commands import (
    EndSession,
    FreezeUpdates,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
)
from domain.training_job import TrainingJob
from jobs.model_registry_service import register_trained_model
from projections.catch_up_runner import CatchUpRunner, all_projections
from projections.read_model_store import CheckpointMoved, Collection, ReadModelStore
from tests.contract.read_model_store_contract import (
    COLLECTIONS,
    PROJECTION,
    ReadModelStoreContract,
)
from tests.support.contract_schemas import assert_read_models_valid

pytestmark = pytest.mark.mongodb


@pytest.fixture
def database_name(mongodb_url: str) -> Iterator[str]:
    name = f"test_{uuid4().hex}"
    yield name
    with MongoClient(mongodb_url) as client:
        client.drop_database(name)


def with_database(url: str, database: str) -> str:
    """`url` naming `database` in its path, as AGENT_LEARNING_READ_MODELS does."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


class TestMongoDBReadModelStore(ReadModelStoreContract):
    @pytest.fixture(autouse=True)
    def _fresh_database(self, mongodb_url: str, database_name: str) -> Iterator[None]:
        self.url, self.database = mongodb_url, database_name
        self.client: MongoClient = MongoClient(mongodb_url)
        yield
        self.client.close()

    def make_store(self) -> MongoDBReadModelStore:
        return MongoDBReadModelStore(self.url, self.database)

    def is_stored(self, collection: str, generation: int) -> bool:
        """A generation's documents are at `NAME__gN` while it builds, at `NAME` once it is live."""
        database = self.client[self.database]
        registered = database[GENERATIONS].find_one({"generation": generation, "collections": collection}) or {}
        name = collection if registered.get("stable") else f"{collection}__g{generation}"
        return name in database.list_collection_names()

    # What only this backend shows: its layout.

    def test_the_live_generation_is_at_the_read_models_names_and_one_building_is_suffixed(
        self, store: ReadModelStore
    ) -> None:
        store.start_generation(PROJECTION, 1, COLLECTIONS)
        store.activate(PROJECTION, 1)
        store.start_generation(PROJECTION, 2, COLLECTIONS)
        database = self.client[self.database]

        assert set(database.list_collection_names()) == {
            CHECKPOINTS,
            GENERATIONS,
            "agents",
            "scores",
            "agents__g2",
            "scores__g2",
        }
        keys = [list(index["key"]) for index in database["agents__g2"].list_indexes()]
        assert sorted(keys) == [["_id"], ["ownerId"], ["score", "at"]]

    def test_the_key_is_the_document_id(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)
        store.commit(
            PROJECTION, started.generation, {"agents": {"agent-1": {"name": "one"}}}, position=1, expected_position=0
        )

        assert list(self.client[self.database]["agents__g1"].find()) == [{"_id": "agent-1", "name": "one"}]

    def test_a_document_with_its_own_id_field_is_refused_and_nothing_is_written(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, [Collection("agents")])

        with pytest.raises(ValueError, match="_id"):
            store.commit(
                PROJECTION, started.generation, {"agents": {"a": {"_id": "x"}}}, position=1, expected_position=0
            )

        assert store.checkpoints()[0].position == 0

    def test_a_crash_before_the_rename_keeps_readers_on_the_old_generation_and_a_restart_finishes_it(
        self, store: MongoDBReadModelStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.live(store, {"a": {"g": 1}})
        new = store.start_generation(PROJECTION, 2, COLLECTIONS)
        store.commit(PROJECTION, new.generation, {"agents": {"a": {"g": 2}}}, position=1, expected_position=0)

        def crash(*args, **kwargs) -> None:
            raise ConnectionError("the process died here")

        with monkeypatch.context() as patched:
            patched.setattr(store, "_rename", crash)
            with pytest.raises(ConnectionError):
                store.activate(PROJECTION, new.generation)
        assert store.get("agents", "a") == {"g": 1}  # readers stay on the old generation
        assert self.client[self.database]["agents"].find_one({"_id": "a"}) == {"_id": "a", "g": 1}
        with pytest.raises(CheckpointMoved):  # and no commit goes to either while switching
            store.commit(PROJECTION, new.generation, {"agents": {"b": {}}}, position=2, expected_position=1)

        restarted = self.make_store()  # the next process finishes the switch
        try:
            assert restarted.get("agents", "a") == {"g": 2}
            assert self.client[self.database]["agents"].find_one({"_id": "a"}) == {"_id": "a", "g": 2}
            assert [c.state for c in restarted.checkpoints()] == ["live"]
            assert self.client[self.database][GENERATIONS].count_documents({}) == 1
        finally:
            restarted.close()

    def test_a_reader_of_the_name_sees_the_old_or_the_new_documents_throughout_a_switch(
        self, store: MongoDBReadModelStore
    ) -> None:
        import threading

        self.live(store, {f"k{i}": {"g": 1} for i in range(50)})
        new = store.start_generation(PROJECTION, 2, COLLECTIONS)
        store.commit(
            PROJECTION,
            new.generation,
            {"agents": {f"k{i}": {"g": 2} for i in range(50)}},
            position=1,
            expected_position=0,
        )
        seen: list[frozenset] = []
        done = threading.Event()

        def read() -> None:  # a neighbour: the collection by its name, nothing else
            with MongoClient(self.url) as client:
                while not done.is_set():
                    seen.append(frozenset((d["_id"], d["g"]) for d in client[self.database]["agents"].find()))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            store.activate(PROJECTION, new.generation)
        finally:
            done.set()
            reader.join(10)
        old = frozenset((f"k{i}", 1) for i in range(50))
        new_docs = frozenset((f"k{i}", 2) for i in range(50))
        assert seen and set(seen) <= {old, new_docs}, {len(s) for s in seen}
        assert self.client[self.database]["agents"].count_documents({"g": 2}) == 50

    def test_a_store_from_before_stable_names_moves_its_live_generations_onto_them(
        self, store: MongoDBReadModelStore
    ) -> None:
        self.live(store, {"a": {"g": 1}})
        database = self.client[self.database]
        # The old layout: the live generation suffixed, not stable.
        database["agents"].rename("agents__g1")
        database["scores"].rename("scores__g1")
        database[GENERATIONS].update_many({}, {"$set": {"stable": False}})

        reopened = self.make_store()
        try:
            assert database["agents"].find_one({"_id": "a"}) == {"_id": "a", "g": 1}
            assert "agents__g1" not in database.list_collection_names()
            assert reopened.get("agents", "a") == {"g": 1}
        finally:
            reopened.close()


# ------------------------------------------------------------------ end to end

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def some_history() -> list:
    """Registrations, feedback enough to trigger recalculations, sessions, activity, a rejection."""
    items: list = [RegisterAgent("reg-1", "agent-1", T0, owner_id="ann"), RegisterAgent("reg-2", "agent-2", T0)]
    kinds = ["thumbs_up", "thumbs_down", "message_copied", "draft_approved", "conversation_abandoned"]
    for n in range(12):
        items.append(
            RecordFeedback(
                f"fb-{n}",
                f"agent-{1 + n % 3}",
                T0 + timedelta(minutes=n),
                kind=kinds[n % len(kinds)],
                session_id=f"s-{n % 2}",
                user_id=f"user-{n % 4}",
            )
        )
    items += [
        RecordFeedback("fb-rating", "agent-1", T0 + timedelta(minutes=20), kind="rating", value=4.0),
        EndSession("end-1", "agent-1", T0 + timedelta(minutes=30), session_id="s-0"),
        RecordActivity("act-1", "agent-2", T0 + timedelta(minutes=31)),
        Rejection("kafka", "agent-feedback:0:17", b"{not json", "not valid JSON", agent_id=None),
    ]
    return items


def all_documents(store: ReadModelStore) -> dict[str, list[dict]]:
    """Every live document of every projection's collections, in a stable order."""
    return {
        collection.name: sorted(store.find(collection.name), key=lambda d: json.dumps(d, sort_keys=True))
        for projection in all_projections()
        for collection in projection.collections
    }


def test_the_projections_on_mongodb_equal_those_on_sqlite_document_for_document(
    tmp_path: Path, mongodb_url: str, database_name: str
) -> None:
    system = bootstrap(
        Config(home=tmp_path, read_models=with_database(mongodb_url, database_name)),
        clock=lambda: T0 + timedelta(hours=1),
    )
    sqlite = SQLiteReadModelStore(str(tmp_path / "read_models.db"))
    try:
        history = some_history()
        system.service.process(history[:9])
        system.projections.catch_up()  # the rest arrives after a first catch-up
        system.service.process(history[9:])
        system.service.freeze(FreezeUpdates("agent-2", "owner asked", T0 + timedelta(minutes=40)))
        # The batch loop's read models too: a training job and a registered model.
        system.service.save(
            TrainingJob.queue(
                "job-1",
                agent_id="agent-1",
                archetype=None,
                dataset_id="ds-1",
                period="2026-W48",
                now=T0 + timedelta(minutes=41),
            )
        )
        register_trained_model(
            system,
            scope_agent_id="agent-1",
            scope_archetype=None,
            adapter_dir=tmp_path / "adapter",
            base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
            dataset_id="ds-1",
            job_id="job-1",
            metrics={"heldoutLossBefore": 2.0, "heldoutLossAfter": 1.5, "steps": 20},
            now=T0 + timedelta(minutes=42),
        )
        system.service.save(  # and a monthly clustering's insights
            ClusteringInsights.record(
                "2025-03",
                agents=2,
                clustered=2,
                centroids={"default": {"empathy": 0.5}},
                refreshed=[],
                priors={},
                suggestions=[
                    {
                        "agentId": "agent-1",
                        "archetype": "default",
                        "nearer": "mentor",
                        "distanceOwn": 0.3,
                        "distanceNearer": 0.1,
                    }
                ],
                occurred_at=T0 + timedelta(minutes=43),
            )
        )
        system.projections.catch_up()
        CatchUpRunner(system.service.recorder, system.service.mapper, sqlite, page_size=7).catch_up()

        assert isinstance(system.read_models, MongoDBReadModelStore)
        on_mongodb, on_sqlite = all_documents(system.read_models), all_documents(sqlite)
        assert all(on_sqlite.values()), "every projection should have written something"
        assert on_mongodb == on_sqlite
        assert assert_read_models_valid(on_sqlite) == sum(map(len, on_sqlite.values()))  # docs/schemas/read-models
        assert [(c.projection, c.position, c.state) for c in system.read_models.checkpoints()] == sorted(
            (c.projection, c.position, c.state) for c in sqlite.checkpoints()
        )

        system.projections.rebuild()  # blue/green on MongoDB: a new generation, swapped in when caught up

        assert all_documents(system.read_models) == on_sqlite
        assert {c.generation for c in system.read_models.checkpoints()} == {2}
    finally:
        sqlite.close()
        system.close()
