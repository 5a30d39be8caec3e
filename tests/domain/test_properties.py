"""Properties of the learning loop over random feedback streams (hypothesis).

Whatever arrives, traits stay in bounds, ε only falls (unless reconfigured), the
published policy is a distribution, and replaying the history rebuilds the agent.
"""

from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.agent import Agent, replay
from domain.catalogue import ACTIONS, ARCHETYPES, TRAIT_BOUNDS
from domain.commands import (
    ConfigureLearning,
    EndSession,
    RecordActivity,
    RecordFeedback,
    RegisterAgent,
    UnfreezeUpdates,
)
from domain.learning_config import PROFILES, LearningConfig
from domain.rewards import RATING
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from tests.domain.agent_builders import T0

TRAITS = tuple(TRAIT_BOUNDS)
KINDS = tuple(SETTINGS.rewards.kinds)

minutes_later = st.one_of(
    st.integers(0, 10),
    st.integers(0, 120),
    st.sampled_from([5, 40, 41, 60 * 24, 60 * 24 * 7, 60 * 24 * 8]),
).map(lambda m: timedelta(minutes=m))

attributions = st.dictionaries(st.sampled_from(TRAITS), st.floats(-1, 1, allow_nan=False), max_size=len(TRAITS))
configs = st.builds(
    LearningConfig,
    profile=st.none() | st.sampled_from(sorted(PROFILES)),
    trait_rate=st.none() | st.floats(0, 0.3),
    trait_rates=st.dictionaries(st.sampled_from(TRAITS), st.floats(0, 0.3), max_size=2),
    action_rate=st.none() | st.floats(0, 0.3),
    epsilon=st.none() | st.floats(0, 0.3),
)


@st.composite
def feedback_steps(draw):
    kind = draw(st.sampled_from(KINDS))
    value = draw(st.integers(1, 5) | st.floats(1, 5)) if kind == RATING else None
    traits = draw(attributions)
    action = draw(st.none() | st.sampled_from(ACTIONS))
    return ("feedback", draw(minutes_later), {"kind": kind, "value": value, "traits": traits, "action": action})


# A run of bad feedback sinks sentiment below −0.5, so long gaps afterwards can freeze the agent.
bad_streaks = st.tuples(st.just("bad_streak"), minutes_later, st.integers(5, 12))

steps = st.one_of(
    feedback_steps(),
    feedback_steps(),
    feedback_steps(),
    feedback_steps(),
    bad_streaks,
    st.tuples(st.just("session_end"), minutes_later, st.none()),
    st.tuples(st.just("activity"), minutes_later, st.none()),
    st.tuples(st.just("tick"), minutes_later, st.none()),
    st.tuples(st.just("unfreeze"), minutes_later, st.none()),
    st.tuples(st.just("duplicate"), minutes_later, st.none()),
    st.tuples(st.just("configure"), minutes_later, configs),
)

agents = st.fixed_dictionaries(
    {
        "archetype": st.sampled_from(sorted(ARCHETYPES)),
        "profile": st.none() | st.sampled_from(sorted(PROFILES)),
    }
)


def run(agent_spec, stream, check) -> tuple[Agent, list]:
    """Feeds the stream to a new agent, calling `check(agent, before, step)` after every step."""
    now = T0
    config = LearningConfig(profile=agent_spec["profile"])
    agent = Agent.register(RegisterAgent("reg", "a-1", now, archetype=agent_spec["archetype"], config=config), SETTINGS)
    history = list(agent.collect_events())
    sent: list[RecordFeedback] = []
    for number, (what, delay, payload) in enumerate(stream):
        now += delay
        before = {"epsilon": agent.epsilon}
        if what == "feedback":
            command = RecordFeedback(f"fb-{number}", "a-1", now, **payload)
            sent.append(command)
            agent.record_feedback(command, SETTINGS)
        elif what == "bad_streak":
            for i in range(payload):
                command = RecordFeedback(f"fb-{number}-{i}", "a-1", now, "rating", value=1, traits={"humor": 1.0})
                sent.append(command)
                agent.record_feedback(command, SETTINGS)
                now += timedelta(minutes=1)
        elif what == "duplicate" and sent:
            agent.record_feedback(sent[number % len(sent)], SETTINGS)
        elif what == "session_end":
            agent.end_session(EndSession(f"s-{number}", "a-1", now), SETTINGS)
        elif what == "activity":
            agent.record_activity(RecordActivity(f"act-{number}", "a-1", now), SETTINGS)
        elif what == "tick":
            agent.tick(now, SETTINGS)
        elif what == "unfreeze":
            agent.unfreeze(UnfreezeUpdates("a-1", "reviewed", now))
        elif what == "configure":
            agent.configure(ConfigureLearning(f"cfg-{number}", "a-1", now, payload), SETTINGS)
        check(agent, before, what)
        history += agent.collect_events()
    return agent, history


def no_check(agent, before, what) -> None:
    pass


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STREAMS = st.lists(steps, min_size=5, max_size=60)


@PROPERTY_SETTINGS
@given(agents, STREAMS)
def test_learned_and_effective_traits_always_stay_within_their_bounds(agent_spec, stream):
    def check(agent, before, what):
        for trait, bounds in TRAIT_BOUNDS.items():
            assert bounds.minimum <= agent.learned[trait] <= bounds.maximum, (trait, agent.learned[trait])
            assert bounds.minimum <= agent.effective[trait] <= bounds.maximum, (trait, agent.effective[trait])

    run(agent_spec, stream, check)


@PROPERTY_SETTINGS
@given(agents, STREAMS)
def test_epsilon_never_rises_except_by_a_configuration_change(agent_spec, stream):
    def check(agent, before, what):
        if what != "configure":
            assert agent.epsilon <= before["epsilon"], (what, before["epsilon"], agent.epsilon)
        assert agent.epsilon >= SETTINGS.epsilon_floor

    run(agent_spec, stream, check)


@PROPERTY_SETTINGS
@given(agents, STREAMS)
def test_the_published_policy_is_always_a_probability_distribution_over_the_actions(agent_spec, stream):
    def check(agent, before, what):
        assert set(agent.policy) == set(ACTIONS)
        assert math.isclose(sum(agent.policy.values()), 1.0, abs_tol=1e-9), agent.policy
        assert all(0.0 <= p <= 1.0 for p in agent.policy.values()), agent.policy

    run(agent_spec, stream, check)


def state_of(agent: Agent) -> dict:
    return {k: v for k, v in vars(agent).items() if k != "_pending_events"}


@PROPERTY_SETTINGS
@given(agents, STREAMS)
def test_replaying_an_agents_events_rebuilds_the_same_state(agent_spec, stream):
    agent, history = run(agent_spec, stream, no_check)
    rebuilt = replay(history)
    assert state_of(rebuilt) == state_of(agent)
