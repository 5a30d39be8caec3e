"""The Agent aggregate: one agent's learning history.

Its `@event` methods are the state transitions; replaying them rebuilds the state
exactly. The command methods (`register`, `record_feedback`, `tick`, …) decide,
using the pure rules in `triggers` and `recalculation`, which events to record.
A recalculation is recorded with its results, so replay never recomputes, and the
audit can re-derive each one from the history before it.

The two most frequent events (`FeedbackRecorded`, `PolicyRecalculated`) carry their
transition as the event's own `apply` and are triggered directly: the same stored
events, without the decorator's argument handling (about a tenth of the cost of recording).

Event topics are explicit and stable (`agent_learning:Agent.…`), so renaming a
class never orphans stored history; `class_version` plus `upcast_vN_vN+1`
static methods migrate old event payloads on load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.catalogue import DEFAULT_ARCHETYPE
from domain.commands import (
    ConfigureLearning,
    EndSession,
    FreezeUpdates,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
    UnfreezeUpdates,
)
from domain.learning_config import (
    EffectiveRates,
    ExplainedRates,
    LearningConfig,
    cap_event_config,
    effective_rates,
    explain_rates,
)
from domain.propensity import POLICY_LOG_LIMIT, check_logged, propensity
from domain.recalculation import (
    ARCHETYPE,
    LearningState,
    PendingFeedback,
    Recalculation,
    published_policy,
    recalculate,
)
from domain.settings import LearningSettings
from domain.text_id_aggregate import TextIdAggregate, TextIdSnapshot
from domain.triggers import TIMER, freeze_due, timer_due, trigger_after_event

RECORDED = "recorded"
DUPLICATE = "duplicate"
UNCHANGED = "unchanged"


AGENT_ID_PREFIX = "agent:"


def agent_aggregate_id(agent_id: str) -> str:
    """The aggregate id of an agent: its own id, prefixed so other aggregates never collide with it."""
    return AGENT_ID_PREFIX + agent_id


def _topic(name: str) -> str:
    return f"agent_learning:Agent.{name}"


class Agent(TextIdAggregate):
    TOPIC = "agent_learning:Agent"
    class_version = 1

    class Created(TextIdAggregate.Created):
        TOPIC = _topic("Created")

    class AgentRegistered(TextIdAggregate.Created):
        TOPIC = _topic("AgentRegistered")
        agent_id: str
        archetype: str
        owner_id: str | None
        priors: dict
        action_priors: dict
        config: dict
        epsilon: float
        occurred_at: datetime
        event_id: str | None

    class RegistrationAmended(TextIdAggregate.Event):
        TOPIC = _topic("RegistrationAmended")
        archetype: str
        owner_id: str | None
        priors: dict
        occurred_at: datetime
        event_id: str | None

    class LearningConfigured(TextIdAggregate.Event):
        """v2 added who made the change and the effective rates it resolved to, with their sources
        (what `AgentLearningConfigured` publishes)."""

        TOPIC = _topic("LearningConfigured")
        class_version = 2
        config: dict
        epsilon: float
        caps: list
        occurred_at: datetime
        event_id: str | None
        by: str | None
        rates: dict | None
        rules_version: int | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["by"] = None
            state["rates"] = None  # not recorded then
            state["rules_version"] = None

    class FeedbackRecorded(TextIdAggregate.Event):
        """v2 added `prompt` and `response` (the batch loop's training text); v3 the propensity: the policy
        version that acted, the probability it chose `action` with, and whether both were logged by the
        runtime or derived from the policy in force at `occurred_at` (domain/propensity.py)."""

        TOPIC = _topic("FeedbackRecorded")
        class_version = 3
        event_id: str
        kind: str
        value: float | None
        reward: float
        traits: dict
        action: str | None
        session_id: str | None
        interaction_id: str | None
        user_id: str | None
        prompt: str | None
        response: str | None
        sentiment: float
        below_since: datetime | None
        occurred_at: datetime
        policy_version: int | None
        action_probability: float | None
        propensity_source: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["prompt"] = None
            state["response"] = None

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["policy_version"] = None  # not known for feedback recorded before propensities were kept
            state["action_probability"] = None
            state["propensity_source"] = None

        def apply(self, agent: Agent) -> None:
            agent.feedback_count += 1
            agent.pending.append(
                {"reward": self.reward, "traits": self.traits, "action": self.action, "occurred_at": self.occurred_at}
            )
            try:
                agent.pending_baselines.append(agent.sentiment)  # the sentiment before it (rewardBaseline)
            except AttributeError:  # restored from a snapshot taken before baselines were kept
                agent.pending_baselines = [agent.sentiment]
            agent.sentiment = self.sentiment
            agent.below_since = self.below_since
            agent._touch(self.occurred_at, self.event_id)

    class SessionEnded(TextIdAggregate.Event):
        TOPIC = _topic("SessionEnded")
        event_id: str
        session_id: str | None
        occurred_at: datetime

    class ActivityRecorded(TextIdAggregate.Event):
        TOPIC = _topic("ActivityRecorded")
        event_id: str
        activity: str
        occurred_at: datetime

    class PolicyRecalculated(TextIdAggregate.Event):
        """v2 added the version of the learning rules the recalculation used (0: the built-in ones); v3 what
        an exploration strategy other than epsilon-greedy keeps (None for epsilon-greedy: domain/exploration.py)."""

        TOPIC = _topic("PolicyRecalculated")
        class_version = 3
        policy_version: int
        trigger: str
        learned: dict
        effective: dict
        preferences: dict
        policy: dict
        epsilon: float
        last_batch_variance: float | None
        last_batch_feedback_at: datetime
        confidence: str
        metrics: dict
        rates: dict
        rules_version: int
        occurred_at: datetime
        exploration: dict | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["rules_version"] = 0

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["exploration"] = None  # epsilon-greedy: the only strategy there was

        def apply(self, agent: Agent) -> None:
            agent.policy_version = self.policy_version
            agent.learned = dict(self.learned)
            agent.effective = dict(self.effective)
            agent.preferences = dict(self.preferences)
            agent.policy = dict(self.policy)
            agent.epsilon = self.epsilon
            agent.last_batch_variance = self.last_batch_variance
            agent.last_batch_feedback_at = self.last_batch_feedback_at
            agent.confidence = self.confidence
            agent.last_trigger = self.trigger
            agent.last_metrics = dict(self.metrics)
            agent.last_update_at = self.occurred_at
            agent.pending = []
            agent.pending_baselines = []
            log = agent.published_policies()
            log.append([self.policy_version, self.occurred_at, agent.policy])
            if len(log) > POLICY_LOG_LIMIT:
                del log[0]
            agent.policy_log = log
            if self.exploration is not None and "posterior" in self.exploration:
                agent.posterior = self.exploration["posterior"]

    class UpdatesFrozen(TextIdAggregate.Event):
        TOPIC = _topic("UpdatesFrozen")
        reason: str
        sentiment: float
        by: str | None
        occurred_at: datetime

    class UpdatesUnfrozen(TextIdAggregate.Event):
        TOPIC = _topic("UpdatesUnfrozen")
        reason: str
        by: str | None
        occurred_at: datetime

    class PriorsRefreshed(TextIdAggregate.Event):
        """The monthly job refreshed the archetype's priors: future blending and decay use `after`."""

        TOPIC = _topic("PriorsRefreshed")
        archetype: str
        before: dict
        after: dict
        period: str
        occurred_at: datetime

    class ArchetypeRemapped(TextIdAggregate.Event):
        """An administrator moved the agent to another archetype (a clustering suggestion, say): its
        priors become that archetype's; what it learned stays, and blends toward them from now on."""

        TOPIC = _topic("ArchetypeRemapped")
        before: str
        after: str
        priors_before: dict
        priors_after: dict
        by: str
        reason: str
        occurred_at: datetime

    class Snapshot(TextIdSnapshot):
        TOPIC = _topic("Snapshot")

    # ----------------------------------------------------------------- creation

    @staticmethod
    def create_id(agent_id: str, **_: Any) -> str:
        return agent_aggregate_id(agent_id)

    @classmethod
    def register(cls, command: RegisterAgent, settings: LearningSettings) -> Agent:
        archetype = settings.archetype(command.archetype or DEFAULT_ARCHETYPE)
        config, caps = cap_event_config(command.config or LearningConfig(), settings)
        archetype_name = archetype.name
        agent = cls(
            agent_id=command.agent_id,
            archetype=archetype.name,
            owner_id=command.owner_id,
            priors=dict(archetype.trait_priors),
            action_priors=dict(archetype.action_priors),
            config=config.to_dict(),
            epsilon=effective_rates(config, settings, archetype_name).epsilon,
            occurred_at=command.occurred_at,
            event_id=command.event_id,
        )
        if command.config is not None:  # a configuration change like any other, published as such
            agent._record_configured(config, caps, command.occurred_at, None, None, settings, agent.epsilon)
        return agent

    @event(AgentRegistered)
    def __init__(
        self,
        agent_id: str,
        archetype: str,
        owner_id: str | None,
        priors: dict,
        action_priors: dict,
        config: dict,
        epsilon: float,
        occurred_at: datetime,
        event_id: str | None,
    ) -> None:
        self.agent_id = agent_id
        self.archetype = archetype
        self.owner_id = owner_id
        self.priors = dict(priors)
        self.learned = dict(priors)
        self.effective = dict(priors)
        self.preferences = dict(action_priors)
        self.epsilon = epsilon
        self.policy = published_policy(self.preferences, epsilon, tuple(action_priors))
        # [version, published at, policy] of the last POLICY_LOG_LIMIT policies, oldest first (propensities)
        self.policy_log: list[list] = [[0, occurred_at, self.policy]]
        self.posterior: dict | None = None  # the last Thompson posterior, action → [α, β] (domain/exploration.py)
        self.config = dict(config)
        self.feedback_count = 0
        self.pending: list[dict] = []
        self.pending_baselines: list[float] = []  # each pending feedback's sentiment before it, in order
        self.sentiment = 0.0
        self.below_since: datetime | None = None
        self.frozen = False
        self.registered_at = occurred_at
        self.last_update_at = occurred_at
        self.last_activity_at = occurred_at
        self.last_batch_feedback_at: datetime | None = None
        self.last_batch_variance: float | None = None
        self.policy_version = 0
        self.confidence = ARCHETYPE
        self.last_trigger: str | None = None
        self.last_metrics: dict | None = None
        # Dict rather than set: it is kept in JSON snapshots, and insertion-ordered.
        self.seen_event_ids: dict[str, None] = {}
        if event_id is not None:
            self.seen_event_ids[event_id] = None

    # ----------------------------------------------------------------- commands

    def amend_registration(self, command: RegisterAgent, settings: LearningSettings) -> str:
        """A registration for an agent that already exists (say, auto-registered by early feedback).

        It changes what it names and keeps what it leaves out: no archetype keeps the archetype
        and its priors, no owner keeps the owner."""
        if self._seen(command.event_id):
            return DUPLICATE
        if command.archetype is None:
            archetype_name, priors = self.archetype, dict(self.priors)
        else:
            archetype = settings.archetype(command.archetype)
            archetype_name, priors = archetype.name, dict(archetype.trait_priors)
        self._amended(
            archetype=archetype_name,
            owner_id=command.owner_id if command.owner_id is not None else self.owner_id,
            priors=priors,
            occurred_at=command.occurred_at,
            event_id=command.event_id,
        )
        if command.config is not None:
            self._configure(command.config, None, command.occurred_at, settings, cap=True, by=None)
        self._after_event(command.occurred_at, settings)
        return RECORDED

    def configure(self, command: ConfigureLearning, settings: LearningSettings) -> str:
        if self._seen(command.event_id):
            return DUPLICATE
        self._configure(
            command.config, command.event_id, command.occurred_at, settings, cap=command.from_event, by=command.by
        )
        self._after_event(command.occurred_at, settings)
        return RECORDED

    def record_feedback(self, command: RecordFeedback, settings: LearningSettings) -> str:
        if self._seen(command.event_id):
            return DUPLICATE
        rewards = settings.rewards_for(self.archetype)
        reward = rewards.reward_for(command.kind, command.value)
        check_logged(self.agent_id, self.policy_version, command.policy_version, command.action_probability)
        policy_version, probability, source = propensity(
            self.published_policies(),
            command.occurred_at,
            command.action,
            command.policy_version,
            command.action_probability,
        )
        sentiment = self.sentiment + settings.sentiment_alpha * (reward - self.sentiment)
        if sentiment < settings.freeze_threshold:
            below_since = self.below_since or command.occurred_at
        else:
            below_since = None
        self.trigger_event(
            self.FeedbackRecorded,
            event_id=command.event_id,
            kind=command.kind,
            value=command.value,
            reward=reward,
            traits=dict(command.traits),
            action=command.action,
            session_id=command.session_id,
            interaction_id=command.interaction_id,
            user_id=command.user_id,
            prompt=command.prompt,
            response=command.response,
            sentiment=sentiment,
            below_since=below_since,
            occurred_at=command.occurred_at,
            policy_version=policy_version,
            action_probability=probability,
            propensity_source=source,
        )
        self._after_event(command.occurred_at, settings, strong_signal=rewards.is_strong_signal(command.kind))
        return RECORDED

    def end_session(self, command: EndSession, settings: LearningSettings) -> str:
        if self._seen(command.event_id):
            return DUPLICATE
        self._session_ended(event_id=command.event_id, session_id=command.session_id, occurred_at=command.occurred_at)
        self._after_event(command.occurred_at, settings, session_end=True)
        return RECORDED

    def record_activity(self, command: RecordActivity, settings: LearningSettings) -> str:
        if self._seen(command.event_id):
            return DUPLICATE
        self._activity_recorded(event_id=command.event_id, activity=command.activity, occurred_at=command.occurred_at)
        self._after_event(command.occurred_at, settings)
        return RECORDED

    def tick(self, now: datetime, settings: LearningSettings) -> str:
        """The periodic check at `now`: the freeze check, then the timer trigger."""
        if self._freeze_if_due(now, settings):
            return RECORDED
        if timer_due(
            frozen=self.frozen,
            pending_count=len(self.pending),
            now=now,
            last_update_at=self.last_update_at,
            last_activity_at=self.last_activity_at,
            settings=settings,
        ):
            self._recalculate(TIMER, now, settings)
            return RECORDED
        return UNCHANGED

    def freeze(self, command: FreezeUpdates) -> str:
        if self.frozen:
            return UNCHANGED
        self._frozen(reason=command.reason, sentiment=self.sentiment, by=command.by, occurred_at=command.occurred_at)
        return RECORDED

    def unfreeze(self, command: UnfreezeUpdates) -> str:
        if not self.frozen:
            return UNCHANGED
        self._unfrozen(reason=command.reason, by=command.by, occurred_at=command.occurred_at)
        return RECORDED

    def remap(self, archetype: str, priors: Mapping[str, float], by: str, reason: str, occurred_at: datetime) -> str:
        """Moves the agent to `archetype` with its current `priors`. Not an activity, like a prior refresh."""
        if archetype == self.archetype:
            return UNCHANGED
        self._remapped(
            before=self.archetype,
            after=archetype,
            priors_before=dict(self.priors),
            priors_after=dict(priors),
            by=by,
            reason=reason,
            occurred_at=occurred_at,
        )
        return RECORDED

    def refresh_priors(self, archetype: str, priors: Mapping[str, float], period: str, occurred_at: datetime) -> str:
        """Takes an archetype's refreshed priors, if this agent is of that archetype and holds others.

        Not an activity: it moves no timer and triggers no recalculation; the next one blends with them."""
        if self.archetype != archetype or self.priors == dict(priors):
            return UNCHANGED
        self._priors_refreshed(
            archetype=archetype, before=dict(self.priors), after=dict(priors), period=period, occurred_at=occurred_at
        )
        return RECORDED

    # ------------------------------------------------------------ derived views

    def rates(self, settings: LearningSettings) -> EffectiveRates:
        return effective_rates(LearningConfig.from_dict(self.config), settings, self.archetype)

    def explained_rates(self, settings: LearningSettings) -> ExplainedRates:
        return explain_rates(LearningConfig.from_dict(self.config), settings, self.archetype)

    def learning_state(self, settings: LearningSettings) -> LearningState:
        """A trait or action that rules added since this agent last learned starts from its archetype's prior."""
        priors, learned, preferences = self.priors, self.learned, self.preferences
        if len(priors) != len(settings.traits) or len(preferences) != len(settings.actions):
            archetype = archetype_of(self.archetype, settings)
            added = {t: archetype.trait_priors[t] for t in settings.traits if t not in priors}
            priors, learned = {**priors, **added}, {**learned, **added}
            preferences = {
                **{a: archetype.action_priors[a] for a in settings.actions if a not in preferences},
                **preferences,
            }
        return LearningState(
            priors=priors,
            learned=learned,
            preferences=preferences,
            epsilon=self.epsilon,
            feedback_count=self.feedback_count,
            sentiment=self.sentiment,
            last_batch_feedback_at=self.last_batch_feedback_at,
            last_batch_variance=self.last_batch_variance,
            action_priors=archetype_of(self.archetype, settings).action_priors,
            posterior=getattr(self, "posterior", None),
        )

    def published_policies(self) -> list[list]:
        """The policies this agent keeps, [version, published at, policy] oldest first; an agent restored from
        a snapshot taken before they were kept has only its current one."""
        log = getattr(self, "policy_log", None)
        if log is None:
            log = self.policy_log = [[self.policy_version, self.last_update_at, self.policy]]
        return log

    def pending_feedback(self) -> list[PendingFeedback]:
        """Feedback pending in a snapshot taken before baselines were kept counts from a baseline of 0."""
        baselines = getattr(self, "pending_baselines", [])
        if len(baselines) != len(self.pending):
            baselines = [0.0] * (len(self.pending) - len(baselines)) + baselines
        return [
            PendingFeedback(p["reward"], p["traits"], p["action"], p["occurred_at"], baseline)
            for p, baseline in zip(self.pending, baselines, strict=True)
        ]

    def derive_recalculation(self, settings: LearningSettings) -> Recalculation:
        """What a recalculation would give now: the audit compares it with what was recorded."""
        return recalculate(self.learning_state(settings), self.pending_feedback(), self.rates(settings), settings)

    # ---------------------------------------------------------------- internals

    def _seen(self, event_id: str | None) -> bool:
        return event_id is not None and event_id in self.seen_event_ids

    def _configure(
        self,
        config: LearningConfig,
        event_id: str | None,
        at: datetime,
        settings: LearningSettings,
        *,
        cap: bool,
        by: str | None,
    ) -> None:
        caps: list[dict] = []
        if cap:
            config, caps = cap_event_config(config, settings)
        new_epsilon = effective_rates(config, settings, self.archetype).epsilon
        old_epsilon = self.rates(settings).epsilon
        # An explicit change of ε replaces the learned one; otherwise ε keeps what it learned.
        epsilon = new_epsilon if new_epsilon != old_epsilon else self.epsilon
        self._record_configured(config, caps, at, event_id, by, settings, epsilon)

    def _record_configured(
        self,
        config: LearningConfig,
        caps: list[dict],
        at: datetime,
        event_id: str | None,
        by: str | None,
        settings: LearningSettings,
        epsilon: float,
    ) -> None:
        explained = explain_rates(config, settings, self.archetype)
        self._configured(
            config=config.to_dict(),
            epsilon=epsilon,
            caps=caps,
            occurred_at=at,
            event_id=event_id,
            by=by,
            rates=explained.to_dict(),
            rules_version=settings.rules_version,
        )

    def _after_event(
        self, time: datetime, settings: LearningSettings, *, strong_signal: bool = False, session_end: bool = False
    ) -> None:
        if self._freeze_if_due(time, settings):
            return
        trigger = trigger_after_event(
            frozen=self.frozen,
            pending_count=len(self.pending),
            strong_signal=strong_signal,
            session_end=session_end,
            settings=settings,
        )
        if trigger is not None:
            self._recalculate(trigger, time, settings)

    def _freeze_if_due(self, time: datetime, settings: LearningSettings) -> bool:
        if freeze_due(frozen=self.frozen, below_since=self.below_since, time=time, settings=settings):
            self._frozen(reason="sentiment", sentiment=self.sentiment, by=None, occurred_at=time)
            return True
        return False

    def _recalculate(self, trigger: str, now: datetime, settings: LearningSettings) -> None:
        rates = self.rates(settings)
        result = recalculate(self.learning_state(settings), self.pending_feedback(), rates, settings)
        self.trigger_event(
            self.PolicyRecalculated,
            policy_version=self.policy_version + 1,
            trigger=trigger,
            learned=result.learned,
            effective=result.effective,
            preferences=result.preferences,
            policy=result.policy,
            epsilon=result.epsilon,
            last_batch_variance=result.last_batch_variance,
            last_batch_feedback_at=result.last_batch_feedback_at,
            confidence=result.confidence,
            metrics=result.metrics,
            rates=rates.to_dict(),
            rules_version=settings.rules_version,
            occurred_at=now,
            exploration=result.exploration,
        )

    # ------------------------------------------------------- state transitions

    @event(RegistrationAmended)
    def _amended(
        self, archetype: str, owner_id: str | None, priors: dict, occurred_at: datetime, event_id: str | None
    ) -> None:
        self.archetype = archetype
        self.owner_id = owner_id
        self.priors = dict(priors)
        self._touch(occurred_at, event_id)

    @event(LearningConfigured)
    def _configured(
        self,
        config: dict,
        epsilon: float,
        caps: list,
        occurred_at: datetime,
        event_id: str | None,
        by: str | None,
        rates: dict | None,
        rules_version: int | None,
    ) -> None:
        self.config = dict(config)
        self.epsilon = epsilon
        self._touch(occurred_at, event_id)

    @event(SessionEnded)
    def _session_ended(self, event_id: str, session_id: str | None, occurred_at: datetime) -> None:
        self._touch(occurred_at, event_id)

    @event(ActivityRecorded)
    def _activity_recorded(self, event_id: str, activity: str, occurred_at: datetime) -> None:
        self._touch(occurred_at, event_id)

    @event(UpdatesFrozen)
    def _frozen(self, reason: str, sentiment: float, by: str | None, occurred_at: datetime) -> None:
        self.frozen = True

    @event(UpdatesUnfrozen)
    def _unfrozen(self, reason: str, by: str | None, occurred_at: datetime) -> None:
        self.frozen = False
        self.below_since = None
        self.sentiment = 0.0

    @event(ArchetypeRemapped)
    def _remapped(
        self,
        before: str,
        after: str,
        priors_before: dict,
        priors_after: dict,
        by: str,
        reason: str,
        occurred_at: datetime,
    ) -> None:
        self.archetype = after
        self.priors = dict(priors_after)

    @event(PriorsRefreshed)
    def _priors_refreshed(self, archetype: str, before: dict, after: dict, period: str, occurred_at: datetime) -> None:
        self.priors = dict(after)

    def _touch(self, occurred_at: datetime, event_id: str | None) -> None:
        self.last_activity_at = occurred_at
        if event_id is not None:
            self.seen_event_ids[event_id] = None


def archetype_of(name: str, settings: LearningSettings):
    """The archetype of this name in the rules, or the default one (an agent's archetype is never removed)."""
    return settings.archetypes.get(name) or settings.archetype(DEFAULT_ARCHETYPE)


def replay(events: Iterable[TextIdAggregate.Event]) -> Agent | None:
    """Rebuilds an agent from its events alone (what the repository does, without a store)."""
    agent: Agent | None = None
    for domain_event in events:
        agent = domain_event.mutate(agent)
    return agent


def agent_id_of(aggregate_id: str) -> str:
    """The agent id inside an agent's aggregate id (the inverse of `agent_aggregate_id`)."""
    return aggregate_id[len(AGENT_ID_PREFIX) :] if aggregate_id.startswith(AGENT_ID_PREFIX) else aggregate_id
