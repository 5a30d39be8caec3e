"""Load → decide → save, for any aggregate: one transaction, decided again from fresh state on a conflict.

Every write of the service goes through `UnitOfWork.run`: a batch of feedback, a tick, a
freeze, a lease, a training job, the model registry. `decide` is handed a `Loaded`, loads the
aggregates it needs through it, changes them (or adds new ones), and returns its result. Then
everything with pending events, and any tracking records, is saved in one transaction.

When another writer saved one of those aggregates first, the store refuses the save (a
version conflict, `IntegrityError`): every aggregate this attempt loaded is evicted from the
cache and `decide` runs again on what is stored now, so a rule (an owner check, a lease) is
always decided on fresh state inside the write. A tracking record that another process has
already written (a Kafka offset saved twice) cannot be cured by a retry: `TrackingConflict`.

The save path. The library's `Application.save` builds a `Recording` per event (nothing here
reads them; they cost about a twentieth of recording) and checks each object against runtime
protocols in `ProcessingEvent.collect_events` (more than the rest of the save for small
events). `_record` below fills the `ProcessingEvent` directly and calls the recorder's
`insert_events` with the same stored events the library would write, byte for byte, then puts
the saved aggregates in the repository's cache as the library does. Only this module touches
those library internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Tracking

MAX_ATTEMPTS = 10

R = TypeVar("R")


class TrackingConflict(IntegrityError):
    """Another process already recorded a position this batch claims: retrying cannot help."""


class Loaded:
    """What one attempt loaded and created; `fresh` reads the store, never the cache.

    One attempt sees one state: an aggregate it found missing stays missing for the rest of the
    attempt, even if another writer creates it meanwhile (a decision taken on "there is none"
    must be written as such, and then conflicts, rather than be applied to what appeared)."""

    def __init__(self, app: Application, fresh: bool = False):
        self._app = app
        self._fresh = fresh
        self.objects: dict[Any, Any] = {}  # id → aggregate, in the order first seen
        self._missing: set[Any] = set()

    def get(self, aggregate_id: Any) -> Any:
        """The aggregate (the one this attempt already holds, if any); raises AggregateNotFoundError."""
        held = self.objects.get(aggregate_id)
        if held is not None:
            return held
        if aggregate_id in self._missing:
            raise AggregateNotFoundError(aggregate_id)
        if self._fresh:
            evict(self._app, aggregate_id)
        try:
            aggregate = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            self._missing.add(aggregate_id)
            raise
        self.objects[aggregate_id] = aggregate
        return aggregate

    def find(self, aggregate_id: Any) -> Any | None:
        """As `get`, or None when there is no such aggregate."""
        try:
            return self.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def add(self, *objects: Any) -> None:
        """New aggregates (or ones loaded elsewhere) to save with the rest."""
        for obj in objects:
            self.objects[obj.id] = obj

    def forget(self) -> None:
        for aggregate_id in self.objects:
            evict(self._app, aggregate_id)


class UnitOfWork:
    def __init__(
        self,
        app: Application,
        after_save: Callable[[ProcessingEvent], None] | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ):
        self.app = app
        self.after_save = after_save  # e.g. snapshots of long histories
        self.max_attempts = max_attempts

    def run(self, decide: Callable[[Loaded], R], trackings: Sequence[Tracking] = (), fresh: bool = False) -> R:
        """Runs `decide` and saves what it changed, atomically; on a version conflict, all of it again."""
        for attempt in range(self.max_attempts):
            loaded = Loaded(self.app, fresh)
            try:
                result = decide(loaded)
                self.save(loaded.objects.values(), trackings)
                return result
            except IntegrityError as error:
                loaded.forget()
                if self._positions_taken(trackings):
                    raise TrackingConflict(f"positions already recorded by another process: {error}") from error
                if attempt == self.max_attempts - 1:
                    raise
            except BaseException:
                loaded.forget()  # a failed decision may have changed cached aggregates in memory
                raise
        raise AssertionError("unreachable")

    def change(self, aggregate_id: Any, change: Callable[[Any], R], create: Callable[[], Any] | None = None) -> R:
        """One aggregate, loaded fresh: `change(aggregate)`, or `create()` when there is none yet
        (its result is then the new aggregate). Raises AggregateNotFoundError without `create`."""

        def decide(loaded: Loaded) -> Any:
            aggregate = loaded.find(aggregate_id)
            if aggregate is not None:
                return change(aggregate)
            if create is None:
                raise AggregateNotFoundError(aggregate_id)
            created = create()
            loaded.add(created)
            return created

        return self.run(decide, fresh=True)

    def create(self, aggregate: Any) -> bool:
        """Saves a new aggregate; False when another writer created one with its id first."""
        try:
            self.save([aggregate])
        except IntegrityError:
            evict(self.app, aggregate.id)
            return False
        return True

    def save(self, objects: Iterable[Any], trackings: Sequence[Tracking] = ()) -> None:
        processing = ProcessingEvent()
        for obj in objects:
            pending = obj.collect_events()
            if pending:
                processing.events.extend(pending)
                processing.aggregates[obj.id] = obj
        if not processing.events and not trackings:
            return
        processing.saved_kwargs["trackings"] = list(trackings)
        self._record(processing)
        if self.after_save is not None:
            self.after_save(processing)

    def _record(self, processing: ProcessingEvent) -> None:
        """The library's `Application._record`, without the per-event `Recording`s."""
        app = self.app
        stored = [app.events.mapper.to_stored_event(e) for e in processing.events]
        app.events.recorder.insert_events(stored, tracking=processing.tracking, **processing.saved_kwargs)
        if app.repository.cache and not app.repository.fastforward:
            for aggregate_id, aggregate in processing.aggregates.items():
                app.repository.cache.put(aggregate_id, aggregate)

    def _positions_taken(self, trackings: Sequence[Tracking]) -> bool:
        recorder = self.app.recorder
        return any((recorder.max_tracking_id(t.application_name) or 0) >= t.notification_id for t in trackings)


def evict(app: Application, aggregate_id: Any) -> None:
    """Drops the cached copy, if any: the next load reads the store."""
    try:
        app.repository.cache.get(aggregate_id, evict=True)
    except (KeyError, AttributeError):
        pass


def load_fresh(app: Application, aggregate_id: Any) -> Any:
    """The aggregate as stored now (never a cached copy); raises AggregateNotFoundError."""
    evict(app, aggregate_id)
    return app.repository.get(aggregate_id)
