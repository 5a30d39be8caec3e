"""The off-policy estimators on simulated logs with a known truth, and against vw-estimators."""

from __future__ import annotations

import random
import statistics

import pytest
from estimators.bandits import gaussian as vw_gaussian
from estimators.bandits import ips as vw_ips
from estimators.bandits import snips as vw_snips

from jobs.evaluation.estimators import ESTIMATORS, Sample, estimate

ACTIONS = ("answer", "ask", "draft", "escalate")
LOGGING = {"answer": 0.4, "ask": 0.3, "draft": 0.2, "escalate": 0.1}
TARGET = {"answer": 0.1, "ask": 0.2, "draft": 0.3, "escalate": 0.4}
LIKED = {"answer": 0.3, "ask": 0.5, "draft": 0.6, "escalate": 0.8}  # P(reward +1); otherwise −1
TRUTH = sum(TARGET[a] * (2 * LIKED[a] - 1) for a in ACTIONS)  # 0.26


def simulated_log(seed: int, n: int = 1000) -> list[Sample]:
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        action = rng.choices(ACTIONS, weights=[LOGGING[a] for a in ACTIONS])[0]
        reward = 1.0 if rng.random() < LIKED[action] else -1.0
        samples.append(Sample(action, LOGGING[action], reward))
    return samples


def test_every_estimator_is_unbiased_and_its_interval_covers_the_truth_in_at_least_90_percent_of_200_logs():
    values = {name: [] for name in ESTIMATORS}
    covered = dict.fromkeys(ESTIMATORS, 0)
    for seed in range(200):
        samples = simulated_log(seed)
        results, _ = estimate(samples, [TARGET] * len(samples), ACTIONS)
        for name, result in results.items():
            values[name].append(result.value)
            covered[name] += result.low <= TRUTH <= result.high
    assert TRUTH == pytest.approx(0.26)
    for name in ESTIMATORS:
        assert statistics.fmean(values[name]) == pytest.approx(TRUTH, abs=0.02), name
        assert covered[name] / 200 >= 0.90, (name, covered[name])


def test_ips_and_snips_and_the_ips_interval_agree_with_vw_estimators():
    samples = simulated_log(7, n=500)
    results, _ = estimate(samples, [TARGET] * len(samples), ACTIONS)
    ips, snips, interval = vw_ips.Estimator(), vw_snips.Estimator(), vw_gaussian.Interval()
    for s in samples:
        for estimator in (ips, snips, interval):
            estimator.add_example(s.propensity, s.reward, TARGET[s.action])
    assert results["ips"].value == pytest.approx(ips.get(), abs=1e-12)
    assert results["snips"].value == pytest.approx(snips.get(), abs=1e-12)
    low, high = interval.get(alpha=0.05)
    assert (results["ips"].low, results["ips"].high) == pytest.approx((low, high), abs=1e-9)


def test_on_policy_every_weight_is_one_and_the_effective_sample_size_is_the_sample_count():
    samples = simulated_log(3, n=300)
    results, ess = estimate(samples, [LOGGING] * len(samples), ACTIONS)
    mean_reward = statistics.fmean(s.reward for s in samples)
    assert ess == pytest.approx(300)
    assert results["ips"].value == pytest.approx(mean_reward)
    assert results["snips"].value == pytest.approx(mean_reward)


def test_clipping_caps_each_weight():
    samples = [Sample("escalate", 0.01, 1.0), Sample("answer", 0.5, 0.0)]
    results, ess = estimate(samples, [TARGET] * 2, ACTIONS, clip=10)
    assert results["ips"].value == pytest.approx((40 * 1.0 + 0.2 * 0.0) / 2)
    assert results["clipped_ips"].value == pytest.approx((10 * 1.0) / 2)
    assert ess == pytest.approx((40.2**2) / (40**2 + 0.2**2))


def test_a_target_that_changes_between_samples_is_weighed_sample_by_sample():
    samples = [Sample("answer", 0.5, 1.0), Sample("answer", 0.5, 1.0)]
    targets = [{"answer": 1.0}, {"answer": 0.0, "ask": 1.0}]
    results, _ = estimate(samples, targets, ACTIONS)
    assert results["ips"].value == pytest.approx(1.0)  # (2 × 1 + 0) / 2


def test_estimate_needs_a_target_per_sample():
    with pytest.raises(ValueError, match="one target policy per sample"):
        estimate([Sample("answer", 0.5, 1.0)], [], ACTIONS)
