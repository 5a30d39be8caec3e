"""The recalculation (section 6 of the learning rules) as plain functions over plain values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from math import fsum
from statistics import fmean

from attrs import frozen

from domain.exploration import SOFTMAX, THOMPSON, softmax_policy, starting_posterior, thompson_policy, updated_posterior
from domain.learning_config import EffectiveRates
from domain.learning_options import CONSTANT, DEFAULT_OPTIONS, LearningOptions, weighted_step
from domain.settings import LearningSettings

ARCHETYPE, BLENDED, DATA = "archetype", "blended", "data"


@frozen
class PendingFeedback:
    reward: float
    traits: Mapping[str, float]
    action: str | None
    occurred_at: datetime
    baseline: float = 0.0  # the agent's sentiment just before this feedback was recorded


@frozen
class LearningState:
    """What a recalculation reads of an agent."""

    priors: Mapping[str, float]
    learned: Mapping[str, float]
    preferences: Mapping[str, float]
    epsilon: float
    feedback_count: int
    sentiment: float
    last_batch_feedback_at: datetime | None
    last_batch_variance: float | None
    action_priors: Mapping[str, float] | None = None  # the archetype's: where a Thompson posterior starts
    posterior: Mapping[str, Sequence[float]] | None = None  # the last Thompson posterior kept, if any


@frozen
class Recalculation:
    learned: dict[str, float]
    effective: dict[str, float]
    preferences: dict[str, float]
    policy: dict[str, float]
    epsilon: float
    last_batch_variance: float | None
    last_batch_feedback_at: datetime
    confidence: str
    metrics: dict[str, float]
    exploration: dict | None = None  # what a strategy other than epsilon-greedy keeps (domain/exploration.py)


def population_variance(values: Sequence[float]) -> float:
    """Population variance in floats (statistics.pvariance computes exactly, with fractions: slow)."""
    mean = fsum(values) / len(values)
    return fsum((v - mean) ** 2 for v in values) / len(values)


def decay_applies(state: LearningState, batch: Sequence[PendingFeedback], settings: LearningSettings) -> bool:
    if state.feedback_count < settings.decay_below_feedback:
        return True
    if state.last_batch_feedback_at is None:
        return False
    oldest = min(f.occurred_at for f in batch)
    return oldest - state.last_batch_feedback_at >= settings.decay_after_gap


def decay_toward_priors(learned: Mapping[str, float], priors: Mapping[str, float], rate: float) -> dict[str, float]:
    return {t: value + rate * (priors[t] - value) for t, value in learned.items()}


def update_traits(
    learned: Mapping[str, float],
    batch: Sequence[PendingFeedback],
    rates: Mapping[str, float],
    settings: LearningSettings,
    options: LearningOptions = DEFAULT_OPTIONS,
) -> dict[str, float]:
    """Each named trait moves by its rate times the mean of reward × attribution (by default)."""
    products: dict[str, list[float]] = {}
    for feedback in batch:
        signal = options.signal(feedback.reward, feedback.baseline)
        for trait, attribution in feedback.traits.items():
            products.setdefault(trait, []).append(signal * attribution)
    updated = dict(learned)
    for trait, values in products.items():
        step = weighted_step(values, options.trait_weighting)
        updated[trait] = settings.traits[trait].clamp(learned[trait] + rates[trait] * step)
    return updated


def update_preferences(
    preferences: Mapping[str, float],
    batch: Sequence[PendingFeedback],
    action_rate: float,
    options: LearningOptions = DEFAULT_OPTIONS,
) -> dict[str, float]:
    signals: dict[str, list[float]] = {}
    for feedback in batch:
        if feedback.action is not None:
            signals.setdefault(feedback.action, []).append(options.signal(feedback.reward, feedback.baseline))
    updated = dict(preferences)
    for action, values in signals.items():
        step = weighted_step(values, options.action_weighting)
        updated[action] = min(1.0, max(0.0, preferences[action] + action_rate * step))
    return updated


def explore_less_as_variance_falls(
    epsilon: float, last_variance: float | None, rewards: Sequence[float], settings: LearningSettings
) -> tuple[float, float | None]:
    """ε shrinks only when this batch's reward variance is below the last counted batch's; it never rises."""
    if len(rewards) < 2:
        return epsilon, last_variance
    variance = population_variance(rewards)
    if last_variance is not None and variance < last_variance:
        epsilon = max(settings.epsilon_floor, epsilon * settings.epsilon_decay)
    return epsilon, variance


def blend_weight(feedback_count: int, settings: LearningSettings) -> float:
    return min(1.0, feedback_count / settings.full_confidence_feedback)


def blend(priors: Mapping[str, float], learned: Mapping[str, float], weight: float) -> dict[str, float]:
    return {t: priors[t] * (1 - weight) + learned[t] * weight for t in priors}


def published_policy(preferences: Mapping[str, float], epsilon: float, actions: Sequence[str]) -> dict[str, float]:
    total = sum(preferences[a] for a in actions)
    n = len(actions)
    if total == 0:
        return {a: 1 / n for a in actions}
    return {a: (1 - epsilon) * preferences[a] / total + epsilon / n for a in actions}


def confidence(feedback_count: int, settings: LearningSettings) -> str:
    if feedback_count < settings.decay_below_feedback:
        return ARCHETYPE
    if feedback_count < settings.full_confidence_feedback:
        return BLENDED
    return DATA


def recalculate(
    state: LearningState,
    batch: Sequence[PendingFeedback],
    rates: EffectiveRates,
    settings: LearningSettings,
) -> Recalculation:
    """One recalculation over the pending batch; `batch` must not be empty."""
    learned = dict(state.learned)
    if decay_applies(state, batch, settings):
        learned = decay_toward_priors(learned, state.priors, settings.decay_rate)
    options = rates.options
    trait_rates = rates.trait_rates
    if options.rate_schedule != CONSTANT:
        trait_rates = {t: options.trait_rate(rate, state.feedback_count) for t, rate in trait_rates.items()}
    learned = update_traits(learned, batch, trait_rates, settings, options)
    preferences = update_preferences(state.preferences, batch, rates.action_rate, options)
    rewards = [f.reward for f in batch]
    policy, epsilon, last_variance, exploration = explore(state, batch, rewards, preferences, options, settings)
    weight = blend_weight(state.feedback_count, settings)
    return Recalculation(
        learned=learned,
        effective=blend(state.priors, learned, weight),
        preferences=preferences,
        policy=policy,
        epsilon=epsilon,
        last_batch_variance=last_variance,
        last_batch_feedback_at=max(f.occurred_at for f in batch),
        confidence=confidence(state.feedback_count, settings),
        metrics={
            "feedbackCount": state.feedback_count,
            "batchSize": len(batch),
            "avgReward": fmean(rewards),
            "sentiment": state.sentiment,
            "rewardVariance": population_variance(rewards) if len(rewards) > 1 else 0.0,
            "blendWeight": weight,
        },
        exploration=exploration,
    )


def explore(
    state: LearningState,
    batch: Sequence[PendingFeedback],
    rewards: Sequence[float],
    preferences: Mapping[str, float],
    options: LearningOptions,
    settings: LearningSettings,
) -> tuple[dict[str, float], float, float | None, dict | None]:
    """The published policy under the agent's exploration strategy: (policy, ε, last variance, what it keeps)."""
    if options.exploration == SOFTMAX:
        policy = softmax_policy(preferences, options.temperature, settings.actions)
        return (
            policy,
            state.epsilon,
            state.last_batch_variance,
            {"strategy": SOFTMAX, "temperature": options.temperature},
        )
    if options.exploration == THOMPSON:
        start = starting_posterior(state.action_priors or {}, settings.actions)
        posterior = {**start, **{a: list(ab) for a, ab in (state.posterior or {}).items() if a in start}}
        posterior = updated_posterior(posterior, [(f.action, f.reward) for f in batch if f.action is not None])
        policy = thompson_policy(posterior, settings.actions)
        return policy, state.epsilon, state.last_batch_variance, {"strategy": THOMPSON, "posterior": posterior}
    epsilon, last_variance = explore_less_as_variance_falls(state.epsilon, state.last_batch_variance, rewards, settings)
    return published_policy(preferences, epsilon, settings.actions), epsilon, last_variance, None
