"""The reward table: what each kind of feedback is worth, and which kinds are strong signals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from attrs import frozen


@frozen
class RewardRule:
    reward: float
    strong_signal: bool = False
    rating: bool = False  # the reward comes from the message's value from 1 to 5: (value - 3) / 2


RATING = "rating"

DEFAULT_REWARD_RULES: Mapping[str, RewardRule] = MappingProxyType(
    {
        "thumbs_up": RewardRule(1.0),
        "thumbs_down": RewardRule(-1.0, strong_signal=True),
        "draft_approved": RewardRule(1.0, strong_signal=True),
        "draft_rejected": RewardRule(-1.0, strong_signal=True),
        "abuse_flag": RewardRule(-1.0, strong_signal=True),
        RATING: RewardRule(0.0, rating=True),
        "message_copied": RewardRule(0.3),
        "conversation_continued": RewardRule(0.1),
        "conversation_abandoned": RewardRule(-0.3),
        "draft_edited": RewardRule(-0.2),
    }
)


class UnknownFeedback(ValueError):
    """A feedback the reward table cannot price: unknown kind, or a rating without a valid value."""


@frozen
class RewardTable:
    rules: Mapping[str, RewardRule] = DEFAULT_REWARD_RULES
    source: str = "the built-in rules"  # named in errors: "rules version 3"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.rules)

    def is_strong_signal(self, kind: str) -> bool:
        return self.rules[kind].strong_signal

    def with_rewards(self, rewards: Mapping[str, float], source: str) -> RewardTable:
        """This table with some kinds worth another reward (an archetype's overrides)."""
        rules = dict(self.rules)
        for kind, reward in rewards.items():
            rules[kind] = RewardRule(reward, rules[kind].strong_signal, rules[kind].rating)
        return RewardTable(MappingProxyType(rules), source)

    def reward_for(self, kind: str, value: float | None = None) -> float:
        """The reward of one feedback, clamped to [-1, 1]."""
        rule = self.rules.get(kind)
        if rule is None:
            raise UnknownFeedback(
                f"unknown feedback kind {kind!r} in {self.source}; expected one of: {', '.join(self.rules)}"
            )
        if rule.rating:
            if value is None or isinstance(value, bool) or not math.isfinite(value) or not 1 <= value <= 5:
                raise UnknownFeedback(f"a rating needs a 'value' from 1 to 5, got {value!r}")
            reward = (value - 3) / 2
        else:
            reward = rule.reward
        return max(-1.0, min(1.0, reward))
