"""The event store on PostgreSQL: the library's `eventsourcing.postgres` module (psycopg 3 and its
connection pool; gap-free, commit-ordered notification ids under its table-lock protocol), whose
process recorder also accepts several tracking records per transaction (`trackings=`), one per Kafka
partition in a consumed batch, as on SQLite and MongoDB.

Selected by `AGENT_LEARNING_EVENT_STORE=postgresql://user[:password]@host[:port]/database`
(`adapters/bootstrap.py` turns the URL into the library's `POSTGRES_*` settings)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing import postgres
from eventsourcing.persistence import StoredEvent, Tracking

CREATE_LOCK = 0x61676C65  # "agle": the advisory lock around creating the tables


class OneCreatorAtATime:
    """The library's `CREATE … IF NOT EXISTS` statements, one process at a time: PostgreSQL's DDL raises
    "tuple concurrently updated", or a duplicate key in `pg_type`, when several processes (the workers
    of several `serve` replicas starting together) create the same table at once."""

    datastore: Any

    def create_table(self) -> None:
        with self.datastore.get_connection() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (CREATE_LOCK,))
            try:
                super().create_table()  # type: ignore[misc]
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (CREATE_LOCK,))


class PostgresSnapshotRecorder(OneCreatorAtATime, postgres.PostgresAggregateRecorder):
    """The snapshots' recorder (the library's aggregate recorder), its table created under the lock."""


class PostgresMultiTrackingProcessRecorder(OneCreatorAtATime, postgres.PostgresProcessRecorder):
    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        trackings: Sequence[Tracking] = kwargs.get("trackings") or ()
        for tracking in trackings:
            self._insert_tracking(curs, tracking=tracking)
        super()._insert_events(curs, stored_events, **kwargs)


# Only one factory class may be visible in a persistence module: the base is reached through `postgres.`.
class Factory(postgres.PostgresFactory):
    aggregate_recorder_class = PostgresSnapshotRecorder
    process_recorder_class = PostgresMultiTrackingProcessRecorder
