"""An agent's life (sections 1, 3 and 7): registration, recording, sentiment, freeze and unfreeze."""

from __future__ import annotations

import pytest
from attrs import evolve

from adapters.service.learning_service import LearningService
from domain.agent import DUPLICATE, RECORDED, UNCHANGED, Agent, agent_aggregate_id
from domain.catalogue import ACTIONS, ARCHETYPES, TRAIT_BOUNDS
from domain.commands import (
    FreezeUpdates,
    RecordFeedback,
    RegisterAgent,
    UnfreezeUpdates,
)
from domain.learning_config import LearningConfig
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from domain.settings import UnknownArchetype
from tests.domain.agent_builders import (
    T0,
    at,
    event_names,
    feedback,
    new_events,
    recalculations,
    registered_agent,
    session_end,
)


def record(agent: Agent, when, kind="thumbs_up", settings=SETTINGS, **fields) -> str:
    return agent.record_feedback(feedback(when, kind, **fields), settings)


# ------------------------------------------------------------------ duplicates


def test_a_feedback_with_an_already_recorded_event_id_records_nothing():
    agent = registered_agent()
    command = feedback(at(minutes=1), event_id="fb-dup")
    assert agent.record_feedback(command, SETTINGS) == RECORDED
    new_events(agent)
    state = dict(vars(agent))
    assert agent.record_feedback(command, SETTINGS) == DUPLICATE
    assert new_events(agent) == []
    assert vars(agent) == state
    assert agent.feedback_count == 1


def test_a_duplicate_is_recognised_by_event_id_even_if_its_content_differs():
    agent = registered_agent()
    record(agent, at(minutes=1), event_id="fb-dup")
    new_events(agent)
    assert record(agent, at(minutes=2), "abuse_flag", event_id="fb-dup") == DUPLICATE
    assert new_events(agent) == []
    assert agent.sentiment == pytest.approx(0.1)


def test_a_duplicate_strong_signal_does_not_trigger_a_second_recalculation():
    agent = registered_agent()
    record(agent, at(minutes=1), "thumbs_down", event_id="fb-dup")
    new_events(agent)
    assert record(agent, at(minutes=1), "thumbs_down", event_id="fb-dup") == DUPLICATE
    assert new_events(agent) == []
    assert agent.policy_version == 1


def test_a_feedback_reusing_the_registration_event_id_is_a_duplicate():
    agent = registered_agent()  # registered by event "reg-1"
    assert record(agent, at(minutes=1), event_id="reg-1") == DUPLICATE
    assert agent.feedback_count == 0


def test_a_duplicate_arriving_while_frozen_is_still_ignored():
    agent = registered_agent()
    record(agent, at(minutes=1), event_id="fb-dup")
    agent.freeze(FreezeUpdates("a-1", "investigating", at(minutes=2)))
    new_events(agent)
    assert record(agent, at(minutes=3), event_id="fb-dup") == DUPLICATE
    assert new_events(agent) == []
    assert len(agent.pending) == 1


# ------------------------------------------------------------- registration


SPEC_TRAITS = {  # trait: (min, max, default prior), section 2
    "empathy": (0.20, 0.95, 0.50),
    "humor": (0.00, 0.90, 0.50),
    "sarcasm": (0.00, 0.60, 0.20),
    "formality": (0.10, 0.90, 0.50),
    "verbosity": (0.10, 0.90, 0.50),
    "curiosity": (0.10, 0.95, 0.50),
}


def test_the_trait_bounds_and_default_priors_are_the_spec_defaults():
    assert {t: (b.minimum, b.maximum) for t, b in TRAIT_BOUNDS.items()} == {
        t: (lo, hi) for t, (lo, hi, _) in SPEC_TRAITS.items()
    }
    assert dict(ARCHETYPES["default"].trait_priors) == {t: prior for t, (_, _, prior) in SPEC_TRAITS.items()}
    assert dict(ARCHETYPES["default"].action_priors) == dict.fromkeys(ACTIONS, 0.5)


@pytest.mark.parametrize("name", sorted(ARCHETYPES))
def test_every_shipped_archetype_has_priors_inside_the_bounds_for_every_trait_and_action(name):
    archetype = ARCHETYPES[name]
    assert set(archetype.trait_priors) == set(TRAIT_BOUNDS)
    assert set(archetype.action_priors) == set(ACTIONS)
    for trait, prior in archetype.trait_priors.items():
        assert TRAIT_BOUNDS[trait].minimum <= prior <= TRAIT_BOUNDS[trait].maximum
    assert all(0.0 <= prior <= 1.0 for prior in archetype.action_priors.values())


