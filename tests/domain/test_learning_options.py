"""The learning options, each against its worked example in docs/learning-options.md."""

from __future__ import annotations

import math

import pytest
import scipy.integrate
import scipy.stats

from domain.agent import Agent, replay
from domain.commands import RegisterAgent
from domain.exploration import SOFTMAX, THOMPSON
from domain.learning_config import (
    InvalidLearningConfig,
    LearningConfig,
    effective_rates,
    explain_rates,
    validate_command_config,
)
from domain.learning_options import (
    ANNEAL,
    PER_FEEDBACK,
    SENTIMENT,
    InvalidLearningOption,
    LearningOptions,
)
from domain.recalculation import LearningState, PendingFeedback, recalculate
from domain.rules import InvalidRules, document_from_settings, settings_from_document
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
from tests.domain.test_recalculation import state


def worked_example(config: LearningConfig) -> Agent.PolicyRecalculated:
    """LEARNING_RULES.md section 8: five thumbs_up at 10:00..10:04, traits {empathy: 1}, action answer."""
    agent = registered_agent(config=config)
    new_events(agent)
    record_batch(agent, at(), STEADY_BATCH, traits={"empathy": 1}, action="answer")
    [recalculation] = recalculations(new_events(agent))
    return recalculation


def test_reward_baseline_sentiment_learns_from_the_advantage_over_the_sentiment_before_each_feedback():
    event = worked_example(LearningConfig(options={"rewardBaseline": SENTIMENT}))
    # sentiments before each thumbs_up: 0, 0.1, 0.19, 0.271, 0.3439; advantages 1, 0.9, 0.81, 0.729, 0.6561
    advantage = (1 + 0.9 + 0.81 + 0.729 + 0.6561) / 5
    assert advantage == pytest.approx(0.81902)
    assert event.learned["empathy"] == pytest.approx(0.5 + 0.07 * 0.81902)  # 0.5573314
    assert event.effective["empathy"] == pytest.approx(0.5 * 0.9 + 0.5573314 * 0.1)  # 0.50573314
    assert event.preferences["answer"] == pytest.approx(0.5 + 0.05 * 0.81902)  # 0.540951
    assert event.policy["answer"] == pytest.approx(0.98 * 0.540951 / 2.040951 + 0.005)
    # ε and the metrics see the rewards themselves
    assert event.epsilon == 0.02 and event.metrics["avgReward"] == 1.0
    assert event.rates["options"]["rewardBaseline"] == SENTIMENT


def test_per_feedback_weighting_moves_a_lone_strong_signal_one_fifth_as_far_as_the_mean_does():
    def lone_thumbs_down(config: LearningConfig) -> Agent.PolicyRecalculated:
        agent = registered_agent(config=config)
        new_events(agent)
        agent.record_feedback(feedback(at(), "thumbs_down", traits={"humor": 1}, action="answer"), SETTINGS)
        [recalculation] = recalculations(new_events(agent))
        return recalculation

    mean = lone_thumbs_down(LearningConfig())
    per_feedback = lone_thumbs_down(
        LearningConfig(options={"traitWeighting": PER_FEEDBACK, "actionWeighting": PER_FEEDBACK})
    )
    assert mean.learned["humor"] == pytest.approx(0.5 - 0.07)  # 0.43
    assert per_feedback.learned["humor"] == pytest.approx(0.5 - 0.07 / 5)  # 0.486
    assert mean.preferences["answer"] == pytest.approx(0.5 - 0.05)  # 0.45
    assert per_feedback.preferences["answer"] == pytest.approx(0.5 - 0.05 / 5)  # 0.49


def test_per_feedback_weighting_of_a_full_batch_is_its_mean():
    default = worked_example(LearningConfig())
    weighted = worked_example(LearningConfig(options={"traitWeighting": PER_FEEDBACK, "actionWeighting": PER_FEEDBACK}))
    assert weighted.learned == default.learned and weighted.preferences == default.preferences


def test_trait_and_action_weighting_are_separate():
    only_traits = worked_example(LearningConfig(options={"traitWeighting": PER_FEEDBACK}))
    agent = registered_agent(config=LearningConfig(options={"traitWeighting": PER_FEEDBACK}))
    new_events(agent)
    agent.record_feedback(feedback(at(), "thumbs_down", traits={"humor": 1}, action="answer"), SETTINGS)
    [event] = recalculations(new_events(agent))
    assert event.learned["humor"] == pytest.approx(0.486)
    assert event.preferences["answer"] == pytest.approx(0.45)  # the action still takes the batch's mean
    assert only_traits.rates["options"]["actionWeighting"] == "batch-mean"


def _state(feedback_count: int) -> LearningState:
    return state(feedback_count=feedback_count, last_batch_feedback_at=at())


