"""The embedded event store: the library's SQLite module, whose process recorder also
accepts several tracking records per transaction (`trackings=`), one per Kafka
partition in a consumed batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing import sqlite
from eventsourcing.persistence import StoredEvent, Tracking


class SQLiteMultiTrackingProcessRecorder(sqlite.SQLiteProcessRecorder):
    def _insert_events(self, c: sqlite.SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any):
        returning = super()._insert_events(c, stored_events, **kwargs)
        trackings: Sequence[Tracking] = kwargs.get("trackings") or ()
        for tracking in trackings:
            self._insert_tracking(c, tracking)
        return returning


# Only one factory class may be visible in a persistence module: the base is reached through `sqlite.`.
class Factory(sqlite.SQLiteFactory):
    process_recorder_class = SQLiteMultiTrackingProcessRecorder
