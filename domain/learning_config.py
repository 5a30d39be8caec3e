"""An owner's learning configuration: profile and overrides, and the effective rates they resolve to.

A configuration *command* with a rate out of bounds is rejected; one that arrives
by event from elsewhere is capped instead, and the caps are recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attrs import evolve, field, frozen

from domain.settings import LearningSettings, RateBounds


@frozen
class Profile:
    trait_rate: float
    action_rate: float
    epsilon: float


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "conservative": Profile(0.04, 0.03, 0.01),
        "balanced": Profile(0.07, 0.05, 0.02),
        "fast": Profile(0.11, 0.08, 0.03),
    }
)


class InvalidLearningConfig(ValueError):
    """A learning configuration that cannot be applied; the message says which value and why."""


@frozen
class LearningConfig:
    """Agent-level settings. `None` means "not set here": the next level down decides."""

    profile: str | None = None
    trait_rate: float | None = None
    trait_rates: Mapping[str, float] = field(factory=dict, converter=lambda m: dict(m or {}))
    action_rate: float | None = None
    epsilon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "traitRate": self.trait_rate,
            "traitRates": dict(self.trait_rates),
            "actionRate": self.action_rate,
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> LearningConfig:
        data = data or {}
        return cls(
            profile=data.get("profile"),
            trait_rate=data.get("traitRate"),
            trait_rates=data.get("traitRates") or {},
            action_rate=data.get("actionRate"),
            epsilon=data.get("epsilon"),
        )


@frozen
class EffectiveRates:
    trait_rates: Mapping[str, float]
    action_rate: float
    epsilon: float

    def to_dict(self) -> dict[str, Any]:
        return {"traitRates": dict(self.trait_rates), "actionRate": self.action_rate, "epsilon": self.epsilon}


def _profile(config: LearningConfig) -> Profile | None:
    return PROFILES[config.profile] if config.profile is not None else None


def effective_rates(config: LearningConfig, settings: LearningSettings) -> EffectiveRates:
    """Most specific wins: agent per-trait, agent trait rate (or its profile), global per-trait, global."""
    profile = _profile(config)
    agent_trait_rate = config.trait_rate if config.trait_rate is not None else (profile.trait_rate if profile else None)
    trait_rates = {}
    for trait in settings.traits:
        for candidate in (config.trait_rates.get(trait), agent_trait_rate, settings.trait_rates.get(trait)):
            if candidate is not None:
                rate = candidate
                break
        else:
            rate = settings.trait_rate
        trait_rates[trait] = settings.trait_rate_bounds.clamp(rate)
    action_rate = (
        config.action_rate
        if config.action_rate is not None
        else (profile.action_rate if profile else settings.action_rate)
    )
    epsilon = config.epsilon if config.epsilon is not None else (profile.epsilon if profile else settings.epsilon)
    return EffectiveRates(trait_rates, action_rate, epsilon)


def _check_structure(config: LearningConfig, settings: LearningSettings) -> None:
    if config.profile is not None and config.profile not in PROFILES:
        raise InvalidLearningConfig(
            f"unknown learning profile {config.profile!r}; choose one of: {', '.join(PROFILES)}"
        )
    for trait in config.trait_rates:
        if trait not in settings.traits:
            raise InvalidLearningConfig(
                f"unknown trait {trait!r} in traitRates; known traits: {', '.join(settings.traits)}"
            )
    for name, value in _rates(config):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidLearningConfig(f"{name} must be a finite number, got {value!r}")


def _rates(config: LearningConfig) -> list[tuple[str, float]]:
    named: list[tuple[str, Any]] = [("traitRate", config.trait_rate)]
    named += [(f"traitRates.{t}", r) for t, r in config.trait_rates.items()]
    named += [("actionRate", config.action_rate), ("epsilon", config.epsilon)]
    return [(n, v) for n, v in named if v is not None]


def _bounds_for(name: str, settings: LearningSettings) -> RateBounds:
    if name.startswith("trait"):
        return settings.trait_rate_bounds
    return settings.action_rate_bounds if name == "actionRate" else settings.epsilon_bounds


def validate_command_config(config: LearningConfig, settings: LearningSettings) -> LearningConfig:
    """For configuration commands: every value must be in bounds, or the whole command is rejected."""
    _check_structure(config, settings)
    problems = []
    for name, value in _rates(config):
        bounds = _bounds_for(name, settings)
        if value not in bounds:
            problems.append(f"{name}={value} is outside [{bounds.minimum}, {bounds.maximum}]")
    if problems:
        raise InvalidLearningConfig("; ".join(problems) + ": choose values inside the bounds")
    return config


def cap_event_config(config: LearningConfig, settings: LearningSettings) -> tuple[LearningConfig, list[dict]]:
    """For configuration arriving by event: out-of-bounds values are capped; returns the caps made."""
    _check_structure(config, settings)
    caps: list[dict] = []

    def cap(name: str, value: float | None) -> float | None:
        if value is None:
            return None
        capped = _bounds_for(name, settings).clamp(float(value))
        if capped != value:
            caps.append({"field": name, "requested": value, "applied": capped})
        return capped

    capped_config = evolve(
        config,
        trait_rate=cap("traitRate", config.trait_rate),
        trait_rates={t: cap(f"traitRates.{t}", r) for t, r in config.trait_rates.items()},
        action_rate=cap("actionRate", config.action_rate),
        epsilon=cap("epsilon", config.epsilon),
    )
    return capped_config, caps
