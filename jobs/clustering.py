"""k-means over agents' learned trait vectors: refreshed archetype priors and mapping suggestions.

Per archetype, the centre of its agents (the one-cluster k-means solution, their mean)
starts the clustering. Across all agents, k-means with one cluster per archetype,
started from those centres, then finds where the population really sits:
- an agent that ends in another archetype's cluster sits nearer that archetype's
  centroid than its own: a mapping suggestion;
- an archetype's refreshed prior is the centre of its own agents that stay in its
  cluster (agents that look like another archetype do not drag it), once at least
  `min_agents` of them do; the domain then keeps it inside each trait's bounds.

Plain values in, plain values out: no store, no clock; seeded, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from attrs import frozen

from domain.archetype_priors import bounded_priors
from domain.catalogue import TraitBounds

# Below this many agents an archetype's prior stays put: with the spread learned traits show
# (about 0.1 per trait), 20 agents put the centre within about ±0.02 of the truth, finer
# than the 0.07 a single recalculation may move a trait.
MIN_AGENTS_PER_ARCHETYPE = 20


@frozen
class AgentTraits:
    agent_id: str
    archetype: str
    learned: Mapping[str, float]


@frozen
class ArchetypeRefresh:
    archetype: str
    agents: int  # agents of the archetype that were clustered
    kept: int  # of those, how many stayed in the archetype's own cluster (the prior's support)
    current: Mapping[str, float]
    proposed: Mapping[str, float] | None  # in bounds; None when the prior stays put
    clamped: tuple[str, ...]
    reason: str

    @property
    def moves(self) -> bool:
        return self.proposed is not None and dict(self.proposed) != dict(self.current)


@frozen
class MappingSuggestion:
    agent_id: str
    archetype: str
    nearer: str
    distance_own: float
    distance_nearer: float


@frozen
class ClusteringResult:
    refreshes: Mapping[str, ArchetypeRefresh]
    suggestions: tuple[MappingSuggestion, ...]
    centroids: Mapping[str, Mapping[str, float]]  # archetype -> its cluster's centre across all agents
    agents: int


def kmeans(
    vectors: np.ndarray, k: int, *, seed: int = 0, initial: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster centres and each vector's cluster: from `initial` centres when given, else k-means++ (10 starts)."""
    from sklearn.cluster import KMeans  # a second to import: only the monthly job pays it

    if initial is not None:
        model = KMeans(n_clusters=k, init=initial, n_init=1, random_state=seed)
    else:
        model = KMeans(n_clusters=k, init="k-means++", n_init=10, random_state=seed)
    labels = model.fit_predict(vectors)
    return model.cluster_centers_, labels


def cluster_archetypes(
    agents: Sequence[AgentTraits],
    current_priors: Mapping[str, Mapping[str, float]],
    bounds: Mapping[str, TraitBounds],
    *,
    min_agents: int = MIN_AGENTS_PER_ARCHETYPE,
    seed: int = 0,
) -> ClusteringResult:
    traits = list(bounds)
    known = [a for a in agents if a.archetype in current_priors]
    by_archetype: dict[str, list[int]] = {}
    for index, agent in enumerate(known):
        by_archetype.setdefault(agent.archetype, []).append(index)
    present = sorted(by_archetype)
    vectors = np.array([[float(a.learned[t]) for t in traits] for a in known]).reshape(len(known), len(traits))

    labels = np.zeros(len(known), dtype=int)
    centres = np.zeros((len(present), len(traits)))
    if present:
        centres = np.array([vectors[by_archetype[name]].mean(axis=0) for name in present])
        if len(present) > 1:
            centres, labels = kmeans(vectors, len(present), seed=seed, initial=centres)
        else:
            labels = np.zeros(len(known), dtype=int)

    suggestions = []
    for index, agent in enumerate(known):
        own = present.index(agent.archetype)
        if labels[index] != own:
            distances = np.linalg.norm(centres - vectors[index], axis=1)
            suggestions.append(
                MappingSuggestion(
                    agent.agent_id,
                    agent.archetype,
                    present[labels[index]],
                    round(float(distances[own]), 4),
                    round(float(distances[labels[index]]), 4),
                )
            )

    refreshes = {}
    for name, current in current_priors.items():
        members = by_archetype.get(name, [])
        kept = [i for i in members if present[labels[i]] == name]
        if len(kept) < min_agents:
            refreshes[name] = ArchetypeRefresh(
                name,
                len(members),
                len(kept),
                dict(current),
                None,
                (),
                f"{len(kept)} of its agents fit it, fewer than the {min_agents} needed to move its prior",
            )
            continue
        centre = vectors[kept].mean(axis=0)
        proposed, clamped = bounded_priors(dict(zip(traits, centre.tolist())), current, bounds)
        reason = f"centre of the {len(kept)} of its {len(members)} agents that fit it" + (
            f"; clamped into bounds: {', '.join(clamped)}" if clamped else ""
        )
        refreshes[name] = ArchetypeRefresh(
            name, len(members), len(kept), dict(current), proposed, tuple(clamped), reason
        )

    centroids = {name: {t: round(float(v), 4) for t, v in zip(traits, centres[i])} for i, name in enumerate(present)}
    return ClusteringResult(refreshes, tuple(suggestions), centroids, len(known))
