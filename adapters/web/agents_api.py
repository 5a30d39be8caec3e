"""`/api/agents/…`: learning state and history (as `agent show` / `agent history`), owner configuration,
administrators' freeze and unfreeze."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from adapters.service.agent_history import history_entries
from adapters.service.learning_config_view import learning_config_view
from adapters.web.api_tokens import Principal
from adapters.web.authorization import administrator, owned_by, principal, visible_agent
from adapters.web.batch_state import MODEL_VERSIONS, TRAINING_JOBS, owned_agents, visible_rows
from adapters.web.problems import problems
from adapters.web.system_pool import SystemPool
from domain.commands import ConfigureLearning, FreezeUpdates, UnfreezeUpdates
from domain.learning_config import InvalidLearningConfig, LearningConfig, validate_command_config
from domain.learning_options import CHOICES as OPTION_CHOICES
from jobs.model_registry_service import served_models

router = APIRouter(prefix="/api")

Rate = Annotated[float | None, Field(strict=True)]


class LearningConfigBody(BaseModel):
    """The whole configuration: a field left out is not set at the agent's level (the defaults decide)."""

    model_config = ConfigDict(extra="forbid")
    profile: str | None = None
    traitRate: Rate = None
    traitRates: dict[str, Annotated[float, Field(strict=True)]] = Field(default_factory=dict)
    actionRate: Rate = None
    epsilon: Rate = None
    # The learning options (docs/learning-options.md), their choices the domain's own.
    rewardBaseline: Literal[OPTION_CHOICES["rewardBaseline"]] | None = None  # type: ignore[valid-type]
    traitWeighting: Literal[OPTION_CHOICES["traitWeighting"]] | None = None  # type: ignore[valid-type]
    actionWeighting: Literal[OPTION_CHOICES["actionWeighting"]] | None = None  # type: ignore[valid-type]
    rateSchedule: Literal[OPTION_CHOICES["rateSchedule"]] | None = None  # type: ignore[valid-type]
    exploration: Literal[OPTION_CHOICES["exploration"]] | None = None  # type: ignore[valid-type]
    temperature: Rate = None


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, description="why (recorded in the agent's history)")


def _pool(request: Request) -> SystemPool:
    return request.app.state.pool


@router.get(
    "/agents/{agent_id}",
    summary="the agent's learning state, as `agent show --json`",
    responses=problems(401, 404, 422),
)
def get_agent(agent_id: str, request: Request, who: Principal = Depends(principal)) -> dict:
    with _pool(request).system() as system:
        return visible_agent(system, who, agent_id)


@router.get(
    "/agents/{agent_id}/history", summary="the agent's recorded events, oldest first", responses=problems(401, 404, 422)
)
def get_history(agent_id: str, request: Request, who: Principal = Depends(principal)) -> list[dict]:
    with _pool(request).system() as system:
        visible_agent(system, who, agent_id)
        return history_entries(system.service, agent_id)


@router.put(
    "/agents/{agent_id}/learning-config",
    summary="set the agent's learning profile and overrides (422 names any value out of bounds)",
    responses=problems(401, 404, 413, 422),
)
def put_learning_config(
    agent_id: str, body: LearningConfigBody, request: Request, who: Principal = Depends(principal)
) -> dict:
    config = LearningConfig(
        profile=body.profile,
        trait_rate=body.traitRate,
        trait_rates=body.traitRates,
        action_rate=body.actionRate,
        epsilon=body.epsilon,
        options={o: getattr(body, o) for o in OPTION_CHOICES if getattr(body, o) is not None},
        temperature=body.temperature,
    )
    with _pool(request).system() as system:
        visible_agent(system, who, agent_id)
        try:
            validate_command_config(config, system.service.settings)
        except InvalidLearningConfig as error:
            raise HTTPException(422, f"learning configuration for {agent_id} rejected: {error}") from None
        service = system.service
        # Checked again inside the write: the agent may have changed owners since the read above.
        service.configure(
            ConfigureLearning(None, agent_id, service.clock(), config, from_event=False, by=who.name), owned_by(who)
        )
        system.projections.catch_up()
        rates = service.get_agent(agent_id).rates(service.settings)
    return {"agentId": agent_id, "learningConfig": config.to_dict(), "effective": rates.to_dict()}


