"""The MongoDB event store, against the library's recorder contract on a real server.

Needs a session fixture ``mongodb_url`` (a MongoDB-protocol replica set); each
test works in a database of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier, Event, Thread
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.tests import persistence as contract
from eventsourcing.utils import Environment

from adapters.eventstore.mongodb import (
    MongoDBAggregateRecorder,
    MongoDBApplicationRecorder,
    MongoDBDatastore,
    MongoDBFactory,
    MongoDBProcessRecorder,
    MongoDBTrackingRecorder,
)

PERSISTENCE_MODULE = "adapters.eventstore.mongodb"
# pymongo retries a transaction that meets transient errors for up to 120 s.
READER_JOIN_SECONDS = 150


@pytest.fixture
def datastore(mongodb_url: str) -> Iterator[MongoDBDatastore]:
    # Not dropped afterwards: the test server's storage is thrown away with
    # it, and SecantusDB's dropDatabase at times takes minutes.
    store = MongoDBDatastore(mongodb_url, f"test_{uuid4().hex}")
    yield store
    store.close()


class FreshMongoDBDatabase:
    """Gives each library test case a database of its own (pytest fixtures
    reach unittest classes only through an autouse fixture)."""

    datastore: MongoDBDatastore
    mongodb_url: str

    @pytest.fixture(autouse=True)
    def _fresh_database(self, mongodb_url: str, datastore: MongoDBDatastore) -> Iterator[None]:
        self.mongodb_url = mongodb_url
        self.datastore = datastore
        before = set(threading.enumerate())
        yield
        # The library's concurrency cases set a stop flag for their reader threads but never join
        # them; a reader inside a retried snapshot read would outlive the test (and the session).
        for thread in set(threading.enumerate()) - before:
            if not thread.daemon:
                thread.join(timeout=READER_JOIN_SECONDS)
                assert not thread.is_alive(), f"thread {thread.name} still running after the test"


def application_recorder(datastore: MongoDBDatastore) -> MongoDBApplicationRecorder:
    recorder = MongoDBApplicationRecorder(datastore)
    recorder.create_table()
    return recorder


def process_recorder(datastore: MongoDBDatastore) -> MongoDBProcessRecorder:
    recorder = MongoDBProcessRecorder(datastore)
    recorder.create_table()
    return recorder


# The library's contract, one small subclass per recorder.


class TestMongoDBAggregateRecorder(FreshMongoDBDatabase, contract.AggregateRecorderTestCase):
    def create_recorder(self) -> MongoDBAggregateRecorder:
        recorder = MongoDBAggregateRecorder(self.datastore, events_collection_name="stored_snapshots")
        recorder.create_table()
        return recorder


class TestMongoDBApplicationRecorder(FreshMongoDBDatabase, contract.ApplicationRecorderTestCase):
    def create_recorder(self) -> MongoDBApplicationRecorder:
        return application_recorder(self.datastore)

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestMongoDBNonInterleavingNotificationIDs(FreshMongoDBDatabase, contract.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> MongoDBApplicationRecorder:
        return application_recorder(self.datastore)


class TestMongoDBTrackingRecorder(FreshMongoDBDatabase, contract.TrackingRecorderTestCase):
    def create_recorder(self) -> MongoDBTrackingRecorder:
        recorder = MongoDBTrackingRecorder(self.datastore)
        recorder.create_table()
        return recorder


class TestMongoDBProcessRecorder(FreshMongoDBDatabase, contract.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return process_recorder(self.datastore)


class TestMongoDBInfrastructureFactory(FreshMongoDBDatabase, contract.InfrastructureFactoryTestCase[MongoDBFactory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[MongoDBFactory.PERSISTENCE_MODULE] = PERSISTENCE_MODULE
        self.env[MongoDBFactory.MONGODB_URL] = self.mongodb_url
        self.env[MongoDBFactory.MONGODB_DATABASE] = self.datastore.database.name
        super().setUp()

    def expected_factory_class(self) -> type[MongoDBFactory]:
        return MongoDBFactory

    def expected_aggregate_recorder_class(self) -> type[MongoDBAggregateRecorder]:
        return MongoDBAggregateRecorder

    def expected_application_recorder_class(self) -> type[MongoDBApplicationRecorder]:
        return MongoDBApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[MongoDBTrackingRecorder]:
        return MongoDBTrackingRecorder

    def tracking_recorder_subclass(self) -> type[MongoDBTrackingRecorder]:
        return MongoDBTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[MongoDBProcessRecorder]:
        return MongoDBProcessRecorder


class MongoDBTrackingRecorderSubclass(MongoDBTrackingRecorder):
    pass


# The rules this project relies on beyond the library's contract.


class Dog(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class DogSchool(Application[UUID]):
    def register(self, name: str) -> UUID:
        dog = Dog(name)
        self.save(dog)
        return dog.id


def test_an_application_on_mongodb_saves_reloads_and_snapshots_an_aggregate(
    mongodb_url: str, datastore: MongoDBDatastore
) -> None:
    env = {
        "PERSISTENCE_MODULE": PERSISTENCE_MODULE,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": datastore.database.name,
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
    school = DogSchool(env=env)
    dog_id = school.register("Fido")
    dog = school.repository.get(dog_id)
    dog.add_trick("roll over")
    dog.add_trick("play dead")
    school.save(dog)
    school.take_snapshot(dog_id)
    school.close()

    reopened = DogSchool(env=env)
    copy = reopened.repository.get(dog_id)
    assert (copy.name, copy.tricks, copy.version) == (
        "Fido",
        ["roll over", "play dead"],
        3,
    )
    assert [n.id for n in reopened.notification_log.select(start=1, limit=10)] == [
        1,
        2,
        3,
    ]
    assert datastore.collection("dogschool_snapshots").count_documents({}) == 1
    reopened.close()


def test_concurrent_writers_get_gap_free_ids_that_a_tailing_reader_never_skips(
    datastore: MongoDBDatastore,
) -> None:
    recorder = application_recorder(datastore)
    writers, batches_per_writer = 8, 12
    writing_done = Event()
    reader_problems: list[str] = []
    read_ids: list[int] = []

    def write(writer: int) -> list[list[int]]:
        ids = []
        originator_id = uuid4()
        for batch in range(batches_per_writer):
            size = 1 + (writer + batch) % 4
            events = [StoredEvent(originator_id, 10 * batch + i, f"topic{writer}", b"{}") for i in range(size)]
            ids.append(list(recorder.insert_events(events) or []))
        return ids

    def tail() -> None:
        # Any id seen must follow the last one with no hole: a hole would mean
        # a lower id could still commit after the reader has moved past it.
        position = 0
        while True:
            finished = writing_done.is_set()
            page = recorder.select_notifications(start=position, limit=7, inclusive_of_start=False)
            for notification in page:
                if notification.id != position + 1:
                    reader_problems.append(f"after {position} came {notification.id}")
                position = notification.id
                read_ids.append(notification.id)
            if finished and not page:
                return

    reader = Thread(target=tail)
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=writers) as pool:
            per_writer = list(pool.map(write, range(writers)))
    finally:
        writing_done.set()  # a writer that raised must not leave the reader tailing forever
        reader.join(60)
    assert not reader.is_alive(), "the reader did not reach the end of the log within 60 s"

    batches = [batch for writer_batches in per_writer for batch in writer_batches]
    total = sum(len(batch) for batch in batches)
    assert all(batch == list(range(batch[0], batch[-1] + 1)) for batch in batches)
    assert sorted(i for batch in batches for i in batch) == list(range(1, total + 1))
    assert reader_problems == []
    assert read_ids == list(range(1, total + 1))
    assert recorder.max_notification_id() == total


def test_racing_writers_of_one_version_get_one_success_and_burn_no_ids(
    datastore: MongoDBDatastore,
) -> None:
    recorder = application_recorder(datastore)
    originator_id = uuid4()
    racers = 6
    start = Barrier(racers)

    def race(racer: int) -> str:
        start.wait()
        try:
            recorder.insert_events([StoredEvent(originator_id, 1, "t", b"%d" % racer)])
        except IntegrityError:
            return "conflict"
        return "written"

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = sorted(pool.map(race, range(racers)))

    assert outcomes == ["conflict"] * (racers - 1) + ["written"]
    assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"")]) == [2]


def test_several_trackings_commit_with_the_events_or_not_at_all(
    datastore: MongoDBDatastore,
) -> None:
    recorder = process_recorder(datastore)
    partition0, partition1 = "kafka:agent-feedback:0", "kafka:agent-feedback:1"

    ids = recorder.insert_events(
        [StoredEvent(uuid4(), 1, "t", b"")],
        trackings=[Tracking(partition0, 5), Tracking(partition1, 7)],
    )
    assert ids == [1]
    assert recorder.max_tracking_id(partition0) == 5
    assert recorder.max_tracking_id(partition1) == 7

    # Partition 1 is already past offset 6: the whole write is refused.
    rejected = StoredEvent(uuid4(), 1, "t", b"")
    with pytest.raises(IntegrityError, match=partition1):
        recorder.insert_events(
            [rejected],
            tracking=Tracking(partition0, 6),
            trackings=[Tracking(partition1, 6)],
        )
    assert recorder.max_tracking_id(partition0) == 5
    assert recorder.select_events(rejected.originator_id) == []
    assert recorder.max_notification_id() == 1

    # Tracking alone (nothing to emit) moves the positions forward.
    assert recorder.insert_events([], trackings=[Tracking(partition1, 8)]) is None
    assert recorder.has_tracking_id(partition1, 8)
    assert recorder.insert_events([StoredEvent(uuid4(), 1, "t", b"")]) == [2]


def test_select_notifications_filters_by_topic_between_start_and_stop(
    datastore: MongoDBDatastore,
) -> None:
    recorder = application_recorder(datastore)
    originator_id = uuid4()
    recorder.insert_events([StoredEvent(originator_id, v, f"topic{v % 2}", b"") for v in range(1, 9)])

    selected = recorder.select_notifications(start=2, stop=7, limit=10, topics=["topic1"], inclusive_of_start=False)

    assert [(n.id, n.topic) for n in selected] == [
        (3, "topic1"),
        (5, "topic1"),
        (7, "topic1"),
    ]
    assert all(isinstance(n, Notification) for n in selected)
    assert recorder.select_notifications(start=1, limit=0) == []


def test_the_factory_names_the_missing_connection_string() -> None:
    env = {"PERSISTENCE_MODULE": PERSISTENCE_MODULE}
    with pytest.raises(OSError, match="MONGODB_URL"):
        MongoDBFactory(env)
