"""The embedded read-model store: one SQLite file, a table per collection and generation.

Documents are JSON; the fields a query filters on are indexed as JSON
expressions. A projection's documents and its checkpoint live in the same file,
so `commit` writes both in one transaction.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import orjson

from projections.read_model_store import (
    BUILDING,
    LIVE,
    Changes,
    Checkpoint,
    CheckpointMoved,
    Collection,
    Condition,
    ReadModelStore,
)

_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _expr(field: str) -> str:
    if not _FIELD.match(field):
        raise ValueError(f"not a document field name: {field!r}")
    return f"json_extract(doc, '$.{field}')"


def _table(collection: str, generation: int) -> str:
    if not _FIELD.match(collection):
        raise ValueError(f"not a collection name: {collection!r}")
    return f"rm_{collection}_g{generation}"


def _point_view(cursor: sqlite3.Cursor, collection: str, generation: int) -> None:
    """`collection` (a view: `key`, and `doc` as JSON) shows that generation's table."""
    table = _table(collection, generation)  # checks the name first
    cursor.execute(f"DROP VIEW IF EXISTS {collection}")
    cursor.execute(f"CREATE VIEW {collection} AS SELECT key, doc FROM {table}")


class SQLiteReadModelStore(ReadModelStore):
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._write() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints (projection TEXT, generation INTEGER, version INTEGER, "
                "position INTEGER, state TEXT, PRIMARY KEY (projection, generation))"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS generation_collections (projection TEXT, generation INTEGER, "
                "collection TEXT, PRIMARY KEY (projection, generation, collection))"
            )
            # Every read model is readable under its own name: a view of its live generation's table
            # (made here for stores from before the views, and switched inside `activate`).
            for collection, generation in c.execute(
                "SELECT g.collection, g.generation FROM generation_collections g JOIN checkpoints k "
                "ON k.projection = g.projection AND k.generation = g.generation WHERE k.state = ?",
                (LIVE,),
            ).fetchall():
                _point_view(c, collection, generation)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _live_table(self, collection: str) -> str | None:
        row = self._db.execute(
            "SELECT g.generation FROM generation_collections g JOIN checkpoints c "
            "ON c.projection = g.projection AND c.generation = g.generation "
            "WHERE g.collection = ? AND c.state = ?",
            (collection, LIVE),
        ).fetchone()
        return _table(collection, row[0]) if row else None

    # ---------------------------------------------------------------- reading

    def get(self, collection: str, key: str) -> dict | None:
        with self._lock:
            table = self._live_table(collection)
            if table is None:
                return None
            row = self._db.execute(f"SELECT doc FROM {table} WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def find(
        self, collection: str, where: Sequence[Condition] = (), order_by: Sequence[str] = (), limit: int | None = None
    ) -> list[dict]:
        with self._lock:
            table = self._live_table(collection)
            if table is None:
                return []
            sql = f"SELECT doc FROM {table}"
            params: list = []
            if where:
                clauses = []
                for condition in where:
                    if condition.value is None and condition.op in ("eq", "ne"):
                        clauses.append(f"{_expr(condition.field)} IS {'' if condition.op == 'eq' else 'NOT '}NULL")
                    else:
                        clauses.append(f"{_expr(condition.field)} {_OPS[condition.op]} ?")
                        params.append(condition.value)
                sql += " WHERE " + " AND ".join(clauses)
            if order_by:
                sql += " ORDER BY " + ", ".join(_expr(f) for f in order_by)
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            rows = self._db.execute(sql, params).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            rows = self._db.execute(
                "SELECT projection, generation, version, position, state FROM checkpoints"
            ).fetchall()
        return [Checkpoint(*row) for row in rows]

    def start_generation(self, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        with self._write() as c:
            row = c.execute("SELECT MAX(generation) FROM checkpoints WHERE projection = ?", (projection,)).fetchone()
            generation = (row[0] or 0) + 1
            for collection in collections:
                table = _table(collection.name, generation)
                c.execute(f"DROP TABLE IF EXISTS {table}")
                c.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")
                for number, fields in enumerate(collection.indexes):
                    columns = ", ".join(_expr(f) for f in fields)
                    c.execute(f"CREATE INDEX {table}_i{number} ON {table} ({columns})")
                c.execute(
                    "INSERT INTO generation_collections VALUES (?, ?, ?)", (projection, generation, collection.name)
                )
            c.execute("INSERT INTO checkpoints VALUES (?, ?, ?, 0, ?)", (projection, generation, version, BUILDING))
        return Checkpoint(projection, generation, version, 0, BUILDING)

    def activate(self, projection: str, generation: int) -> None:
        """Makes the generation live, and its name's view show it, in one transaction: a reader of the
        view sees the old generation or the new one, never neither or a mix. A generation that is gone
        (another process made its own live first, which removes every other) is left alone."""
        with self._write() as c:
            if not c.execute(
                "SELECT 1 FROM checkpoints WHERE projection = ? AND generation = ?", (projection, generation)
            ).fetchone():
                return
            for (collection,) in c.execute(
                "SELECT collection FROM generation_collections WHERE projection = ? AND generation = ?",
                (projection, generation),
            ).fetchall():
                _point_view(c, collection, generation)
            others = c.execute(
                "SELECT generation FROM checkpoints WHERE projection = ? AND generation != ?",
                (projection, generation),
            ).fetchall()
            for (old,) in others:
                for (collection,) in c.execute(
                    "SELECT collection FROM generation_collections WHERE projection = ? AND generation = ?",
                    (projection, old),
                ).fetchall():
                    c.execute(f"DROP TABLE IF EXISTS {_table(collection, old)}")
                c.execute(
                    "DELETE FROM generation_collections WHERE projection = ? AND generation = ?", (projection, old)
                )
                c.execute("DELETE FROM checkpoints WHERE projection = ? AND generation = ?", (projection, old))
            c.execute(
                "UPDATE checkpoints SET state = ? WHERE projection = ? AND generation = ?",
                (LIVE, projection, generation),
            )

    # ---------------------------------------------------------------- writing

    def get_many(self, projection: str, generation: int, collection: str, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        table = _table(collection, generation)
        found: dict[str, dict] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = self._db.execute(
                    f"SELECT key, doc FROM {table} WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                found.update((k, orjson.loads(d)) for k, d in rows)
        return found

    def commit(self, projection: str, generation: int, changes: Changes, position: int, expected_position: int) -> None:
        with self._write() as c:
            moved = c.execute(
                "UPDATE checkpoints SET position = ? WHERE projection = ? AND generation = ? AND position = ?",
                (position, projection, generation, expected_position),
            ).rowcount
            if moved != 1:
                raise CheckpointMoved(f"{projection} generation {generation} is no longer at {expected_position}")
            for collection, docs in changes.items():
                table = _table(collection, generation)
                upserts = [(k, orjson.dumps(d).decode()) for k, d in docs.items() if d is not None]
                deletes = [(k,) for k, d in docs.items() if d is None]
                if upserts:  # an upsert updates the row in place; REPLACE would delete and reinsert it
                    c.executemany(
                        f"INSERT INTO {table} (key, doc) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
                        upserts,
                    )
                if deletes:
                    c.executemany(f"DELETE FROM {table} WHERE key = ?", deletes)

    def close(self) -> None:
        with self._lock:
            self._db.close()
