"""The learning service: loads agents, lets the domain decide, saves the events.

Messages are handled in batches: every agent a batch touches is loaded once, the
commands are applied in order, and all new events (plus dead letters and any
tracking records) are saved in one transaction by the unit of work
(`unit_of_work.py`): a conflicting concurrent write (another process saved the same
agent first) makes the whole batch retry from the fresh state, so nothing is lost
or applied twice.
"""

from __future__ import annotations

import base64
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from attrs import define, field, frozen
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import Tracking

from adapters.eventstore.transcoder import OrjsonTranscoder
from adapters.messages.dead_letter_codes import REFUSED_BY_RULES, UNCLASSIFIED, UNKNOWN_KIND, UNPROCESSABLE
from adapters.service.clock import utc_now
from adapters.service.refreshed_archetypes import settings_with_refreshed_priors, stored_priors
from adapters.service.rules_in_force import RulesInForce
from adapters.service.unit_of_work import Loaded, UnitOfWork
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
from domain.learning_config import LearningConfig, validate_command_config
from domain.rewards import UnknownFeedback
from domain.settings import DEFAULT_SETTINGS, LearningSettings

SNAPSHOT_INTERVAL = 200

Authorize = Callable[[AgentCommand, Agent | None], AgentCommand]
# What a message's own content can raise deep inside a decision or a save (a value no check
# foresaw): that message is dead-lettered, alone. A store or network failure is none of these
# and propagates, so good messages are never dead-lettered for an outage.
MESSAGE_ERRORS = (TypeError, ValueError, ArithmeticError, RecursionError, LookupError, AttributeError)
log = logging.getLogger(__name__)


@frozen
class Rejection:
    """A message that could not be accepted, and why."""

    source: str
    position: str
    raw: bytes
    reason: str
    key: bytes | None = None
    agent_id: str | None = None
    code: str = UNCLASSIFIED  # the stable machine-readable kind of problem (dead_letter_codes.py)


@frozen
class Received:
    """A parsed command and the message it came from. A rule only the agent can check (a policy version
    it never published) may still refuse it; its dead letter then keeps the message's source, position
    and bytes, as one refused at parsing does."""

    command: AgentCommand
    source: str
    position: str
    raw: bytes
    key: bytes | None = None

    @property
    def event_id(self) -> str | None:
        return self.command.event_id

    @property
    def agent_id(self) -> str:
        return self.command.agent_id


@define
class BatchOutcome:
    recorded: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(factory=list)
    events: int = 0
    recalculations: Counter = field(factory=Counter)
    agents: set[str] = field(factory=set)
    freezes: int = 0
    frozen: set[str] = field(factory=set)  # the agents this batch froze

    def add(self, other: BatchOutcome) -> None:
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.events += other.events
        self.recalculations.update(other.recalculations)
        self.agents |= other.agents
        self.freezes += other.freezes
        self.frozen |= other.frozen


