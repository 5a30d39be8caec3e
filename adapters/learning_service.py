"""The learning service: loads agents, lets the domain decide, saves the events.

Messages are handled in batches: every agent a batch touches is loaded once, the
commands are applied in order, and all new events (plus dead letters and any
tracking records) are saved in one transaction. A conflicting concurrent write
(another process saved the same agent first) makes the whole batch retry from
the fresh state, so nothing is lost or applied twice.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from attrs import define, field, frozen
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.orjson_transcoder import OrjsonTranscoder
from adapters.refreshed_archetypes import settings_with_refreshed_priors, stored_priors
from domain.agent import DUPLICATE, RECORDED, Agent, agent_aggregate_id
from domain.commands import (
    AgentCommand,
    ConfigureLearning,
    EndSession,
    FreezeUpdates,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
    UnfreezeUpdates,
)
from domain.dead_letter import DeadLetter
from domain.settings import DEFAULT_SETTINGS, LearningSettings

SNAPSHOT_INTERVAL = 200
MAX_CONFLICT_RETRIES = 10


@frozen
class Rejection:
    """A message that could not be accepted, and why."""

    source: str
    position: str
    raw: bytes
    reason: str
    key: bytes | None = None
    agent_id: str | None = None


@define
class BatchOutcome:
    recorded: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(factory=list)
    events: int = 0
    recalculations: Counter = field(factory=Counter)
    agents: set[str] = field(factory=set)

    def add(self, other: "BatchOutcome") -> None:
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.events += other.events
        self.recalculations.update(other.recalculations)
        self.agents |= other.agents


class TrackingConflict(IntegrityError):
    """Another process already recorded a position this batch claims: retrying cannot help."""


class UnknownAgent(LookupError):
    def __init__(self, agent_id: str):
        super().__init__(
            f"no agent {agent_id!r} has been recorded; check the id, or register it first "
            "(an agent_registered message, or any feedback for it)"
        )
        self.agent_id = agent_id


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LearningService(Application):
    name = "agent_learning"
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        # The cache is trusted; a stale entry (another process wrote the agent)
        # shows up as a version conflict on save, and the batch retries fresh.
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
        "IS_SNAPSHOTTING_ENABLED": "y",
        "ORIGINATOR_ID_TYPE": "text",
    }

    def __init__(
        self,
        env: dict[str, str] | None = None,
        settings: LearningSettings = DEFAULT_SETTINGS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        super().__init__(env)

    def construct_recorder(self):  # the process recorder also stores tracking records
        return self.factory.process_recorder()

    def construct_transcoder(self) -> OrjsonTranscoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)  # the library's: UUID, Decimal, datetime
        return transcoder

    # ----------------------------------------------------------------- batches

    def process(
        self,
        items: Sequence[AgentCommand | Rejection],
        trackings: Sequence[Tracking] = (),
    ) -> BatchOutcome:
        """Applies a batch of commands (and records its rejections) in one transaction."""

        def decide(agents: dict[str, Agent]) -> tuple[BatchOutcome, list]:
            outcome, dead_letters = self._decide(items, agents)
            return outcome, [*agents.values(), *dead_letters]

        return self._in_one_transaction(decide, trackings)

    def _in_one_transaction(
        self,
        decide: Callable[[dict[str, Agent]], tuple[BatchOutcome, list]],
        trackings: Sequence[Tracking] = (),
    ) -> BatchOutcome:
        """Runs `decide` over freshly loaded agents and saves what it changed, atomically.

        On a version conflict (another writer saved one of these agents first) the
        agents are evicted from the cache and the whole decision is made again.
        """
        for attempt in range(MAX_CONFLICT_RETRIES):
            agents: dict[str, Agent] = {}
            try:
                outcome, objects = decide(agents)
                self._summarise(outcome, agents.values())
                self._save_all(objects, trackings)
                return outcome
            except IntegrityError as error:
                self._forget(agents)
                if self._positions_taken(trackings):
                    raise TrackingConflict(f"positions already recorded by another process: {error}") from error
                if attempt == MAX_CONFLICT_RETRIES - 1:
                    raise
            except BaseException:
                self._forget(agents)
                raise
        raise AssertionError("unreachable")

    def _positions_taken(self, trackings: Sequence[Tracking]) -> bool:
        return any((self.recorder.max_tracking_id(t.application_name) or 0) >= t.notification_id
                   for t in trackings)

    def _decide(self, items, agents: dict[str, Agent]) -> tuple[BatchOutcome, list[DeadLetter]]:
        outcome = BatchOutcome()
        dead_letters = []
        now = self.clock()
        # New agents start from the archetype priors the monthly job last refreshed.
        registration = settings_with_refreshed_priors(self.settings, stored_priors(self.events))
        for item in items:
            if isinstance(item, Rejection):
                outcome.rejected.append(item)
                dead_letters.append(self._dead_letter(item, now))
                continue
            try:
                result = self._apply(item, agents, registration)
            except ValueError as error:  # a rule the boundary could not check: reject, go on
                rejection = Rejection("command", item.event_id or "-", b"", str(error), agent_id=item.agent_id)
                outcome.rejected.append(rejection)
                dead_letters.append(self._dead_letter(rejection, now))
                continue
            if result == DUPLICATE:
                outcome.duplicates += 1
            elif result == RECORDED:
                outcome.recorded += 1
        return outcome, dead_letters

    @staticmethod
    def _summarise(outcome: BatchOutcome, agents: Iterable[Agent]) -> None:
        for agent in agents:
            if not agent.pending_events:
                continue
            outcome.events += len(agent.pending_events)
            outcome.agents.add(agent.agent_id)
            for pending in agent.pending_events:
                if isinstance(pending, Agent.PolicyRecalculated):
                    outcome.recalculations[pending.trigger] += 1

    def _apply(self, command: AgentCommand, agents: dict[str, Agent], registration: LearningSettings) -> str:
        settings = self.settings
        agent = agents.get(command.agent_id)
        if agent is None:
            try:
                agent = self.repository.get(agent_aggregate_id(command.agent_id))
            except AggregateNotFoundError:
                if isinstance(command, RegisterAgent):
                    agents[command.agent_id] = Agent.register(command, registration)
                    return RECORDED
                # Feedback before registration: the agent is registered on the spot, at that event's time.
                agent = Agent.register(RegisterAgent(None, command.agent_id, command.occurred_at), registration)
            agents[command.agent_id] = agent
        if isinstance(command, RecordFeedback):
            return agent.record_feedback(command, settings)
        if isinstance(command, RegisterAgent):
            return agent.amend_registration(command, registration)
        if isinstance(command, EndSession):
            return agent.end_session(command, settings)
        if isinstance(command, RecordActivity):
            return agent.record_activity(command, settings)
        if isinstance(command, ConfigureLearning):
            return agent.configure(command, settings)
        raise TypeError(f"not an agent command: {command!r}")

    @staticmethod
    def _dead_letter(rejection: Rejection, now: datetime) -> DeadLetter:
        return DeadLetter(
            source=rejection.source,
            position=rejection.position,
            reason=rejection.reason,
            raw=base64.b64encode(rejection.raw).decode("ascii"),
            key=rejection.key.decode("utf-8", "replace") if rejection.key is not None else None,
            agent_id=rejection.agent_id,
            occurred_at=now,
        )

    def _save_all(self, objects: list, trackings: Sequence[Tracking]) -> None:
        if not any(getattr(o, "pending_events", None) for o in objects) and not trackings:
            return
        # Filled directly: ProcessingEvent.collect_events checks each object against runtime
        # protocols, which costs more than the rest of the save for small events.
        processing = ProcessingEvent()
        for obj in objects:
            pending = obj.collect_events()
            if pending:
                processing.events.extend(pending)
                processing.aggregates[obj.id] = obj
        processing.saved_kwargs["trackings"] = list(trackings)
        self._record_batch(processing)  # one transaction; also refreshes the aggregate cache
        self._snapshot_long_histories(processing)

    def _record_batch(self, processing_event: ProcessingEvent) -> None:
        """The library's `_record`, without the `Recording` it builds for each event (nothing
        here reads them, and they cost a twentieth of recording): one transaction, then the cache."""
        stored = [self.events.mapper.to_stored_event(e) for e in processing_event.events]
        self.events.recorder.insert_events(stored, tracking=processing_event.tracking,
                                           **processing_event.saved_kwargs)
        if self.repository.cache and not self.repository.fastforward:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)

    def _snapshot_long_histories(self, processing: ProcessingEvent) -> None:
        """Snapshot an agent, from memory, whenever its history crosses a multiple of the interval."""
        first_version: dict[str, int] = {}
        for domain_event in processing.events:
            first_version.setdefault(domain_event.originator_id, domain_event.originator_version)
        snapshots = []
        for aggregate_id, aggregate in processing.aggregates.items():
            if not isinstance(aggregate, Agent) or aggregate_id not in first_version:
                continue
            if aggregate.version // SNAPSHOT_INTERVAL > (first_version[aggregate_id] - 1) // SNAPSHOT_INTERVAL:
                snapshots.append(Agent.Snapshot.take(aggregate))
        if snapshots:  # one transaction for the batch's snapshots, not one each
            self.snapshots.put(snapshots)

    def _forget(self, agents: dict[str, Agent]) -> None:
        """Drops cached agents that a failed batch may have changed in memory."""
        for agent_id in agents:
            try:
                self.repository.cache.get(agent_aggregate_id(agent_id), evict=True)
            except KeyError:
                pass

    # --------------------------------------------------------- single commands

    def get_agent(self, agent_id: str) -> Agent:
        try:
            return self.repository.get(agent_aggregate_id(agent_id))
        except AggregateNotFoundError:
            raise UnknownAgent(agent_id) from None

    def agent_exists(self, agent_id: str) -> bool:
        return agent_aggregate_id(agent_id) in self.repository

    def _change_one(self, agent_id: str, change: Callable[[Agent], str]) -> str:
        results: list[str] = []

        def decide(agents: dict[str, Agent]) -> tuple[BatchOutcome, list]:
            agents[agent_id] = agent = self.get_agent(agent_id)
            results[:] = [change(agent)]
            return BatchOutcome(), [agent]

        self._in_one_transaction(decide)
        return results[0]

    def freeze(self, command: FreezeUpdates) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.freeze(command))

    def unfreeze(self, command: UnfreezeUpdates) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.unfreeze(command))

    def configure(self, command: ConfigureLearning) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.configure(command, self.settings))

    def tick(self, now: datetime, agent_ids: Iterable[str], batch_size: int = 500) -> BatchOutcome:
        """The periodic check for the given agents (those the read model says may be due)."""
        total = BatchOutcome()
        ids = list(agent_ids)
        for start in range(0, len(ids), batch_size):
            total.add(self._in_one_transaction(self._ticker(now, ids[start:start + batch_size])))
        return total

    def _ticker(self, now: datetime, agent_ids: Sequence[str]):
        def decide(agents: dict[str, Agent]) -> tuple[BatchOutcome, list]:
            for agent_id in agent_ids:
                try:
                    agents[agent_id] = self.get_agent(agent_id)
                except UnknownAgent:
                    continue  # the read model knows an agent this store does not: nothing to tick
                agents[agent_id].tick(now, self.settings)
            return BatchOutcome(), list(agents.values())

        return decide

    def refresh_priors(self, agent_ids: Iterable[str], archetype: str, priors: dict, period: str,
                       now: datetime, batch_size: int = 200) -> int:
        """Hands an archetype's refreshed priors to the given agents (others are left alone); returns how many took them."""
        ids, changed = list(agent_ids), 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]

            def decide(agents: dict[str, Agent], chunk=chunk) -> tuple[BatchOutcome, list]:
                for agent_id in chunk:
                    try:
                        agents[agent_id] = self.get_agent(agent_id)
                    except UnknownAgent:
                        continue
                    agents[agent_id].refresh_priors(archetype, priors, period, now)
                return BatchOutcome(), list(agents.values())

            changed += len(self._in_one_transaction(decide).agents)
        return changed

    # ---------------------------------------------------------------- history

    def history(self, agent_id: str) -> list[Any]:
        """The agent's recorded events, oldest first."""
        if not self.agent_exists(agent_id):
            raise UnknownAgent(agent_id)
        return list(self.events.get(agent_aggregate_id(agent_id)))