@router.get(
    "/agents/{agent_id}/learning-config",
    summary="the agent's learning configuration, its effective rates and where each comes from",
    responses=problems(401, 404, 422),
)
def get_learning_config(agent_id: str, request: Request, who: Principal = Depends(principal)) -> dict:
    with _pool(request).system() as system:
        visible_agent(system, who, agent_id)
        return learning_config_view(system.service, agent_id)


@router.post(
    "/agents/{agent_id}/freeze",
    summary="stop the agent's updates (administrators only)",
    responses=problems(401, 403, 404, 413, 422),
)
def freeze(agent_id: str, body: ReasonBody, request: Request, who: Principal = Depends(administrator)) -> dict:
    return _set_frozen(request, who, agent_id, body.reason, frozen=True)


@router.post(
    "/agents/{agent_id}/unfreeze",
    summary="resume the agent's updates; sentiment restarts at 0 (administrators only)",
    responses=problems(401, 403, 404, 413, 422),
)
def unfreeze(agent_id: str, body: ReasonBody, request: Request, who: Principal = Depends(administrator)) -> dict:
    return _set_frozen(request, who, agent_id, body.reason, frozen=False)


def _set_frozen(request: Request, who: Principal, agent_id: str, reason: str, frozen: bool) -> dict:
    with _pool(request).system() as system:
        visible_agent(system, who, agent_id)
        service = system.service
        command = (FreezeUpdates if frozen else UnfreezeUpdates)(agent_id, reason, service.clock(), by=who.name)
        result = service.freeze(command) if frozen else service.unfreeze(command)
        system.projections.catch_up()
    return {"agentId": agent_id, "frozen": frozen, "changed": result == "recorded"}


def _batch_rows(request: Request, who: Principal, collection: str, agent_id: str | None, limit: int) -> list[dict]:
    with _pool(request).system() as system:
        if agent_id is not None:
            visible_agent(system, who, agent_id)  # catches the read models up itself
        else:
            system.projections.catch_up()
        return visible_rows(system.read_models, collection, who, agent_id, limit)


Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many rows, newest first")]
AgentFilter = Annotated[str | None, Query(description="only this agent's rows (404 if the agent is not yours)")]


@router.get(
    "/training-jobs",
    summary="batch training jobs, newest first (owners: their agents' jobs only; "
    "archetype-wide jobs: administrators only)",
    responses=problems(401, 404, 422),
)
def training_jobs(
    request: Request,
    agentId: AgentFilter = None,
    limit: Limit = 100,  # noqa: N803 - wire name
    who: Principal = Depends(principal),
) -> list[dict]:
    return _batch_rows(request, who, TRAINING_JOBS, agentId, limit)


@router.get(
    "/models",
    summary="model versions in the registry, newest first, with their aliases and the agents served each "
    "(owners: their agents' models only; archetype-wide models: administrators only)",
    responses=problems(401, 404, 422),
)
def models(
    request: Request,
    agentId: AgentFilter = None,
    limit: Limit = 100,  # noqa: N803 - wire name
    who: Principal = Depends(principal),
) -> list[dict]:
    """Each row's `servedTo` lists the caller's agents that are served that model (`domain/model_choice.py`);
    an archetype's model served to one of the caller's agents is listed for its owner too."""
    with _pool(request).system() as system:
        if agentId is not None:
            visible_agent(system, who, agentId)  # catches the read models up itself
        else:
            system.projections.catch_up()
        mine = {agentId} if agentId is not None else (None if who.admin else owned_agents(system.read_models, who))
        served = served_models(system, sorted(mine) if mine is not None else None)
        served_to: dict[str, list[str]] = {}
        for agent, model in sorted(served.items()):
            if model.model_id is not None:
                served_to.setdefault(model.model_id, []).append(agent)
        rows = []
        for row in system.read_models.find(MODEL_VERSIONS, []):
            row["servedTo"] = served_to.get(row["modelId"], [])
            if mine is None or row.get("agentId") in mine or row["servedTo"]:
                rows.append(row)
    rows.sort(key=lambda row: (row.get("createdAt") or "", row["modelId"]), reverse=True)
    return rows[:limit]
