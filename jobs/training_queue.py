"""The training queue: jobs asked for on demand, cancelled, listed with their events.

There is no broker in front of training: the queue is the `TrainingJob` aggregates (each
job's own event history: queued, started, progress, retries, the end) and the
`training_jobs` read model that lists them. Workers take the due pending jobs in
`queue_order` (priority, then age) and two workers never start one job twice, because
`Started` is an optimistic save of the job's next version (docs/batch.md, "The training
queue", says why this replaces the roadmap's optional BullMQ).

On demand (`create_job`): an owner for one of their agents, an administrator for any agent
or an archetype. The same eligibility rules as the weekly run apply unless an
administrator forces it (recorded on the job, with the reason); the dataset is built from
the last 30 days, or reused when one with the same content exists; one open job per scope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen
from eventsourcing.application import AggregateNotFoundError

from adapters.bootstrap import System
from adapters.service.learning_service import UnknownAgent
from adapters.service.unit_of_work import load_fresh
from domain.agent import Agent, agent_aggregate_id
from domain.eligibility import activity, eligibility
from domain.timestamps import to_iso
from domain.training_examples import Scope, abuse_flags
from domain.training_hyperparameters import hyperparameters
from domain.training_job import (
    ON_DEMAND,
    OPEN_STATUSES,
    JobNotCancellable,
    TrainingJob,
    check_priority,
    training_job_aggregate_id,
)
from jobs.batch_settings import BatchSettings
from jobs.datasets import ensure_dataset, plan, scoped_feedback
from jobs.feedback_log import read_log
from jobs.trainers.choice import trainer_problem
from projections.read_model_store import Condition
from projections.training_jobs import TRAINING_JOBS

MAX_REASON = 500
ID_ATTEMPTS = 20


class TrainingQueueError(ValueError):
    """A request the queue refuses; the message names the input and the fix."""


class UnknownJob(TrainingQueueError):
    pass


class JobConflict(TrainingQueueError):
    """The scope already has an open job."""


class NotEligible(TrainingQueueError):
    pass


class NoTrainer(TrainingQueueError):
    pass


class NotAllowed(TrainingQueueError):
    """The caller may not do this (a forced job or an archetype job without administrator rights)."""


@frozen
class Requester:
    """Who asks: an owner (`admin` False: their own agents only) or an administrator."""

    name: str
    admin: bool
    may_see: Callable[[str | None], bool]


def open_job_ids(system: System) -> list[str]:
    """The aggregate ids of the jobs pending or running, from the `training_jobs` read model (caught up)."""
    system.projections.catch_up()
    ids = []
    for status in OPEN_STATUSES:
        for doc in system.read_models.find(TRAINING_JOBS, [Condition("status", "eq", status)]):
            ids.append(training_job_aggregate_id(doc["jobId"]))
    return ids


def _scope_condition(scope: Scope) -> Condition:
    if scope.agent_id is not None:
        return Condition("agentId", "eq", scope.agent_id)
    return Condition("archetype", "eq", scope.archetype)


def _open_job_of(system: System, scope: Scope) -> dict | None:
    system.projections.catch_up()
    for doc in system.read_models.find(TRAINING_JOBS, [_scope_condition(scope)]):
        if doc["status"] in OPEN_STATUSES and (("agentId" in doc) == (scope.agent_id is not None)):
            return doc
    return None


def _check_reason(reason: str | None, *, required: bool, what: str) -> str | None:
    if reason is not None:
        reason = reason.strip()
    if not reason:
        if required:
            raise TrainingQueueError(f"{what} records why: give a non-empty reason (--reason TEXT)")
        return None
    if len(reason) > MAX_REASON:
        raise TrainingQueueError(f"the reason is {len(reason)} characters; at most {MAX_REASON}")
    return reason


def create_job(
    system: System,
    settings: BatchSettings,
    *,
    scope: Scope,
    requester: Requester,
    now: datetime,
    priority: int = 0,
    reason: str | None = None,
    force: bool = False,
    hyperparameters_given: Mapping | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> TrainingJob:
    """Queues one job now (see the module's text); raises a TrainingQueueError saying why not."""
    check = _checked(check_priority, priority)
    hyper = _checked(hyperparameters, hyperparameters_given, settings.default_hyperparameters)
    reason = _check_reason(reason, required=force, what="a forced job")
    if force and not requester.admin:
        raise NotAllowed("only administrators may force a job past the eligibility rules (--force)")
    if scope.agent_id is not None:
        _visible_agent(system, scope.agent_id, requester)
    else:
        if not requester.admin:
            raise NotAllowed("only administrators may queue a job for a whole archetype")
        known = system.service.settings.archetypes
        if scope.archetype not in known:
            raise TrainingQueueError(f"unknown archetype {scope.archetype!r}; known: {', '.join(sorted(known))}")
    problem = trainer_problem(system.config.trainer)
    if problem is not None:
        raise NoTrainer(f"nothing was queued: {problem}")
    existing = _open_job_of(system, scope)
    if existing is not None:
        raise JobConflict(
            f"{_describe(scope)} already has an open job, {existing['jobId']} ({existing['status']}); "
            f"follow it with `agent-learning jobs show {existing['jobId']}` or cancel it first"
        )

    view = read_log(system.service, now, progress)
    flags = abuse_flags(view.feedback)
    items = scoped_feedback(view, now, settings.rules).get(scope, [])
    counts = activity(items, flags, now, settings.rules)
    verdict = eligibility(counts, view.last_trained.get(scope.key), now, settings.rules)
    if not verdict.eligible and not force:
        raise NotEligible(
            f"{_describe(scope)} is not eligible for training: {'; '.join(verdict.reasons)} "
            "(an administrator may queue it anyway with --force and a --reason)"
        )
    planned = plan(scope, items, flags)
    if planned is None:
        raise NotEligible(
            f"{_describe(scope)} has no high-quality interactions in the last "
            f"{settings.rules.window.days} days, so there is no dataset to train on (not even with --force)"
        )
    _, new = ensure_dataset(system.service, planned, settings.datasets_dir, now)
    progress(f"{'made' if new else 'reusing'} dataset {planned.dataset_id}")

    taken = len(system.read_models.find(TRAINING_JOBS, [_scope_condition(scope)]))
    for attempt in range(ID_ATTEMPTS):
        job = TrainingJob.queue(
            _on_demand_id(scope, taken + attempt + 1),
            agent_id=scope.agent_id,
            archetype=scope.archetype,
            dataset_id=planned.dataset_id,
            period=ON_DEMAND,
            now=now,
            hyperparameters=hyper.as_dict(),
            priority=check,
            reason=reason,
            requested_by=requester.name,
            forced=force and not verdict.eligible,
        )
        if system.service.work.create(job):
            system.projections.catch_up()
            return job
        racing = _open_job_of(system, scope)  # another request queued one a moment ago
        if racing is not None:
            raise JobConflict(f"{_describe(scope)} got an open job a moment ago: {racing['jobId']}")
    raise TrainingQueueError(f"could not pick a free job id for {_describe(scope)}; try again")


def _on_demand_id(scope: Scope, number: int) -> str:
    return f"tj-od-{hashlib.sha256(scope.key.encode()).hexdigest()[:10]}-{number}"


def _checked(check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(*args)
    except ValueError as error:
        raise TrainingQueueError(str(error)) from None


def _describe(scope: Scope) -> str:
    return f"agent {scope.agent_id}" if scope.agent_id is not None else f"archetype {scope.archetype}"


def _visible_agent(system: System, agent_id: str, requester: Requester) -> Agent:
    try:
        agent: Agent = load_fresh(system.service, agent_aggregate_id(agent_id))
    except AggregateNotFoundError:
        raise UnknownAgent(agent_id) from None
    if not requester.may_see(agent.owner_id):
        raise UnknownAgent(agent_id)  # someone else's agent answers like a missing one
    return agent


def _load_job(system: System, job_id: str) -> TrainingJob:
    try:
        return load_fresh(system.service, training_job_aggregate_id(job_id))
    except AggregateNotFoundError:
        raise UnknownJob(f"no training job {job_id!r}; see `agent-learning jobs list`") from None


def _authorize(system: System, job: TrainingJob, requester: Requester) -> None:
    """Owners reach the jobs of their own agents; archetype jobs are administrators' only."""
    if requester.admin:
        return
    if job.agent_id is None:
        raise UnknownJob(f"no training job {job.job_id!r} for this token")
    try:
        _visible_agent(system, job.agent_id, requester)
    except UnknownAgent:
        raise UnknownJob(f"no training job {job.job_id!r} for this token") from None


def cancel_job(system: System, job_id: str, *, requester: Requester, reason: str, now: datetime) -> str:
    """Cancels a pending job, or asks the run training it to stop; returns the job's status after.
    Who may cancel is decided on the job as stored, inside the write."""
    reason = _check_reason(reason, required=True, what="cancelling a job")  # type: ignore[assignment]
    aggregate_id = training_job_aggregate_id(job_id)

    def cancel(job: TrainingJob) -> str:
        _authorize(system, job, requester)
        return job.cancel(by=requester.name, reason=reason, now=now)

    try:
        status = system.service.work.change(aggregate_id, cancel)
    except AggregateNotFoundError:
        raise UnknownJob(f"no training job {job_id!r}; see `agent-learning jobs list`") from None
    except JobNotCancellable as error:
        raise TrainingQueueError(str(error)) from None
    system.projections.catch_up()
    return status


def job_document(system: System, job_id: str, requester: Requester) -> dict:
    """The job's `training_jobs` document (caught up), for a caller who may see it."""
    _authorize(system, _load_job(system, job_id), requester)
    system.projections.catch_up()
    doc = system.read_models.get(TRAINING_JOBS, job_id)
    if doc is None:
        raise UnknownJob(f"no training job {job_id!r}; see `agent-learning jobs list`")
    return doc


def job_events(system: System, job_id: str, requester: Requester) -> list[dict]:
    """The job's events, oldest first: `{"type", "version", "occurredAt", "data"}` with camelCase fields."""
    job = _load_job(system, job_id)
    _authorize(system, job, requester)
    entries = []
    for event in system.service.events.get(job.id):
        data = {_camel(k): _plain(v) for k, v in vars(event).items() if k not in _INTERNAL}
        entries.append(
            {
                "type": type(event).__name__,
                "version": event.originator_version,
                "occurredAt": data.pop("occurredAt", None) or to_iso(event.timestamp),
                "data": data,
            }
        )
    return entries


_INTERNAL = ("originator_id", "originator_version", "timestamp", "originator_topic")


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value
