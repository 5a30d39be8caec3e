"""k-means over learned trait vectors: known centres are recovered, priors stay in bounds, misfits are suggested."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.archetype_priors import ArchetypePriors, bounded_priors
from domain.catalogue import ARCHETYPES, TRAIT_BOUNDS
from jobs.clustering import MIN_AGENTS_PER_ARCHETYPE, AgentTraits, cluster_archetypes, kmeans

TRAITS = list(TRAIT_BOUNDS)
LOW = np.array([b.minimum for b in TRAIT_BOUNDS.values()])
HIGH = np.array([b.maximum for b in TRAIT_BOUNDS.values()])
CATALOGUE = {name: dict(a.trait_priors) for name, a in ARCHETYPES.items()}
# Where each archetype's agents "really" sit: away from the catalogue's priors, inside the bounds.
CENTRES = {
    "mentor": [0.78, 0.22, 0.04, 0.66, 0.55, 0.86],
    "companion": [0.90, 0.70, 0.15, 0.22, 0.45, 0.55],
    "professional": [0.33, 0.08, 0.02, 0.84, 0.33, 0.36],
}
SPREAD = 0.03


def draw(rng, centre, n: int, archetype: str, prefix: str) -> list[AgentTraits]:
    vectors = np.clip(rng.normal(centre, SPREAD, size=(n, len(TRAITS))), LOW, HIGH)
    return [AgentTraits(f"{prefix}-{i}", archetype, dict(zip(TRAITS, v.tolist()))) for i, v in enumerate(vectors)]


def population(seed: int = 11, per_archetype: int = 40, misfits: int = 6) -> list[AgentTraits]:
    rng = np.random.default_rng(seed)
    agents = []
    for name, centre in CENTRES.items():
        agents += draw(rng, centre, per_archetype, name, name)
    # Registered as mentors, behaving like companions.
    agents += draw(rng, CENTRES["companion"], misfits, "mentor", "misfit")
    return agents


def test_kmeans_recovers_known_centres_from_a_seeded_population():
    rng = np.random.default_rng(3)
    vectors = np.vstack([np.clip(rng.normal(c, SPREAD, size=(50, len(TRAITS))), LOW, HIGH) for c in CENTRES.values()])
    centres, labels = kmeans(vectors, 3, seed=0)
    for truth in CENTRES.values():
        nearest = min(centres, key=lambda c: np.linalg.norm(c - truth))
        assert np.abs(nearest - truth).max() < 0.02
    assert sorted(np.bincount(labels).tolist()) == [50, 50, 50]


def test_each_archetype_prior_moves_to_the_centre_its_agents_sit_around():
    result = cluster_archetypes(population(), CATALOGUE, TRAIT_BOUNDS, seed=0)
    for name, truth in CENTRES.items():
        refresh = result.refreshes[name]
        assert refresh.moves
        assert max(abs(refresh.proposed[t] - v) for t, v in zip(TRAITS, truth)) < 0.02
        assert max(abs(result.centroids[name][t] - v) for t, v in zip(TRAITS, truth)) < 0.03


def test_agents_that_sit_nearer_another_archetype_are_suggested_and_do_not_drag_their_own_prior():
    result = cluster_archetypes(population(), CATALOGUE, TRAIT_BOUNDS, seed=0)
    assert sorted(s.agent_id for s in result.suggestions) == [f"misfit-{i}" for i in range(6)]
    assert {(s.archetype, s.nearer) for s in result.suggestions} == {("mentor", "companion")}
    assert all(s.distance_nearer < s.distance_own for s in result.suggestions)
    mentor = result.refreshes["mentor"]
    assert (mentor.agents, mentor.kept) == (46, 40)
    # Had the misfits counted, mentor's humor would sit near 0.28, not 0.22.
    assert mentor.proposed["humor"] == pytest.approx(CENTRES["mentor"][1], abs=0.015)


def test_an_archetype_with_too_few_fitting_agents_keeps_its_prior():
    rng = np.random.default_rng(5)
    agents = draw(rng, CENTRES["mentor"], MIN_AGENTS_PER_ARCHETYPE, "mentor", "m")
    agents += draw(rng, CENTRES["companion"], MIN_AGENTS_PER_ARCHETYPE - 1, "companion", "c")
    result = cluster_archetypes(agents, CATALOGUE, TRAIT_BOUNDS, seed=0)
    assert result.refreshes["mentor"].moves
    companion = result.refreshes["companion"]
    assert not companion.moves and companion.proposed is None
    assert "19 of its agents fit it, fewer than the 20 needed" in companion.reason
    assert not result.refreshes["default"].moves  # no agents at all


def test_the_same_seeded_population_gives_the_same_result():
    assert cluster_archetypes(population(), CATALOGUE, TRAIT_BOUNDS, seed=0) == cluster_archetypes(
        population(), CATALOGUE, TRAIT_BOUNDS, seed=0
    )


def test_a_centre_outside_the_bounds_is_clamped_into_them():
    # Vectors a store could never hold (learning clamps them), to show the domain keeps priors in bounds anyway.
    rng = np.random.default_rng(9)
    wild = [
        AgentTraits(f"w-{i}", "companion", dict(zip(TRAITS, v)))
        for i, v in enumerate(rng.normal([1.2, 0.95, 0.8, 0.0, 0.5, 0.5], 0.01, size=(25, 6)).tolist())
    ]
    refresh = cluster_archetypes(wild, CATALOGUE, TRAIT_BOUNDS).refreshes["companion"]
    assert refresh.proposed["empathy"] == 0.95 and refresh.proposed["humor"] == 0.90
    assert refresh.proposed["sarcasm"] == 0.60 and refresh.proposed["formality"] == 0.10
    assert set(refresh.clamped) == {"empathy", "humor", "sarcasm", "formality"}


@given(st.dictionaries(st.sampled_from(TRAITS), st.floats(-5, 5, allow_nan=False), min_size=0, max_size=6))
def test_bounded_priors_are_always_inside_every_traits_bounds(proposal):
    priors, clamped = bounded_priors(proposal, CATALOGUE["default"], TRAIT_BOUNDS)
    assert set(priors) == set(TRAITS)
    for trait, value in priors.items():
        assert TRAIT_BOUNDS[trait].minimum <= value <= TRAIT_BOUNDS[trait].maximum
    assert set(clamped) <= set(proposal)


def test_a_refresh_records_before_and_after_and_nothing_when_unchanged():
    from datetime import UTC, datetime

    at = datetime(2026, 12, 1, tzinfo=UTC)
    priors = ArchetypePriors.seed("mentor", CATALOGUE["mentor"], at)
    proposal = {**CATALOGUE["mentor"], "humor": 0.234567, "sarcasm": 0.9}
    assert priors.refresh(proposal, TRAIT_BOUNDS, agents=30, period="2026-12", occurred_at=at) == "recorded"
    assert priors.refresh(proposal, TRAIT_BOUNDS, agents=30, period="2026-12", occurred_at=at) == "unchanged"
    [_, refreshed] = priors.collect_events()
    assert refreshed.before == CATALOGUE["mentor"]
    assert refreshed.after == {**CATALOGUE["mentor"], "humor": 0.2346, "sarcasm": 0.6}
    assert refreshed.clamped == ["sarcasm"] and refreshed.agents == 30 and refreshed.period == "2026-12"
