"""Learning options: how a recalculation turns rewards into steps (docs/learning-options.md).

All four are off by default, and with every one at its default a recalculation is exactly
the one of LEARNING_RULES.md, to the byte. An agent's `learningConfig` may set each one; the
rules document's `[options]` table sets the default for every agent that does not.

- `rewardBaseline`: `none` | `sentiment`: traits and actions learn from the advantage
  `r − b`, `b` the agent's sentiment just before that feedback was recorded.
- `traitWeighting`, `actionWeighting`: `batch-mean` | `per-feedback`: the step is the sum
  over the batch divided by `max(count, 5)` instead of the mean, so a lone strong signal moves
  a trait as far as one feedback of a full batch, not five times as far.
- `rateSchedule`: `constant` | `anneal`: each trait rate × min(1, √(200 / feedback_count)),
  never below 0.02 (nor above the rate itself).
- `exploration`: `epsilon-greedy` | `softmax` (with `temperature`) | `thompson`: how the
  published action policy is made (domain/exploration.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import fmean
from types import MappingProxyType
from typing import Any

from attrs import frozen

from domain.exploration import EPSILON_GREEDY, STRATEGIES

NONE, SENTIMENT = "none", "sentiment"
BATCH_MEAN, PER_FEEDBACK = "batch-mean", "per-feedback"
CONSTANT, ANNEAL = "constant", "anneal"

# Each option's key in `learningConfig`, its key in the rules document, and its choices (default first).
CHOICES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "rewardBaseline": (NONE, SENTIMENT),
        "traitWeighting": (BATCH_MEAN, PER_FEEDBACK),
        "actionWeighting": (BATCH_MEAN, PER_FEEDBACK),
        "rateSchedule": (CONSTANT, ANNEAL),
        "exploration": STRATEGIES,
    }
)
DOCUMENT_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "rewardBaseline": "reward_baseline",
        "traitWeighting": "trait_weighting",
        "actionWeighting": "action_weighting",
        "rateSchedule": "rate_schedule",
        "exploration": "exploration",
    }
)
TEMPERATURE = 0.1  # softmax's default temperature
TEMPERATURE_BOUNDS = (0.01, 1.0)  # …and the temperatures a configuration may choose

PER_FEEDBACK_MIN_COUNT = 5  # a batch counts as at least this many feedbacks under `per-feedback`
ANNEAL_HORIZON = 200  # feedbacks after which `anneal` starts to lower the trait rates
ANNEAL_FLOOR = 0.02  # the lowest rate `anneal` goes to (the trait rates' lower bound)


class InvalidLearningOption(ValueError):
    """An option with a value it does not have; the message names the option and its choices."""


def check_option(name: str, value: Any) -> str:
    choices = CHOICES[name]
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InvalidLearningOption(f"{name} must be one of: {', '.join(choices)}; got {shown}")
    return value


@frozen
class LearningOptions:
    reward_baseline: str = NONE
    trait_weighting: str = BATCH_MEAN
    action_weighting: str = BATCH_MEAN
    rate_schedule: str = CONSTANT
    exploration: str = EPSILON_GREEDY
    temperature: float = TEMPERATURE  # of softmax; kept, and recorded, whatever the strategy

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_OPTIONS

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, attribute) for name, attribute in _ATTRIBUTES.items()},
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> LearningOptions:
        """From a mapping of option names (what `to_dict` gives); missing ones take their defaults."""
        data = data or {}
        chosen: dict[str, Any] = {
            attribute: check_option(name, data[name]) for name, attribute in _ATTRIBUTES.items() if name in data
        }
        if data.get("temperature") is not None:
            chosen["temperature"] = float(data["temperature"])
        return cls(**chosen)

    def overridden_by(self, chosen: Mapping[str, str | None], temperature: float | None = None) -> LearningOptions:
        """These options with the ones `chosen` sets, and its temperature (None: not set there)."""
        return LearningOptions(
            **{attribute: chosen.get(name) or getattr(self, attribute) for name, attribute in _ATTRIBUTES.items()},
            temperature=self.temperature if temperature is None else temperature,
        )

    # -------------------------------------------------------------- the rules

    def signal(self, reward: float, baseline: float) -> float:
        """What traits and actions learn from: the reward, or its advantage over the sentiment before it."""
        return reward - baseline if self.reward_baseline == SENTIMENT else reward

    def trait_rate(self, rate: float, feedback_count: int) -> float:
        if self.rate_schedule != ANNEAL or feedback_count <= ANNEAL_HORIZON:
            return rate
        return max(min(rate, ANNEAL_FLOOR), rate * math.sqrt(ANNEAL_HORIZON / feedback_count))


def weighted_step(values: list[float], weighting: str) -> float:
    """The batch's step for one trait or action: the mean, or the sum over max(count, 5)."""
    if weighting == PER_FEEDBACK:
        return math.fsum(values) / max(len(values), PER_FEEDBACK_MIN_COUNT)
    return fmean(values)


_ATTRIBUTES = DOCUMENT_KEYS  # an option's attribute is its rules-document key
DEFAULT_OPTIONS = LearningOptions()
