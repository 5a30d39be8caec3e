"""The embedded event store: the library's SQLite module, with two changes to its process recorder.

- **Several tracking records per transaction** (`trackings=`), one per Kafka partition in a
  consumed batch.
- **One statement per batch, not per event.** The library's application recorder inserts the
  events one `execute` at a time to read each new row's id. Here the whole batch goes in with one
  `executemany`, and the notification ids are allocated for the batch: SQLite gives a new row the
  table's largest rowid plus one, and only one writer holds the database's write lock, so the
  batch's rows get consecutive ids ending at `last_insert_rowid()`. That is checked on the batch's
  first row; should it ever not hold, each event's id is read back one by one, as the library
  does. The notification log stays gap-free and in commit order, and the library's recorder test
  cases pass (`tests/contract/test_sqlite_recorders.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing import sqlite
from eventsourcing.persistence import StoredEvent, Tracking


class SQLiteMultiTrackingProcessRecorder(sqlite.SQLiteProcessRecorder):
    def __init__(self, datastore: sqlite.SQLiteDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.select_row_statement = (
            f"SELECT originator_id, originator_version FROM {self.events_table_name} WHERE rowid = ?"
        )
        self.select_rowid_statement = (
            f"SELECT rowid FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?"
        )

    def _insert_events(self, c: sqlite.SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any):
        returning = self._insert_batch(c, stored_events)
        tracking: Tracking | None = kwargs.get("tracking")
        trackings: Sequence[Tracking] = kwargs.get("trackings") or ()
        for one in ([tracking] if tracking is not None else []) + list(trackings):
            self._insert_tracking(c, one)
        return returning

    def _insert_batch(self, c: sqlite.SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        rows = [
            (
                s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                s.originator_version,
                s.topic,
                s.state,
            )
            for s in stored_events
        ]
        if not rows:
            return []
        c.executemany(self.insert_events_statement, rows)
        c.execute("SELECT last_insert_rowid()")
        last = c.fetchone()[0]
        first = last - len(rows) + 1
        c.execute(self.select_row_statement, (first,))
        found = c.fetchone()
        if found is not None and (found[0], found[1]) == (rows[0][0], rows[0][1]):
            return list(range(first, last + 1))
        ids = []  # not consecutive after all: read each id back
        for originator_id, version, _, _ in rows:
            c.execute(self.select_rowid_statement, (originator_id, version))
            ids.append(c.fetchone()[0])
        return ids


# Only one factory class may be visible in a persistence module: the base is reached through `sqlite.`.
class Factory(sqlite.SQLiteFactory):
    process_recorder_class = SQLiteMultiTrackingProcessRecorder
