"""The monthly job: cluster agents' learned traits, refresh archetype priors, suggest remappings.

1. Reads every agent from `agent_learning_state` (caught up first). Agents past the
   archetype stage (at least `decay_below_feedback` feedback, 10 by default) and not
   frozen are clustered on their learned trait vectors (`jobs/clustering.py`).
2. Each archetype with at least `MIN_AGENTS_PER_ARCHETYPE` agents that fit it gets
   refreshed priors: an `ArchetypePriors.Refreshed` event with before and after, in bounds.
   New registrations of the archetype start from them from then on.
3. Every agent of an archetype whose priors were ever refreshed is handed the current
   ones (`Agent.PriorsRefreshed`, only where they differ), so its future blending and
   decay use them. This also finishes the work of an earlier run that stopped halfway.
4. Mapping suggestions (agents nearer another archetype's centroid) go in the summary.

`dry_run` computes all of it and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.service.refreshed_archetypes import stored_priors
from domain.agent import RECORDED, replay
from domain.archetype_priors import ArchetypePriors, archetype_priors_id
from domain.batch_run import MONTHLY, period_of
from domain.clustering_insights import ClusteringInsights
from jobs.clustering import MIN_AGENTS_PER_ARCHETYPE, AgentTraits, cluster_archetypes
from projections.agent_learning_state import STATE

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def run_monthly(
    system,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    *,
    min_agents: int = MIN_AGENTS_PER_ARCHETYPE,
    seed: int = 0,
) -> dict:
    progress = progress or _quiet
    settings = system.service.settings
    period = period_of(MONTHLY, now)  # the UTC month, as the run's lease names it

    system.projections.catch_up()
    docs = system.read_models.find(STATE, order_by=("agentId",))
    eligible = [
        AgentTraits(d["agentId"], d["archetype"], d["learnedTraits"])
        for d in docs
        if d["feedbackCount"] >= settings.decay_below_feedback and not d["frozen"]
    ]
    progress(
        f"{len(docs):,} agents read; {len(eligible):,} have learned enough to cluster "
        f"(at least {settings.decay_below_feedback} feedback, not frozen)"
    )

    load = stored_priors(system.service.events)
    current = {name: dict(load(name) or archetype.trait_priors) for name, archetype in settings.archetypes.items()}
    result = cluster_archetypes(eligible, current, settings.traits, min_agents=min_agents, seed=seed)
    progress(f"clustered {result.agents:,} agents into {len(result.centroids)} archetype clusters")

    agents_of: dict[str, list[str]] = {}
    for doc in docs:
        agents_of.setdefault(doc["archetype"], []).append(doc["agentId"])

    lines, priors, refreshed = [], {}, []
    for name, refresh in result.refreshes.items():
        priors[name] = {
            "before": refresh.current,
            "after": refresh.proposed if refresh.moves else refresh.current,
            "agents": refresh.agents,
            "fitting": refresh.kept,
            "clamped": list(refresh.clamped),
            "changed": refresh.moves,
            "reason": refresh.reason,
        }
        if refresh.moves:
            refreshed.append(name)
            moved = ", ".join(
                f"{t} {refresh.current[t]:.4f}→{refresh.proposed[t]:.4f}"  # type: ignore[index]
                for t in refresh.current
                if refresh.current[t] != refresh.proposed[t]
            )  # type: ignore[index]
            lines.append(f"{name}: {'would refresh' if dry_run else 'refreshed'} priors ({refresh.reason}): {moved}")
        else:
            lines.append(f"{name}: priors unchanged ({refresh.reason})")

    if not dry_run:
        for name in refreshed:
            _record_refresh(system, name, result.refreshes[name], settings.traits, period, now)
    agents_updated = 0
    if dry_run:
        to_hand_over = refreshed
    else:  # every archetype ever refreshed: also finishes an earlier run that stopped halfway
        to_hand_over = [name for name in settings.archetypes if load(name) is not None]
    for name in to_hand_over:
        ids = agents_of.get(name, [])
        if dry_run:
            lines.append(f"{name}: its {len(ids)} agents would take the new priors for their future blending")
            continue
        new_priors = dict(load(name))  # type: ignore[arg-type]
        changed = system.service.refresh_priors(ids, name, new_priors, period, now)
        agents_updated += changed
        progress(f"{name}: {changed:,} of its {len(ids):,} agents took the current priors")
        if changed:
            lines.append(f"{name}: {changed} agents took the refreshed priors")

    suggestions = [
        {
            "agentId": s.agent_id,
            "archetype": s.archetype,
            "nearer": s.nearer,
            "distanceOwn": s.distance_own,
            "distanceNearer": s.distance_nearer,
        }
        for s in result.suggestions
    ]
    for s in result.suggestions:
        lines.append(
            f"suggestion: {s.agent_id} ({s.archetype}) sits nearer {s.nearer} "
            f"(distance {s.distance_nearer:.3f} against {s.distance_own:.3f} to its own)"
        )
    if not dry_run:  # what the run found, kept for /fleet and GET /api/insights (once per period)
        system.service.work.create(
            ClusteringInsights.record(
                period,
                agents=len(docs),
                clustered=result.agents,
                centroids={name: dict(centre) for name, centre in result.centroids.items()},
                refreshed=refreshed,
                priors=priors,
                suggestions=suggestions,
                occurred_at=now,
            )
        )
        system.projections.catch_up()
    return {
        "period": period,
        "dryRun": dry_run,
        "agents": len(docs),
        "clustered": result.agents,
        "minAgentsPerArchetype": min_agents,
        "refreshed": refreshed,
        "priors": priors,
        "agentsUpdated": agents_updated,
        "centroids": result.centroids,
        "suggestions": suggestions,
        "details": lines,
    }


def _record_refresh(system, name: str, refresh, bounds, period: str, now: datetime) -> None:
    aggregate = replay(system.service.events.get(archetype_priors_id(name)))
    if aggregate is None:
        aggregate = ArchetypePriors.seed(name, refresh.current, now)
    if aggregate.refresh(refresh.proposed, bounds, agents=refresh.kept, period=period, occurred_at=now) == RECORDED:
        system.service.work.save([aggregate])
