"""The generation bookkeeping both SQL read-model stores keep (SQLite and PostgreSQL), written once.

Two tables: `checkpoints` (projection, generation, version, position, state) and
`generation_collections` (which collections a generation holds), and per collection and
generation a table `rm_<collection>_g<N>` (`key` and the store's document columns, an index per
queried field) with a view under the collection's name. Each store passes its own cursor, inside
its own transaction, and says its dialect: the parameter mark (`?` or `%s`), its document
columns, how a document field is read in SQL, and how a view is (re)made. The algorithms (a new
generation, a switch, a compare-and-set commit of the position) are the same on both, so they
are here; the documents' reading and writing stays in the stores.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from projections.read_model_store import BUILDING, LIVE, Checkpoint, CheckpointMoved, Collection

_COLLECTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def table_name(collection: str, generation: int) -> str:
    """The table of one collection's generation; the name is checked, since it goes into SQL as is."""
    if not _COLLECTION.match(collection):
        raise ValueError(f"not a collection name: {collection!r}")
    return f"rm_{collection}_g{generation}"


CREATE_TABLES = (
    "CREATE TABLE IF NOT EXISTS checkpoints (projection TEXT, generation INTEGER, version INTEGER, "
    "position BIGINT, state TEXT, PRIMARY KEY (projection, generation))",
    "CREATE TABLE IF NOT EXISTS generation_collections (projection TEXT, generation INTEGER, "
    "collection TEXT, PRIMARY KEY (projection, generation, collection))",
)


class Generations:
    def __init__(
        self,
        mark: str,
        document_columns: str,
        field_expression: Callable[[str], str],
        view_statements: Callable[[str, str], list[str]],
    ):
        """`document_columns`: the columns after `key` (e.g. `doc TEXT NOT NULL`); `field_expression`:
        SQL reading a document field (what the indexes are on); `view_statements(view, table)`: the
        statements that make `view` show `table`."""
        self.mark = mark
        self.document_columns = document_columns
        self.field_expression = field_expression
        self.view_statements = view_statements

    def point_view(self, cursor: Any, collection: str, generation: int) -> None:
        """The view under `collection`'s name shows that generation's table."""
        table = table_name(collection, generation)  # checks the name first
        for statement in self.view_statements(collection, table):
            cursor.execute(statement)

    def _create_table(self, cursor: Any, collection: Collection, generation: int) -> None:
        table = table_name(collection.name, generation)
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, {self.document_columns})")
        for number, fields in enumerate(collection.indexes):
            columns = ", ".join(self.field_expression(f) for f in fields)
            cursor.execute(f"CREATE INDEX {table}_i{number} ON {table} ({columns})")

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.mark)

    def create_tables(self, cursor: Any) -> None:
        for statement in CREATE_TABLES:
            cursor.execute(statement)

    def checkpoints(self, cursor: Any) -> list[Checkpoint]:
        rows = cursor.execute("SELECT projection, generation, version, position, state FROM checkpoints").fetchall()
        return [Checkpoint(*row) for row in rows]

    def live_generation(self, cursor: Any, collection: str) -> int | None:
        row = cursor.execute(
            self._sql(
                "SELECT g.generation FROM generation_collections g JOIN checkpoints c "
                "ON c.projection = g.projection AND c.generation = g.generation "
                "WHERE g.collection = ? AND c.state = ?"
            ),
            (collection, LIVE),
        ).fetchone()
        return row[0] if row else None

    def live_collections(self, cursor: Any) -> list[tuple[str, int]]:
        """(collection, generation) of every live generation."""
        return cursor.execute(
            self._sql(
                "SELECT g.collection, g.generation FROM generation_collections g JOIN checkpoints k "
                "ON k.projection = g.projection AND k.generation = g.generation WHERE k.state = ?"
            ),
            (LIVE,),
        ).fetchall()

    def start(self, cursor: Any, projection: str, version: int, collections: Iterable[Collection]) -> Checkpoint:
        """A new BUILDING generation, one past the highest, with an empty table per collection."""
        row = cursor.execute(
            self._sql("SELECT MAX(generation) FROM checkpoints WHERE projection = ?"), (projection,)
        ).fetchone()
        generation = (row[0] or 0) + 1
        for collection in collections:
            self._create_table(cursor, collection, generation)
            cursor.execute(
                self._sql("INSERT INTO generation_collections VALUES (?, ?, ?)"),
                (projection, generation, collection.name),
            )
        cursor.execute(
            self._sql("INSERT INTO checkpoints VALUES (?, ?, ?, 0, ?)"), (projection, generation, version, BUILDING)
        )
        return Checkpoint(projection, generation, version, 0, BUILDING)

    def activate(self, cursor: Any, projection: str, generation: int) -> None:
        """Points each collection's view at the generation, drops every other generation and marks this
        one live. A generation that is gone (another process made its own live first, which removes
        every other) is left alone."""
        if not cursor.execute(
            self._sql("SELECT 1 FROM checkpoints WHERE projection = ? AND generation = ?"), (projection, generation)
        ).fetchone():
            return
        for collection in self._collections(cursor, projection, generation):
            self.point_view(cursor, collection, generation)
        others = cursor.execute(
            self._sql("SELECT generation FROM checkpoints WHERE projection = ? AND generation != ?"),
            (projection, generation),
        ).fetchall()
        for (old,) in others:
            for collection in self._collections(cursor, projection, old):
                cursor.execute(f"DROP TABLE IF EXISTS {table_name(collection, old)}")
            cursor.execute(
                self._sql("DELETE FROM generation_collections WHERE projection = ? AND generation = ?"),
                (projection, old),
            )
            cursor.execute(
                self._sql("DELETE FROM checkpoints WHERE projection = ? AND generation = ?"), (projection, old)
            )
        cursor.execute(
            self._sql("UPDATE checkpoints SET state = ? WHERE projection = ? AND generation = ?"),
            (LIVE, projection, generation),
        )

    def move(self, cursor: Any, projection: str, generation: int, position: int, expected_position: int) -> None:
        """The compare-and-set of a commit: raises CheckpointMoved when another writer moved the position."""
        moved = cursor.execute(
            self._sql("UPDATE checkpoints SET position = ? WHERE projection = ? AND generation = ? AND position = ?"),
            (position, projection, generation, expected_position),
        ).rowcount
        if moved != 1:
            raise CheckpointMoved(f"{projection} generation {generation} is no longer at {expected_position}")

    def _collections(self, cursor: Any, projection: str, generation: int) -> list[str]:
        rows = cursor.execute(
            self._sql("SELECT collection FROM generation_collections WHERE projection = ? AND generation = ?"),
            (projection, generation),
        ).fetchall()
        return [collection for (collection,) in rows]
