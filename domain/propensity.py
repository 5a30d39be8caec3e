"""Propensities: which policy acted on a feedback's action, and with what probability it chose it.

Off-policy evaluation weighs each logged reward by the probability its action was chosen with, so each
`FeedbackRecorded` keeps one. The agent runtime may send it (`policyVersion`, `actionProbability`:
`logged`); otherwise it is derived from the policy in force at the feedback's `occurredAt`: the
newest published policy at or before that time (`derived`). A feedback older than every policy the
agent still keeps takes the oldest one it keeps; the agent keeps its last `POLICY_LOG_LIMIT`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

LOGGED, DERIVED = "logged", "derived"
POLICY_LOG_LIMIT = 64  # published policies an agent keeps to derive propensities of late feedback


class InvalidPropensity(ValueError):
    """A logged propensity that cannot be: a version never published, a probability outside (0, 1]."""


def check_logged(
    agent_id: str, latest_version: int, policy_version: int | None, action_probability: float | None
) -> None:
    if policy_version is not None and not 0 <= policy_version <= latest_version:
        raise InvalidPropensity(
            f"policyVersion {policy_version} was never published for agent {agent_id!r}: its policies are "
            f"versions 0 to {latest_version}"
        )
    if action_probability is not None and not (math.isfinite(action_probability) and 0 < action_probability <= 1):
        raise InvalidPropensity(f"actionProbability {action_probability!r} is outside (0, 1]")


def policy_in_force(log: Sequence[Sequence[Any]], at: datetime) -> Sequence[Any]:
    """The entry [version, published at, policy] in force at `at`: the newest published at or before it."""
    for entry in reversed(log):
        if entry[1] <= at:
            return entry
    return log[0]


def policy_of_version(log: Sequence[Sequence[Any]], version: int) -> Mapping[str, float] | None:
    for entry in reversed(log):
        if entry[0] == version:
            return entry[2]
    return None


def propensity(
    log: Sequence[Sequence[Any]],
    at: datetime,
    action: str | None,
    policy_version: int | None,
    action_probability: float | None,
) -> tuple[int | None, float | None, str]:
    """(policy version, probability of `action`, source) for a feedback at `at`."""
    if action_probability is not None:
        version = policy_version if policy_version is not None else policy_in_force(log, at)[0]
        return version, action_probability, LOGGED
    if policy_version is not None:
        policy = policy_of_version(log, policy_version)
    else:
        policy_version, _, policy = policy_in_force(log, at)
    probability = policy.get(action) if policy is not None and action is not None else None
    return policy_version, probability, DERIVED
