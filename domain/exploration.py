"""Exploration strategies: how preferences (or posteriors) become the published action policy.

The published `actionPolicy` is always a distribution the agent runtime samples from, and the same
history always gives the same bytes: nothing here draws a random number.

- `epsilon-greedy` (the default, LEARNING_RULES.md section 6 steps 4 and 6): preferences in
  proportion, mixed with ε of uniform; ε falls as reward variance falls.
- `softmax`: `policy[a] = exp(preferences[a] / T) / Σ_b exp(preferences[b] / T)`, T the temperature.
- `thompson`: a Beta(α, β) posterior per action, each feedback with reward r adding y = (r + 1) / 2
  to α and 1 − y to β of its action; the policy is the probability that each action's value is the
  highest under the posteriors (what Thompson sampling would choose, as a distribution), computed
  by numerical integration on a grid. The posteriors start at α = 1 + 2p, β = 1 + 2(1 − p), p the
  archetype's action prior (worth two feedbacks).

ε and its rules apply to epsilon-greedy alone; the others leave ε as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import accumulate

EPSILON_GREEDY, SOFTMAX, THOMPSON = "epsilon-greedy", "softmax", "thompson"
STRATEGIES = (EPSILON_GREEDY, SOFTMAX, THOMPSON)
PRIOR_WEIGHT = 2.0  # feedbacks the archetype's action prior is worth in a Thompson posterior
GRID = 240  # points of the integration grid
SPAN = 8.0  # the grid covers every posterior's mean ± this many standard deviations


def softmax_policy(preferences: Mapping[str, float], temperature: float, actions: Sequence[str]) -> dict[str, float]:
    top = max(preferences[a] for a in actions)
    weights = [math.exp((preferences[a] - top) / temperature) for a in actions]
    total = math.fsum(weights)
    return {a: w / total for a, w in zip(actions, weights, strict=True)}


def starting_posterior(action_priors: Mapping[str, float], actions: Sequence[str]) -> dict[str, list[float]]:
    """action → [α, β] before any feedback."""
    return {
        a: [1 + PRIOR_WEIGHT * action_priors.get(a, 0.5), 1 + PRIOR_WEIGHT * (1 - action_priors.get(a, 0.5))]
        for a in actions
    }


def updated_posterior(
    posterior: Mapping[str, Sequence[float]], rewards_by_action: Sequence[tuple[str, float]]
) -> dict[str, list[float]]:
    updated = {a: [float(ab[0]), float(ab[1])] for a, ab in posterior.items()}
    for action, reward in rewards_by_action:
        y = (reward + 1) / 2
        updated[action][0] += y
        updated[action][1] += 1 - y
    return updated


def thompson_policy(posterior: Mapping[str, Sequence[float]], actions: Sequence[str]) -> dict[str, float]:
    """P(action a has the highest value) = ∫ pdf_a(x) Π_{b≠a} cdf_b(x) dx, on a midpoint grid spanning
    every posterior's bulk. Deterministic: the same posteriors give the same floats."""
    params = [(float(posterior[a][0]), float(posterior[a][1])) for a in actions]
    low, high = 1.0, 0.0
    for alpha, beta in params:
        mean = alpha / (alpha + beta)
        sd = math.sqrt(alpha * beta / ((alpha + beta) ** 2 * (alpha + beta + 1)))
        low, high = min(low, mean - SPAN * sd), max(high, mean + SPAN * sd)
    low, high = max(0.0, low), min(1.0, high)
    step = (high - low) / GRID
    xs = [low + (i + 0.5) * step for i in range(GRID)]
    log_x = [math.log(x) for x in xs]
    log_1x = [math.log1p(-x) for x in xs]
    densities = []
    for alpha, beta in params:
        log_norm = math.lgamma(alpha + beta) - math.lgamma(alpha) - math.lgamma(beta)
        densities.append(
            [math.exp(log_norm + (alpha - 1) * lx + (beta - 1) * l1x) * step for lx, l1x in zip(log_x, log_1x)]
        )
    # cdf at each midpoint: the mass of the cells before it and half of its own
    cdfs = [[c - d / 2 for c, d in zip(accumulate(mass), mass, strict=True)] for mass in densities]
    chances = []
    for index, mass in enumerate(densities):
        others = [cdf for j, cdf in enumerate(cdfs) if j != index]
        total = 0.0
        for i, m in enumerate(mass):
            product = m
            for cdf in others:
                product *= cdf[i]
            total += product
        chances.append(total)
    norm = math.fsum(chances)
    if norm <= 0:
        return {a: 1 / len(actions) for a in actions}
    return {a: c / norm for a, c in zip(actions, chances, strict=True)}
