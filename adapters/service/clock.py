"""The service's one clock read: the domain never reads the time, it is handed `now`."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
