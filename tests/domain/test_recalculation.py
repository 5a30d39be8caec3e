"""Recalculation (section 6) and the worked example of section 8."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from attrs import evolve

from domain.agent import Agent
from domain.catalogue import ACTIONS, ARCHETYPES
from domain.learning_config import LearningConfig, effective_rates
from domain.recalculation import (
    LearningState,
    PendingFeedback,
    blend,
    blend_weight,
    confidence,
    decay_applies,
    explore_less_as_variance_falls,
    published_policy,
    recalculate,
    update_preferences,
    update_traits,
)
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from tests.domain.agent_builders import (
    MIXED_BATCH,
    STEADY_BATCH,
    at,
    feedback,
    new_events,
    recalculations,
    record_batch,
    registered_agent,
)

PRIORS = dict(ARCHETYPES["default"].trait_priors)
ACTION_PRIORS = dict(ARCHETYPES["default"].action_priors)
RATES = effective_rates(LearningConfig(), SETTINGS)


def state(**changes) -> LearningState:
    base = LearningState(
        priors=PRIORS,
        learned=dict(PRIORS),
        preferences=dict(ACTION_PRIORS),
        epsilon=0.02,
        feedback_count=5,
        sentiment=0.0,
        last_batch_feedback_at=None,
        last_batch_variance=None,
    )
    return evolve(base, **changes)


def fb(reward: float, traits=None, action=None, when: datetime | None = None) -> PendingFeedback:
    return PendingFeedback(reward, traits or {}, action, when or at(minutes=1))


# ----------------------------------------------------------------------- decay


@pytest.mark.parametrize("count", [1, 5, 9])
def test_decay_applies_while_fewer_than_ten_feedbacks_were_recorded(count):
    assert decay_applies(state(feedback_count=count), [fb(1.0)], SETTINGS) is True


def test_decay_does_not_apply_from_ten_feedbacks_without_a_previous_batch():
    assert decay_applies(state(feedback_count=10), [fb(1.0)], SETTINGS) is False


def test_decay_applies_when_the_oldest_pending_feedback_is_seven_days_after_the_last_batch():
    last = at(minutes=0)
    batch = [fb(1.0, when=last + timedelta(days=7)), fb(1.0, when=last + timedelta(days=9))]
    assert decay_applies(state(feedback_count=40, last_batch_feedback_at=last), batch, SETTINGS) is True


def test_decay_does_not_apply_when_the_gap_is_a_second_short_of_seven_days():
    last = at(minutes=0)
    batch = [fb(1.0, when=last + timedelta(days=7, seconds=-1))]
    assert decay_applies(state(feedback_count=40, last_batch_feedback_at=last), batch, SETTINGS) is False


def test_the_gap_is_measured_from_the_oldest_pending_feedback_not_the_newest():
    last = at(minutes=0)
    batch = [fb(1.0, when=last + timedelta(days=9)), fb(1.0, when=last + timedelta(days=6))]
    assert decay_applies(state(feedback_count=40, last_batch_feedback_at=last), batch, SETTINGS) is False


def test_decay_moves_every_trait_a_tenth_of_the_way_back_to_its_prior():
    learned = {**PRIORS, "empathy": 0.8, "humor": 0.1}
    result = recalculate(state(learned=learned, feedback_count=5), [fb(1.0)], RATES, SETTINGS)
    assert result.learned["empathy"] == pytest.approx(0.8 + 0.1 * (0.5 - 0.8))  # 0.77
    assert result.learned["humor"] == pytest.approx(0.1 + 0.1 * (0.5 - 0.1))  # 0.14
    assert result.learned["sarcasm"] == pytest.approx(0.2)


def test_without_decay_untouched_traits_keep_their_learned_value():
    learned = {**PRIORS, "empathy": 0.8}
    result = recalculate(state(learned=learned, feedback_count=10), [fb(1.0)], RATES, SETTINGS)
    assert result.learned["empathy"] == 0.8


def test_decay_comes_before_the_trait_update():
    learned = {**PRIORS, "empathy": 0.8}
    result = recalculate(state(learned=learned, feedback_count=5), [fb(1.0, {"empathy": 1.0})], RATES, SETTINGS)
    assert result.learned["empathy"] == pytest.approx(0.77 + 0.07)


def test_an_agent_quiet_for_seven_days_decays_toward_its_archetype():
    agent = registered_agent()
    for minute in range(1, 11):  # two batches: count reaches 10, learned empathy rises
        agent.record_feedback(feedback(at(minutes=minute), traits={"empathy": 1.0}), SETTINGS)
    learned = agent.learned["empathy"]
    newest = agent.last_batch_feedback_at
    agent.record_feedback(feedback(newest + timedelta(days=7), "thumbs_down"), SETTINGS)
    assert agent.learned["empathy"] == pytest.approx(learned + 0.1 * (0.5 - learned))


# ---------------------------------------------------------------------- traits


def test_a_trait_moves_by_its_rate_times_the_mean_of_reward_times_attribution():
    batch = [fb(1.0, {"empathy": 1.0}), fb(-1.0, {"empathy": 0.5}), fb(1.0, {"humor": 1.0})]
    learned = update_traits(PRIORS, batch, RATES.trait_rates, SETTINGS)
    # the mean is over the two feedbacks that name empathy: (1×1 + −1×0.5) / 2 = 0.25
    assert learned["empathy"] == pytest.approx(0.5 + 0.07 * 0.25)
    assert learned["humor"] == pytest.approx(0.5 + 0.07 * 1.0)


def test_a_trait_no_feedback_names_is_not_updated():
    learned = update_traits(PRIORS, [fb(1.0, {"empathy": 1.0})], RATES.trait_rates, SETTINGS)
    assert {t: v for t, v in learned.items() if t != "empathy"} == {t: v for t, v in PRIORS.items() if t != "empathy"}


def test_a_negative_reward_on_a_trait_the_response_lacked_raises_the_trait():
    learned = update_traits(PRIORS, [fb(-1.0, {"humor": -1.0})], RATES.trait_rates, SETTINGS)
    assert learned["humor"] == pytest.approx(0.57)


def test_each_trait_moves_at_its_own_rate():
    rates = effective_rates(LearningConfig(trait_rates={"humor": 0.03}), SETTINGS).trait_rates
    learned = update_traits(PRIORS, [fb(1.0, {"humor": 1.0, "empathy": 1.0})], rates, SETTINGS)
    assert learned["humor"] == pytest.approx(0.53)
    assert learned["empathy"] == pytest.approx(0.57)


def test_a_trait_is_clamped_to_its_maximum():
    learned = update_traits({**PRIORS, "sarcasm": 0.58}, [fb(1.0, {"sarcasm": 1.0})], RATES.trait_rates, SETTINGS)
    assert learned["sarcasm"] == 0.60


def test_a_trait_is_clamped_to_its_minimum():
    learned = update_traits({**PRIORS, "empathy": 0.21}, [fb(-1.0, {"empathy": 1.0})], RATES.trait_rates, SETTINGS)
    assert learned["empathy"] == 0.20


# --------------------------------------------------------------------- actions


def test_an_action_preference_moves_by_the_action_rate_times_the_mean_reward():
    batch = [fb(1.0, action="answer"), fb(0.3, action="answer"), fb(-1.0, action="escalate"), fb(-1.0)]
    preferences = update_preferences(ACTION_PRIORS, batch, 0.05)
    assert preferences["answer"] == pytest.approx(0.5 + 0.05 * 0.65)
    assert preferences["escalate"] == pytest.approx(0.45)
    assert preferences["suggest_draft"] == 0.5
    assert preferences["ask_clarifying_question"] == 0.5


def test_an_action_preference_is_clamped_to_one():
    preferences = update_preferences({**ACTION_PRIORS, "answer": 0.99}, [fb(1.0, action="answer")], 0.05)
    assert preferences["answer"] == 1.0


def test_an_action_preference_is_clamped_to_zero():
    preferences = update_preferences({**ACTION_PRIORS, "escalate": 0.01}, [fb(-1.0, action="escalate")], 0.05)
    assert preferences["escalate"] == 0.0


# ------------------------------------------------------------------ exploration


def test_epsilon_is_lowered_when_the_batch_variance_falls_below_the_last_one():
    rewards = [1.0, 1.0, 0.3]
    epsilon, variance = explore_less_as_variance_falls(0.02, 0.5, rewards, SETTINGS)
    assert epsilon == pytest.approx(0.018)
    mean = sum(rewards) / 3
    assert variance == pytest.approx(sum((r - mean) ** 2 for r in rewards) / 3)


def test_epsilon_is_kept_when_the_variance_is_unchanged():
    assert explore_less_as_variance_falls(0.02, 0.0, [1.0, 1.0], SETTINGS) == (0.02, 0.0)


def test_epsilon_never_rises_when_the_variance_grows():
    epsilon, variance = explore_less_as_variance_falls(0.02, 0.0, [1.0, -1.0], SETTINGS)
    assert epsilon == 0.02
    assert variance == 1.0  # population variance: the mean of squared deviations


def test_epsilon_is_kept_for_the_first_counted_batch_and_its_variance_is_remembered():
    assert explore_less_as_variance_falls(0.02, None, [1.0, -1.0], SETTINGS) == (0.02, 1.0)


@pytest.mark.parametrize("last_variance", [None, 0.7])
def test_a_single_feedback_batch_neither_changes_epsilon_nor_the_remembered_variance(last_variance):
    assert explore_less_as_variance_falls(0.02, last_variance, [0.0], SETTINGS) == (0.02, last_variance)


def test_epsilon_is_never_lowered_below_the_floor():
    epsilon, _ = explore_less_as_variance_falls(0.0055, 1.0, [1.0, 1.0], SETTINGS)
    assert epsilon == 0.005
    epsilon, _ = explore_less_as_variance_falls(0.005, 1.0, [1.0, 1.0], SETTINGS)
    assert epsilon == 0.005


def test_a_steadier_second_batch_lowers_the_agents_epsilon():
    agent = registered_agent()
    record_batch(agent, at(minutes=1), MIXED_BATCH)
    assert agent.epsilon == 0.02
    assert agent.last_batch_variance == pytest.approx(0.96)
    record_batch(agent, at(minutes=10), STEADY_BATCH)
    assert agent.epsilon == pytest.approx(0.018)
    assert agent.last_batch_variance == 0.0


def test_single_feedback_batches_do_not_count_for_exploration():
    agent = registered_agent()
    record_batch(agent, at(minutes=1), MIXED_BATCH)
    agent.record_feedback(feedback(at(minutes=10), "thumbs_down"), SETTINGS)  # a batch of one
    assert agent.policy_version == 2
    assert agent.last_batch_variance == pytest.approx(0.96)
    assert agent.epsilon == 0.02


# ------------------------------------------------------------------ cold start


@pytest.mark.parametrize(("count", "weight"), [(0, 0.0), (5, 0.1), (25, 0.5), (49, 0.98), (50, 1.0), (500, 1.0)])
def test_the_blend_weight_is_feedback_count_over_fifty_capped_at_one(count, weight):
    assert blend_weight(count, SETTINGS) == pytest.approx(weight)


def test_effective_traits_blend_priors_and_learned_values_by_the_weight():
    effective = blend(PRIORS, {**PRIORS, "empathy": 0.9, "humor": 0.1}, 0.25)
    assert effective["empathy"] == pytest.approx(0.5 * 0.75 + 0.9 * 0.25)
    assert effective["humor"] == pytest.approx(0.5 * 0.75 + 0.1 * 0.25)
    assert effective["sarcasm"] == pytest.approx(0.2)


def test_from_fifty_feedbacks_the_effective_traits_are_the_learned_ones():
    learned = {**PRIORS, "empathy": 0.9}
    result = recalculate(state(learned=learned, feedback_count=50), [fb(0.0)], RATES, SETTINGS)
    assert result.effective == result.learned


# -------------------------------------------------------------- published policy


def test_the_published_policy_mixes_normalised_preferences_with_uniform_exploration():
    preferences = {"answer": 0.6, "ask_clarifying_question": 0.2, "suggest_draft": 0.2, "escalate": 0.0}
    policy = published_policy(preferences, 0.1, ACTIONS)
    assert policy["answer"] == pytest.approx(0.9 * 0.6 / 1.0 + 0.1 / 4)
    assert policy["ask_clarifying_question"] == pytest.approx(0.9 * 0.2 + 0.025)
    assert policy["escalate"] == pytest.approx(0.025)
    assert sum(policy.values()) == pytest.approx(1.0, abs=1e-12)


def test_the_published_policy_is_uniform_when_every_preference_is_zero():
    policy = published_policy(dict.fromkeys(ACTIONS, 0.0), 0.02, ACTIONS)
    assert policy == dict.fromkeys(ACTIONS, 0.25)


def test_the_published_policy_covers_every_action_in_the_catalogue():
    policy = published_policy(ACTION_PRIORS, 0.02, ACTIONS)
    assert set(policy) == set(ACTIONS)
    assert all(value == pytest.approx(0.25) for value in policy.values())


# ------------------------------------------------------------------ confidence


@pytest.mark.parametrize(
    ("count", "level"),
    [(0, "archetype"), (9, "archetype"), (10, "blended"), (49, "blended"), (50, "data"), (1000, "data")],
)
def test_confidence_is_archetype_below_ten_blended_below_fifty_then_data(count, level):
    assert confidence(count, SETTINGS) == level


# --------------------------------------------------------------------- metrics


def test_a_recalculation_records_a_metrics_snapshot():
    batch = [fb(1.0), fb(-1.0), fb(0.3)]
    result = recalculate(state(feedback_count=25, sentiment=-0.12), batch, RATES, SETTINGS)
    mean = 0.3 / 3
    assert result.metrics == pytest.approx(
        {
            "feedbackCount": 25,
            "batchSize": 3,
            "avgReward": mean,
            "sentiment": -0.12,
            "rewardVariance": sum((r - mean) ** 2 for r in (1.0, -1.0, 0.3)) / 3,
            "blendWeight": 0.5,
        }
    )


def test_the_reward_variance_of_a_single_feedback_batch_is_zero():
    result = recalculate(state(), [fb(-0.3)], RATES, SETTINGS)
    assert result.metrics["rewardVariance"] == 0.0
    assert result.metrics["avgReward"] == -0.3


# ---------------------------------------------------- the recalculated event


def test_a_recalculation_bumps_the_version_and_records_when_and_up_to_which_feedback():
    agent = registered_agent()
    agent.record_feedback(feedback(at(minutes=1)), SETTINGS)
    agent.record_feedback(feedback(at(minutes=3)), SETTINGS)
    new_events(agent)
    agent.tick(at(minutes=8), SETTINGS)
    [recalculated] = new_events(agent)
    assert recalculated.policy_version == 1
    assert recalculated.occurred_at == at(minutes=8)
    assert recalculated.last_batch_feedback_at == at(minutes=3)
    assert agent.policy_version == 1
    assert agent.last_update_at == at(minutes=8)
    assert agent.last_batch_feedback_at == at(minutes=3)
    assert agent.pending == []


def test_the_recalculated_event_carries_the_whole_result():
    agent = registered_agent()
    agent.record_feedback(feedback(at(minutes=1), "thumbs_down", traits={"humor": 1.0}, action="escalate"), SETTINGS)
    [_, recalculated] = new_events(agent)
    assert recalculated.trigger == "strong_signal"
    assert recalculated.learned == agent.learned
    assert recalculated.effective == agent.effective
    assert recalculated.preferences == agent.preferences
    assert recalculated.policy == agent.policy
    assert recalculated.epsilon == agent.epsilon
    assert recalculated.confidence == "archetype"
    assert set(recalculated.metrics) == {
        "feedbackCount",
        "batchSize",
        "avgReward",
        "sentiment",
        "rewardVariance",
        "blendWeight",
    }
    assert recalculated.rates == {"traitRates": dict.fromkeys(PRIORS, 0.07), "actionRate": 0.05, "epsilon": 0.02}


# ------------------------------------------------------------ worked example


@pytest.fixture
def worked_example() -> tuple[Agent, list]:
    """Section 8: five thumbs_up at 10:00..10:04, traits {empathy: 1}, action answer."""
    agent = registered_agent(when=at(minutes=-1))
    for minute in range(5):
        agent.record_feedback(feedback(at(minutes=minute), traits={"empathy": 1}, action="answer"), SETTINGS)
    return agent, new_events(agent)


def test_worked_example_the_fifth_feedback_triggers_version_1(worked_example):
    agent, events = worked_example
    [recalculated] = recalculations(events)
    assert events[-1] is recalculated and len(events) == 6
    assert recalculated.trigger == "feedback_count"
    assert recalculated.policy_version == 1 == agent.policy_version


def test_worked_example_learned_empathy_is_0_57_and_the_rest_stay_at_the_prior(worked_example):
    agent, _ = worked_example
    assert round(agent.learned["empathy"], 6) == 0.57
    assert {t: round(v, 6) for t, v in agent.learned.items() if t != "empathy"} == {
        t: v for t, v in PRIORS.items() if t != "empathy"
    }


def test_worked_example_effective_empathy_is_0_507_with_blend_weight_0_1(worked_example):
    agent, events = worked_example
    assert round(agent.effective["empathy"], 6) == 0.507
    assert events[-1].metrics["blendWeight"] == pytest.approx(0.1)


def test_worked_example_preferences_answer_is_0_55(worked_example):
    agent, _ = worked_example
    assert round(agent.preferences["answer"], 6) == 0.55
    assert agent.preferences["escalate"] == 0.5


def test_worked_example_policy_answer_is_0_267927(worked_example):
    agent, _ = worked_example
    assert round(agent.policy["answer"], 6) == 0.267927
    assert round(agent.policy["escalate"], 6) == round(0.98 * 0.5 / 2.05 + 0.005, 6)
    assert sum(agent.policy.values()) == pytest.approx(1.0, abs=1e-12)


def test_worked_example_epsilon_stays_0_02_and_confidence_is_archetype(worked_example):
    agent, events = worked_example
    assert agent.epsilon == 0.02
    assert agent.last_batch_variance == 0.0
    assert agent.confidence == "archetype" == events[-1].confidence
