"""Triggers (section 4): what makes a recalculation happen, in which order, and what stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.agent import RECORDED, UNCHANGED, Agent
from domain.commands import FreezeUpdates
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from tests.domain.agent_builders import (
    activity,
    at,
    event_names,
    feedback,
    new_events,
    recalculations,
    registered_agent,
    session_end,
)

STRONG_KINDS = ["thumbs_down", "draft_approved", "draft_rejected", "abuse_flag"]
WEAK_KINDS = [
    ("thumbs_up", None),
    ("rating", 4),
    ("message_copied", None),
    ("conversation_continued", None),
    ("conversation_abandoned", None),
    ("draft_edited", None),
]


def record(agent: Agent, when, kind="thumbs_up", **fields) -> str:
    return agent.record_feedback(feedback(when, kind, **fields), SETTINGS)


def the_trigger(events) -> str:
    [recalculated] = recalculations(events)
    return recalculated.trigger


# -------------------------------------------------------------- strong signal


@pytest.mark.parametrize("kind", STRONG_KINDS)
def test_one_strong_signal_triggers_a_recalculation(kind):
    agent = registered_agent()
    record(agent, at(minutes=1), kind)
    assert the_trigger(new_events(agent)) == "strong_signal"
    assert agent.policy_version == 1
    assert agent.pending == []


@pytest.mark.parametrize(("kind", "value"), WEAK_KINDS)
def test_one_weak_feedback_does_not_trigger_a_recalculation(kind, value):
    agent = registered_agent()
    record(agent, at(minutes=1), kind, value=value)
    assert event_names(new_events(agent)) == ["FeedbackRecorded"]
    assert agent.policy_version == 0
    assert len(agent.pending) == 1


# ------------------------------------------------------------- feedback count


def test_four_weak_feedbacks_do_not_trigger_a_recalculation():
    agent = registered_agent()
    for minute in range(1, 5):
        record(agent, at(minutes=minute))
    assert recalculations(new_events(agent)) == []
    assert len(agent.pending) == 4


def test_five_feedbacks_trigger_a_recalculation():
    agent = registered_agent()
    for minute in range(1, 6):
        record(agent, at(minutes=minute))
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded"] * 5 + ["PolicyRecalculated"]
    assert the_trigger(events) == "feedback_count"
    assert events[-1].metrics["batchSize"] == 5
    assert agent.pending == []


def test_the_count_restarts_after_a_recalculation():
    agent = registered_agent()
    for minute in range(1, 10):
        record(agent, at(minutes=minute))
    assert agent.policy_version == 1
    assert len(agent.pending) == 4
    record(agent, at(minutes=10))
    assert agent.policy_version == 2


def test_a_strong_signal_as_the_fifth_feedback_is_reported_as_strong_signal_not_feedback_count():
    agent = registered_agent()
    for minute in range(1, 5):
        record(agent, at(minutes=minute))
    record(agent, at(minutes=5), "thumbs_down")
    assert the_trigger(new_events(agent)) == "strong_signal"


def test_at_most_one_recalculation_per_event_even_when_several_triggers_hold():
    agent = registered_agent()
    for minute in range(1, 5):
        record(agent, at(minutes=minute))
    new_events(agent)
    record(agent, at(minutes=5), "abuse_flag")
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded", "PolicyRecalculated"]
    assert agent.policy_version == 1


# ---------------------------------------------------------------- session end


def test_a_session_end_with_pending_feedback_triggers_a_recalculation():
    agent = registered_agent()
    record(agent, at(minutes=1))
    record(agent, at(minutes=2))
    agent.end_session(session_end(at(minutes=3)), SETTINGS)
    events = new_events(agent)
    assert the_trigger(events) == "session_end"
    assert events[-1].metrics["batchSize"] == 2


def test_a_session_end_with_nothing_pending_records_only_the_session_end():
    agent = registered_agent()
    assert agent.end_session(session_end(at(minutes=1)), SETTINGS) == RECORDED
    assert event_names(new_events(agent)) == ["SessionEnded"]
    assert agent.policy_version == 0


def test_a_session_end_right_after_a_recalculation_has_nothing_to_recalculate():
    agent = registered_agent()
    record(agent, at(minutes=1), "thumbs_down")
    new_events(agent)
    agent.end_session(session_end(at(minutes=2)), SETTINGS)
    assert event_names(new_events(agent)) == ["SessionEnded"]


# ------------------------------------------------------------------- activity


def test_an_activity_only_moves_last_activity_at():
    agent = registered_agent()
    record(agent, at(minutes=1))
    before = dict(vars(agent))
    agent.record_activity(activity(at(minutes=3)), SETTINGS)
    assert event_names(new_events(agent)) == ["FeedbackRecorded", "ActivityRecorded"]
    assert agent.last_activity_at == at(minutes=3)
    assert agent.last_update_at == before["last_update_at"]
    assert len(agent.pending) == 1
    assert agent.feedback_count == 1
    assert agent.policy_version == 0


# --------------------------------------------------------------------- frozen


def frozen_agent() -> Agent:
    agent = registered_agent()
    agent.freeze(FreezeUpdates("a-1", "investigating", at(minutes=1), by="admin"))
    new_events(agent)
    return agent


def test_a_strong_signal_while_frozen_does_not_recalculate():
    agent = frozen_agent()
    record(agent, at(minutes=2), "thumbs_down")
    assert event_names(new_events(agent)) == ["FeedbackRecorded"]
    assert len(agent.pending) == 1


def test_five_feedbacks_while_frozen_do_not_recalculate():
    agent = frozen_agent()
    for minute in range(2, 8):
        record(agent, at(minutes=minute))
    assert recalculations(new_events(agent)) == []
    assert len(agent.pending) == 6


def test_a_session_end_while_frozen_does_not_recalculate():
    agent = frozen_agent()
    record(agent, at(minutes=2))
    agent.end_session(session_end(at(minutes=3)), SETTINGS)
    assert recalculations(new_events(agent)) == []


def test_the_timer_does_not_fire_while_frozen():
    agent = frozen_agent()
    record(agent, at(minutes=2))
    new_events(agent)
    assert agent.tick(at(minutes=10), SETTINGS) == UNCHANGED
    assert new_events(agent) == []


# ---------------------------------------------------------------------- timer


def test_the_timer_fires_five_minutes_after_the_last_update_when_feedback_is_pending():
    agent = registered_agent()  # last_update_at = registration time, T0
    record(agent, at(minutes=1))
    new_events(agent)
    assert agent.tick(at(minutes=5), SETTINGS) == RECORDED
    [recalculated] = new_events(agent)
    assert recalculated.trigger == "timer"
    assert agent.last_update_at == at(minutes=5)


def test_the_timer_waits_until_five_minutes_have_passed():
    agent = registered_agent()
    record(agent, at(minutes=1))
    new_events(agent)
    assert agent.tick(at(minutes=5, seconds=-1), SETTINGS) == UNCHANGED
    assert new_events(agent) == []
    assert len(agent.pending) == 1


def test_the_timer_counts_from_the_last_recalculation_not_from_registration():
    agent = registered_agent()
    record(agent, at(minutes=10), "thumbs_down")  # recalculated at 10:10
    record(agent, at(minutes=11))
    new_events(agent)
    assert agent.tick(at(minutes=15, seconds=-1), SETTINGS) == UNCHANGED
    assert agent.tick(at(minutes=15), SETTINGS) == RECORDED
    assert the_trigger(new_events(agent)) == "timer"


def test_the_timer_does_nothing_with_nothing_pending():
    agent = registered_agent()
    assert agent.tick(at(minutes=30), SETTINGS) == UNCHANGED
    assert new_events(agent) == []


def test_the_timer_still_fires_for_an_agent_idle_for_exactly_forty_minutes():
    agent = registered_agent()
    record(agent, at(minutes=1))
    new_events(agent)
    assert agent.tick(at(minutes=41), SETTINGS) == RECORDED
    assert the_trigger(new_events(agent)) == "timer"


def test_an_agent_idle_for_more_than_forty_minutes_is_skipped_by_the_timer():
    agent = registered_agent()
    record(agent, at(minutes=1))
    new_events(agent)
    assert agent.tick(at(minutes=41, seconds=1), SETTINGS) == UNCHANGED
    assert agent.tick(at(days=1), SETTINGS) == UNCHANGED
    assert new_events(agent) == []
    assert len(agent.pending) == 1


def test_an_idle_agent_is_picked_up_by_the_timer_again_after_a_new_event():
    agent = registered_agent()
    record(agent, at(minutes=1))
    assert agent.tick(at(minutes=50), SETTINGS) == UNCHANGED
    agent.record_activity(activity(at(minutes=55)), SETTINGS)
    new_events(agent)
    assert agent.tick(at(minutes=56), SETTINGS) == RECORDED
    recalculated = the_trigger(new_events(agent))
    assert recalculated == "timer"
    assert agent.pending == []


# -------------------------------------------------------------- freeze check

# Seven ratings of 1 (reward −1, not a strong signal) take sentiment to −0.522;
# the seventh, at 10:07, is the first below −0.5.
BELOW_SINCE = at(minutes=7)


def agent_below_threshold() -> Agent:
    agent = registered_agent()
    for minute in range(1, 8):
        record(agent, at(minutes=minute), "rating", value=1)
    assert agent.below_since == BELOW_SINCE
    assert len(agent.pending) == 2
    new_events(agent)
    return agent


def test_sentiment_below_the_threshold_for_seven_days_minus_a_second_does_not_freeze_on_tick():
    agent = agent_below_threshold()
    agent.tick(BELOW_SINCE + timedelta(days=7, seconds=-1), SETTINGS)
    assert "UpdatesFrozen" not in event_names(new_events(agent))
    assert agent.frozen is False


def test_sentiment_below_the_threshold_for_exactly_seven_days_freezes_on_tick():
    agent = agent_below_threshold()
    assert agent.tick(BELOW_SINCE + timedelta(days=7), SETTINGS) == RECORDED
    [frozen] = new_events(agent)
    assert isinstance(frozen, Agent.UpdatesFrozen)
    assert frozen.reason == "sentiment"
    assert agent.frozen is True


def test_a_feedback_seven_days_minus_a_second_after_going_below_does_not_freeze():
    agent = agent_below_threshold()
    record(agent, BELOW_SINCE + timedelta(days=7, seconds=-1), "rating", value=1)
    assert event_names(new_events(agent)) == ["FeedbackRecorded"]
    assert agent.frozen is False


def test_a_feedback_exactly_seven_days_after_going_below_freezes_updates():
    agent = agent_below_threshold()
    record(agent, BELOW_SINCE + timedelta(days=7), "rating", value=1)
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded", "UpdatesFrozen"]
    assert events[-1].reason == "sentiment"
    assert events[-1].sentiment == agent.sentiment


def test_the_freeze_check_comes_before_a_strong_signal():
    agent = agent_below_threshold()
    record(agent, BELOW_SINCE + timedelta(days=7), "thumbs_down")
    events = new_events(agent)
    assert event_names(events) == ["FeedbackRecorded", "UpdatesFrozen"]
    assert agent.policy_version == 1  # only the batch of the first five
    assert len(agent.pending) == 3


def test_the_freeze_check_comes_before_the_feedback_count():
    agent = agent_below_threshold()
    record(agent, BELOW_SINCE + timedelta(days=1), "rating", value=1)
    record(agent, BELOW_SINCE + timedelta(days=2), "rating", value=1)
    record(agent, BELOW_SINCE + timedelta(days=7), "rating", value=1)  # fifth pending
    events = new_events(agent)
    assert recalculations(events) == []
    assert event_names(events)[-1] == "UpdatesFrozen"
    assert len(agent.pending) == 5


def test_the_freeze_check_comes_before_a_session_end():
    agent = agent_below_threshold()
    agent.end_session(session_end(BELOW_SINCE + timedelta(days=7)), SETTINGS)
    assert event_names(new_events(agent)) == ["SessionEnded", "UpdatesFrozen"]


def test_the_freeze_check_comes_before_the_timer_on_tick():
    agent = agent_below_threshold()
    record(agent, BELOW_SINCE + timedelta(days=7, minutes=-10), "rating", value=1)
    new_events(agent)
    # The timer would be due (pending, last update long ago, active 10 minutes ago), but the freeze wins.
    assert agent.tick(BELOW_SINCE + timedelta(days=7), SETTINGS) == RECORDED
    assert event_names(new_events(agent)) == ["UpdatesFrozen"]
    assert len(agent.pending) == 3


def test_an_agent_already_frozen_is_not_frozen_again():
    agent = agent_below_threshold()
    agent.tick(BELOW_SINCE + timedelta(days=7), SETTINGS)
    new_events(agent)
    record(agent, BELOW_SINCE + timedelta(days=8), "rating", value=1)
    assert agent.tick(BELOW_SINCE + timedelta(days=8, minutes=6), SETTINGS) == UNCHANGED
    assert event_names(new_events(agent)) == ["FeedbackRecorded"]
