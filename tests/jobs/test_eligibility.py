"""Eligibility: ≥100 positive and ≥50 high-quality in the last 30 days, not trained in the past 7."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from domain.eligibility import Activity, activity, eligibility
from domain.training_examples import FeedbackItem, abuse_flags
from jobs.run import run_job
from tests.jobs.batch_fixtures import NOW, MovableClock, good_interactions, ingest, settings, tiny_trainer


def clock_now() -> datetime:
    return datetime.now(timezone.utc)


@freeze_time(NOW)
@pytest.mark.parametrize("positive, eligible", [(99, False), (100, True)])
def test_positive_feedback_edge_99_vs_100(positive, eligible):
    assert eligibility(Activity(positive=positive, high_quality=60), None, clock_now()).eligible is eligible


@freeze_time(NOW)
@pytest.mark.parametrize("high_quality, eligible", [(49, False), (50, True)])
def test_high_quality_edge_49_vs_50(high_quality, eligible):
    assert eligibility(Activity(positive=150, high_quality=high_quality), None, clock_now()).eligible is eligible


@freeze_time(NOW)
@pytest.mark.parametrize("days_ago, eligible", [(6, False), (7, True)])
def test_trained_6_vs_7_days_ago(days_ago, eligible):
    now = clock_now()
    verdict = eligibility(Activity(positive=150, high_quality=60), now - timedelta(days=days_ago), now)
    assert verdict.eligible is eligible
    assert any("trained" in reason for reason in verdict.reasons) is (not eligible)


@freeze_time(NOW)
def test_the_window_is_the_last_30_days_and_high_quality_needs_text_reward_and_a_clean_session():
    now = clock_now()

    def item(n, days_ago, kind="thumbs_up", reward=1.0, session="s", text=True):
        return FeedbackItem(
            position=n,
            agent_id="a",
            event_id=f"e{n}",
            kind=kind,
            reward=reward,
            occurred_at=now - timedelta(days=days_ago),
            session_id=session,
            prompt="p" if text else None,
            response="r" if text else None,
        )

    items = [
        item(1, 29.9),  # in the window, high quality
        item(2, 30),  # exactly 30 days old: out
        item(3, 1, text=False),  # positive, but no text
        item(4, 1, kind="message_copied", reward=0.3),  # positive, below 0.5
        item(5, 1, kind="rating", reward=0.5),  # 0.5 is enough
        item(6, 1, session="bad"),  # its session was flagged
        item(7, 1, kind="abuse_flag", reward=-1.0, session="bad", text=False),
    ]
    counts = activity(items, abuse_flags(items), now)
    assert counts == Activity(positive=5, high_quality=2)


@pytest.mark.parametrize("days_later, trains", [(6, False), (7, True)])
def test_a_weekly_run_trains_again_only_7_days_after_the_last_training(system, home, days_later, trains):
    """The same rule through the weekly job, with the run's time passed in."""
    ingest(system, good_interactions("a-1", 100, NOW - timedelta(days=2)))
    clock = MovableClock(NOW)
    first = run_job(
        system,
        "weekly",
        clock=clock,
        sleep=clock.sleep,
        settings=settings(home),
        trainer_factory=lambda: tiny_trainer(),
    )
    assert len(first.summary["succeeded"]) == 1
    ingest(system, good_interactions("a-1", 100, NOW + timedelta(days=5), prefix="later-"))

    clock.moment = NOW + timedelta(days=days_later)  # the next ISO week either way
    later = run_job(
        system,
        "weekly",
        clock=clock,
        sleep=clock.sleep,
        settings=settings(home),
        trainer_factory=lambda: tiny_trainer(),
    )
    assert later.period == "2026-W49"
    assert (len(later.summary["succeeded"]) == 1) is trains
    if not trains:
        assert later.summary["notEligible"] == ["agent:a-1: trained 6.0 days ago, less than 7 days"]
