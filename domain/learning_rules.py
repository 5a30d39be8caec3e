"""The LearningRules aggregate: every version of the rules document an operator applied, in order.

Version 0 is the built-in rules and is never recorded; the first document applied is
version 1. Each version keeps the document as parsed (what the service runs), its
source text as written (what `rules show` prints), a hash of its content, who applied
it, why and when. Re-applying the rules in force records nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.agent import RECORDED, UNCHANGED
from domain.text_id_aggregate import TextIdAggregate

RULES_ID = "learning-rules:global"


def content_hash(document: dict[str, Any]) -> str:
    """The same for two documents that say the same, however they are laid out or commented."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class LearningRules(TextIdAggregate):
    TOPIC = "agent_learning:LearningRules"

    class Created(TextIdAggregate.Created):
        TOPIC = "agent_learning:LearningRules.Created"

    class Started(TextIdAggregate.Created):
        TOPIC = "agent_learning:LearningRules.Started"
        occurred_at: datetime

    class RulesApplied(TextIdAggregate.Event):
        TOPIC = "agent_learning:LearningRules.RulesApplied"
        rules_version: int
        document: dict
        source: str
        content_hash: str
        by: str
        reason: str
        occurred_at: datetime

    @staticmethod
    def create_id(**_: object) -> str:
        return RULES_ID

    @classmethod
    def start(cls, occurred_at: datetime) -> LearningRules:
        return cls(occurred_at=occurred_at)

    @event(Started)
    def __init__(self, occurred_at: datetime) -> None:
        self.versions: list[dict[str, Any]] = []

    @property
    def current_version(self) -> int:
        return len(self.versions)

    @property
    def current_hash(self) -> str | None:
        return self.versions[-1]["content_hash"] if self.versions else None

    def apply(self, document: dict, source: str, by: str, reason: str, occurred_at: datetime, builtin_hash: str) -> str:
        """Records `document` as the next version, unless it says what the version in force says
        (`builtin_hash`: the hash of the built-in rules, in force before any version)."""
        digest = content_hash(document)
        if digest == (self.current_hash or builtin_hash):
            return UNCHANGED
        self._applied(
            rules_version=self.current_version + 1,
            document=document,
            source=source,
            content_hash=digest,
            by=by,
            reason=reason,
            occurred_at=occurred_at,
        )
        return RECORDED

    @event(RulesApplied)
    def _applied(
        self,
        rules_version: int,
        document: dict,
        source: str,
        content_hash: str,
        by: str,
        reason: str,
        occurred_at: datetime,
    ) -> None:
        self.versions.append(
            {
                "version": rules_version,
                "document": document,
                "source": source,
                "content_hash": content_hash,
                "by": by,
                "reason": reason,
                "occurred_at": occurred_at,
            }
        )
