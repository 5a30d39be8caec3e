"""Which learning rules are in force, read from the event store, and every earlier version for the audit.

The service asks `refresh()` at the start of every batch, tick and command: one read of
the rules aggregate's events after the last version it knows (none, almost always). A
batch is decided under the one version it started with; every `PolicyRecalculated` and
`LearningConfigured` records that version, so each agent's history shows where it
switched, and the audit re-derives each recalculation with the version it names.
"""

from __future__ import annotations

from typing import Any

from domain.learning_rules import RULES_ID, LearningRules, content_hash
from domain.rules import document_from_settings, settings_from_document
from domain.settings import LearningSettings


class UnknownRulesVersion(LookupError):
    def __init__(self, version: int, latest: int):
        super().__init__(
            f"no rules version {version} has been applied; versions are 0 (the built-in rules) to {latest} "
            "(see `agent-learning rules history`)"
        )


class RulesInForce:
    def __init__(self, events: Any, builtin: LearningSettings):
        self._events = events
        self.builtin = builtin
        self.builtin_document = document_from_settings(builtin)
        self.builtin_hash = content_hash(self.builtin_document)
        self._by_version: dict[int, LearningSettings] = {0: builtin}
        self._records: list[dict[str, Any]] = []
        self._position = 0  # the rules aggregate's version read so far
        self.current = builtin

    def refresh(self) -> LearningSettings:
        """The version in force now, reading whatever versions were applied since the last look."""
        for stored in self._events.get(RULES_ID, gt=self._position):
            self._position = stored.originator_version
            if isinstance(stored, LearningRules.RulesApplied):
                self._take(stored)
        return self.current

    def _take(self, applied: LearningRules.RulesApplied) -> None:
        settings = settings_from_document(applied.document, self.builtin, applied.rules_version)
        self._by_version[applied.rules_version] = settings
        self._records.append(
            {
                "version": applied.rules_version,
                "contentHash": applied.content_hash,
                "by": applied.by,
                "reason": applied.reason,
                "occurredAt": applied.occurred_at,
                "document": applied.document,
                "source": applied.source,
            }
        )
        self.current = settings

    def at(self, version: int) -> LearningSettings:
        """The settings of a version (0: the built-in rules)."""
        if version not in self._by_version:
            self.refresh()
        try:
            return self._by_version[version]
        except KeyError:
            raise UnknownRulesVersion(version, self.current.rules_version) from None

    def records(self) -> list[dict[str, Any]]:
        """Every applied version, oldest first (the built-in version 0 is not among them)."""
        self.refresh()
        return list(self._records)

    def document(self, version: int) -> dict[str, Any]:
        self.at(version)
        if version == 0:
            return self.builtin_document
        return self._records[version - 1]["document"]

    def source(self, version: int) -> str | None:
        """The text the operator applied (None for the built-in rules, which have no file)."""
        self.at(version)
        return None if version == 0 else self._records[version - 1]["source"]
