"""A training job's hyperparameters: how many steps, the learning rate and the LoRA rank, within safe bounds.

A job records all three, filled from the defaults where the request left one out, so the
job and the model's lineage say exactly what was trained. On the wire (CLI `--json`, HTTP,
events) they are `{"steps": 20, "learningRate": 0.0002, "loraRank": 8}`.

- `steps`: optimizer steps per training stage (SFT, then DPO or KTO), 1 … 2,000;
- `learningRate`: the SFT stage's learning rate, 1e-6 … 1e-2 (the preference stage uses a
  quarter of it, as the defaults 2e-4 / 5e-5 do);
- `loraRank`: the adapter's rank r, 1 … 64 (alpha is 2r). A warm start keeps its parent's rank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from attrs import frozen

DEFAULT_STEPS = 20
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_LORA_RANK = 8
PREFERENCE_RATE_SHARE = 0.25  # the DPO/KTO stage's learning rate, as a share of the SFT one

BOUNDS: dict[str, tuple[float, float]] = {
    "steps": (1, 2_000),
    "learningRate": (1e-6, 1e-2),
    "loraRank": (1, 64),
}
INTEGERS = frozenset({"steps", "loraRank"})


class InvalidHyperparameters(ValueError):
    """A hyperparameter out of its bounds, of the wrong type, or unknown; the message names each one."""


@frozen
class Hyperparameters:
    steps: int = DEFAULT_STEPS
    learning_rate: float = DEFAULT_LEARNING_RATE
    lora_rank: int = DEFAULT_LORA_RANK

    def as_dict(self) -> dict:
        return {"steps": self.steps, "learningRate": self.learning_rate, "loraRank": self.lora_rank}

    @property
    def preference_learning_rate(self) -> float:
        return self.learning_rate * PREFERENCE_RATE_SHARE

    @classmethod
    def from_dict(cls, given: Mapping) -> Hyperparameters:
        """What a job recorded (all three keys) back to the value; older jobs recorded none."""
        return cls(
            steps=int(given.get("steps", DEFAULT_STEPS)),
            learning_rate=float(given.get("learningRate", DEFAULT_LEARNING_RATE)),
            lora_rank=int(given.get("loraRank", DEFAULT_LORA_RANK)),
        )


def hyperparameters(given: Mapping | None, defaults: Hyperparameters) -> Hyperparameters:
    """`given` checked against BOUNDS, missing keys from `defaults`; every problem is reported at once."""
    given = dict(given or {})
    problems = []
    for key in sorted(set(given) - set(BOUNDS)):
        problems.append(f"{key!r} is not a hyperparameter; use {', '.join(BOUNDS)}")
    values = defaults.as_dict()
    for key, (low, high) in BOUNDS.items():
        if key not in given or given[key] is None:
            continue
        value = given[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{key} must be a number, got {value!r}")
            continue
        if key in INTEGERS and (isinstance(value, float) and not value.is_integer()):
            problems.append(f"{key} must be a whole number, got {value!r}")
            continue
        if not math.isfinite(value) or not low <= value <= high:
            problems.append(f"{key}={value!r} is outside {low:g} … {high:g}")
            continue
        values[key] = int(value) if key in INTEGERS else float(value)
    if problems:
        raise InvalidHyperparameters("invalid hyperparameters: " + "; ".join(problems))
    return Hyperparameters.from_dict(values)
