"""Rare events across every aggregate (freezes, registry moves), read from the notification log by topic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from adapters.service.learning_service import LearningService

PAGE = 1000


def events_of(service: LearningService, topics: Iterable[str], most: int = 5000) -> list[Any]:
    """The events of these topics, oldest first, at most `most` (the first ones)."""
    topics = list(topics)
    found: list[Any] = []
    start = 1
    while len(found) < most:
        page = service.recorder.select_notifications(start, PAGE, topics=topics)
        if not page:
            break
        found += [service.mapper.to_domain_event(n) for n in page]
        start = page[-1].id + 1
    return found[:most]
