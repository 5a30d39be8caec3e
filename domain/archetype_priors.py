"""An archetype's trait priors as the monthly clustering refreshes them, each refresh an event with before and after.

The catalogue's priors seed the history; a refresh proposes new values (a cluster
centre) and the domain keeps every one inside its trait's bounds, rounded, whatever
the proposal. New agents of the archetype start from the current priors, and the
monthly job hands them to the existing agents (`Agent.PriorsRefreshed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from eventsourcing.domain import event

from domain.agent import RECORDED, UNCHANGED
from domain.catalogue import TraitBounds
from domain.text_id_aggregate import TextIdAggregate

PRIORS_ID_PREFIX = "archetype-priors:"
DECIMALS = 4  # priors are read by people and compared between runs; finer digits are noise


def archetype_priors_id(archetype: str) -> str:
    return PRIORS_ID_PREFIX + archetype


def bounded_priors(
    proposed: Mapping[str, float], current: Mapping[str, float], bounds: Mapping[str, TraitBounds]
) -> tuple[dict[str, float], list[str]]:
    """The proposal rounded and clamped into each trait's bounds (a trait it lacks keeps its current value),
    and the traits that had to be clamped."""
    priors, clamped = {}, []
    for trait, value in current.items():
        wanted = round(float(proposed.get(trait, value)), DECIMALS)
        kept = bounds[trait].clamp(wanted)
        if kept != wanted:
            clamped.append(trait)
        priors[trait] = kept
    return priors, clamped


class ArchetypePriors(TextIdAggregate):
    TOPIC = "agent_learning:ArchetypePriors"

    class Created(TextIdAggregate.Created):
        TOPIC = "agent_learning:ArchetypePriors.Created"

    class Seeded(TextIdAggregate.Created):
        """The catalogue's priors, recorded with the first refresh so the history starts where agents did."""

        TOPIC = "agent_learning:ArchetypePriors.Seeded"
        archetype: str
        priors: dict
        occurred_at: datetime

    class Refreshed(TextIdAggregate.Event):
        TOPIC = "agent_learning:ArchetypePriors.Refreshed"
        before: dict
        after: dict
        clamped: list
        agents: int
        period: str
        occurred_at: datetime

    @staticmethod
    def create_id(archetype: str, **_: object) -> str:
        return archetype_priors_id(archetype)

    @classmethod
    def seed(cls, archetype: str, priors: Mapping[str, float], occurred_at: datetime) -> ArchetypePriors:
        return cls(archetype=archetype, priors=dict(priors), occurred_at=occurred_at)

    @event(Seeded)
    def __init__(self, archetype: str, priors: dict, occurred_at: datetime) -> None:
        self.archetype = archetype
        self.priors = dict(priors)
        self.refreshes = 0
        self.last_period: str | None = None

    def refresh(
        self,
        proposed: Mapping[str, float],
        bounds: Mapping[str, TraitBounds],
        *,
        agents: int,
        period: str,
        occurred_at: datetime,
    ) -> str:
        """Moves the priors to the proposal, kept in bounds; nothing is recorded when they would not change."""
        after, clamped = bounded_priors(proposed, self.priors, bounds)
        if after == self.priors:
            return UNCHANGED
        self._refreshed(
            before=dict(self.priors),
            after=after,
            clamped=clamped,
            agents=agents,
            period=period,
            occurred_at=occurred_at,
        )
        return RECORDED

    @event(Refreshed)
    def _refreshed(
        self, before: dict, after: dict, clamped: list, agents: int, period: str, occurred_at: datetime
    ) -> None:
        self.priors = dict(after)
        self.refreshes += 1
        self.last_period = period
