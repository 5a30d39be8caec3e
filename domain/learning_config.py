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

from domain.learning_options import CHOICES, DEFAULT_OPTIONS, InvalidLearningOption, LearningOptions, check_option
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
    # The learning options this agent sets (docs/learning-options.md): option name → choice.
    options: Mapping[str, str] = field(factory=dict, converter=lambda m: dict(m or {}))
    temperature: float | None = None  # softmax's (the `exploration` option)

    def to_dict(self) -> dict[str, Any]:
        """The options appear only when set, so a configuration without them is what it always was."""
        return {
            "profile": self.profile,
            "traitRate": self.trait_rate,
            "traitRates": dict(self.trait_rates),
            "actionRate": self.action_rate,
            "epsilon": self.epsilon,
            **{name: self.options[name] for name in CHOICES if self.options.get(name) is not None},
            **({"temperature": self.temperature} if self.temperature is not None else {}),
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
            options={name: data[name] for name in CHOICES if data.get(name) is not None},
            temperature=data.get("temperature"),
        )


@frozen
class EffectiveRates:
    trait_rates: Mapping[str, float]
    action_rate: float
    epsilon: float
    options: LearningOptions = DEFAULT_OPTIONS

    def to_dict(self) -> dict[str, Any]:
        """Recorded in each recalculation; the options only when one is not at its default."""
        rates = {"traitRates": dict(self.trait_rates), "actionRate": self.action_rate, "epsilon": self.epsilon}
        if not self.options.is_default:
            rates["options"] = self.options.to_dict()
        return rates


def _profile(config: LearningConfig) -> Profile | None:
    return PROFILES[config.profile] if config.profile is not None else None


DEFAULT, GLOBAL, ARCHETYPE_RATE, PROFILE, OVERRIDE = "default", "global", "archetype", "profile", "override"
RATE_SOURCES = (DEFAULT, GLOBAL, ARCHETYPE_RATE, PROFILE, OVERRIDE)


@frozen
class ExplainedRates:
    """The effective rates, and where each comes from (one of RATE_SOURCES); `capped`: the trait
    rates the hard bounds cut back."""

    rates: EffectiveRates
    sources: Mapping[str, Any]
    capped: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rates": self.rates.to_dict(), "sources": dict(self.sources), "capped": list(self.capped)}


def explain_rates(config: LearningConfig, settings: LearningSettings, archetype: str | None = None) -> ExplainedRates:
    """Most specific wins: the agent's own override (per trait, then its trait rate), its profile,
    the archetype's rate in the rules, the rules' global per-trait rate, the rules' default rate."""
    profile = _profile(config)
    archetype_rates = settings.archetype_trait_rates.get(archetype, {}) if archetype is not None else {}
    trait_rates: dict[str, float] = {}
    trait_sources: dict[str, str] = {}
    capped = []
    for trait in settings.traits:
        candidates = (
            (config.trait_rates.get(trait), OVERRIDE),
            (config.trait_rate, OVERRIDE),
            (profile.trait_rate if profile else None, PROFILE),
            (archetype_rates.get(trait), ARCHETYPE_RATE),
            (settings.trait_rates.get(trait), GLOBAL),
            (settings.trait_rate, DEFAULT),
        )
        rate, source = next((c, where) for c, where in candidates if c is not None)
        trait_rates[trait] = settings.trait_rate_bounds.clamp(rate)
        trait_sources[trait] = source
        if trait_rates[trait] != rate:
            capped.append(trait)
    action_rate, action_source = next(
        (c, where)
        for c, where in (
            (config.action_rate, OVERRIDE),
            (profile.action_rate if profile else None, PROFILE),
            (settings.action_rate, DEFAULT),
        )
        if c is not None
    )
    epsilon, epsilon_source = next(
        (c, where)
        for c, where in (
            (config.epsilon, OVERRIDE),
            (profile.epsilon if profile else None, PROFILE),
            (settings.epsilon, DEFAULT),
        )
        if c is not None
    )
    options = settings.options.overridden_by(config.options, config.temperature)
    sources: dict[str, Any] = {"traitRates": trait_sources, "actionRate": action_source, "epsilon": epsilon_source}
    if not options.is_default:
        chosen = {**config.options, **({"temperature": config.temperature} if config.temperature is not None else {})}
        defaults = DEFAULT_OPTIONS.to_dict()
        sources["options"] = {
            name: OVERRIDE if chosen.get(name) is not None else (GLOBAL if value != defaults[name] else DEFAULT)
            for name, value in options.to_dict().items()
        }
    return ExplainedRates(EffectiveRates(trait_rates, action_rate, epsilon, options), sources, tuple(capped))


def effective_rates(config: LearningConfig, settings: LearningSettings, archetype: str | None = None) -> EffectiveRates:
    return explain_rates(config, settings, archetype).rates


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
    for name, choice in config.options.items():
        if name not in CHOICES:
            raise InvalidLearningConfig(f"unknown learning option {name!r}; known options: {', '.join(CHOICES)}")
        try:
            check_option(name, choice)
        except InvalidLearningOption as error:
            raise InvalidLearningConfig(str(error)) from None


def _rates(config: LearningConfig) -> list[tuple[str, float]]:
    named: list[tuple[str, Any]] = [("traitRate", config.trait_rate)]
    named += [(f"traitRates.{t}", r) for t, r in config.trait_rates.items()]
    named += [("actionRate", config.action_rate), ("epsilon", config.epsilon), ("temperature", config.temperature)]
    return [(n, v) for n, v in named if v is not None]


def _bounds_for(name: str, settings: LearningSettings) -> RateBounds:
    if name == "temperature":
        return settings.temperature_bounds
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
        temperature=cap("temperature", config.temperature),
    )
    return capped_config, caps
