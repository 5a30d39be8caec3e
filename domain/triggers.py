"""When a recalculation happens (section 4 of the learning rules).

Checked after every recorded event, in order: the freeze check, then strong
signal, feedback count and session end. The periodic tick runs the freeze check
and the timer. At most one recalculation per event; none while frozen or with
nothing pending.
"""

from __future__ import annotations

from datetime import datetime

from domain.settings import LearningSettings

STRONG_SIGNAL = "strong_signal"
FEEDBACK_COUNT = "feedback_count"
SESSION_END = "session_end"
TIMER = "timer"
TRIGGERS = (STRONG_SIGNAL, FEEDBACK_COUNT, SESSION_END, TIMER)


def freeze_due(*, frozen: bool, below_since: datetime | None, time: datetime, settings: LearningSettings) -> bool:
    """Sentiment has stayed below the threshold for the whole freeze period."""
    return not frozen and below_since is not None and time - below_since >= settings.freeze_after


def trigger_after_event(
    *,
    frozen: bool,
    pending_count: int,
    strong_signal: bool,
    session_end: bool,
    settings: LearningSettings,
) -> str | None:
    """The trigger that fires after a recorded event, if any (the freeze check comes first, elsewhere)."""
    if frozen or pending_count == 0:
        return None
    if strong_signal:
        return STRONG_SIGNAL
    if pending_count >= settings.batch_size:
        return FEEDBACK_COUNT
    if session_end:
        return SESSION_END
    return None


def timer_due(
    *,
    frozen: bool,
    pending_count: int,
    now: datetime,
    last_update_at: datetime,
    last_activity_at: datetime,
    settings: LearningSettings,
) -> bool:
    """The periodic tick's trigger; an agent idle for longer than the idle limit is skipped."""
    return (
        not frozen
        and pending_count > 0
        and now - last_update_at >= settings.timer_interval
        and now - last_activity_at <= settings.idle_limit
    )
