"""The simulated users of `agent-learning simulate` (docs/does-it-learn.md, "The simulated users").

One *world* is one agent and the user population it serves, drawn from a seed:

- the agent's archetype, uniformly among the rules' archetypes; it starts from their priors;
- the users' **preferred traits**: each trait's archetype prior plus Normal(0, 0.3), kept in the
  trait's bounds. The gap between the two is what learning should close;
- the users' **action values**: Uniform(0, 1) per action, how much they like each action;
- a **generosity threshold** g ~ Uniform(0.35, 0.65): a response better than g is liked.

Each interaction, the agent picks an action from its published policy, and its response *shows*
each trait at the agent's effective value plus Normal(0, 0.15) (the runtime's own variety), in the
trait's bounds. The user's satisfaction is

    u = 0.85 × (1 − 3 × mean_t |shown_t − preferred_t|) + 0.15 × value[action] + Normal(0, 0.2)

and the feedback is a thumb: up when u > g, else down (FEEDBACK_MIX can mix in ratings, drafts and
implicit signals: `_feedback_kind`). The feedback names each trait with probability 0.75 and
attributes it relative to what the response showed: a_t = clamp((shown_t − effective_t) / 0.2, −1,
1): +1 showed more of the trait than the agent's own value, −1 less. A session ends every 8
feedbacks; feedback comes 2 minutes apart, so no simulated agent freezes (that takes 7 days of bad
sentiment).

These parameters were chosen by `bench/calibrate_population.py`, which searches them for the point
that reproduces every figure issue 17 measured on its own users (the three profiles and the two
options, at 200 and 1000 feedbacks): docs/does-it-learn.md, "How these numbers were chosen".
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from attrs import frozen

from domain.settings import LearningSettings

PREFERENCE_SPREAD = 0.3  # sd of preferred − prior, per trait
SHOWN_SPREAD = 0.15  # sd of shown − effective, per trait and response
ATTRIBUTION_SCALE = 0.2  # shown − effective of this much is an attribution of ±1
TRAIT_NAMED = 0.75  # the chance that a feedback names a given trait
TRAIT_WEIGHT, ACTION_WEIGHT = 0.85, 0.15  # how much traits and the action count in satisfaction
SATISFACTION_NOISE = 0.2
DISTANCE_SCALE = 3.0  # satisfaction lost per unit of mean trait distance, before TRAIT_WEIGHT
GENEROSITY = (0.35, 0.65)
FEEDBACK_MIX: tuple[tuple[str, float], ...] = (("thumbs", 1.0),)  # channel, share; the channels below
SESSION_LENGTH = 8
FEEDBACK_GAP_MINUTES = 2


@frozen
class World:
    seed: int
    archetype: str
    priors: Mapping[str, float]
    preferred: Mapping[str, float]
    action_values: Mapping[str, float]
    generosity: float

    def trait_error(self, traits: Mapping[str, float]) -> float:
        """Mean absolute distance of these traits from the users' preferred ones."""
        return sum(abs(traits[t] - p) for t, p in self.preferred.items()) / len(self.preferred)

    def value(self, traits: Mapping[str, float], policy: Mapping[str, float]) -> float:
        """Expected satisfaction (without noise) of responses showing exactly `traits`, actions from `policy`."""
        return TRAIT_WEIGHT * (1 - DISTANCE_SCALE * self.trait_error(traits)) + ACTION_WEIGHT * sum(
            p * self.action_values[a] for a, p in policy.items()
        )

    def best_fixed_value(self) -> float:
        """The value of the best fixed agent: the preferred traits, always the best action."""
        return TRAIT_WEIGHT + ACTION_WEIGHT * max(self.action_values.values())


def draw_world(seed: int, settings: LearningSettings) -> World:
    rng = random.Random(f"world-{seed}")
    archetype = settings.archetypes[rng.choice(sorted(settings.archetypes))]
    preferred = {}
    for trait, prior in archetype.trait_priors.items():
        bounds = settings.traits[trait]
        preferred[trait] = bounds.clamp(prior + rng.gauss(0, PREFERENCE_SPREAD))
    return World(
        seed=seed,
        archetype=archetype.name,
        priors=dict(archetype.trait_priors),
        preferred=preferred,
        action_values={a: rng.random() for a in settings.actions},
        generosity=rng.uniform(*GENEROSITY),
    )


@frozen
class Interaction:
    action: str
    kind: str
    value: float | None
    traits: dict[str, float]


def interact(
    world: World, effective: Mapping[str, float], policy: Mapping[str, float], rng: random.Random, settings
) -> Interaction:
    """One response of an agent with these effective traits and policy, and the user's feedback on it."""
    actions = list(policy)
    action = rng.choices(actions, weights=[policy[a] for a in actions])[0]
    shown, attribution = {}, {}
    for trait, value in effective.items():
        shown[trait] = settings.traits[trait].clamp(value + rng.gauss(0, SHOWN_SPREAD))
        if rng.random() < TRAIT_NAMED:
            attribution[trait] = max(-1.0, min(1.0, (shown[trait] - value) / ATTRIBUTION_SCALE))
    error = sum(abs(shown[t] - p) for t, p in world.preferred.items()) / len(world.preferred)
    satisfaction = (
        TRAIT_WEIGHT * (1 - DISTANCE_SCALE * error)
        + ACTION_WEIGHT * world.action_values[action]
        + rng.gauss(0, SATISFACTION_NOISE)
    )
    margin = satisfaction - world.generosity
    kind, value = _feedback_kind(margin, rng)
    return Interaction(action, kind, value, attribution)


def _feedback_kind(margin: float, rng: random.Random) -> tuple[str, float | None]:
    draw, channel = rng.random(), FEEDBACK_MIX[-1][0]
    for name, share in FEEDBACK_MIX:
        if draw < share:
            channel = name
            break
        draw -= share
    if channel == "thumbs":
        return ("thumbs_up" if margin > 0 else "thumbs_down"), None
    if channel == "rating":
        return "rating", float(max(1, min(5, round(3 + 8 * margin))))
    if channel == "draft":
        if margin > 0:
            return "draft_approved", None
        return ("draft_rejected" if margin < -0.1 else "draft_edited"), None
    if margin > 0.1:
        return "message_copied", None
    return ("conversation_continued" if margin > 0 else "conversation_abandoned"), None