def test_registering_with_an_unknown_archetype_is_rejected_naming_it():
    with pytest.raises(UnknownArchetype, match=r"'pirate'.*default"):
        Agent.register(RegisterAgent("reg-1", "a-1", T0, archetype="pirate"), SETTINGS)


def test_an_agent_starts_from_its_archetypes_priors():
    agent = registered_agent(archetype="mentor")
    mentor = ARCHETYPES["mentor"]
    assert agent.archetype == "mentor"
    assert agent.priors == agent.learned == agent.effective == dict(mentor.trait_priors)
    assert agent.preferences == dict(mentor.action_priors)
    assert agent.epsilon == 0.02
    assert agent.feedback_count == 0 and agent.pending == []
    assert agent.sentiment == 0.0 and agent.below_since is None and agent.frozen is False
    assert agent.last_update_at == agent.last_activity_at == T0
    assert agent.last_batch_feedback_at is None and agent.last_batch_variance is None
    assert agent.policy_version == 0


def test_an_agent_registered_with_a_profile_starts_with_the_profiles_epsilon():
    assert registered_agent(config=LearningConfig(profile="conservative")).epsilon == 0.01


def test_registration_is_recorded_as_an_event_at_its_own_time():
    agent = Agent.register(RegisterAgent("reg-1", "a-1", T0, archetype="companion", owner_id="o-1"), SETTINGS)
    [registered] = agent.collect_events()
    assert isinstance(registered, Agent.AgentRegistered)
    assert registered.originator_id == "agent:a-1"
    assert (registered.agent_id, registered.archetype, registered.owner_id) == ("a-1", "companion", "o-1")
    assert registered.occurred_at == T0


def new_service() -> LearningService:
    return LearningService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: T0)


def test_a_first_feedback_for_an_unknown_agent_registers_it_on_the_spot_at_that_events_time():
    service = new_service()
    when = at(days=3, minutes=17)
    outcome = service.process([RecordFeedback("fb-1", "newcomer", when, "thumbs_up")])
    assert outcome.recorded == 1
    history = list(service.events.get(agent_aggregate_id("newcomer")))
    assert event_names(history) == ["AgentRegistered", "FeedbackRecorded"]
    registered = history[0]
    assert registered.archetype == "default"
    assert registered.occurred_at == when
    agent = service.get_agent("newcomer")
    assert agent.registered_at == agent.last_update_at == when
    assert agent.feedback_count == 1


def test_a_later_registration_of_an_auto_registered_agent_amends_it_and_keeps_its_feedback():
    service = new_service()
    service.process([RecordFeedback("fb-1", "newcomer", at(minutes=1), "thumbs_up")])
    service.process([RegisterAgent("reg-1", "newcomer", at(minutes=2), archetype="mentor")])
    agent = service.get_agent("newcomer")
    assert agent.archetype == "mentor"
    assert agent.priors == dict(ARCHETYPES["mentor"].trait_priors)
    assert agent.feedback_count == 1
    history = list(service.events.get(agent_aggregate_id("newcomer")))
    assert event_names(history) == ["AgentRegistered", "FeedbackRecorded", "RegistrationAmended"]


# ------------------------------------------------------------------ recording


def test_each_feedback_counts_joins_pending_and_moves_last_activity():
    agent = registered_agent()
    record(agent, at(minutes=1), traits={"empathy": 0.5}, action="answer")
    record(agent, at(minutes=3), "draft_edited")
    assert agent.feedback_count == 2
    assert agent.pending == [
        {"reward": 1.0, "traits": {"empathy": 0.5}, "action": "answer", "occurred_at": at(minutes=1)},
        {"reward": -0.2, "traits": {}, "action": None, "occurred_at": at(minutes=3)},
    ]
    assert agent.last_activity_at == at(minutes=3)


def test_the_feedback_count_is_kept_across_recalculations():
    agent = registered_agent()
    for minute in range(1, 8):
        record(agent, at(minutes=minute))
    assert agent.policy_version == 1
    assert agent.feedback_count == 7
    assert len(agent.pending) == 2


