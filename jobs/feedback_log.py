"""What the batch loop reads from the event store's notification log, as plain values.

One pass over the log (only the topics it needs, page by page, as the projections'
catch-up runner reads it) gives the feedback up to `now`, each agent's archetype, and
when each scope last finished a training job. Events recorded after `now` (by event
time) are left out, so a run with `--now` in the past sees the past.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from attrs import define, field

from adapters.service.learning_service import LearningService
from domain.agent import Agent, agent_id_of
from domain.training_examples import FeedbackItem, Scope
from domain.training_job import TrainingJob

PAGE = 5_000
TOPICS = (
    Agent.AgentRegistered.TOPIC,
    Agent.RegistrationAmended.TOPIC,
    Agent.FeedbackRecorded.TOPIC,
    TrainingJob.Queued.TOPIC,
    TrainingJob.Succeeded.TOPIC,
    TrainingJob.Failed.TOPIC,
    TrainingJob.Cancelled.TOPIC,
)

Progress = Callable[[str], None]


@define
class LogView:
    feedback: list[FeedbackItem] = field(factory=list)
    archetypes: dict[str, str] = field(factory=dict)  # agent id -> archetype
    job_scopes: dict[str, str] = field(factory=dict)  # training-job aggregate id -> scope key
    open_jobs: dict[str, None] = field(factory=dict)  # training-job aggregate ids not finished, in queue order
    last_trained: dict[str, datetime] = field(factory=dict)  # scope key -> last success
    head: int = 0


def read_log(service: LearningService, now: datetime, progress: Progress | None = None) -> LogView:
    view = LogView()
    head = service.recorder.max_notification_id() or 0
    start, read = 1, 0
    while True:
        page = service.recorder.select_notifications(start=start, limit=PAGE, stop=head, topics=TOPICS)
        if not page:
            break
        for notification in page:
            _take(view, service.mapper.to_domain_event(notification), notification.id, now)
        read += len(page)
        start = page[-1].id + 1
        if progress:
            progress(f"read {read:,} events of the log (position {page[-1].id:,} of {head:,})")
        if len(page) < PAGE:
            break
    view.head = head
    return view


def _take(view: LogView, event: object, position: int, now: datetime) -> None:
    if isinstance(event, Agent.FeedbackRecorded):
        if event.occurred_at <= now:
            view.feedback.append(
                FeedbackItem(
                    position=position,
                    agent_id=agent_id_of(event.originator_id),
                    event_id=event.event_id,
                    kind=event.kind,
                    reward=event.reward,
                    occurred_at=event.occurred_at,
                    session_id=event.session_id,
                    interaction_id=event.interaction_id,
                    prompt=event.prompt,
                    response=event.response,
                )
            )
    elif isinstance(event, Agent.AgentRegistered):
        view.archetypes[event.agent_id] = event.archetype
    elif isinstance(event, Agent.RegistrationAmended):
        view.archetypes[agent_id_of(event.originator_id)] = event.archetype
    elif isinstance(event, TrainingJob.Queued):
        view.job_scopes[event.originator_id] = Scope(event.agent_id, event.archetype).key
        view.open_jobs[event.originator_id] = None
    elif isinstance(event, TrainingJob.Failed):
        if event.final:
            view.open_jobs.pop(event.originator_id, None)
    elif isinstance(event, TrainingJob.Cancelled):
        view.open_jobs.pop(event.originator_id, None)
    elif isinstance(event, TrainingJob.Succeeded):
        view.open_jobs.pop(event.originator_id, None)
        scope = view.job_scopes.get(event.originator_id)
        if scope is not None and event.occurred_at <= now:
            previous = view.last_trained.get(scope)
            view.last_trained[scope] = max(previous, event.occurred_at) if previous else event.occurred_at
