"""Event store on MongoDB: the `eventsourcing` recorders and infrastructure factory.

Set ``PERSISTENCE_MODULE=adapters.eventstore.mongodb``, ``MONGODB_URL`` (a
connection string to a replica set: transactions need one) and optionally
``MONGODB_DATABASE`` (default ``agent_learning``). As with the library's other
stores, every key may be prefixed with the application name
(``MYAPP_MONGODB_DATABASE``), and ``CREATE_TABLE=no`` skips creating the
collections and indexes.

Layout, per application (``prefix`` is the application name in lower case):

- ``{prefix}_events`` (``stored_events`` without a name): one document per
  event, ``{notification_id, originator_id, originator_version, topic, state}``,
  with unique indexes on (originator_id, originator_version) and on
  notification_id.
- ``{prefix}_events_sequence``: one counter document, ``{_id: "notification_id",
  last: N}``, the last notification id handed out (and so the largest one).
- ``{prefix}_snapshots`` (``aggregate_recorder(purpose="snapshots")``): the
  same documents without notification_id, with the same (originator_id,
  originator_version) index.
- ``{prefix}_tracking`` (``notification_tracking`` without a name): one document
  per upstream, ``{_id: application_name, notification_id}``.

Why notification ids are gap-free and increase in commit order
---------------------------------------------------------------
A reader tailing the application sequence (``select_notifications`` from its
last position) must never step over an id that is filled in later. Each batch
of events is written in one multi-document transaction that first increments
the counter document by the batch size, ``$inc: {last: N}``, takes ids
``last-N+1 .. last`` and then inserts the events with those ids.

1. MongoDB (WiredTiger) lets only one open transaction write a given document:
   a second writer of the counter gets a ``WriteConflict``, and so does a
   writer whose snapshot predates the last committed change of the counter.
   So a transaction that holds an increment has read the counter as left by
   the last *committed* allocation, and no other allocation can commit until
   it commits or aborts. Allocations are therefore serialised in commit order:
   a batch that commits later has strictly greater ids.
2. An aborted transaction (duplicate event, tracking conflict, crash) rolls
   its increment back together with its inserts, so no id is ever skipped.
3. Hence, in every committed state, the events are exactly ids ``1 .. last``.
   A reader that sees one such state and has seen id ``k`` has seen all of
   ``1 .. k``, and nothing with an id below ``k`` can appear later. So a page of
   notifications is read in one snapshot (a read-only transaction with read
   concern "snapshot"): a plain query may move to a newer state midway through
   its scan, pass the place of ids that were not yet committed, then find a
   higher id committed after them, and the reader would skip those for good.
   (SecantusDB does exactly this; see ``MongoDBDatastore.read_snapshot``.)
4. Reads use read concern "majority" and writes write concern
   ``w="majority", j=True``: an acknowledged batch is in the journal of a
   majority and survives a crash or a failover, and a reader never sees a
   batch that a failover could roll back (which would free its ids for reuse).

Write conflicts carry the ``TransientTransactionError`` label; the transaction
is rerun by pymongo's ``ClientSession.with_transaction`` with jittered
exponential backoff. A duplicate (originator_id, originator_version) that is
committed is a plain duplicate-key error, which aborts the transaction and is
raised as the library's ``IntegrityError``. (A duplicate that is only being
written by a concurrent, uncommitted transaction is a write conflict: the
rerun then either succeeds, if the other aborted, or fails with the duplicate.)

Tracking
--------
``MongoDBProcessRecorder.insert_events(events, tracking=..., trackings=[...])``
records the events and the tracking records in the same transaction. Besides
the library's single ``tracking``, ``trackings`` takes several Tracking objects,
for a consumer that follows several upstream sequences at once (one per Kafka
topic-partition, named like ``kafka:agent-feedback:3``). As in the library's
PostgreSQL store, each upstream has one document holding its position; a
tracking record whose id is not greater than the recorded one raises
``IntegrityError`` and nothing of the transaction is written.

Subscriptions poll the sequence (every ``poll_interval`` seconds, default
0.1) rather than using change streams: a poll cannot miss an event that
committed while a stream was being opened, and costs one small snapshot read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from threading import Event, Thread
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DatabaseError,
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    ListenNotifySubscription,
    Notification,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, retry, strtobool
from pymongo import ASCENDING, DESCENDING, MongoClient, ReadPreference, ReturnDocument
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from adapters.mongodb_client import connected_client

if TYPE_CHECKING:
    from types import TracebackType
    from uuid import UUID

    from pymongo.client_session import ClientSession
    from pymongo.collection import Collection
    from pymongo.database import Database

_T = TypeVar("_T")
_Document = dict[str, Any]

DUPLICATE_KEY = 11000
NOTIFICATION_ID_COUNTER = "notification_id"

# Reads retried like the library's PostgreSQL recorders do; pymongo already
# retries once, this rides out a replica-set election.
_retry_reads = retry((OperationalError,), max_attempts=10, wait=0.2)


class MongoDBDatastore:
    """One MongoClient (a thread-safe pool) and the concerns every recorder uses."""

    def __init__(self, url: str, database_name: str) -> None:
        # UUIDs as standard BSON binary (subtype 4), decoded back to uuid.UUID.
        self.client: MongoClient[_Document] = connected_client(url, uuidRepresentation="standard")
        self.write_concern = WriteConcern(w="majority", j=True)
        self.read_concern = ReadConcern("majority")
        self.database: Database[_Document] = self.client.get_database(
            database_name,
            write_concern=self.write_concern,
            read_concern=self.read_concern,
            read_preference=ReadPreference.PRIMARY,
        )

    def collection(self, name: str) -> Collection[_Document]:
        return self.database.get_collection(name)

    def create_collection(self, name: str) -> None:
        # Collections are made up front: a transaction on a real server may
        # not be allowed to create one implicitly.
        with translated_errors(), contextlib.suppress(CollectionInvalid):
            self.database.create_collection(name)

    def transaction(self, callback: Callable[[ClientSession], _T]) -> _T:
        """Runs callback in a transaction, rerun on write conflicts and other
        transient errors."""
        with translated_errors(), self.client.start_session() as session:
            return session.with_transaction(
                callback,
                read_concern=ReadConcern("snapshot"),
                write_concern=self.write_concern,
                read_preference=ReadPreference.PRIMARY,
            )

    def read_snapshot(self, callback: Callable[[ClientSession], _T]) -> _T:
        """Runs reads in one point-in-time snapshot.

        A plain query may move to newer states while it scans (a server yields
        and reopens its view; SecantusDB does so at every step). A read-only
        transaction with read concern "snapshot" reads one majority-committed
        state on MongoDB and on SecantusDB, which ignores "snapshot" on reads
        outside transactions.
        """
        return self.transaction(callback)

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Raises pymongo's errors as the library's persistence errors."""
    try:
        yield
    except DuplicateKeyError as e:
        raise IntegrityError(str(e)) from e
    except BulkWriteError as e:
        write_errors = e.details.get("writeErrors", [])
        if any(error.get("code") == DUPLICATE_KEY for error in write_errors):
            raise IntegrityError(str(e)) from e
        raise DatabaseError(str(e)) from e
    except ConnectionFailure as e:
        raise OperationalError(str(e)) from e
    except OperationFailure as e:
        if e.code == DUPLICATE_KEY:
            raise IntegrityError(str(e)) from e
        if e.timeout or e.has_error_label("TransientTransactionError"):
            raise OperationalError(str(e)) from e
        raise DatabaseError(str(e)) from e
    except PyMongoError as e:
        if e.timeout:
            raise OperationalError(str(e)) from e
        raise InterfaceError(str(e)) from e


