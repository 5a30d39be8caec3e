"""The catch-up runner: pulls the notification log page by page and feeds each projection.

Every projection keeps its own checkpoint; a page's document changes and the new
checkpoint are committed together, so a crash at any point resumes exactly where
the last commit left off. A projection whose code version differs from the
stored one is rebuilt into a new generation beside the live one, which readers
keep using until the new one has caught up and is swapped in (blue/green).

A projection that raises while applying an event is stopped just before that event (what
came before it in the batch is applied again and committed), with the error kept
(`failures`, `status()`, and so `projections status` and `/healthz`), while the others go
on. A new runner (a restart, after the fix) tries again from its checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from attrs import frozen
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

from projections.agent_feedback_aggregations import AgentFeedbackAggregations
from projections.agent_learning_state import AgentLearningState
from projections.agent_policy_history import AgentPolicyHistory
from projections.agent_relationship_strength import AgentRelationshipStrength
from projections.clustering_insights import ClusteringInsightsView
from projections.dead_letters import DeadLetters
from projections.model_versions import ModelVersions
from projections.projection import Projection, View
from projections.read_model_store import BUILDING, LIVE, Checkpoint, CheckpointMoved, ReadModelStore
from projections.training_jobs import TrainingJobs

FAILED = "failed"  # a state `status()` reports; never stored
log = logging.getLogger(__name__)


def all_projections() -> list[Projection]:
    return [
        AgentLearningState(),
        AgentPolicyHistory(),
        AgentFeedbackAggregations(),
        AgentRelationshipStrength(),
        DeadLetters(),
        ModelVersions(),
        TrainingJobs(),
        ClusteringInsightsView(),
    ]


@frozen
class ProjectionStatus:
    projection: str
    generation: int
    version: int
    code_version: int
    state: str
    position: int
    head: int
    error: str | None = None  # why it stopped, when its state is FAILED

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class UnknownProjection(LookupError):
    pass


@frozen
class ProjectionFailure:
    position: int  # the notification it could not apply
    error: str

    def describe(self, projection: str) -> str:
        return f"projection {projection} stopped at notification {self.position}: {self.error}"


class ProjectionFailed(RuntimeError):
    """A rebuild could not finish: a projection failed (the live read models are left as they were)."""


Progress = Callable[[str, int, int], None]  # (projection, position, head)


class CatchUpRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper,
        store: ReadModelStore,
        projections: Sequence[Projection] | None = None,
        page_size: int = 10_000,  # notifications read (and held decoded) at a time
        batch_size: int = 50_000,  # notifications applied per transaction: each document is read and written
        # once per batch, so big batches rewrite hot documents (an agent's state, a user's relationship) less
    ):
        self.recorder = recorder
        self.mapper = mapper
        self.store = store
        self.projections = {p.name: p for p in (projections if projections is not None else all_projections())}
        self.page_size = page_size
        self.batch_size = max(batch_size, page_size)
        # Documents kept from one batch to the next, up to this many per projection (0: none).
        # Kept documents are used only while the checkpoint is still where this runner left it,
        # so that nobody else can have written them since.
        self.keep_documents = 0
        self._kept: dict[tuple[str, int], tuple[int, View]] = {}
        self.failures: dict[tuple[str, int], ProjectionFailure] = {}  # (projection, generation) → why

    # -------------------------------------------------------------- lifecycle

    def prepare(self) -> None:
        """Starts a generation for every projection that has none, or whose code version changed."""
        checkpoints = self.store.checkpoints()
        for name, projection in self.projections.items():
            mine = [c for c in checkpoints if c.projection == name]
            live = next((c for c in mine if c.state == LIVE), None)
            if live is None:
                if not mine:
                    started = self.store.start_generation(name, projection.version, projection.collections)
                    self.store.activate(name, started.generation)  # nothing to protect yet
            elif live.version != projection.version and not any(
                c.state == BUILDING and c.version == projection.version for c in mine
            ):
                self.store.start_generation(name, projection.version, projection.collections)

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> None:
        """Rebuilds the named projections (all by default) beside the live ones, then swaps them in."""
        names = list(names) if names else list(self.projections)
        for name in names:
            if name not in self.projections:
                raise UnknownProjection(
                    f"unknown projection {name!r}; known projections: {', '.join(self.projections)}"
                )
        self.prepare()
        for name in names:
            building = [c for c in self.store.checkpoints() if c.projection == name and c.state == BUILDING]
            if not building:
                projection = self.projections[name]
                self.store.start_generation(name, projection.version, projection.collections)
        self.catch_up(progress)
        failed = [failure.describe(name) for (name, _), failure in self.failures.items() if name in names]
        if failed:
            raise ProjectionFailed("; ".join(failed) + " (the live read models are unchanged)")

    def catch_up(self, progress: Progress | None = None) -> int:
        """Applies everything recorded so far; returns how many notifications were read."""
        self.prepare()
        total = 0
        while True:
            read = self.run_once(progress)
            total += read
            if read == 0:
                break
        self._activate_caught_up()
        return total

    def run_once(self, progress: Progress | None = None) -> int:
        """One batch for every checkpoint that is behind; returns notifications read (0: all caught up).

        The batch is read page by page; each page is decoded once and fanned out to every
        projection, whose documents stay in its `View` until the batch ends. Then each
        projection commits its documents and its new position in one transaction.
        """
        checkpoints = [
            c
            for c in self.store.checkpoints()
            if c.projection in self.projections and (c.projection, c.generation) not in self.failures
        ]
        if not checkpoints:
            return 0
        start = min(c.position for c in checkpoints) + 1
        limit = min(self.page_size, self.batch_size)
        page = self.recorder.select_notifications(start=start, limit=limit)
        if not page:
            return 0
        views = [self._view(c) for c in checkpoints]
        read = 0
        while True:
            self._apply_page(checkpoints, views, page)
            read += len(page)
            last = page[-1].id
            if len(page) < limit or read >= self.batch_size:  # the head, or a full batch
                break
            limit = min(self.page_size, self.batch_size - read)
            page = self.recorder.select_notifications(start=last + 1, limit=limit)
            if not page:
                break
        for checkpoint, view in zip(checkpoints, views):
            failure = self.failures.get((checkpoint.projection, checkpoint.generation))
            if failure is not None:  # stopped in this batch: commit what came before the event
                self._commit_before(checkpoint, failure)
                continue
            if last <= checkpoint.position:  # nothing new for it: its kept documents stay as they were
                if self.keep_documents:
                    self._kept[(checkpoint.projection, checkpoint.generation)] = (checkpoint.position, view)
                continue
            try:
                self.store.commit(
                    checkpoint.projection,
                    checkpoint.generation,
                    view.changes(),
                    position=last,
                    expected_position=checkpoint.position,
                )
            except CheckpointMoved:
                pass  # another runner applied this batch first; the next one starts from its position
            else:
                if self.keep_documents and view.committed() <= self.keep_documents:
                    self._kept[(checkpoint.projection, checkpoint.generation)] = (last, view)
            if progress:
                progress(checkpoint.projection, last, self._head())
        self._activate_caught_up()
        return read

    def _commit_before(self, checkpoint: Checkpoint, failure: ProjectionFailure) -> None:
        """Applies the notifications up to the one that failed again, in a fresh view, and commits them."""
        if failure.position <= checkpoint.position + 1:
            return
        view = View(self.store, checkpoint.projection, checkpoint.generation)
        saved, self.failures = self.failures, {}
        try:
            start = checkpoint.position + 1
            while start < failure.position:
                page = self.recorder.select_notifications(
                    start=start, limit=min(self.page_size, failure.position - start), stop=failure.position - 1
                )
                if not page:
                    break
                self._apply_page([checkpoint], [view], page)
                if self.failures:  # not the same as the first time: leave it where it was
                    return
                start = page[-1].id + 1
            self.store.commit(
                checkpoint.projection,
                checkpoint.generation,
                view.changes(),
                position=failure.position - 1,
                expected_position=checkpoint.position,
            )
        except CheckpointMoved:
            pass
        finally:
            self.failures = saved

    def _view(self, checkpoint: Checkpoint) -> View:
        kept = self._kept.pop((checkpoint.projection, checkpoint.generation), None)
        if kept is not None and kept[0] == checkpoint.position:
            return kept[1]
        return View(self.store, checkpoint.projection, checkpoint.generation)

    # --------------------------------------------------------------- applying

    def _apply_page(
        self, checkpoints: Sequence[Checkpoint], views: Sequence[View], page: Sequence[Notification]
    ) -> None:
        decoded: dict[int, Any] = {}  # each notification decoded once, whichever projections read it
        to_domain_event = self.mapper.to_domain_event
        for checkpoint, view in zip(checkpoints, views):
            key = (checkpoint.projection, checkpoint.generation)
            if key in self.failures:
                continue
            projection = self.projections[checkpoint.projection]
            topics, position = projection.topics, checkpoint.position
            events = []
            at = page[0].id
            try:
                for notification in page:
                    if notification.topic in topics and notification.id > position:
                        at = notification.id  # decoding may fail too
                        event = decoded.get(notification.id)
                        if event is None:
                            event = decoded[notification.id] = to_domain_event(notification)
                        events.append((notification.id, event))
                if events:
                    projection.prefetch([event for _, event in events], view)
                    apply = projection.apply
                    for notification_id, event in events:
                        at = notification_id  # where it stopped, should it fail here
                        apply(event, view)
            except ConnectionError:
                raise  # a store that did not answer is no fault of the event: the whole page is tried again
            except Exception as error:  # this projection stops; the others go on
                self.failures[key] = ProjectionFailure(at, f"{type(error).__name__}: {str(error)[:300]}")
                log.exception(self.failures[key].describe(checkpoint.projection))

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _activate_caught_up(self) -> None:
        head = self._head()
        for checkpoint in self.store.checkpoints():
            if (
                checkpoint.state == BUILDING
                and checkpoint.projection in self.projections
                and checkpoint.position >= head
            ):
                self.store.activate(checkpoint.projection, checkpoint.generation)

    # ----------------------------------------------------------------- status

    def status(self) -> list[ProjectionStatus]:
        head = self._head()
        result = []
        for c in sorted(self.store.checkpoints(), key=lambda c: (c.projection, c.generation)):
            code = self.projections.get(c.projection)
            failure = self.failures.get((c.projection, c.generation))
            result.append(
                ProjectionStatus(
                    c.projection,
                    c.generation,
                    c.version,
                    code.version if code else -1,
                    FAILED if failure else c.state,
                    c.position,
                    head,
                    failure.describe(c.projection) if failure else None,
                )
            )
        return result
