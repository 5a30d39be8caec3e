"""The embedded event store's process recorder (one `executemany` per batch, ids allocated for the
batch, several trackings) against the library's own recorder test cases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests import persistence as contract

from adapters.eventstore.sqlite import SQLiteMultiTrackingProcessRecorder


class FreshSQLiteFile:
    datastore: SQLiteDatastore

    @pytest.fixture(autouse=True)
    def _fresh_file(self, tmp_path: Path) -> Iterator[None]:
        self.datastore = SQLiteDatastore(str(tmp_path / "events.db"), lock_timeout=30)
        before = set(threading.enumerate())
        yield
        # The library's concurrency cases set a stop flag for their reader threads but never join them;
        # closing the connections under a reader still inside sqlite3 crashes the interpreter.
        for thread in set(threading.enumerate()) - before:
            if not thread.daemon:
                thread.join(timeout=60)
                assert not thread.is_alive(), f"thread {thread.name} still running after the test"
        self.datastore.close()

    def create_recorder(self) -> SQLiteMultiTrackingProcessRecorder:
        recorder = SQLiteMultiTrackingProcessRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestSQLiteBatchApplicationRecorder(FreshSQLiteFile, contract.ApplicationRecorderTestCase):
    pass  # the library's SQLite recorders offer no subscriptions, so its optional subscribe case is left out


class TestSQLiteBatchNonInterleavingNotificationIDs(FreshSQLiteFile, contract.NonInterleavingNotificationIDsBaseCase):
    pass


class TestSQLiteBatchProcessRecorder(FreshSQLiteFile, contract.ProcessRecorderTestCase):
    pass


def test_a_batch_gets_consecutive_ids_in_the_order_given_and_the_log_has_no_gap(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "events.db"), lock_timeout=30, originator_id_type="text")
    recorder = SQLiteMultiTrackingProcessRecorder(datastore)
    recorder.create_table()
    first = recorder.insert_events([StoredEvent(f"a-{i}", 1, "t", b"x") for i in range(3)])
    second = recorder.insert_events(
        [StoredEvent(f"b-{i}", 1, "t", b"y") for i in range(500)], trackings=[Tracking("feedback:0", 7)]
    )
    assert first == [1, 2, 3] and second == list(range(4, 504))
    log = recorder.select_notifications(start=1, limit=1000)
    assert [n.id for n in log] == list(range(1, 504))
    assert [n.originator_id for n in log[3:6]] == ["b-0", "b-1", "b-2"]
    assert recorder.max_tracking_id("feedback:0") == 7
    assert recorder.insert_events([]) == []