class MongoDBRecorder:
    """Base class for recorders that use MongoDB."""

    def __init__(self, datastore: MongoDBDatastore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datastore = datastore

    def create_table(self) -> None:
        """Creates the collections and indexes (idempotent)."""


class MongoDBAggregateRecorder(MongoDBRecorder, AggregateRecorder):
    def __init__(
        self,
        datastore: MongoDBDatastore,
        *,
        events_collection_name: str = "stored_events",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.events_collection_name = events_collection_name
        self.events = datastore.collection(events_collection_name)

    def create_table(self) -> None:
        super().create_table()
        self.datastore.create_collection(self.events_collection_name)
        with translated_errors():
            self.events.create_index(
                [("originator_id", ASCENDING), ("originator_version", ASCENDING)],
                unique=True,
                name="originator_id_version_unique",
            )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        documents = [self._document(e) for e in stored_events]
        if len(documents) == 1:
            with translated_errors():
                self.events.insert_one(documents[0])
        elif documents:
            # All or nothing: a duplicate anywhere in the batch writes none.
            self.datastore.transaction(lambda session: self.events.insert_many(documents, session=session))
        return None

    @_retry_reads
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        query: _Document = {"originator_id": originator_id}
        version_range: _Document = {}
        if gt is not None:
            version_range["$gt"] = gt
        if lte is not None:
            version_range["$lte"] = lte
        if version_range:
            query["originator_version"] = version_range
        if limit is not None and limit <= 0:
            return []
        sort = [("originator_version", DESCENDING if desc else ASCENDING)]
        return self.datastore.read_snapshot(
            lambda session: [
                self._stored_event(document)
                for document in self.events.find(query, sort=sort, limit=limit or 0, session=session)
            ]
        )

    @staticmethod
    def _document(stored_event: StoredEvent) -> _Document:
        return {
            "originator_id": stored_event.originator_id,
            "originator_version": stored_event.originator_version,
            "topic": stored_event.topic,
            "state": stored_event.state,
        }

    @staticmethod
    def _stored_event(document: _Document) -> StoredEvent:
        return StoredEvent(
            originator_id=document["originator_id"],
            originator_version=document["originator_version"],
            topic=document["topic"],
            state=bytes(document["state"]),
        )


class MongoDBApplicationRecorder(MongoDBAggregateRecorder, ApplicationRecorder):
    def __init__(
        self,
        datastore: MongoDBDatastore,
        *,
        events_collection_name: str = "stored_events",
        poll_interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, events_collection_name=events_collection_name, **kwargs)
        self.sequence_collection_name = events_collection_name + "_sequence"
        self.sequence = datastore.collection(self.sequence_collection_name)
        self.poll_interval = poll_interval

    def create_table(self) -> None:
        super().create_table()
        self.datastore.create_collection(self.sequence_collection_name)
        with translated_errors():
            self.events.create_index(
                [("notification_id", ASCENDING)],
                unique=True,
                name="notification_id_unique",
            )
            # Seeded outside any transaction, so that the first allocators
            # only ever meet on an existing document.
            self.sequence.update_one(
                {"_id": NOTIFICATION_ID_COUNTER},
                {"$setOnInsert": {"last": 0}},
                upsert=True,
            )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return None
        return self.datastore.transaction(lambda session: self._insert_with_notification_ids(stored_events, session))

    def _insert_with_notification_ids(
        self, stored_events: Sequence[StoredEvent], session: ClientSession
    ) -> Sequence[int]:
        # Reserve the whole batch with one increment; the write on the counter
        # is what serialises allocators (see the module docstring).
        counter = self.sequence.find_one_and_update(
            {"_id": NOTIFICATION_ID_COUNTER},
            {"$inc": {"last": len(stored_events)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        last = int(counter["last"])
        first = last - len(stored_events) + 1
        documents = [{"notification_id": first + i, **self._document(e)} for i, e in enumerate(stored_events)]
        self.events.insert_many(documents, ordered=True, session=session)
        return list(range(first, last + 1))

    @_retry_reads
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if limit <= 0:
            return []
        first = 1 if start is None else max(start + (not inclusive_of_start), 1)
        # One snapshot for the whole page (see read_snapshot): a scan that moved
        # to a newer state midway could find an id after passing the then
        # uncommitted ones below it, and the reader would skip those for good.
        return self.datastore.read_snapshot(lambda session: self._select_page(session, first, limit, stop, topics))

    def _select_page(
        self,
        session: ClientSession,
        first: int,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
    ) -> list[Notification]:
        if topics:
            return self._select_notifications(session, first, stop, topics, limit)
        # Ids have no gaps, so a page is the ids first .. first+limit-1: bound
        # the index scan to it (some servers scan a whole open range before
        # applying the limit).
        window_end = first + limit - 1
        if stop is not None and stop <= window_end:
            return self._select_notifications(session, first, stop, topics, limit)
        page = self._select_notifications(session, first, window_end, topics, limit)
        if len(page) < limit:
            # At the head of the sequence, or past a hole left by a deletion:
            # whatever lies beyond the window still belongs to this page.
            page += self._select_notifications(session, window_end + 1, stop, topics, limit - len(page))
        return page

    def _select_notifications(
        self,
        session: ClientSession,
        first: int,
        last: int | None,
        topics: Sequence[str],
        limit: int,
    ) -> list[Notification]:
        id_range: _Document = {"$gte": first}
        if last is not None:
            id_range["$lte"] = last
        query: _Document = {"notification_id": id_range}
        if topics:
            query["topic"] = {"$in": list(topics)}
        cursor = self.events.find(query, sort=[("notification_id", ASCENDING)], limit=limit, session=session)
        return [
            Notification(
                id=document["notification_id"],
                originator_id=document["originator_id"],
                originator_version=document["originator_version"],
                topic=document["topic"],
                state=bytes(document["state"]),
            )
            for document in cursor
        ]

    @_retry_reads
    def max_notification_id(self) -> int | None:
        # The counter is the last id handed out, and it is only ever moved in
        # the transaction that inserts the events with those ids.
        with translated_errors():
            counter = self.sequence.find_one({"_id": NOTIFICATION_ID_COUNTER})
        last = 0 if counter is None else int(counter["last"])
        return last or None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return MongoDBSubscription(recorder=self, gt=gt, topics=topics, poll_interval=self.poll_interval)


class MongoDBSubscription(ListenNotifySubscription[MongoDBApplicationRecorder]):
    """Wakes the library's pulling thread every poll interval."""

    def __init__(
        self,
        recorder: MongoDBApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        poll_interval: float = 0.1,
    ) -> None:
        # Made before the base class starts pulling, which may call stop().
        self._poll_interval = poll_interval
        self._polling_stopped = Event()
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._poll_thread = Thread(target=self._poll, daemon=True)
        self._poll_thread.start()

    def stop(self) -> None:
        super().stop()
        self._polling_stopped.set()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join()

    def _poll(self) -> None:
        while not self._polling_stopped.wait(self._poll_interval):
            self._has_been_notified.set()


class MongoDBTrackingRecorder(MongoDBRecorder, TrackingRecorder):
    def __init__(
        self,
        datastore: MongoDBDatastore,
        *,
        tracking_collection_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_collection_name = tracking_collection_name
        self.tracking = datastore.collection(tracking_collection_name)

    def create_table(self) -> None:
        super().create_table()
        # Looked up by _id (the application name): no further index needed.
        self.datastore.create_collection(self.tracking_collection_name)

    def insert_tracking(self, tracking: Tracking) -> None:
        with translated_errors():
            self._insert_tracking(tracking, session=None)

    def _insert_tracking(self, tracking: Tracking, session: ClientSession | None) -> None:
        # Moves the position forward only: when the recorded id is not lower,
        # the filter misses and the upsert collides with the existing _id.
        try:
            self.tracking.update_one(
                {
                    "_id": tracking.application_name,
                    "notification_id": {"$lt": tracking.notification_id},
                },
                {"$set": {"notification_id": tracking.notification_id}},
                upsert=True,
                session=session,
            )
        except DuplicateKeyError as e:
            msg = (
                f"Tracking of '{tracking.application_name}' is already at or beyond "
                f"notification {tracking.notification_id}: positions only move "
                "forward, so this notification has been processed already"
            )
            raise IntegrityError(msg) from e

    @_retry_reads
    def max_tracking_id(self, application_name: str) -> int | None:
        with translated_errors():
            document = self.tracking.find_one({"_id": application_name})
        return None if document is None else int(document["notification_id"])


class MongoDBProcessRecorder(MongoDBTrackingRecorder, MongoDBApplicationRecorder, ProcessRecorder):
    """Records events with the tracking records of what was processed, atomically.

    ``insert_events(stored_events, tracking=None, trackings=())``: ``tracking``
    is the library's single record, ``trackings`` any number more (e.g. one per
    Kafka topic-partition); all of them and the events commit together or not
    at all, and each must move its upstream's position forward.
    """

    def __init__(
        self,
        datastore: MongoDBDatastore,
        *,
        events_collection_name: str = "stored_events",
        tracking_collection_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            datastore,
            events_collection_name=events_collection_name,
            tracking_collection_name=tracking_collection_name,
            **kwargs,
        )

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        tracking: Tracking | None = None,
        trackings: Sequence[Tracking] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        all_trackings = ([tracking] if tracking is not None else []) + list(trackings)
        if not stored_events and not all_trackings:
            return None

        def write(session: ClientSession) -> Sequence[int] | None:
            for each in all_trackings:
                self._insert_tracking(each, session)
            if not stored_events:
                return None
            return self._insert_with_notification_ids(stored_events, session)

        return self.datastore.transaction(write)


class MongoDBFactory(InfrastructureFactory[MongoDBTrackingRecorder]):
    MONGODB_URL = "MONGODB_URL"
    MONGODB_DATABASE = "MONGODB_DATABASE"
    CREATE_TABLE = "CREATE_TABLE"
    DEFAULT_DATABASE = "agent_learning"

    aggregate_recorder_class = MongoDBAggregateRecorder
    application_recorder_class = MongoDBApplicationRecorder
    tracking_recorder_class = MongoDBTrackingRecorder
    process_recorder_class = MongoDBProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.MONGODB_URL)
        if not url:
            msg = (
                f"MongoDB connection string not found in environment with key "
                f"'{self.MONGODB_URL}': set it, e.g. "
                "'mongodb://localhost:27017/?replicaSet=rs0' (a replica set, "
                "since the event store writes in transactions)"
            )
            raise OSError(msg)
        database_name = self.env.get(self.MONGODB_DATABASE) or self.DEFAULT_DATABASE
        self.datastore = MongoDBDatastore(url, database_name)

    def env_create_table(self) -> bool:
        return strtobool(self.env.get(self.CREATE_TABLE) or "yes")

    def _events_collection_name(self, purpose: str) -> str:
        return (self.env.name.lower() or "stored") + "_" + purpose

    def _tracking_collection_name(self) -> str:
        return (self.env.name.lower() or "notification") + "_tracking"

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = type(self).aggregate_recorder_class(
            self.datastore,
            events_collection_name=self._events_collection_name(purpose),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        recorder_class: type[MongoDBApplicationRecorder] = (
            resolve_topic(topic) if topic else type(self).application_recorder_class
        )
        assert issubclass(recorder_class, MongoDBApplicationRecorder)
        recorder = recorder_class(
            self.datastore,
            events_collection_name=self._events_collection_name("events"),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[MongoDBTrackingRecorder] | None = None
    ) -> MongoDBTrackingRecorder:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = resolve_topic(topic) if topic else type(self).tracking_recorder_class
        assert tracking_recorder_class is not None
        assert issubclass(tracking_recorder_class, MongoDBTrackingRecorder)
        recorder = tracking_recorder_class(
            self.datastore,
            tracking_collection_name=self._tracking_collection_name(),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        recorder_class: type[MongoDBProcessRecorder] = (
            resolve_topic(topic) if topic else type(self).process_recorder_class
        )
        assert issubclass(recorder_class, MongoDBProcessRecorder)
        recorder = recorder_class(
            self.datastore,
            events_collection_name=self._events_collection_name("events"),
            tracking_collection_name=self._tracking_collection_name(),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc_val, exc_tb)
        self.close()

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self.datastore.close()


Factory = MongoDBFactory

__all__ = [
    "Factory",
    "MongoDBAggregateRecorder",
    "MongoDBApplicationRecorder",
    "MongoDBDatastore",
    "MongoDBFactory",
    "MongoDBProcessRecorder",
    "MongoDBSubscription",
    "MongoDBTrackingRecorder",
]
