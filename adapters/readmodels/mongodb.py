"""The read-model store on MongoDB: a collection per read model and generation, checkpoints beside them.

Layout, in one database:

- ``{collection}``: the documents of the live generation, under the read model's own name, so a
  neighbour reads ``db.agent_learning_state`` and never has to know about generations.
- ``{collection}__g{generation}``: a generation being built (a rebuild, a new projection version),
  each ``{"_id": key, **document}``, with the read model's indexes. When it has caught up,
  ``activate`` renames it onto the name (``renameCollection`` with ``dropTarget``: readers of the
  name see the old documents, then the new ones, never neither); the generation is then
  ``stable``. While the rename runs, both generations' checkpoints are marked switching and
  retiring, so no commit can write to either until the switch is recorded.
- ``projection_checkpoints``: one document per projection and generation,
  ``{_id: "projection:generation", projection, generation, version, position, state}``.
- ``read_model_generations``: which collections a generation owns,
  ``{_id: "projection:generation", projection, generation, collections: [...], stable}``
  (``stable``: its collections are at the read model's names).
  A reader finds the generation of a collection here and keeps the one whose
  checkpoint is LIVE.

``commit`` moves the checkpoint (compare-and-set on the expected position) and
writes the documents in one multi-document transaction, so it needs a replica
set. Collections and indexes are made in ``start_generation``, outside any
transaction: servers before 4.4 allow no DDL inside one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from bson.int64 import Int64
from pymongo import ASCENDING, DeleteOne, MongoClient, ReadPreference, ReplaceOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection as MongoCollection
from pymongo.errors import CollectionInvalid, ConnectionFailure, DuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from adapters.mongodb_client import connected_client
from projections.read_model_store import (
    BUILDING,
    LIVE,
    Changes,
    Checkpoint,
    CheckpointMoved,
    Collection,
    Condition,
    ReadModelStore,
    ReadModelStoreUnavailable,
)

CHECKPOINTS = "projection_checkpoints"
GENERATIONS = "read_model_generations"
# Internal states during a switch; `checkpoints()` reports them as the runner knows them.
SWITCHING, RETIRING = "switching", "retiring"
_SHOWN_AS = {SWITCHING: BUILDING, RETIRING: LIVE}

_T = TypeVar("_T")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_RANGE_OPS = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_KEYS_PER_QUERY = 1000


def _checked(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a {what}: {name!r}")
    return name


def _collection_name(collection: str, generation: int) -> str:
    return f"{_checked(collection, 'collection name')}__g{generation}"


def _generation_id(projection: str, generation: int) -> str:
    return f"{projection}:{generation}"


def _filter(where: Sequence[Condition]) -> dict[str, Any]:
    """The conditions as a MongoDB filter with SQL's meaning: a null or missing field matches
    only `eq None`/`ne None`, never a comparison (MongoDB's bare `$ne: v` would match it)."""
    clauses: list[dict[str, Any]] = []
    for condition in where:
        field = _checked(condition.field, "document field name")
        if condition.op == "eq":
            clauses.append({field: condition.value})  # None matches null and missing, as IS NULL does
        elif condition.op == "ne":
            if condition.value is None:
                clauses.append({field: {"$ne": None}})
            else:
                clauses.append({field: {"$nin": [condition.value, None]}})
        elif condition.op in _RANGE_OPS:
            clauses.append({field: {_RANGE_OPS[condition.op]: condition.value}})
        else:
            raise ValueError(f"unknown condition operator {condition.op!r}; use one of eq, ne, gt, gte, lt, lte")
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _plain(value: Any) -> Any:
    """A document as it was written: pymongo reads integers beyond 32 bits as bson's Int64."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Int64):
        return int(value)
    return value


def _stored(key: str, doc: dict) -> dict:
    if "_id" in doc:
        raise ValueError(f"document {key!r} has a field '_id', which holds the key here; rename the field")
    return {"_id": key, **doc}


class MongoDBReadModelStore(ReadModelStore):
    def __init__(self, url: str, database: str):
        self.client: MongoClient = connected_client(url)
        self._write_concern = WriteConcern(w="majority", j=True)
        self.database = self.client.get_database(
            database,
            write_concern=self._write_concern,
            read_concern=ReadConcern("majority"),
            read_preference=ReadPreference.PRIMARY,
        )
        self._checkpoints = self.database[CHECKPOINTS]
        self._generations = self.database[GENERATIONS]
        self._create_collection(CHECKPOINTS)
        self._create_collection(GENERATIONS)
        self._generations.create_index([("collections", ASCENDING)])
        self._generations.create_index([("projection", ASCENDING), ("generation", ASCENDING)])
        self._checkpoints.create_index([("projection", ASCENDING), ("generation", ASCENDING)])
        self._finish_switches()

    def _finish_switches(self) -> None:
        """Every live generation at its stable names: finishes a switch a crash interrupted, and moves
        a store from before stable names onto them (the same switch, onto itself)."""
        for checkpoint in list(self._checkpoints.find({"state": {"$in": [LIVE, SWITCHING]}})):
            registered = self._generations.find_one({"_id": checkpoint["_id"]})
            if registered is None or registered.get("stable"):
                continue
            if checkpoint["state"] == LIVE and self._checkpoints.count_documents(
                {"projection": checkpoint["projection"], "state": SWITCHING}
            ):
                continue  # the switching one is finished below, and retires this one
            self.activate(checkpoint["projection"], checkpoint["generation"])

    def _registered(self, projection: str, generation: int, session: ClientSession | None = None) -> dict:
        return self._generations.find_one({"_id": _generation_id(projection, generation)}, session=session) or {}

    def _names(self, registered: dict, collection: str, generation: int) -> str:
        """Where a generation's collection is: the read model's own name once it is stable."""
        return (
            _checked(collection, "collection name")
            if registered.get("stable")
            else _collection_name(collection, generation)
        )

    def _create_collection(self, name: str) -> None:
        try:
            self.database.create_collection(name)
        except CollectionInvalid:
            pass  # already there

    def _transaction(self, callback: Callable[[ClientSession], _T]) -> _T:
        """Runs callback in one transaction, rerun by pymongo on transient errors (write conflicts)."""
        with self.client.start_session() as session:
            return session.with_transaction(
                callback,
                read_concern=ReadConcern("snapshot"),
                write_concern=self._write_concern,
                read_preference=ReadPreference.PRIMARY,
            )

    def _live_generation(self, collection: str) -> tuple[int, str] | None:
        """The live generation of the collection and where its documents are."""
        owners = {g["_id"]: g for g in self._generations.find({"collections": collection})}
        if not owners:
            return None
        live = self._checkpoints.find_one({"_id": {"$in": list(owners)}, "state": {"$in": [LIVE, RETIRING]}})
        if live is None:
            return None
        return live["generation"], self._names(owners[live["_id"]], collection, live["generation"])

    def _read_live(self, collection: str, read: Callable[[MongoCollection], _T], empty: _T) -> _T:
        # A switch between finding the live generation and reading it may move or drop what was
        # found: the read then comes back empty, so look again.
        live = self._live_generation(collection)
        while live is not None:
            result = read(self.database[live[1]])
            if result:
                return result
            now_live = self._live_generation(collection)
            if now_live == live:
                return result
            live = now_live
        return empty

    # ---------------------------------------------------------------- reading

    def get(self, collection: str, key: str) -> dict | None:
        return _plain(self._read_live(collection, lambda c: c.find_one({"_id": key}, {"_id": 0}), None))

    def find(
        self, collection: str, where: Sequence[Condition] = (), order_by: Sequence[str] = (), limit: int | None = None
    ) -> list[dict]:
        query = _filter(where)
        sort = [(_checked(f, "document field name"), ASCENDING) for f in order_by]
        if limit is not None and limit <= 0:
            return []  # MongoDB reads limit 0 as "no limit"

        def read(c: MongoCollection) -> list[dict]:
            cursor = c.find(query, {"_id": 0})
            if sort:
                cursor = cursor.sort(sort)
            if limit is not None:
                cursor = cursor.limit(limit)
            return [_plain(doc) for doc in cursor]

        return self._read_live(collection, read, [])

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[Checkpoint]:
        docs = self._checkpoints.find({}).sort([("projection", ASCENDING), ("generation", ASCENDING)])
        return [
            Checkpoint(
                d["projection"], d["generation"], d["version"], d["position"], _SHOWN_AS.get(d["state"], d["state"])
            )
            for d in docs
        ]

    def start_generation(self, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        collections = list(collections)
        generation = self._claim_generation(projection, [c.name for c in collections])
        # The number is ours alone, so whatever a crashed earlier claim of it left is stale.
        for collection in collections:
            name = _collection_name(collection.name, generation)
            self.database.drop_collection(name)
            self.database.create_collection(name)
            for fields in collection.indexes:
                self.database[name].create_index([(_checked(f, "document field name"), ASCENDING) for f in fields])
        self._checkpoints.insert_one(
            {
                "_id": _generation_id(projection, generation),
                "projection": projection,
                "generation": generation,
                "version": version,
                "position": 0,
                "state": BUILDING,
            }
        )
        return Checkpoint(projection, generation, version, 0, BUILDING)

    def _claim_generation(self, projection: str, collections: list[str]) -> int:
        """Records the next generation number of `projection` as taken, and returns it."""
        for name in collections:
            _checked(name, "collection name")
        while True:
            last = self._generations.find_one({"projection": projection}, sort=[("generation", -1)])
            generation = (last["generation"] if last else 0) + 1
            try:
                self._generations.insert_one(
                    {
                        "_id": _generation_id(projection, generation),
                        "projection": projection,
                        "generation": generation,
                        "collections": collections,
                        "stable": False,
                    }
                )
            except DuplicateKeyError:
                continue  # another process took it first
            return generation

    def activate(self, projection: str, generation: int) -> None:
        """Switches the read model to this generation, under its stable names (see the module's notes)."""
        live_id = _generation_id(projection, generation)
        registered = self._registered(projection, generation)

        def mark(session: ClientSession) -> list[dict] | None:
            if self._checkpoints.find_one({"_id": live_id}, session=session) is None:
                return None  # gone: another process made its own generation live first, removing this one
            # Both sides stop taking commits: a commit checks the state with the position.
            self._checkpoints.update_one({"_id": live_id}, {"$set": {"state": SWITCHING}}, session=session)
            self._checkpoints.update_many(
                {"projection": projection, "_id": {"$ne": live_id}, "state": LIVE},
                {"$set": {"state": RETIRING}},
                session=session,
            )
            return list(self._generations.find({"projection": projection, "_id": {"$ne": live_id}}, session=session))

        others = self._transaction(mark)
        if others is None:
            return
        if not registered.get("stable"):
            for collection in registered.get("collections", []):
                source = _collection_name(collection, generation)
                if source in self.database.list_collection_names(filter={"name": source}):
                    self._rename(source, _checked(collection, "collection name"))
                # else: renamed before a crash; the switch is finishing now

        def switch(session: ClientSession) -> None:
            self._checkpoints.update_one({"_id": live_id}, {"$set": {"state": LIVE}}, session=session)
            self._generations.update_one({"_id": live_id}, {"$set": {"stable": True}}, session=session)
            self._checkpoints.delete_many({"projection": projection, "_id": {"$ne": live_id}}, session=session)

        self._transaction(switch)
        # Readers now resolve the new generation. A crash from here on leaves old generations
        # registered, and the next `activate` drops what is left of them.
        for old in others:
            if not old.get("stable"):  # a stable one's collections became the new generation's
                for collection in old["collections"]:
                    self.database.drop_collection(_collection_name(collection, old["generation"]))
            self._generations.delete_one({"_id": old["_id"]})

    def _rename(self, source: str, target: str) -> None:
        """One atomic step for readers of `target`: its old documents, then the new ones."""
        self.client.admin.command(
            "renameCollection", f"{self.database.name}.{source}", to=f"{self.database.name}.{target}", dropTarget=True
        )

    # ---------------------------------------------------------------- writing

    def get_many(self, projection: str, generation: int, collection: str, keys: Iterable[str]) -> dict[str, dict]:
        """A server that does not answer is ReadModelStoreUnavailable: the projection's batch is retried,
        and the projection is not taken to have failed on its event."""
        keys = list(keys)
        try:
            documents = self.database[self._names(self._registered(projection, generation), collection, generation)]
            found: dict[str, dict] = {}
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                for doc in documents.find({"_id": {"$in": keys[start : start + _KEYS_PER_QUERY]}}):
                    key = doc.pop("_id")
                    found[key] = _plain(doc)
        except ConnectionFailure as error:
            raise ReadModelStoreUnavailable(f"the MongoDB read-model store did not answer: {error}") from error
        return found

    def commit(self, projection: str, generation: int, changes: Changes, position: int, expected_position: int) -> None:
        writes = {
            collection: [
                ReplaceOne({"_id": key}, _stored(key, doc), upsert=True) if doc is not None else DeleteOne({"_id": key})
                for key, doc in docs.items()
            ]
            for collection, docs in changes.items()
        }
        checkpoint_id = _generation_id(projection, generation)

        def write(session: ClientSession) -> None:
            # Where the documents go is read in the same snapshot as the checkpoint it moves: a
            # switch recorded meanwhile conflicts with this transaction, and one under way fails it.
            moved = self._checkpoints.update_one(
                {"_id": checkpoint_id, "position": expected_position, "state": {"$in": [LIVE, BUILDING]}},
                {"$set": {"position": position}},
                session=session,
            ).matched_count
            if moved != 1:
                raise CheckpointMoved(
                    f"{projection} generation {generation} is no longer at {expected_position} (or is switching)"
                )
            registered = self._registered(projection, generation, session)
            for collection, operations in writes.items():
                if operations:
                    name = self._names(registered, collection, generation)
                    self.database[name].bulk_write(operations, ordered=True, session=session)

        self._transaction(write)

    def close(self) -> None:
        self.client.close()
