"""Questions the service asks its read models."""

from __future__ import annotations

from datetime import datetime

from domain.settings import LearningSettings
from projections.agent_learning_state import STATE
from projections.read_model_store import Condition, ReadModelStore


def agents_due_for_tick(store: ReadModelStore, now: datetime, settings: LearningSettings) -> list[str]:
    """Agents the tick may change: pending feedback and no update for the timer interval (and not
    idle), or sentiment below the threshold for the freeze period. The aggregate re-checks."""
    now_ts = now.timestamp()
    timer = store.find(
        STATE,
        [
            Condition("pendingFeedbackCount", "gt", 0),
            Condition("lastUpdateTs", "lte", now_ts - settings.timer_interval.total_seconds()),
            Condition("lastActivityTs", "gte", now_ts - settings.idle_limit.total_seconds()),
            Condition("frozen", "eq", False),
        ],
    )
    freeze = store.find(
        STATE,
        [
            Condition("belowSinceTs", "lte", now_ts - settings.freeze_after.total_seconds()),
            Condition("frozen", "eq", False),
        ],
    )
    return sorted({doc["agentId"] for doc in timer + freeze})
