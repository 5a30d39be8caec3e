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

from adapters.readmodels.sql_generations import Generations, table_name
from projections.read_model_store import Changes, Checkpoint, Collection, Condition, ReadModelStore

_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _expr(field: str) -> str:
    if not _FIELD.match(field):
        raise ValueError(f"not a document field name: {field!r}")
    return f"json_extract(doc, '$.{field}')"


def _view_statements(view: str, table: str) -> list[str]:
    return [f"DROP VIEW IF EXISTS {view}", f"CREATE VIEW {view} AS SELECT key, doc FROM {table}"]


class SQLiteReadModelStore(ReadModelStore):
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._generations = Generations("?", "doc TEXT NOT NULL", _expr, _view_statements)
        with self._write() as c:
            self._generations.create_tables(c)
            # Every read model is readable under its own name: a view of its live generation's table
            # (made here for stores from before the views, and switched inside `activate`).
            for collection, generation in self._generations.live_collections(c):
                self._generations.point_view(c, collection, generation)

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
        generation = self._generations.live_generation(self._db.cursor(), collection)
        return table_name(collection, generation) if generation is not None else None

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
            return self._generations.checkpoints(self._db.cursor())

    def start_generation(self, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        with self._write() as c:
            return self._generations.start(c, projection, version, collections)

    def activate(self, projection: str, generation: int) -> None:
        """Makes the generation live, and its name's view show it, in one transaction: a reader of the
        view sees the old generation or the new one, never neither or a mix (`Generations.activate`)."""
        with self._write() as c:
            self._generations.activate(c, projection, generation)

    # ---------------------------------------------------------------- writing

    def get_many(self, projection: str, generation: int, collection: str, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        table = table_name(collection, generation)
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
            self._generations.move(c, projection, generation, position, expected_position)
            for collection, docs in changes.items():
                table = table_name(collection, generation)
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
