"""Propensities recorded with each feedback: logged by the runtime, or derived from the policy in force."""

from __future__ import annotations

import pytest

from domain.agent import Agent, replay
from domain.commands import RegisterAgent
from domain.propensity import POLICY_LOG_LIMIT, InvalidPropensity
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from tests.domain.agent_builders import AGENT_ID, STEADY_BATCH, at, feedback, new_events, record_batch, registered_agent


def recorded(agent: Agent) -> Agent.FeedbackRecorded:
    [event] = [e for e in new_events(agent) if isinstance(e, Agent.FeedbackRecorded)]
    return event


def agent_with_two_policies() -> tuple[Agent, dict, dict]:
    """Version 0 from 10:00 (registration), version 1 published at 10:04 by a batch of five."""
    agent = registered_agent()
    first = dict(agent.policy)
    record_batch(agent, at(), STEADY_BATCH, action="answer")
    new_events(agent)
    assert agent.policy_version == 1 and agent.last_update_at == at(minutes=4)
    return agent, first, dict(agent.policy)


def test_a_logged_propensity_is_recorded_as_sent():
    agent, _, _ = agent_with_two_policies()
    agent.record_feedback(
        feedback(at(minutes=5), action="escalate", policy_version=0, action_probability=0.3), SETTINGS
    )
    event = recorded(agent)
    assert (event.policy_version, event.action_probability, event.propensity_source) == (0, 0.3, "logged")


def test_without_one_the_policy_in_force_at_occurred_at_is_taken_even_for_late_feedback():
    agent, first, second = agent_with_two_policies()
    agent.record_feedback(feedback(at(minutes=6), action="escalate"), SETTINGS)
    now = recorded(agent)
    assert (now.policy_version, now.action_probability, now.propensity_source) == (1, second["escalate"], "derived")
    # arriving now, but it happened at 10:02, when version 0 was in force
    agent.record_feedback(feedback(at(minutes=2), action="escalate"), SETTINGS)
    late = recorded(agent)
    assert (late.policy_version, late.action_probability) == (0, first["escalate"])
    assert first["escalate"] != second["escalate"]


def test_a_logged_version_without_a_probability_takes_that_versions_probability():
    agent, first, _ = agent_with_two_policies()
    agent.record_feedback(feedback(at(minutes=6), action="answer", policy_version=0), SETTINGS)
    event = recorded(agent)
    assert (event.policy_version, event.action_probability, event.propensity_source) == (0, first["answer"], "derived")


def test_feedback_without_an_action_records_the_version_and_no_probability():
    agent, _, _ = agent_with_two_policies()
    agent.record_feedback(feedback(at(minutes=6)), SETTINGS)
    event = recorded(agent)
    assert (event.policy_version, event.action_probability, event.propensity_source) == (1, None, "derived")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"policy_version": 2},
            "policyVersion 2 was never published for agent 'a-1': its policies are versions 0 to 1",
        ),
        ({"policy_version": -1}, "policyVersion -1 was never published"),
        ({"action_probability": 0.0}, r"actionProbability 0.0 is outside \(0, 1\]"),
        ({"action_probability": 1.5}, r"actionProbability 1.5 is outside \(0, 1\]"),
        ({"action_probability": float("nan")}, r"actionProbability nan is outside \(0, 1\]"),
    ],
)
def test_an_impossible_propensity_is_refused_and_records_nothing(fields, message):
    agent, _, _ = agent_with_two_policies()
    with pytest.raises(InvalidPropensity, match=message):
        agent.record_feedback(feedback(at(minutes=6), action="answer", **fields), SETTINGS)
    assert new_events(agent) == [] and agent.feedback_count == 5


def test_the_agent_keeps_its_last_policies_and_a_replay_keeps_the_same():
    agent = registered_agent()
    for batch in range(POLICY_LOG_LIMIT + 6):
        record_batch(agent, at(minutes=10 * batch), STEADY_BATCH, action="answer")
    assert agent.policy_version == POLICY_LOG_LIMIT + 6
    log = agent.published_policies()
    assert len(log) == POLICY_LOG_LIMIT and log[-1][0] == agent.policy_version and log[0][0] == 7
    rebuilt = replay(list(registered_events()) + list(agent.collect_events()))
    assert rebuilt.published_policies() == log


def registered_events():
    return Agent.register(RegisterAgent("reg-1", AGENT_ID, at()), SETTINGS).collect_events()
