"""Stored history keeps loading: old event versions are upcast, and topics stay stable across renames."""

from __future__ import annotations

import json

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic, resolve_topic

from domain.agent import Agent, replay
from domain.commands import FreezeUpdates, RegisterAgent, UnfreezeUpdates
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from domain.text_id_aggregate import TextIdEvent, TextIdSnapshot
from tests.domain.agent_builders import (
    T0,
    activity,
    at,
    feedback,
    registered_agent,
    session_end,
)


@pytest.fixture
def transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


@pytest.fixture
def mapper(transcoder) -> Mapper:
    return Mapper(transcoder=transcoder)


def version_1_feedback_payload() -> dict:
    """A FeedbackRecorded as v1 stored it: no prompt, no response, and so no class_version key."""
    return {
        "timestamp": at(minutes=1),
        "event_id": "fb-old",
        "kind": "thumbs_up",
        "value": None,
        "reward": 1.0,
        "traits": {"empathy": 1.0},
        "action": "answer",
        "session_id": "s-1",
        "interaction_id": "i-1",
        "user_id": "u-1",
        "sentiment": 0.1,
        "below_since": None,
        "occurred_at": at(minutes=1),
    }


def stored_v1_feedback(transcoder) -> StoredEvent:
    return StoredEvent(
        originator_id="agent:a-1",
        originator_version=2,
        topic="agent_learning:Agent.FeedbackRecorded",
        state=transcoder.encode(version_1_feedback_payload()),
    )


def test_a_version_1_feedback_event_loads_with_no_prompt_and_no_response(mapper, transcoder):
    loaded = mapper.to_domain_event(stored_v1_feedback(transcoder))
    assert isinstance(loaded, Agent.FeedbackRecorded)
    assert loaded.prompt is None
    assert loaded.response is None


def test_a_version_1_feedback_event_keeps_every_field_it_had(mapper, transcoder):
    loaded = mapper.to_domain_event(stored_v1_feedback(transcoder))
    assert loaded.originator_id == "agent:a-1"
    assert loaded.originator_version == 2
    for name, value in version_1_feedback_payload().items():
        assert getattr(loaded, name) == value, name


def test_a_loaded_version_1_feedback_event_still_applies_to_the_agent(mapper, transcoder):
    agent = registered_agent()
    loaded = mapper.to_domain_event(stored_v1_feedback(transcoder))
    agent = loaded.mutate(agent)
    assert agent.feedback_count == 1
    assert agent.pending[0]["reward"] == 1.0
    assert "fb-old" in agent.seen_event_ids


def test_a_new_feedback_event_is_stored_as_version_3_and_round_trips_its_text_and_propensity(mapper):
    agent = registered_agent()
    command = feedback(at(minutes=1), prompt="hi?", response="hello!", action="answer", action_probability=0.4)
    agent.record_feedback(command, SETTINGS)
    [recorded] = agent.collect_events()
    stored = mapper.to_stored_event(recorded)
    assert json.loads(stored.state)["class_version"] == 3
    loaded = mapper.to_domain_event(stored)
    assert (loaded.prompt, loaded.response) == ("hi?", "hello!")
    assert (loaded.policy_version, loaded.action_probability, loaded.propensity_source) == (0, 0.4, "logged")
    assert vars(loaded) == vars(recorded)


def test_a_version_2_feedback_event_loads_with_no_propensity(mapper, transcoder):
    payload = {**version_1_feedback_payload(), "prompt": "p", "response": "r", "class_version": 2}
    stored = StoredEvent("agent:a-1", 2, "agent_learning:Agent.FeedbackRecorded", transcoder.encode(payload))
    loaded = mapper.to_domain_event(stored)
    assert (loaded.prompt, loaded.policy_version, loaded.action_probability, loaded.propensity_source) == (
        "p",
        None,
        None,
        None,
    )


def test_a_whole_history_survives_storing_and_loading(mapper):
    agent = Agent.register(RegisterAgent("reg-1", "a-1", T0, archetype="mentor"), SETTINGS)
    for minute in range(1, 6):
        agent.record_feedback(feedback(at(minutes=minute), traits={"humor": -0.5}, action="escalate"), SETTINGS)
    agent.end_session(session_end(at(minutes=7)), SETTINGS)
    agent.record_activity(activity(at(minutes=8)), SETTINGS)
    agent.freeze(FreezeUpdates("a-1", "x", at(minutes=9)))
    agent.unfreeze(UnfreezeUpdates("a-1", "y", at(minutes=10)))
    history = agent.collect_events()
    loaded = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in history]
    rebuilt = replay(loaded)
    assert state_of(rebuilt) == state_of(agent)
    assert rebuilt.policy_version == 1


def state_of(agent: Agent) -> dict:
    return {k: v for k, v in vars(agent).items() if k != "_pending_events"}


# -------------------------------------------------------------- stable topics


def agent_event_classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(Agent).items()
        if isinstance(cls, type) and issubclass(cls, (TextIdEvent, TextIdSnapshot)) and cls is not Agent.Event
    }


def test_the_agent_has_the_events_the_rules_need():
    assert {"AgentRegistered", "FeedbackRecorded", "PolicyRecalculated", "UpdatesFrozen", "UpdatesUnfrozen"} <= set(
        agent_event_classes()
    )


@pytest.mark.parametrize("name", sorted(agent_event_classes()))
def test_every_agent_event_has_a_stable_topic_that_resolves_to_it(name):
    cls = agent_event_classes()[name]
    assert cls.TOPIC == f"agent_learning:Agent.{name}"
    assert get_topic(cls) == cls.TOPIC
    assert resolve_topic(cls.TOPIC) is cls


def test_the_agent_itself_has_a_stable_topic():
    assert get_topic(Agent) == "agent_learning:Agent"
    assert resolve_topic("agent_learning:Agent") is Agent


def test_stored_events_name_their_stable_topic_not_the_python_module(mapper):
    agent = registered_agent()
    agent.record_feedback(feedback(at(minutes=1), "thumbs_down"), SETTINGS)
    topics = [mapper.to_stored_event(e).topic for e in agent.collect_events()]
    assert topics == ["agent_learning:Agent.FeedbackRecorded", "agent_learning:Agent.PolicyRecalculated"]
