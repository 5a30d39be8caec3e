"""Events triggered the fast way are the very events the library would build, down to the stored bytes."""

from __future__ import annotations

import pytest
from eventsourcing.domain import BaseAggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from domain.agent import Agent, replay
from domain.commands import RegisterAgent
from domain.settings import DEFAULT_SETTINGS
from tests.domain.agent_builders import AGENT_ID, MIXED_BATCH, T0, at, record_batch, registered_agent


def _mapper() -> Mapper:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def _fields(event) -> dict:
    return {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}


def test_every_event_equals_the_one_the_library_builds_from_the_same_fields():
    agent = registered_agent()
    record_batch(agent, at(minutes=1), MIXED_BATCH * 2)  # feedback, recalculations: each class used again
    fast = agent.collect_events()
    assert {type(e) for e in fast} >= {Agent.FeedbackRecorded, Agent.PolicyRecalculated}

    library = registered_agent()
    for event in fast:  # the same events through the library's own trigger_event
        BaseAggregate.trigger_event(library, type(event), timestamp=event.timestamp, **_fields(event))
    built = library.collect_events()

    mapper = _mapper()
    assert [list(vars(e).items()) for e in fast] == [list(vars(e).items()) for e in built]  # order too
    assert [mapper.to_stored_event(e) for e in fast] == [mapper.to_stored_event(e) for e in built]


def test_replaying_fast_events_rebuilds_the_agent():
    agent = Agent.register(RegisterAgent("reg-1", AGENT_ID, T0), DEFAULT_SETTINGS)
    record_batch(agent, at(minutes=1), MIXED_BATCH * 3)
    history = agent.collect_events()
    rebuilt = replay(history)
    assert vars(rebuilt) == vars(agent)


def test_fields_that_are_not_the_event_s_are_refused_as_the_library_refuses_them():
    agent = registered_agent()
    record_batch(agent, at(minutes=1), MIXED_BATCH)  # the fast path is warm for FeedbackRecorded
    with pytest.raises(TypeError, match="Can't construct event"):
        agent.trigger_event(Agent.FeedbackRecorded, no_such_field=1)
    with pytest.raises(TypeError, match="Can't construct event"):
        fields = _fields(agent.collect_events()[0])
        fields["no_such_field"] = fields.pop("kind")
        agent.trigger_event(Agent.FeedbackRecorded, **fields)