@pytest.mark.parametrize(
    ("profile", "feedback_count", "rate"),
    [
        ("balanced", 200, 0.07),  # not lowered up to 200 feedbacks
        ("balanced", 800, 0.035),  # 0.07 × √(200/800)
        ("fast", 450, 0.11 * 2 / 3),  # 0.11 × √(200/450) ≈ 0.07333
        ("conservative", 1800, 0.02),  # 0.04 × 1/3 ≈ 0.0133, floored at 0.02
    ],
)
def test_annealing_lowers_the_trait_rate_by_the_square_root_of_200_over_the_feedback_count(
    profile, feedback_count, rate
):
    config = LearningConfig(profile=profile, options={"rateSchedule": ANNEAL})
    rates = effective_rates(config, SETTINGS)
    batch = [PendingFeedback(1.0, {"empathy": 1.0}, "answer", at(days=1))]
    result = recalculate(_state(feedback_count), batch, rates, SETTINGS)
    assert result.learned["empathy"] == pytest.approx(0.5 + rate)
    # actions keep their rate
    assert result.preferences["answer"] == pytest.approx(0.5 + rates.action_rate)


def test_annealing_never_raises_a_rate_that_starts_below_its_floor():
    assert LearningOptions(rate_schedule=ANNEAL).trait_rate(0.015, 10_000) == 0.015
    assert LearningOptions(rate_schedule=ANNEAL).trait_rate(0.03, 10_000) == 0.02


def test_with_every_option_at_its_default_nothing_recorded_changes():
    default = worked_example(LearningConfig())
    spelled_out = worked_example(
        LearningConfig(
            options={
                "rewardBaseline": "none",
                "traitWeighting": "batch-mean",
                "actionWeighting": "batch-mean",
                "rateSchedule": "constant",
            }
        )
    )
    assert "options" not in default.rates
    assert (default.learned, default.effective, default.policy, default.rates) == (
        spelled_out.learned,
        spelled_out.effective,
        spelled_out.policy,
        spelled_out.rates,
    )
    assert LearningConfig().to_dict() == {
        "profile": None,
        "traitRate": None,
        "traitRates": {},
        "actionRate": None,
        "epsilon": None,
    }


def test_a_replayed_agent_with_options_derives_each_recorded_recalculation_exactly():
    config = LearningConfig(
        profile="fast",
        options={
            "rewardBaseline": SENTIMENT,
            "traitWeighting": PER_FEEDBACK,
            "actionWeighting": PER_FEEDBACK,
            "rateSchedule": ANNEAL,
        },
    )
    agent = Agent.register(RegisterAgent("reg-1", "a-1", at(), config=config), SETTINGS)
    events = list(agent.collect_events())
    kinds = ["thumbs_up", "thumbs_down", "message_copied", "conversation_abandoned", "draft_approved"]
    for i in range(300):
        kind = kinds[(i * 7) % len(kinds)]
        traits = {"humor": math.sin(i), "empathy": math.cos(i)}
        agent.record_feedback(feedback(at(minutes=i), kind, traits=traits, action="answer"), SETTINGS)
    events += list(agent.collect_events())
    recalculated = [e for e in events if isinstance(e, Agent.PolicyRecalculated)]
    assert len(recalculated) > 60
    for index, event in enumerate(events):
        if isinstance(event, Agent.PolicyRecalculated):
            before = replay(events[:index])
            derived = before.derive_recalculation(SETTINGS)
            assert (derived.learned, derived.preferences, derived.policy, derived.epsilon) == (
                event.learned,
                event.preferences,
                event.policy,
                event.epsilon,
            )


def test_an_unknown_choice_is_rejected_with_the_choices():
    with pytest.raises(InvalidLearningConfig, match="rewardBaseline must be one of: none, sentiment; got 'mean'"):
        validate_command_config(LearningConfig(options={"rewardBaseline": "mean"}), SETTINGS)
    with pytest.raises(InvalidLearningConfig, match="unknown learning option 'baseline'"):
        validate_command_config(LearningConfig(options={"baseline": "sentiment"}), SETTINGS)
    with pytest.raises(InvalidLearningOption, match="rateSchedule must be one of: constant, anneal"):
        LearningOptions.from_dict({"rateSchedule": 3})


def test_the_rules_document_sets_the_options_of_agents_that_set_none_and_an_agent_overrides_them():
    document = document_from_settings(SETTINGS)
    assert "options" not in document  # version 0's document is what it always was
    document["options"] = {"reward_baseline": "sentiment", "trait_weighting": "per-feedback"}
    settings = settings_from_document(document, SETTINGS, 1)
    assert settings.options == LearningOptions(reward_baseline=SENTIMENT, trait_weighting=PER_FEEDBACK)
    assert document_from_settings(settings)["options"]["reward_baseline"] == "sentiment"
    rates = effective_rates(LearningConfig(options={"rewardBaseline": "none"}), settings)
    assert rates.options == LearningOptions(trait_weighting=PER_FEEDBACK)
    sources = explain_rates(LearningConfig(options={"rewardBaseline": "none"}), settings).sources["options"]
    assert sources == {
        "rewardBaseline": "override",
        "traitWeighting": "global",
        "actionWeighting": "default",
        "rateSchedule": "default",
        "exploration": "default",
        "temperature": "default",
    }


