"""The model registry's use cases: register a trained model, promote, roll back, list.

Registries live in the same event store as agents, so every alias move reaches the
relay (`ModelUpdated` on `agent-model-updates`) and the `model_versions` read model.
Each command loads its registry fresh (the aggregate cache may be stale when another
process wrote it) and, if another writer saved first, decides again from the new state.

Promotion policy (`register_trained_model`): the first model of a scope becomes its
`champion`. A later model moves `champion` only when its held-out loss improved on
its own dataset (after < before) and is below the champion's held-out loss after
training; otherwise it is registered and waits for `agent-learning models promote`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from attrs import frozen
from eventsourcing.application import AggregateNotFoundError

from adapters.service.unit_of_work import Loaded, load_fresh
from domain.model_choice import ServedModel, served_model
from domain.model_registry import (
    CHAMPION,
    RECORDED,
    ModelRegistry,
    ModelRegistryError,
    Scope,
    better_than_champion,
    describe,
    registry_id,
    scope_of_model,
)
from projections.agent_learning_state import STATE
from projections.model_versions import MODEL_VERSIONS
from projections.read_model_store import Condition

WEEKLY_JOB = "weekly-job"

T = TypeVar("T")


@frozen
class AliasMove:
    """What a promote or rollback did (`moved` False: the alias already pointed there; nothing recorded)."""

    scope: Scope
    alias: str
    model_id: str
    previous_model_id: str | None
    moved: bool


def _fresh(system, scope: Scope) -> ModelRegistry | None:
    try:
        return load_fresh(system.service, registry_id(scope))
    except AggregateNotFoundError:
        return None


def _change(system, scope: Scope, decide: Callable[[ModelRegistry | None], tuple[ModelRegistry | None, T]]) -> T:
    """Load, decide, save; on a concurrent write, again from the fresh state (the service's unit of work)."""

    def in_work(loaded: Loaded) -> T:
        registry, result = decide(loaded.find(registry_id(scope)))
        if registry is not None:
            loaded.add(registry)
        return result

    return system.service.work.run(in_work, fresh=True)


def register_trained_model(
    system,
    *,
    scope_agent_id: str | None,
    scope_archetype: str | None,
    adapter_dir: Path,
    base_model: str,
    dataset_id: str,
    job_id: str,
    metrics: dict,
    now: datetime,
    parent_model_id: str | None = None,
    hyperparameters: Mapping | None = None,
) -> str:
    """Records a trained adapter as the scope's next model version; returns its model id.

    Idempotent per job: registering the same `job_id` again returns the model already recorded.
    """
    scope = Scope(scope_agent_id, scope_archetype)

    def decide(registry: ModelRegistry | None) -> tuple[ModelRegistry, str]:
        registry = registry or ModelRegistry.open(scope, now)
        if job_id in registry.models_by_job:
            return registry, registry.models_by_job[job_id]
        champion = registry.aliases.get(CHAMPION)
        champion_metrics = registry.champion_metrics()
        model_id = registry.register_version(
            dataset_id=dataset_id,
            base_model=base_model,
            job_id=job_id,
            metrics=metrics,
            adapter_dir=str(adapter_dir),
            occurred_at=now,
            parent_model_id=parent_model_id,
            hyperparameters=hyperparameters,
        )
        if champion is None:
            registry.promote(
                model_id,
                CHAMPION,
                by=WEEKLY_JOB,
                occurred_at=now,
                reason=f"first model of {describe(scope)} (training job {job_id})",
            )
        elif better_than_champion(metrics, champion_metrics):
            registry.promote(
                model_id,
                CHAMPION,
                by=WEEKLY_JOB,
                occurred_at=now,
                reason=(
                    f"held-out loss {float(metrics['heldoutLossAfter']):.4f} after training (from "
                    f"{float(metrics['heldoutLossBefore']):.4f}) beats {champion}'s "
                    f"{float(champion_metrics['heldoutLossAfter']):.4f} (training job {job_id})"
                ),
            )  # type: ignore[index]
        return registry, model_id

    return _change(system, scope, decide)


def promote_model(system, model_id: str, alias: str, *, by: str, reason: str, now: datetime) -> AliasMove:
    scope = scope_of_model(model_id)
    _require_reason(reason)

    def decide(registry: ModelRegistry | None) -> tuple[ModelRegistry, AliasMove]:
        if registry is None:
            raise ModelRegistryError(
                f"{describe(scope)} has no trained models yet, so there is no {model_id!r} "
                "to promote; see `agent-learning models list`"
            )
        previous = registry.aliases.get(alias)
        moved = registry.promote(model_id, alias, by=by, reason=reason, occurred_at=now) == RECORDED
        return registry, AliasMove(scope, alias, model_id, previous, moved)

    return _change(system, scope, decide)


def rollback_alias(system, scope: Scope, alias: str, *, by: str, reason: str, now: datetime) -> AliasMove:
    _require_reason(reason)

    def decide(registry: ModelRegistry | None) -> tuple[ModelRegistry, AliasMove]:
        if registry is None:
            raise ModelRegistryError(
                f"{describe(scope)} has no trained models, so alias {alias!r} has nothing "
                "to roll back; see `agent-learning models list`"
            )
        previous = registry.aliases.get(alias)
        target = registry.rollback(alias, by=by, reason=reason, occurred_at=now)
        return registry, AliasMove(scope, alias, target, previous, True)

    return _change(system, scope, decide)


def aliases_of(system, scope: Scope) -> Mapping[str, str]:
    """Where the scope's aliases point now, from the event store."""
    registry = _fresh(system, scope)
    return dict(registry.aliases) if registry is not None else {}


def list_models(system, scope: Scope | None = None) -> list[dict]:
    """The `model_versions` documents (of one scope, or all), oldest version first within each scope."""
    system.projections.catch_up()
    where = []
    if scope is not None:
        where = [
            Condition("agentId", "eq", scope.agent_id)
            if scope.agent_id is not None
            else Condition("archetype", "eq", scope.archetype)
        ]
    docs = system.read_models.find(MODEL_VERSIONS, where)
    return sorted(docs, key=lambda d: (d.get("agentId") or "", d.get("archetype") or "", d["version"]))


def _require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise ModelRegistryError("every alias move records why: give a non-empty --reason")


def served_models(system, agent_ids: list[str] | None = None) -> dict[str, ServedModel]:
    """Which model each agent (all, or `agent_ids`) is served and why, from the read models
    (`domain/model_choice.py`: its own champion, else its archetype's, else the base model)."""
    system.projections.catch_up()
    champions: dict[tuple[str, str], str] = {}
    for doc in system.read_models.find(MODEL_VERSIONS, []):
        if CHAMPION in doc.get("aliases", []):
            kind, name = ("agent", doc["agentId"]) if doc.get("agentId") else ("archetype", doc.get("archetype"))
            champions[(kind, name)] = doc["modelId"]
    wanted = set(agent_ids) if agent_ids is not None else None
    served = {}
    for state in system.read_models.find(STATE, []):
        agent_id, archetype = state["agentId"], state.get("archetype")
        if wanted is not None and agent_id not in wanted:
            continue
        own = {CHAMPION: champions[("agent", agent_id)]} if ("agent", agent_id) in champions else {}
        shared = {CHAMPION: champions[("archetype", archetype)]} if ("archetype", archetype) in champions else {}
        served[agent_id] = served_model(agent_id, archetype, own, shared)
    return served
