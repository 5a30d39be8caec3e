"""The reward table (section 2 of the learning rules): rewards, strong signals, ratings, clamping."""

from __future__ import annotations

import math

import pytest

from domain.rewards import (
    DEFAULT_REWARD_RULES,
    RewardRule,
    RewardTable,
    UnknownFeedback,
)

TABLE = RewardTable()

# kind, reward, strong signal — the spec's table, row by row.
SPEC_ROWS = [
    ("thumbs_up", 1.0, False),
    ("thumbs_down", -1.0, True),
    ("draft_approved", 1.0, True),
    ("draft_rejected", -1.0, True),
    ("abuse_flag", -1.0, True),
    ("message_copied", 0.3, False),
    ("conversation_continued", 0.1, False),
    ("conversation_abandoned", -0.3, False),
    ("draft_edited", -0.2, False),
]


def test_the_table_prices_exactly_the_spec_kinds():
    assert set(TABLE.kinds) == {kind for kind, _, _ in SPEC_ROWS} | {"rating"}


@pytest.mark.parametrize(("kind", "reward", "strong"), SPEC_ROWS)
def test_each_kind_is_worth_its_reward_from_the_table(kind, reward, strong):
    assert TABLE.reward_for(kind) == pytest.approx(reward, abs=1e-12)


@pytest.mark.parametrize(("kind", "reward", "strong"), SPEC_ROWS)
def test_each_kind_is_a_strong_signal_exactly_when_the_table_says_so(kind, reward, strong):
    assert TABLE.is_strong_signal(kind) is strong


def test_a_rating_is_not_a_strong_signal():
    assert TABLE.is_strong_signal("rating") is False


@pytest.mark.parametrize(("value", "reward"), [(1, -1.0), (2, -0.5), (3, 0.0), (4, 0.5), (5, 1.0)])
def test_a_rating_is_worth_value_minus_three_over_two(value, reward):
    assert TABLE.reward_for("rating", value) == reward


def test_a_rating_value_may_be_given_as_a_float():
    assert TABLE.reward_for("rating", 4.0) == 0.5


@pytest.mark.parametrize(
    "value",
    [None, 0, 6, 0.99, 5.01, -3, math.nan, math.inf, -math.inf, True, False],
    ids=["missing", "zero", "six", "just-below-1", "just-above-5", "negative", "nan", "inf", "-inf", "true", "false"],
)
def test_a_rating_without_a_value_from_1_to_5_is_rejected_with_a_reason(value):
    with pytest.raises(UnknownFeedback, match=r"rating needs a 'value' from 1 to 5"):
        TABLE.reward_for("rating", value)


def test_an_unknown_kind_is_rejected_naming_the_kind_and_the_known_ones():
    with pytest.raises(UnknownFeedback) as raised:
        TABLE.reward_for("high_five")
    message = str(raised.value)
    assert "'high_five'" in message
    assert "thumbs_up" in message and "draft_edited" in message


def test_bad_feedback_is_a_value_error_so_the_service_dead_letters_it():
    assert issubclass(UnknownFeedback, ValueError)


def test_a_configured_reward_above_one_is_clamped_to_one():
    table = RewardTable({**DEFAULT_REWARD_RULES, "gold_star": RewardRule(2.5)})
    assert table.reward_for("gold_star") == 1.0


def test_a_configured_reward_below_minus_one_is_clamped_to_minus_one():
    table = RewardTable({**DEFAULT_REWARD_RULES, "rage_quit": RewardRule(-4.0, strong_signal=True)})
    assert table.reward_for("rage_quit") == -1.0
    assert table.is_strong_signal("rage_quit") is True


def test_a_configured_reward_inside_the_range_is_not_changed():
    table = RewardTable({**DEFAULT_REWARD_RULES, "thumbs_up": RewardRule(0.8)})
    assert table.reward_for("thumbs_up") == 0.8
