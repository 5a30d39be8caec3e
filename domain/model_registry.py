"""The model registry of one scope (an agent or an archetype): its trained versions and where its aliases point.

Every trained adapter becomes a numbered version with its lineage (dataset, base model,
job, metrics, adapter folder). An alias such as `champion` is moved by promotion or
rollback, each move an event saying who and why. Rollback undoes the last move still in
force: the alias goes back to what it pointed to before, a second rollback one step more,
and with nothing earlier it is refused with an error that says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from eventsourcing.domain import event

from domain.agent import RECORDED, UNCHANGED
from domain.text_id_aggregate import TextIdAggregate
from domain.training_examples import Scope  # one agent or one archetype, as datasets and training jobs have it

CHAMPION = "champion"
PROMOTE, ROLLBACK = "promote", "rollback"

AGENT_SCOPE, ARCHETYPE_SCOPE = "agent", "archetype"
REGISTRY_ID_PREFIX = "model-registry:"
_MODEL_ID = re.compile(r"^(agent|archetype):(.+)/v([1-9][0-9]*)$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class ModelRegistryError(ValueError):
    """A registry command that cannot be carried out; the message names the input and the fix."""


class UnknownModel(ModelRegistryError):
    pass


class NothingToRollBack(ModelRegistryError):
    pass


def scope_name(scope: Scope) -> str:
    return scope.agent_id if scope.agent_id is not None else scope.archetype  # type: ignore[return-value]


def describe(scope: Scope) -> str:
    return f"agent {scope.agent_id}" if scope.agent_id is not None else f"archetype {scope.archetype}"


def registry_id(scope: Scope) -> str:
    return REGISTRY_ID_PREFIX + scope.key


def scope_of_registry(aggregate_id: str) -> Scope:
    kind, _, name = aggregate_id.removeprefix(REGISTRY_ID_PREFIX).partition(":")
    return Scope(agent_id=name) if kind == AGENT_SCOPE else Scope(archetype=name)


def model_id_for(scope: Scope, version: int) -> str:
    """A model id names its scope and version (`agent:a-1/v2`), so a command given only the id finds its registry."""
    return f"{scope.key}/v{version}"


def scope_of_model(model_id: str) -> Scope:
    match = _MODEL_ID.match(model_id)
    if match is None:
        raise UnknownModel(
            f"{model_id!r} is not a model id; model ids look like 'agent:AGENT_ID/v3' or "
            "'archetype:NAME/v1' (see `agent-learning models list`)"
        )
    kind, name, _ = match.groups()
    return Scope(agent_id=name) if kind == AGENT_SCOPE else Scope(archetype=name)


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias):
        raise ModelRegistryError(
            f"alias {alias!r} is not valid: use lower-case letters, digits, '-' or '_', "
            "starting with a letter (e.g. champion, canary)"
        )
    return alias


def better_than_champion(candidate: Mapping, champion: Mapping | None) -> bool:
    """The auto-promotion rule for a later model: it improved on its own held-out set and its held-out
    loss after training is below the champion's. Anything else waits for `models promote`."""
    try:
        after, before = float(candidate["heldoutLossAfter"]), float(candidate["heldoutLossBefore"])
        if champion is None:
            return after < before
        return after < before and after < float(champion["heldoutLossAfter"])
    except (KeyError, TypeError, ValueError):
        return False  # metrics without the held-out losses never promote on their own


