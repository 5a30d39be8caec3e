"""`/api/training-jobs/…`: ask for a fine-tune, follow it, cancel it; and which model an agent is served.

Owners queue jobs for their own agents; administrators for any agent or a whole archetype,
and only they may force a job past the eligibility rules. Who may see or cancel a job is
decided on the job and its agent as stored, inside the write (`jobs/training_queue.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from adapters.service.learning_service import UnknownAgent
from adapters.web.api_tokens import Principal
from adapters.web.authorization import agent_not_found, principal, visible_agent
from adapters.web.problems import problems
from adapters.web.system_pool import SystemPool
from domain.training_examples import Scope
from domain.training_hyperparameters import BOUNDS
from domain.training_job import PRIORITY_BOUNDS
from jobs.batch_settings import BatchSettings
from jobs.model_registry_service import served_models
from jobs.training_queue import (
    MAX_REASON,
    JobConflict,
    NotAllowed,
    NoTrainer,
    Requester,
    TrainingQueueError,
    UnknownJob,
    cancel_job,
    create_job,
    job_document,
    job_events,
)

router = APIRouter(prefix="/api")

Strict = Field(strict=True)


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: Annotated[int | None, Field(strict=True, ge=BOUNDS["steps"][0], le=BOUNDS["steps"][1])] = None
    learningRate: Annotated[  # noqa: N815 - wire name
        float | None, Field(ge=BOUNDS["learningRate"][0], le=BOUNDS["learningRate"][1], allow_inf_nan=False)
    ] = None
    loraRank: Annotated[  # noqa: N815 - wire name
        int | None, Field(strict=True, ge=BOUNDS["loraRank"][0], le=BOUNDS["loraRank"][1])
    ] = None


class JobRequest(BaseModel):
    """Exactly one of `agentId` and `archetype`."""

    model_config = ConfigDict(extra="forbid")
    agentId: Annotated[str | None, Field(min_length=1, max_length=200)] = None  # noqa: N815 - wire name
    archetype: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    priority: Annotated[int, Field(strict=True, ge=PRIORITY_BOUNDS[0], le=PRIORITY_BOUNDS[1])] = 0
    reason: Annotated[str | None, Field(min_length=1, max_length=MAX_REASON)] = None
    force: Annotated[bool, Strict] = False
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why (recorded on the job)")


def _pool(request: Request) -> SystemPool:
    return request.app.state.pool


def _requester(who: Principal) -> Requester:
    return Requester(name=who.name, admin=who.admin, may_see=who.may_see)


def _refused(error: Exception, agent_id: str | None = None) -> HTTPException:
    if isinstance(error, UnknownAgent):
        return agent_not_found(agent_id or str(error))
    if isinstance(error, UnknownJob):
        return HTTPException(404, str(error))
    if isinstance(error, NotAllowed):
        return HTTPException(403, str(error))
    if isinstance(error, JobConflict | NoTrainer):
        return HTTPException(409, str(error))
    return HTTPException(422, str(error))  # NotEligible, bad values


CREATE_WHY = {
    403: "forcing a job, or a job for a whole archetype, needs an administrator's token",
    404: "no such agent for this token: it does not exist, or it is not the caller's",
    409: "the agent or archetype already has an open job, or no trainer is configured (the reason says which)",
    422: "the body does not fit its schema, or the scope is not eligible for training (the reason says why)",
}


@router.post(
    "/training-jobs",
    status_code=201,
    summary="queue a training job now (owners: their own agents; administrators: any agent or an archetype)",
    responses=problems(401, 403, 404, 409, 422, why=CREATE_WHY),
)
def create_training_job(body: JobRequest, request: Request, who: Principal = Depends(principal)) -> JSONResponse:
    if (body.agentId is None) == (body.archetype is None):
        raise HTTPException(422, "give exactly one of agentId and archetype")
    given = body.hyperparameters.model_dump(exclude_none=True)
    with _pool(request).system() as system:
        try:
            job = create_job(
                system,
                BatchSettings.from_config(system.config.home, system.config.batch),
                scope=Scope(body.agentId, body.archetype),
                requester=_requester(who),
                now=system.service.clock(),
                priority=body.priority,
                reason=body.reason,
                force=body.force,
                hyperparameters_given=given,
            )
        except (UnknownAgent, TrainingQueueError) as error:
            raise _refused(error, body.agentId) from None
        doc = system.read_models.get("training_jobs", job.job_id)
    return JSONResponse(doc, status_code=201, headers={"Location": f"/api/training-jobs/{job.job_id}"})


JOB_WHY = {404: "no such training job for this token (jobs of other owners' agents answer the same)"}


@router.get(
    "/training-jobs/{job_id}",
    summary="one training job: status, priority, hyperparameters, the latest progress",
    responses=problems(401, 404, why=JOB_WHY),
)
def get_training_job(job_id: str, request: Request, who: Principal = Depends(principal)) -> dict:
    with _pool(request).system() as system:
        try:
            return job_document(system, job_id, _requester(who))
        except TrainingQueueError as error:
            raise _refused(error) from None


@router.get(
    "/training-jobs/{job_id}/events",
    summary="the job's events, oldest first: queued, started, progress (losses), failures and retries, the end",
    responses=problems(401, 404, why=JOB_WHY),
)
def get_training_job_events(job_id: str, request: Request, who: Principal = Depends(principal)) -> list[dict]:
    with _pool(request).system() as system:
        try:
            return job_events(system, job_id, _requester(who))
        except TrainingQueueError as error:
            raise _refused(error) from None


CANCEL_WHY = {
    **JOB_WHY,
    422: "the body does not fit its schema, or the job has already ended (the reason says how)",
}


@router.post(
    "/training-jobs/{job_id}/cancel",
    summary="cancel a pending job, or stop a running one after its current step",
    responses=problems(401, 404, 422, why=CANCEL_WHY),
)
def cancel_training_job(
    job_id: str, body: CancelRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    with _pool(request).system() as system:
        try:
            status = cancel_job(
                system, job_id, requester=_requester(who), reason=body.reason, now=system.service.clock()
            )
        except TrainingQueueError as error:
            raise _refused(error) from None
    return {"jobId": job_id, "status": status, "cancelRequested": True}


@router.get(
    "/agents/{agent_id}/served-model",
    summary="which fine-tuned model the agent is served, and why (its own champion, its archetype's, or the base model)",
    responses=problems(401, 404),
)
def served_model(agent_id: str, request: Request, who: Principal = Depends(principal)) -> dict:
    with _pool(request).system() as system:
        visible_agent(system, who, agent_id)
        served = served_models(system, [agent_id])[agent_id]
    return {"agentId": agent_id, **served.as_dict()}
