"""Who is due a fine-tune: enough good feedback lately, and no training in the past week.

Eligible when, in the window (the last 30 days up to `now`), positive feedback ≥ 100 and
high-quality interactions ≥ 50, and the scope's last completed training is at least 7 days
old (or there is none). Pure: the counts and the last training time are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from attrs import frozen

from domain.training_examples import FeedbackItem, Flags, is_high_quality


@frozen
class EligibilityRules:
    min_positive: int = 100
    min_high_quality: int = 50
    window: timedelta = timedelta(days=30)
    cooldown: timedelta = timedelta(days=7)

    def in_window(self, moment: datetime, now: datetime) -> bool:
        """`now - window < moment <= now`: a feedback exactly 30 days old has left the window."""
        return now - self.window < moment <= now


DEFAULT_RULES = EligibilityRules()


@frozen
class Activity:
    """A scope's counts over the window."""

    positive: int
    high_quality: int


@frozen
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]  # why not, one line each (empty when eligible)


def activity(
    items: Iterable[FeedbackItem], flags: Flags, now: datetime, rules: EligibilityRules = DEFAULT_RULES
) -> Activity:
    """Counts positive feedback (reward > 0) and high-quality interactions in the window."""
    positive = high_quality = 0
    for item in items:
        if not rules.in_window(item.occurred_at, now):
            continue
        positive += item.reward > 0
        high_quality += is_high_quality(item, flags)
    return Activity(positive, high_quality)


def eligibility(
    counts: Activity, last_trained_at: datetime | None, now: datetime, rules: EligibilityRules = DEFAULT_RULES
) -> Eligibility:
    reasons = []
    if counts.positive < rules.min_positive:
        reasons.append(f"{counts.positive} positive feedback in {rules.window.days} days, needs {rules.min_positive}")
    if counts.high_quality < rules.min_high_quality:
        reasons.append(
            f"{counts.high_quality} high-quality interactions in {rules.window.days} days, "
            f"needs {rules.min_high_quality}"
        )
    if last_trained_at is not None and now - last_trained_at < rules.cooldown:
        reasons.append(f"trained {_ago(now - last_trained_at)} ago, less than {rules.cooldown.days} days")
    return Eligibility(not reasons, tuple(reasons))


def _ago(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours"
