"""The catch-up runner: pulls the notification log page by page and feeds each projection.

Every projection keeps its own checkpoint; a page's document changes and the new
checkpoint are committed together, so a crash at any point resumes exactly where
the last commit left off. A projection whose code version differs from the
stored one is rebuilt into a new generation beside the live one, which readers
keep using until the new one has caught up and is swapped in (blue/green).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from attrs import frozen
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

from projections.agent_feedback_aggregations import AgentFeedbackAggregations
from projections.agent_learning_state import AgentLearningState
from projections.agent_policy_history import AgentPolicyHistory
from projections.agent_relationship_strength import AgentRelationshipStrength
from projections.dead_letters import DeadLetters
from projections.model_versions import ModelVersions
from projections.projection import Projection, View
from projections.read_model_store import BUILDING, LIVE, Checkpoint, CheckpointMoved, ReadModelStore
from projections.training_jobs import TrainingJobs


def all_projections() -> list[Projection]:
    return [AgentLearningState(), AgentPolicyHistory(), AgentFeedbackAggregations(),
            AgentRelationshipStrength(), DeadLetters(), ModelVersions(), TrainingJobs()]


@frozen
class ProjectionStatus:
    projection: str
    generation: int
    version: int
    code_version: int
    state: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class UnknownProjection(LookupError):
    pass


Progress = Callable[[str, int, int], None]  # (projection, position, head)


class CatchUpRunner:
    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper,
        store: ReadModelStore,
        projections: Sequence[Projection] | None = None,
        page_size: int = 10_000,  # a page reads and writes each document once: big pages rewrite hot ones less
    ):
        self.recorder = recorder
        self.mapper = mapper
        self.store = store
        self.projections = {p.name: p for p in (projections if projections is not None else all_projections())}
        self.page_size = page_size

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
        """One page for every checkpoint that is behind; returns notifications read (0: all caught up)."""
        checkpoints = [c for c in self.store.checkpoints() if c.projection in self.projections]
        if not checkpoints:
            return 0
        start = min(c.position for c in checkpoints) + 1
        page = self.recorder.select_notifications(start=start, limit=self.page_size)
        if not page:
            return 0
        decoded: dict[int, Any] = {}
        for checkpoint in checkpoints:
            self._apply_page(checkpoint, page, decoded)
            if progress:
                progress(checkpoint.projection, page[-1].id, self._head())
        self._activate_caught_up()
        return len(page)

    # --------------------------------------------------------------- applying

    def _apply_page(self, checkpoint: Checkpoint, page: Sequence[Notification], decoded: dict[int, Any]) -> None:
        projection = self.projections[checkpoint.projection]
        mine = [n for n in page if n.id > checkpoint.position]
        if not mine:
            return
        events = []
        for notification in mine:
            if notification.topic in projection.topics:
                if notification.id not in decoded:
                    decoded[notification.id] = self.mapper.to_domain_event(notification)
                events.append(decoded[notification.id])
        view = View(self.store, checkpoint.projection, checkpoint.generation)
        if events:
            projection.prefetch(events, view)
            for event in events:
                projection.apply(event, view)
        try:
            self.store.commit(checkpoint.projection, checkpoint.generation, view.changes(),
                              position=mine[-1].id, expected_position=checkpoint.position)
        except CheckpointMoved:
            pass  # another runner applied this page first; the next page starts from its position

    def _head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _activate_caught_up(self) -> None:
        head = self._head()
        for checkpoint in self.store.checkpoints():
            if checkpoint.state == BUILDING and checkpoint.projection in self.projections \
                    and checkpoint.position >= head:
                self.store.activate(checkpoint.projection, checkpoint.generation)

    # ----------------------------------------------------------------- status

    def status(self) -> list[ProjectionStatus]:
        head = self._head()
        result = []
        for c in sorted(self.store.checkpoints(), key=lambda c: (c.projection, c.generation)):
            code = self.projections.get(c.projection)
            result.append(ProjectionStatus(c.projection, c.generation, c.version,
                                           code.version if code else -1, c.state, c.position, head))
        return result
