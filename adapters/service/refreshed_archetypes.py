"""The archetypes new registrations start from: the catalogue's, with the priors the monthly job refreshed.

Read from the event store (never from the aggregate cache, which another process may
have made stale), at most once per archetype for each batch of commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import attrs

from domain.agent import replay
from domain.archetype_priors import archetype_priors_id
from domain.catalogue import Archetype
from domain.settings import LearningSettings

PriorsLoader = Callable[[str], "Mapping[str, float] | None"]


class RefreshedArchetypes(Mapping[str, Archetype]):
    """The catalogue's archetypes; trait priors replaced by the refreshed ones where there are any."""

    def __init__(self, catalogue: Mapping[str, Archetype], load: PriorsLoader):
        self._catalogue = catalogue
        self._load = load
        self._memo: dict[str, Archetype] = {}

    def __getitem__(self, name: str) -> Archetype:
        if name not in self._memo:
            base = self._catalogue[name]
            refreshed = self._load(name)
            self._memo[name] = base if refreshed is None else Archetype(name, dict(refreshed), base.action_priors)
        return self._memo[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._catalogue)

    def __len__(self) -> int:
        return len(self._catalogue)

    def __contains__(self, name: object) -> bool:
        return name in self._catalogue


def stored_priors(events) -> PriorsLoader:
    """A loader reading an archetype's current priors from the event store (None: never refreshed)."""

    def load(archetype: str) -> Mapping[str, float] | None:
        aggregate = replay(events.get(archetype_priors_id(archetype)))
        return None if aggregate is None else aggregate.priors

    return load


def settings_with_refreshed_priors(settings: LearningSettings, load: PriorsLoader) -> LearningSettings:
    return attrs.evolve(settings, archetypes=RefreshedArchetypes(settings.archetypes, load))
