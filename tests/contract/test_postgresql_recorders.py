"""The PostgreSQL event store against the library's own recorder test cases, on a real server.

The library ships its recorder contract (`eventsourcing.tests.persistence`); its PostgreSQL test
module is not installed with it, so these small subclasses run that contract against
`eventsourcing.postgres` with this project's process recorder (several trackings per
transaction). Each test gets a database of its own (`postgres_url`). The library's cases use UUID
originator ids, so their datastore keeps the library's default id type; the service's own suite
(`test_event_store_postgresql.py`) runs with text ids, as the service does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.tests import persistence as contract
from eventsourcing.utils import Environment

from adapters.bootstrap import postgres_settings
from adapters.eventstore.postgresql import PostgresMultiTrackingProcessRecorder, PostgresSnapshotRecorder

pytestmark = pytest.mark.postgresql
PERSISTENCE_MODULE = "adapters.eventstore.postgresql"


def datastore_for(url: str, **options) -> PostgresDatastore:
    parsed = urlparse(url)
    return PostgresDatastore(
        dbname=parsed.path.strip("/"),
        host=parsed.hostname,
        port=parsed.port,
        user=parsed.username,
        password="",
        pool_size=4,
        max_overflow=8,
        **options,
    )


class FreshPostgresDatabase:
    """Gives each library test case a database of its own (pytest fixtures reach unittest classes
    only through an autouse fixture)."""

    datastore: PostgresDatastore
    postgres_url: str

    @pytest.fixture(autouse=True)
    def _fresh_database(self, postgres_url: str) -> Iterator[None]:
        self.postgres_url = postgres_url
        self.datastore = datastore_for(postgres_url)
        before = set(threading.enumerate())
        yield
        for thread in set(threading.enumerate()) - before:  # the library's reader threads, never joined by it
            if not thread.daemon:
                thread.join(timeout=60)
                assert not thread.is_alive(), f"thread {thread.name} still running after the test"
        self.datastore.close()


class TestPostgresAggregateRecorder(FreshPostgresDatabase, contract.AggregateRecorderTestCase):
    def create_recorder(self) -> PostgresAggregateRecorder:
        recorder = PostgresAggregateRecorder(self.datastore, events_table_name="stored_snapshots")
        recorder.create_table()
        return recorder


class TestPostgresApplicationRecorder(FreshPostgresDatabase, contract.ApplicationRecorderTestCase):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestPostgresNonInterleavingNotificationIDs(
    FreshPostgresDatabase, contract.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = PostgresApplicationRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestPostgresTrackingRecorder(FreshPostgresDatabase, contract.TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresTrackingRecorder:
        recorder = PostgresTrackingRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestPostgresMultiTrackingProcessRecorder(FreshPostgresDatabase, contract.ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresProcessRecorder:
        recorder = PostgresMultiTrackingProcessRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_several_trackings_go_in_with_the_events(self) -> None:
        recorder = self.create_recorder()
        recorder.insert_events([], trackings=[Tracking("feedback:0", 5), Tracking("feedback:1", 9)])
        assert recorder.max_tracking_id("feedback:0") == 5
        assert recorder.max_tracking_id("feedback:1") == 9


class TestPostgresInfrastructureFactory(FreshPostgresDatabase, contract.InfrastructureFactoryTestCase[PostgresFactory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[PostgresFactory.PERSISTENCE_MODULE] = PERSISTENCE_MODULE
        for key, value in postgres_settings(self.postgres_url).items():
            if key != "ORIGINATOR_ID_TYPE":  # the library's cases use UUID ids
                self.env[key] = value
        super().setUp()

    def expected_factory_class(self) -> type[PostgresFactory]:
        from adapters.eventstore.postgresql import Factory

        return Factory

    def expected_aggregate_recorder_class(self) -> type[PostgresAggregateRecorder]:
        return PostgresSnapshotRecorder  # the library's, its table created under our advisory lock

    def expected_application_recorder_class(self) -> type[PostgresApplicationRecorder]:
        return PostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[PostgresTrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[PostgresTrackingRecorder]:
        return PostgresTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[PostgresProcessRecorder]:
        return PostgresMultiTrackingProcessRecorder


class PostgresTrackingRecorderSubclass(PostgresTrackingRecorder):
    pass