class ModelRegistry(TextIdAggregate):
    TOPIC = "agent_learning:ModelRegistry"

    class Created(TextIdAggregate.Created):
        TOPIC = "agent_learning:ModelRegistry.Created"

    class Opened(TextIdAggregate.Created):
        TOPIC = "agent_learning:ModelRegistry.Opened"
        agent_id: str | None
        archetype: str | None
        occurred_at: datetime

    class VersionRegistered(TextIdAggregate.Event):
        """v2 added the lineage's `parent_model_id` (a warm start's adapter) and the job's `hyperparameters`."""

        TOPIC = "agent_learning:ModelRegistry.VersionRegistered"
        class_version = 2
        model_id: str
        version: int
        dataset_id: str
        base_model: str
        job_id: str
        metrics: dict
        adapter_dir: str
        occurred_at: datetime
        parent_model_id: str | None
        hyperparameters: dict

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(parent_model_id=None, hyperparameters={})

    class AliasMoved(TextIdAggregate.Event):
        """Carries the target's lineage too, so `ModelUpdated` is made from this one event."""

        TOPIC = "agent_learning:ModelRegistry.AliasMoved"
        alias: str
        model_id: str
        previous_model_id: str | None
        action: str
        by: str
        reason: str
        version: int
        dataset_id: str
        base_model: str
        adapter_dir: str
        occurred_at: datetime

    # ----------------------------------------------------------------- creation

    @staticmethod
    def create_id(agent_id: str | None, archetype: str | None, **_: object) -> str:
        return registry_id(Scope(agent_id, archetype))

    @classmethod
    def open(cls, scope: Scope, occurred_at: datetime) -> ModelRegistry:
        return cls(agent_id=scope.agent_id, archetype=scope.archetype, occurred_at=occurred_at)

    @event(Opened)
    def __init__(self, agent_id: str | None, archetype: str | None, occurred_at: datetime) -> None:
        self.agent_id = agent_id
        self.archetype = archetype
        self.versions: dict[str, dict] = {}
        self.aliases: dict[str, str] = {}
        # Per alias, the targets it had before each promotion still in force (a stack: rollback pops).
        self.earlier: dict[str, list[str]] = {}
        self.models_by_job: dict[str, str] = {}

    @property
    def scope(self) -> Scope:
        return Scope(self.agent_id, self.archetype)

    # ----------------------------------------------------------------- commands

    def register_version(
        self,
        *,
        dataset_id: str,
        base_model: str,
        job_id: str,
        metrics: Mapping,
        adapter_dir: str,
        occurred_at: datetime,
        parent_model_id: str | None = None,
        hyperparameters: Mapping | None = None,
    ) -> str:
        """Records a trained model as the next version; a job registered before gets its model back, unchanged."""
        if job_id in self.models_by_job:
            return self.models_by_job[job_id]
        version = len(self.versions) + 1
        model_id = model_id_for(self.scope, version)
        self._registered(
            model_id=model_id,
            version=version,
            dataset_id=dataset_id,
            base_model=base_model,
            job_id=job_id,
            metrics=dict(metrics),
            adapter_dir=adapter_dir,
            occurred_at=occurred_at,
            parent_model_id=parent_model_id,
            hyperparameters=dict(hyperparameters or {}),
        )
        return model_id

    def promote(self, model_id: str, alias: str, *, by: str, reason: str, occurred_at: datetime) -> str:
        check_alias(alias)
        if model_id not in self.versions:
            known = ", ".join(self.versions) or "none yet"
            raise UnknownModel(
                f"no model {model_id!r} in the registry of {describe(self.scope)} "
                f"(its models: {known}); see `agent-learning models list`"
            )
        if self.aliases.get(alias) == model_id:
            return UNCHANGED
        self._move(alias, model_id, PROMOTE, by, reason, occurred_at)
        return RECORDED

    def rollback(self, alias: str, *, by: str, reason: str, occurred_at: datetime) -> str:
        """Moves the alias back to where it pointed before its last promotion; returns that model id."""
        check_alias(alias)
        if alias not in self.aliases:
            raise NothingToRollBack(
                f"alias {alias!r} of {describe(self.scope)} points to no model, so there is "
                "nothing to roll back; promote a model to it instead"
            )
        if not self.earlier.get(alias):
            raise NothingToRollBack(
                f"alias {alias!r} of {describe(self.scope)} points to {self.aliases[alias]} and has no earlier "
                f"model to roll back to; promote another model instead (`agent-learning models promote MODEL_ID "
                f"--alias {alias} --reason ...`)"
            )
        target = self.earlier[alias][-1]
        self._move(alias, target, ROLLBACK, by, reason, occurred_at)
        return target

    def champion_metrics(self) -> dict | None:
        champion = self.aliases.get(CHAMPION)
        return self.versions[champion]["metrics"] if champion else None

    # ---------------------------------------------------------------- internals

    def _move(self, alias: str, model_id: str, action: str, by: str, reason: str, occurred_at: datetime) -> None:
        target = self.versions[model_id]
        self._alias_moved(
            alias=alias,
            model_id=model_id,
            previous_model_id=self.aliases.get(alias),
            action=action,
            by=by,
            reason=reason,
            version=target["version"],
            dataset_id=target["dataset_id"],
            base_model=target["base_model"],
            adapter_dir=target["adapter_dir"],
            occurred_at=occurred_at,
        )

    # ------------------------------------------------------- state transitions

    @event(VersionRegistered)
    def _registered(
        self,
        model_id: str,
        version: int,
        dataset_id: str,
        base_model: str,
        job_id: str,
        metrics: dict,
        adapter_dir: str,
        occurred_at: datetime,
        parent_model_id: str | None,
        hyperparameters: dict,
    ) -> None:
        self.versions[model_id] = {
            "parent_model_id": parent_model_id,
            "hyperparameters": dict(hyperparameters),
            "version": version,
            "dataset_id": dataset_id,
            "base_model": base_model,
            "job_id": job_id,
            "metrics": dict(metrics),
            "adapter_dir": adapter_dir,
            "created_at": occurred_at,
        }
        self.models_by_job[job_id] = model_id

    @event(AliasMoved)
    def _alias_moved(
        self,
        alias: str,
        model_id: str,
        previous_model_id: str | None,
        action: str,
        by: str,
        reason: str,
        version: int,
        dataset_id: str,
        base_model: str,
        adapter_dir: str,
        occurred_at: datetime,
    ) -> None:
        stack = self.earlier.setdefault(alias, [])
        if action == ROLLBACK:
            stack.pop()
        elif previous_model_id is not None:
            stack.append(previous_model_id)
        self.aliases[alias] = model_id
