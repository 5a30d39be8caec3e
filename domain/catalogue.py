"""The trait and action catalogue, and the archetypes whose priors agents inherit.

Archetypes ship as data here; the monthly clustering job may refresh their
priors later, always inside each trait's bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from attrs import frozen


@frozen
class TraitBounds:
    minimum: float
    maximum: float

    def clamp(self, value: float) -> float:
        return min(self.maximum, max(self.minimum, value))


TRAIT_BOUNDS: Mapping[str, TraitBounds] = MappingProxyType(
    {
        "empathy": TraitBounds(0.20, 0.95),
        "humor": TraitBounds(0.00, 0.90),
        "sarcasm": TraitBounds(0.00, 0.60),
        "formality": TraitBounds(0.10, 0.90),
        "verbosity": TraitBounds(0.10, 0.90),
        "curiosity": TraitBounds(0.10, 0.95),
    }
)

ACTIONS: tuple[str, ...] = ("answer", "ask_clarifying_question", "suggest_draft", "escalate")


@frozen
class Archetype:
    name: str
    trait_priors: Mapping[str, float]
    action_priors: Mapping[str, float]


def _archetype(name: str, traits: dict[str, float], actions: dict[str, float]) -> Archetype:
    for trait, value in traits.items():
        bounds = TRAIT_BOUNDS[trait]
        assert bounds.minimum <= value <= bounds.maximum, (name, trait, value)
    return Archetype(name, MappingProxyType(traits), MappingProxyType(actions))


DEFAULT_ARCHETYPE = "default"  # an agent registered without one, or by its first feedback

ARCHETYPES: Mapping[str, Archetype] = MappingProxyType(
    {
        "default": _archetype(
            "default",
            {"empathy": 0.5, "humor": 0.5, "sarcasm": 0.2, "formality": 0.5, "verbosity": 0.5, "curiosity": 0.5},
            {"answer": 0.5, "ask_clarifying_question": 0.5, "suggest_draft": 0.5, "escalate": 0.5},
        ),
        "mentor": _archetype(
            "mentor",
            {"empathy": 0.7, "humor": 0.3, "sarcasm": 0.05, "formality": 0.6, "verbosity": 0.6, "curiosity": 0.8},
            {"answer": 0.5, "ask_clarifying_question": 0.7, "suggest_draft": 0.4, "escalate": 0.3},
        ),
        "companion": _archetype(
            "companion",
            {"empathy": 0.85, "humor": 0.6, "sarcasm": 0.1, "formality": 0.2, "verbosity": 0.5, "curiosity": 0.6},
            {"answer": 0.6, "ask_clarifying_question": 0.5, "suggest_draft": 0.3, "escalate": 0.2},
        ),
        "professional": _archetype(
            "professional",
            {"empathy": 0.4, "humor": 0.15, "sarcasm": 0.0, "formality": 0.85, "verbosity": 0.4, "curiosity": 0.4},
            {"answer": 0.7, "ask_clarifying_question": 0.4, "suggest_draft": 0.6, "escalate": 0.5},
        ),
    }
)