class UnknownAgent(LookupError):
    def __init__(self, agent_id: str):
        super().__init__(
            f"no agent {agent_id!r} has been recorded; check the id, or register it first "
            "(an agent_registered message, or any feedback for it)"
        )
        self.agent_id = agent_id


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
        self.clock = clock
        super().__init__(env)
        self.work = UnitOfWork(self, after_save=self._snapshot_long_histories)
        self.rules = RulesInForce(self.events, settings)
        self.rules.refresh()

    @property
    def settings(self) -> LearningSettings:
        """The learning rules in force, as of the last refresh (each batch, tick and command refreshes)."""
        return self.rules.current

    def refresh_rules(self) -> LearningSettings:
        return self.rules.refresh()

    def construct_recorder(self):  # the process recorder also stores tracking records
        return self.factory.process_recorder()

    def construct_transcoder(self) -> OrjsonTranscoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)  # the library's: UUID, Decimal, datetime
        return transcoder

    # ----------------------------------------------------------------- batches

    def process(
        self,
        items: Sequence[AgentCommand | Received | Rejection],
        trackings: Sequence[Tracking] = (),
        authorize: Authorize | None = None,
        refresh_rules: bool = True,
    ) -> BatchOutcome:
        """Applies a batch of commands (and records its rejections) in one transaction.

        When a command fails in a way its validation did not foresee, the batch is processed
        again one command at a time, so that command alone becomes a dead letter and the rest
        are recorded (each once: commands are idempotent by event id); `trackings` are saved
        after them.

        `authorize(command, agent)` (the HTTP API's ownership rules) is asked about each command
        with the agent as stored now (None for a new one), inside the write, and asked again
        when a conflicting save makes the batch run again: it returns the command to apply or
        raises to refuse it (nothing of the batch is then saved).

        The rules in force are read first, unless the caller read them to parse this very batch
        (`refresh_rules=False`: the consumer and ingest), so a batch is decided under the version
        it was parsed with, at one read per batch."""
        if refresh_rules:
            self.refresh_rules()
        try:
            return self._process(items, trackings, authorize)
        except MESSAGE_ERRORS as error:
            if len(items) > 1:
                outcome = BatchOutcome()
                for item in items:
                    outcome.add(self.process([item], authorize=authorize, refresh_rules=False))
                outcome.add(self._process([], trackings))
                return outcome
            (item,) = items
            if isinstance(item, Rejection):
                raise  # the dead letter itself cannot be saved: a bug, not bad input
            log.exception(
                "dead-lettering command %s of agent %r: it could not be processed", item.event_id, item.agent_id
            )
            reason = f"could not be processed ({type(error).__name__}: {str(error)[:200]})"
            if isinstance(item, Received):
                rejection = Rejection(
                    item.source, item.position, item.raw, reason, item.key, item.agent_id, UNPROCESSABLE
                )
            else:
                rejection = Rejection(
                    "command", item.event_id or "-", b"", reason, agent_id=item.agent_id, code=UNPROCESSABLE
                )
            return self._process([rejection], trackings)

    def _process(
        self,
        items: Sequence[AgentCommand | Received | Rejection],
        trackings: Sequence[Tracking],
        authorize: Authorize | None = None,
    ) -> BatchOutcome:
        def decide(loaded: Loaded) -> BatchOutcome:
            agents: dict[str, Agent] = {}
            try:
                outcome, dead_letters = self._decide(items, agents, loaded, authorize)
            finally:  # held even when deciding fails, so the attempt evicts every agent it touched
                loaded.add(*agents.values())
            loaded.add(*dead_letters)
            return self._summarise(outcome, agents.values())

        # Authorization is decided on the stored state, never on a cached copy another writer outdated.
        return self.work.run(decide, trackings, fresh=authorize is not None)

    def _decide(
        self, items, agents: dict[str, Agent], loaded: Loaded, authorize: Authorize | None
    ) -> tuple[BatchOutcome, list[DeadLetter]]:
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
            origin = None
            if isinstance(item, Received):
                origin, item = item, item.command
            if authorize is not None:
                current = agents.get(item.agent_id) or loaded.find(agent_aggregate_id(item.agent_id))
                item = authorize(item, current)
            try:
                result = self._apply(item, agents, registration, loaded)
            except ValueError as error:  # a rule the boundary could not check: reject, go on
                code = UNKNOWN_KIND if isinstance(error, UnknownFeedback) else REFUSED_BY_RULES
                if origin is not None:
                    rejection = Rejection(
                        origin.source, origin.position, origin.raw, str(error), origin.key, item.agent_id, code
                    )
                else:
                    rejection = Rejection(
                        "command", item.event_id or "-", b"", str(error), agent_id=item.agent_id, code=code
                    )
                outcome.rejected.append(rejection)
                dead_letters.append(self._dead_letter(rejection, now))
                continue
            if result == DUPLICATE:
                outcome.duplicates += 1
            elif result == RECORDED:
                outcome.recorded += 1
        return outcome, dead_letters

    @staticmethod
    def _summarise(outcome: BatchOutcome, agents: Iterable[Agent]) -> BatchOutcome:
        for agent in agents:
            if not agent.pending_events:
                continue
            outcome.events += len(agent.pending_events)
            outcome.agents.add(agent.agent_id)
            for pending in agent.pending_events:
                if isinstance(pending, Agent.PolicyRecalculated):
                    outcome.recalculations[pending.trigger] += 1
                elif isinstance(pending, Agent.UpdatesFrozen):
                    outcome.freezes += 1
                    outcome.frozen.add(agent.agent_id)
        return outcome

    def _apply(
        self, command: AgentCommand, agents: dict[str, Agent], registration: LearningSettings, loaded: Loaded
    ) -> str:
        settings = self.settings
        agent = agents.get(command.agent_id)
        if agent is None:
            try:
                agent = loaded.get(agent_aggregate_id(command.agent_id))
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
            code=rejection.code,
            occurred_at=now,
        )

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

    # --------------------------------------------------------- single commands

    def get_agent(self, agent_id: str) -> Agent:
        try:
            return self.repository.get(agent_aggregate_id(agent_id))
        except AggregateNotFoundError:
            raise UnknownAgent(agent_id) from None

    def agent_exists(self, agent_id: str) -> bool:
        return agent_aggregate_id(agent_id) in self.repository

    def _change_one(
        self, agent_id: str, change: Callable[[Agent], str], allowed: Callable[[Agent], None] | None = None
    ) -> str:
        """`allowed(agent)` raises to refuse, on the agent as stored, inside the write (and on a retry)."""
        self.refresh_rules()

        def decide(loaded: Loaded) -> str:
            agent = self._load_agent(loaded, agent_id)
            if allowed is not None:
                allowed(agent)
            return change(agent)

        return self.work.run(decide, fresh=allowed is not None)

    @staticmethod
    def _load_agent(loaded: Loaded, agent_id: str) -> Agent:
        try:
            return loaded.get(agent_aggregate_id(agent_id))
        except AggregateNotFoundError:
            raise UnknownAgent(agent_id) from None

    def freeze(self, command: FreezeUpdates) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.freeze(command))

    def unfreeze(self, command: UnfreezeUpdates) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.unfreeze(command))

    def configure(self, command: ConfigureLearning, allowed: Callable[[Agent], None] | None = None) -> str:
        return self._change_one(command.agent_id, lambda agent: agent.configure(command, self.settings), allowed)

    def reconfigure(
        self,
        agent_id: str,
        edit: Callable[[LearningConfig], LearningConfig],
        by: str | None,
        allowed: Callable[[Agent], None] | None = None,
    ) -> LearningConfig:
        """Changes the agent's configuration by `edit`, applied to the stored one inside the write (two
        owners editing different fields at once both land); validated strictly: InvalidLearningConfig."""
        edited: list[LearningConfig] = []

        def change(agent: Agent) -> str:
            config = validate_command_config(edit(LearningConfig.from_dict(agent.config)), self.settings)
            edited[:] = [config]
            return agent.configure(
                ConfigureLearning(None, agent_id, self.clock(), config, from_event=False, by=by), self.settings
            )

        self._change_one(agent_id, change, allowed)
        return edited[0]

    def tick(self, now: datetime, agent_ids: Iterable[str], batch_size: int = 500) -> BatchOutcome:
        """The periodic check for the given agents (those the read model says may be due)."""
        return self._each_agent(agent_ids, batch_size, lambda agent: agent.tick(now, self.settings))

    def refresh_priors(
        self, agent_ids: Iterable[str], archetype: str, priors: dict, period: str, now: datetime, batch_size: int = 200
    ) -> int:
        """Hands an archetype's refreshed priors to the given agents (others are left alone); returns how many took them."""
        outcome = self._each_agent(
            agent_ids, batch_size, lambda agent: agent.refresh_priors(archetype, priors, period, now)
        )
        return len(outcome.agents)

    def _each_agent(self, agent_ids: Iterable[str], batch_size: int, change: Callable[[Agent], Any]) -> BatchOutcome:
        """`change` on each known agent, `batch_size` agents a transaction (an id the store does not know is passed over)."""
        self.refresh_rules()
        total = BatchOutcome()
        ids = list(agent_ids)
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]

            def decide(loaded: Loaded, chunk: Sequence[str] = chunk) -> BatchOutcome:
                agents = []
                for agent_id in chunk:
                    agent = loaded.find(agent_aggregate_id(agent_id))
                    if agent is not None:
                        change(agent)
                        agents.append(agent)
                return self._summarise(BatchOutcome(), agents)

            total.add(self.work.run(decide))
        return total

    # ---------------------------------------------------------------- history

    def history(self, agent_id: str) -> list[Any]:
        """The agent's recorded events, oldest first."""
        if not self.agent_exists(agent_id):
            raise UnknownAgent(agent_id)
        return list(self.events.get(agent_aggregate_id(agent_id)))