def test_sentiment_is_an_ewma_of_rewards_with_weight_one_tenth():
    agent = registered_agent()
    record(agent, at(minutes=1))
    assert agent.sentiment == pytest.approx(0.1)
    record(agent, at(minutes=2), "message_copied")
    assert agent.sentiment == pytest.approx(0.1 + 0.1 * (0.3 - 0.1))
    record(agent, at(minutes=3), "thumbs_down")
    assert agent.sentiment == pytest.approx(0.12 + 0.1 * (-1.0 - 0.12))


def test_the_feedback_event_records_the_reward_and_the_new_sentiment():
    agent = registered_agent()
    record(agent, at(minutes=1), "rating", value=2)
    [recorded] = new_events(agent)
    assert isinstance(recorded, Agent.FeedbackRecorded)
    assert recorded.reward == -0.5
    assert recorded.sentiment == pytest.approx(-0.05)
    assert recorded.below_since is None


def seven_low_ratings(agent: Agent, settings=SETTINGS) -> None:
    """Ratings of 1 at 10:01..10:07: sentiment first goes below −0.5 at the seventh (−0.522)."""
    for minute in range(1, 8):
        record(agent, at(minutes=minute), "rating", settings, value=1)


def test_below_since_is_set_the_first_time_sentiment_goes_below_minus_a_half():
    agent = registered_agent()
    for minute in range(1, 7):
        record(agent, at(minutes=minute), "rating", value=1)
    assert agent.sentiment > -0.5
    assert agent.below_since is None
    record(agent, at(minutes=7), "rating", value=1)
    assert agent.sentiment < -0.5
    assert agent.below_since == at(minutes=7)


def test_below_since_keeps_its_first_time_while_sentiment_stays_below():
    agent = registered_agent()
    seven_low_ratings(agent)
    record(agent, at(days=2), "rating", value=1)
    assert agent.below_since == at(minutes=7)


def test_below_since_is_cleared_when_sentiment_recovers():
    agent = registered_agent()
    seven_low_ratings(agent)
    record(agent, at(minutes=8), "thumbs_up")
    assert agent.sentiment >= -0.5
    assert agent.below_since is None


def test_sentiment_of_exactly_minus_a_half_is_not_below():
    settings = evolve(SETTINGS, sentiment_alpha=0.5)
    agent = registered_agent(settings=settings)
    record(agent, at(minutes=1), "thumbs_down", settings)
    assert agent.sentiment == -0.5
    assert agent.below_since is None
    record(agent, at(minutes=2), "thumbs_down", settings)
    assert agent.below_since == at(minutes=2)


# ------------------------------------------------------------------ freezing


def sentiment_frozen_agent() -> Agent:
    """Below −0.5 since 10:07, frozen by the tick exactly seven days later, with two feedbacks pending."""
    agent = registered_agent()
    seven_low_ratings(agent)
    agent.tick(at(days=7, minutes=7), SETTINGS)
    assert agent.frozen
    new_events(agent)
    return agent


def test_seven_days_below_minus_a_half_freezes_updates_for_sentiment():
    agent = registered_agent()
    seven_low_ratings(agent)
    new_events(agent)
    agent.tick(at(days=7, minutes=7), SETTINGS)
    [frozen] = new_events(agent)
    assert isinstance(frozen, Agent.UpdatesFrozen)
    assert frozen.reason == "sentiment"
    assert frozen.by is None
    assert frozen.sentiment == pytest.approx(-(1 - 0.9**7))
    assert agent.frozen is True


def test_feedback_is_still_recorded_while_frozen_and_stays_pending():
    agent = sentiment_frozen_agent()
    record(agent, at(days=8), "thumbs_down")
    for minute in range(1, 5):
        record(agent, at(days=8, minutes=minute))
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded"] * 5
    assert agent.feedback_count == 12
    assert len(agent.pending) == 7
    assert agent.policy_version == 1
    assert agent.sentiment == events[-1].sentiment


def test_unfreezing_clears_below_since_and_restarts_sentiment_at_zero():
    agent = sentiment_frozen_agent()
    assert agent.below_since is not None and agent.sentiment < -0.5
    assert agent.unfreeze(UnfreezeUpdates("a-1", "owner fixed the prompt", at(days=9), by="admin")) == RECORDED
    [unfrozen] = new_events(agent)
    assert isinstance(unfrozen, Agent.UpdatesUnfrozen)
    assert (unfrozen.reason, unfrozen.by) == ("owner fixed the prompt", "admin")
    assert agent.frozen is False
    assert agent.below_since is None
    assert agent.sentiment == 0.0