def test_a_rules_document_with_a_bad_option_names_the_key_and_the_choices():
    document = document_from_settings(SETTINGS)
    document["options"] = {"reward_baseline": "median", "schedule": "anneal"}
    with pytest.raises(InvalidRules) as raised:
        settings_from_document(document, SETTINGS, 1)
    shown = [str(p) for p in raised.value.problems]
    assert "options.reward_baseline: must be one of: none, sentiment; got 'median'" in shown
    assert any(p.startswith("options.schedule: unknown key") for p in shown)


# ---------------------------------------------------------------- exploration strategies


def test_softmax_publishes_exp_of_preferences_over_the_temperature_and_leaves_epsilon_alone():
    event = worked_example(LearningConfig(options={"exploration": SOFTMAX}))
    # preferences: answer 0.55, the others 0.5; T = 0.1: exp(5.5) : exp(5) each
    norm = math.exp(0.5) + 3
    assert event.policy["answer"] == pytest.approx(math.exp(0.5) / norm)  # 0.354661
    assert event.policy["escalate"] == pytest.approx(1 / norm)  # 0.215112
    assert sum(event.policy.values()) == pytest.approx(1)
    assert event.exploration == {"strategy": SOFTMAX, "temperature": 0.1}
    hotter = worked_example(LearningConfig(options={"exploration": SOFTMAX}, temperature=1.0))
    assert hotter.policy["answer"] == pytest.approx(math.exp(0.05) / (math.exp(0.05) + 3))


def test_epsilon_falls_under_epsilon_greedy_only():
    def second_batch_epsilon(config: LearningConfig) -> float:
        agent = registered_agent(config=config)
        record_batch(agent, at(minutes=1), MIXED_BATCH)
        record_batch(agent, at(minutes=10), STEADY_BATCH)  # steadier: ε falls under epsilon-greedy
        return agent.epsilon

    assert second_batch_epsilon(LearningConfig()) == pytest.approx(0.018)
    assert second_batch_epsilon(LearningConfig(options={"exploration": SOFTMAX})) == 0.02
    assert second_batch_epsilon(LearningConfig(options={"exploration": THOMPSON})) == 0.02


def test_thompson_publishes_the_chance_each_action_is_best_under_its_beta_posterior():
    event = worked_example(LearningConfig(options={"exploration": THOMPSON}))
    # priors 0.5 are worth two feedbacks: Beta(2, 2) each; five thumbs_up (y = 1) on answer: Beta(7, 2)
    posterior = event.exploration["posterior"]
    assert posterior["answer"] == [7.0, 2.0] and posterior["escalate"] == [2.0, 2.0]

    def best(alpha, beta, others):  # the same integral, by scipy's adaptive quadrature
        density = scipy.stats.beta(alpha, beta).pdf
        cdfs = [scipy.stats.beta(a, b).cdf for a, b in others]
        return scipy.integrate.quad(lambda x: density(x) * math.prod(c(x) for c in cdfs), 0, 1)[0]

    answer = best(7, 2, [(2, 2)] * 3)
    other = best(2, 2, [(7, 2), (2, 2), (2, 2)])
    assert answer + 3 * other == pytest.approx(1, abs=1e-6)
    assert event.policy["answer"] == pytest.approx(answer, abs=1e-4)  # ≈ 0.6606
    assert event.policy["escalate"] == pytest.approx(other, abs=1e-4)
    assert event.epsilon == 0.02


def test_thompson_posteriors_grow_with_each_batch_and_the_policy_is_the_same_bytes_on_replay():
    config = LearningConfig(options={"exploration": THOMPSON})
    agent = Agent.register(RegisterAgent("reg-1", "a-1", at(), config=config), SETTINGS)
    events = list(agent.collect_events())
    for i in range(40):
        kind = "thumbs_up" if i % 3 else "thumbs_down"
        action = ("answer", "escalate")[i % 2]
        agent.record_feedback(feedback(at(minutes=i), kind, action=action), SETTINGS)
    events += list(agent.collect_events())
    recalculated = [e for e in events if isinstance(e, Agent.PolicyRecalculated)]
    last = recalculated[-1].exploration["posterior"]
    answers = sum(1 for i in range(40) if i % 2 == 0)
    assert last["answer"][0] + last["answer"][1] == pytest.approx(4 + answers)  # prior 2 + 2, one per feedback
    for index, event in enumerate(events):
        if isinstance(event, Agent.PolicyRecalculated):
            derived = replay(events[:index]).derive_recalculation(SETTINGS)
            assert (derived.policy, derived.exploration) == (event.policy, event.exploration)
