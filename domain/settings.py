"""Every constant of the learning rules, with the spec's defaults; configuration may change any of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from attrs import field, frozen

from domain.catalogue import ACTIONS, ARCHETYPES, TRAIT_BOUNDS, Archetype, TraitBounds
from domain.learning_options import DEFAULT_OPTIONS, TEMPERATURE_BOUNDS, LearningOptions
from domain.rewards import RewardTable


@frozen
class RateBounds:
    minimum: float
    maximum: float

    def clamp(self, value: float) -> float:
        return min(self.maximum, max(self.minimum, value))

    def __contains__(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum


@frozen
class LearningSettings:
    """The rules in force. Version 0 is the built-in defaults; an operator's rules document makes
    the next versions (`domain/rules.py`), and every recalculation records the version it used."""

    rules_version: int = 0
    traits: Mapping[str, TraitBounds] = TRAIT_BOUNDS
    actions: tuple[str, ...] = ACTIONS
    archetypes: Mapping[str, Archetype] = ARCHETYPES
    rewards: RewardTable = RewardTable()
    # Per-archetype overrides (the rules document's `archetypes.NAME.rewards` and `.trait_rates`).
    archetype_rewards: Mapping[str, RewardTable] = field(factory=lambda: MappingProxyType({}))
    archetype_trait_rates: Mapping[str, Mapping[str, float]] = field(factory=lambda: MappingProxyType({}))

    # Learning rates (section 5).
    trait_rate: float = 0.07
    trait_rates: Mapping[str, float] = field(factory=lambda: MappingProxyType({}))
    trait_rate_bounds: RateBounds = RateBounds(0.02, 0.12)
    action_rate: float = 0.05
    # The spec gives no bounds for the action rate and epsilon; these admit every profile.
    action_rate_bounds: RateBounds = RateBounds(0.01, 0.10)
    epsilon: float = 0.02
    epsilon_bounds: RateBounds = RateBounds(0.005, 0.10)
    # The learning options of every agent that does not choose its own (docs/learning-options.md).
    options: LearningOptions = DEFAULT_OPTIONS
    temperature_bounds: RateBounds = RateBounds(*TEMPERATURE_BOUNDS)

    # What a message's `occurredAt` may be: a UTC year in this range (inclusive). A time far outside it
    # is a producer's bug, and near the ends of the calendar it cannot even be converted to UTC.
    accepted_years: tuple[int, int] = (2000, 2100)

    # Recording (section 3) and the freeze (sections 4, 7).
    sentiment_alpha: float = 0.1
    freeze_threshold: float = -0.5
    freeze_after: timedelta = timedelta(days=7)

    # Triggers (section 4).
    batch_size: int = 5
    timer_interval: timedelta = timedelta(minutes=5)
    idle_limit: timedelta = timedelta(minutes=40)

    # Recalculation (section 6).
    decay_rate: float = 0.1
    decay_below_feedback: int = 10
    decay_after_gap: timedelta = timedelta(days=7)
    epsilon_decay: float = 0.9
    epsilon_floor: float = 0.005
    full_confidence_feedback: int = 50

    def rewards_for(self, archetype: str) -> RewardTable:
        """The reward table of an agent of this archetype: the global one, or the archetype's overrides of it."""
        return self.archetype_rewards.get(archetype, self.rewards)

    def archetype(self, name: str) -> Archetype:
        try:
            return self.archetypes[name]
        except KeyError:
            raise UnknownArchetype(
                f"unknown archetype {name!r}; expected one of: {', '.join(self.archetypes)}"
            ) from None


class UnknownArchetype(ValueError):
    pass


DEFAULT_SETTINGS = LearningSettings()
