"""The read-model store on PostgreSQL: a `jsonb` table per collection and generation, a view under
each read model's name, and each projection's documents and position in one transaction.

- Documents are `jsonb` (column `doc`, what the view under the name shows and every query reads),
  beside their JSON text as written (column `text`, what `get` and `find` return: `jsonb` reorders
  an object's keys, and documents come back exactly as written, field order included, as on the
  other stores). The fields a query filters or sorts on are indexed as expressions
  (`doc #> '{field}'`), and conditions compare `jsonb` to `jsonb`, so numbers compare as numbers
  and strings as strings, as on SQLite and MongoDB. A missing field and a JSON null both count as
  null; nulls sort first, as on the other stores.
- Blue/green generations: a rebuild fills `rm_<collection>_g<N+1>` while `N` stays live;
  `activate` points the view `<collection>` at the new table, drops the old one and marks the
  checkpoint live in one transaction (PostgreSQL's DDL is transactional), so a reader of the name
  sees the old documents or the new ones, never neither or a mix.
- `commit` moves the checkpoint with a compare-and-set (`… WHERE position = expected`) in the
  same transaction as the documents: a second writer of the same page finds the position moved
  and raises `CheckpointMoved`. Schema changes (new generations, switches) take a transaction-scoped
  advisory lock, so two processes never make the same generation.

Selected by `AGENT_LEARNING_READ_MODELS=postgresql://user[:password]@host[:port]/database`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from adapters.readmodels.sql_generations import Generations, table_name
from projections.read_model_store import (
    Changes,
    Checkpoint,
    Collection,
    Condition,
    ReadModelStore,
    ReadModelStoreUnavailable,
)

_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
SCHEMA_LOCK = 0x61676C72  # "aglr": the advisory lock of generation changes
BATCH = 500


@contextmanager
def _answering() -> Iterator[None]:
    """A server that stopped answering (killed, restarting, the connection dropped) is a
    ReadModelStoreUnavailable: retried by the caller, never taken for a fault of the data."""
    try:
        yield
    except psycopg.OperationalError as error:  # a pool timeout too
        raise ReadModelStoreUnavailable(f"the PostgreSQL read-model store did not answer: {error}") from error


def _expr(field: str) -> str:
    if not _FIELD.match(field):
        raise ValueError(f"not a document field name: {field!r}")
    return "(doc #> '{" + ",".join(field.split(".")) + "}')"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _view_statements(view: str, table: str) -> list[str]:
    return [f"CREATE OR REPLACE VIEW {view} AS SELECT key, doc FROM {table}"]


class PostgresReadModelStore(ReadModelStore):
    def __init__(self, url: str, pool_size: int = 4):
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=True,
            kwargs={"autocommit": False},
            timeout=30,
            check=ConnectionPool.check_connection,  # after a database restart, no dead connection is handed out
        )
        self._generations = Generations("%s", "doc JSONB NOT NULL, text TEXT NOT NULL", _expr, _view_statements)
        with self._write() as c:
            self._generations.create_tables(c)

    @contextmanager
    def _write(self, schema: bool = True) -> Iterator[psycopg.Cursor]:
        """One transaction; `schema`: holding the advisory lock of generation changes."""
        with _answering(), self._pool.connection() as connection:
            with connection.transaction(), connection.cursor() as cursor:
                if schema:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                yield cursor

    @contextmanager
    def _read(self) -> Iterator[psycopg.Cursor]:
        with _answering(), self._pool.connection() as connection:
            with connection.transaction(), connection.cursor() as cursor:
                yield cursor

    def _live_table(self, cursor: psycopg.Cursor, collection: str) -> str | None:
        generation = self._generations.live_generation(cursor, collection)
        return table_name(collection, generation) if generation is not None else None

    # ---------------------------------------------------------------- reading

    def get(self, collection: str, key: str) -> dict | None:
        with self._read() as c:
            table = self._live_table(c, collection)
            if table is None:
                return None
            row = c.execute(f"SELECT text FROM {table} WHERE key = %s", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def find(
        self, collection: str, where: Sequence[Condition] = (), order_by: Sequence[str] = (), limit: int | None = None
    ) -> list[dict]:
        with self._read() as c:
            table = self._live_table(c, collection)
            if table is None:
                return []
            sql = f"SELECT text FROM {table}"
            params: list = []
            if where:
                clauses = []
                for condition in where:
                    expr = _expr(condition.field)
                    if condition.value is None and condition.op in ("eq", "ne"):
                        null = f"({expr} IS NULL OR {expr} = 'null'::jsonb)"
                        clauses.append(null if condition.op == "eq" else f"NOT {null}")
                    else:
                        clauses.append(f"{expr} {_OPS[condition.op]} %s::jsonb AND {expr} != 'null'::jsonb")
                        params.append(_json(condition.value))
                sql += " WHERE " + " AND ".join(clauses)
            if order_by:
                sql += " ORDER BY " + ", ".join(f"NULLIF({_expr(f)}, 'null'::jsonb) NULLS FIRST" for f in order_by)
            if limit is not None:
                sql += " LIMIT %s"
                params.append(limit)
            rows = c.execute(sql, params).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[Checkpoint]:
        with self._read() as c:
            return self._generations.checkpoints(c)

    def start_generation(self, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        with self._write() as c:
            return self._generations.start(c, projection, version, collections)

    def activate(self, projection: str, generation: int) -> None:
        """Makes the generation live, and its name's view show it, in one transaction (`Generations.activate`)."""
        with self._write() as c:
            self._generations.activate(c, projection, generation)

    # ---------------------------------------------------------------- writing

    def get_many(self, projection: str, generation: int, collection: str, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        table = table_name(collection, generation)
        found: dict[str, dict] = {}
        with self._read() as c:
            for start in range(0, len(keys), BATCH):
                chunk = keys[start : start + BATCH]
                rows = c.execute(f"SELECT key, text FROM {table} WHERE key = ANY(%s)", (chunk,)).fetchall()
                found.update((k, orjson.loads(d)) for k, d in rows)
        return found

    def commit(self, projection: str, generation: int, changes: Changes, position: int, expected_position: int) -> None:
        with self._write(schema=False) as c:
            self._generations.move(c, projection, generation, position, expected_position)
            for collection, docs in changes.items():
                table = table_name(collection, generation)
                upserts = [(k, text, text) for k, text in ((k, _json(d)) for k, d in docs.items() if d is not None)]
                deletes = [k for k, d in docs.items() if d is None]
                if upserts:
                    c.executemany(
                        f"INSERT INTO {table} (key, doc, text) VALUES (%s, %s::jsonb, %s) "
                        "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, text = excluded.text",
                        upserts,
                    )
                if deletes:
                    c.execute(f"DELETE FROM {table} WHERE key = ANY(%s)", (deletes,))

    def close(self) -> None:
        self._pool.close()
