"""Off-policy estimators of a target policy's value from logged (action, propensity, reward) samples.

Each sample i was chosen by the logging policy with probability p_i, and earned reward r_i; the
target policy gives π_i(a) (it may change between samples: a replayed configuration). With
w_i = π_i(a_i) / p_i:

- IPS: mean(w_i r_i); its 95% interval from the terms' sample variance (normal);
- SNIPS: Σ w_i r_i / Σ w_i; interval by the delta method, terms w_i (r_i − V) / mean(w);
- clipped IPS: IPS with each w_i capped at `clip` (biased low when the cap bites, lower variance);
- DM: Σ_a π_i(a) r̂(a), averaged over i, r̂(a) the mean logged reward of action a (the mean of all
  rewards for an action never logged); interval from the variance of the r̂(a);
- DR: mean(Σ_a π_i(a) r̂(a) + w_i (r_i − r̂(a_i))); interval from the terms' variance.

The effective sample size of the weights is (Σ w)² / Σ w². Pure functions: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from attrs import frozen

Z95 = 1.959963984540054
CLIP = 10.0
ESTIMATORS = ("ips", "snips", "clipped_ips", "dm", "dr")


@frozen
class Sample:
    action: str
    propensity: float  # the probability the logging policy chose `action` with
    reward: float


@frozen
class Estimate:
    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def _interval(terms: Sequence[float], centre: float | None = None) -> Estimate:
    n = len(terms)
    mean = math.fsum(terms) / n
    variance = math.fsum((t - mean) ** 2 for t in terms) / (n - 1) if n > 1 else 0.0
    half = Z95 * math.sqrt(variance / n)
    value = mean if centre is None else centre
    return Estimate(value, value - half, value + half)


def reward_model(samples: Sequence[Sample], actions: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """r̂(a), the mean logged reward per action, and the variance of each mean."""
    overall = math.fsum(s.reward for s in samples) / len(samples)
    by_action: dict[str, list[float]] = {a: [] for a in actions}
    for s in samples:
        by_action.setdefault(s.action, []).append(s.reward)
    means, variances = {}, {}
    for action, rewards in by_action.items():
        if not rewards:
            means[action], variances[action] = overall, 1.0  # nothing logged: the widest a reward in [−1, 1] allows
            continue
        mean = math.fsum(rewards) / len(rewards)
        spread = math.fsum((r - mean) ** 2 for r in rewards) / (len(rewards) - 1) if len(rewards) > 1 else 1.0
        means[action], variances[action] = mean, spread / len(rewards)
    return means, variances


def estimate(
    samples: Sequence[Sample],
    targets: Sequence[Mapping[str, float]],
    actions: Sequence[str],
    clip: float = CLIP,
) -> tuple[dict[str, Estimate], float]:
    """Every estimator's value with its 95% interval, and the effective sample size; `targets[i]` is the
    target policy at sample i. Needs at least one sample."""
    if not samples or len(samples) != len(targets):
        raise ValueError("need one target policy per sample, and at least one sample")
    weights = [t.get(s.action, 0.0) / s.propensity for s, t in zip(samples, targets, strict=True)]
    rewards = [s.reward for s in samples]
    n = len(samples)
    ips_terms = [w * r for w, r in zip(weights, rewards, strict=True)]
    total_weight = math.fsum(weights)
    results: dict[str, Estimate] = {}
    if total_weight > 0:
        results["ips"] = _interval(ips_terms)
        snips = math.fsum(ips_terms) / total_weight
        mean_weight = total_weight / n
        results["snips"] = _interval(
            [w * (r - snips) / mean_weight for w, r in zip(weights, rewards, strict=True)], centre=snips
        )
        results["clipped_ips"] = _interval([min(w, clip) * r for w, r in zip(weights, rewards, strict=True)])
    else:  # the target never takes an action that was logged: the weights know nothing, say so
        unknown = Estimate(0.0, -1.0, 1.0)
        results.update(ips=unknown, snips=unknown, clipped_ips=unknown)
    means, variances = reward_model(samples, actions)
    direct = [math.fsum(p * means.get(a, 0.0) for a, p in t.items()) for t in targets]
    dm = math.fsum(direct) / n
    average_target = {a: math.fsum(t.get(a, 0.0) for t in targets) / n for a in means}
    dm_half = Z95 * math.sqrt(math.fsum(average_target[a] ** 2 * variances[a] for a in means))
    results["dm"] = Estimate(dm, dm - dm_half, dm + dm_half)
    results["dr"] = _interval(
        [d + w * (s.reward - means.get(s.action, 0.0)) for d, w, s in zip(direct, weights, samples, strict=True)]
    )
    squares = math.fsum(w * w for w in weights)
    ess = total_weight**2 / squares if squares > 0 else 0.0
    return results, ess
