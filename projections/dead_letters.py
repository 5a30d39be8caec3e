"""`dead_letters`: every rejected message with its reason, where it came from, and its original bytes."""

from __future__ import annotations

from typing import Any

from domain.dead_letter import DeadLetter
from domain.timestamps import to_iso
from projections.projection import Projection, View
from projections.read_model_store import Collection

DEAD_LETTERS = "dead_letters"


class DeadLetters(Projection):
    name = DEAD_LETTERS
    version = 2  # 2: `code` beside the reason
    collections = (Collection(DEAD_LETTERS, indexes=(("rejectedAt",),)),)
    topics = frozenset({DeadLetter.MessageRejected.TOPIC})

    def apply(self, event: Any, view: View) -> None:
        view.put(
            DEAD_LETTERS,
            event.originator_id,
            {
                "id": event.originator_id,
                "source": event.source,
                "position": event.position,
                "code": event.code,
                "reason": event.reason,
                "raw": event.raw,
                "key": event.key,
                "agentId": event.agent_id,
                "rejectedAt": to_iso(event.occurred_at),
            },
        )