def test_unfreezing_keeps_the_pending_feedback():
    agent = sentiment_frozen_agent()
    agent.unfreeze(UnfreezeUpdates("a-1", "reviewed", at(days=9)))
    assert len(agent.pending) == 2
    assert agent.policy_version == 1


def test_the_next_event_after_unfreeze_is_checked_by_the_triggers():
    agent = sentiment_frozen_agent()
    for minute in range(1, 4):
        record(agent, at(days=8, minutes=minute))  # five pending while frozen
    agent.unfreeze(UnfreezeUpdates("a-1", "reviewed", at(days=9)))
    new_events(agent)
    record(agent, at(days=9, minutes=1))
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded", "PolicyRecalculated"]
    assert events[-1].trigger == "feedback_count"
    assert events[-1].metrics["batchSize"] == 6
    assert agent.sentiment == pytest.approx(0.1)  # restarted from 0


def test_a_session_end_after_unfreeze_recalculates_what_was_pending():
    agent = sentiment_frozen_agent()
    agent.unfreeze(UnfreezeUpdates("a-1", "reviewed", at(days=9)))
    new_events(agent)
    agent.end_session(session_end(at(days=9, minutes=1)), SETTINGS)
    [recalculated] = recalculations(new_events(agent))
    assert recalculated.trigger == "session_end"
    assert recalculated.metrics["batchSize"] == 2


def test_after_unfreeze_a_new_week_below_is_needed_to_freeze_again():
    agent = sentiment_frozen_agent()
    agent.unfreeze(UnfreezeUpdates("a-1", "reviewed", at(days=9)))
    new_events(agent)
    assert agent.tick(at(days=20), SETTINGS) == UNCHANGED  # the old below_since no longer counts
    assert agent.frozen is False
    assert new_events(agent) == []


# ------------------------------------------------------------- admin freeze


def test_an_administrator_can_freeze_updates_with_a_reason():
    agent = registered_agent()
    assert agent.freeze(FreezeUpdates("a-1", "abuse investigation", at(minutes=1), by="admin")) == RECORDED
    [frozen] = new_events(agent)
    assert isinstance(frozen, Agent.UpdatesFrozen)
    assert (frozen.reason, frozen.by, frozen.occurred_at) == ("abuse investigation", "admin", at(minutes=1))
    assert agent.frozen is True


def test_freezing_a_frozen_agent_changes_nothing():
    agent = registered_agent()
    agent.freeze(FreezeUpdates("a-1", "first", at(minutes=1)))
    new_events(agent)
    assert agent.freeze(FreezeUpdates("a-1", "second", at(minutes=2))) == UNCHANGED
    assert new_events(agent) == []
    assert agent.frozen is True


def test_unfreezing_an_agent_that_is_not_frozen_changes_nothing():
    agent = registered_agent()
    record(agent, at(minutes=1), "thumbs_down")
    new_events(agent)
    sentiment = agent.sentiment
    assert agent.unfreeze(UnfreezeUpdates("a-1", "just in case", at(minutes=2))) == UNCHANGED
    assert new_events(agent) == []
    assert agent.sentiment == sentiment


def test_unfreezing_twice_records_one_unfreeze():
    agent = registered_agent()
    agent.freeze(FreezeUpdates("a-1", "investigating", at(minutes=1)))
    assert agent.unfreeze(UnfreezeUpdates("a-1", "done", at(minutes=2))) == RECORDED
    assert agent.unfreeze(UnfreezeUpdates("a-1", "done", at(minutes=3))) == UNCHANGED
    assert event_names(new_events(agent)) == ["UpdatesFrozen", "UpdatesUnfrozen"]


def test_an_admin_freeze_does_not_trigger_a_recalculation_of_pending_feedback():
    agent = registered_agent()
    record(agent, at(minutes=1))
    new_events(agent)
    agent.freeze(FreezeUpdates("a-1", "investigating", at(minutes=2)))
    assert event_names(new_events(agent)) == ["UpdatesFrozen"]
    assert len(agent.pending) == 1
