"""Learning rates (section 5): the hierarchy, clamping, profiles, and strict commands vs capped events."""

from __future__ import annotations

import math
from types import MappingProxyType

import pytest
from attrs import evolve

from domain.agent import Agent
from domain.commands import ConfigureLearning, RegisterAgent
from domain.learning_config import (
    PROFILES,
    InvalidLearningConfig,
    LearningConfig,
    cap_event_config,
    effective_rates,
    validate_command_config,
)
from domain.settings import DEFAULT_SETTINGS, LearningSettings
from tests.domain.agent_builders import (
    T0,
    agent_with_lowered_epsilon,
    at,
    feedback,
    new_events,
    registered_agent,
)

TRAITS = tuple(DEFAULT_SETTINGS.traits)


def settings_with(**changes) -> LearningSettings:
    if "trait_rates" in changes:
        changes["trait_rates"] = MappingProxyType(changes["trait_rates"])
    return evolve(DEFAULT_SETTINGS, **changes)


# ------------------------------------------------------------------ hierarchy


def test_with_nothing_configured_every_trait_learns_at_the_global_rate_and_the_defaults_apply():
    rates = effective_rates(LearningConfig(), DEFAULT_SETTINGS)
    assert rates.trait_rates == {trait: 0.07 for trait in TRAITS}
    assert rates.action_rate == 0.05
    assert rates.epsilon == 0.02


def test_a_changed_global_trait_rate_applies_to_every_trait():
    rates = effective_rates(LearningConfig(), settings_with(trait_rate=0.09))
    assert rates.trait_rates == {trait: 0.09 for trait in TRAITS}


def test_a_global_per_trait_rate_beats_the_global_trait_rate_for_that_trait_only():
    rates = effective_rates(LearningConfig(), settings_with(trait_rates={"humor": 0.03}))
    assert rates.trait_rates["humor"] == 0.03
    assert all(rates.trait_rates[t] == 0.07 for t in TRAITS if t != "humor")


def test_an_agent_trait_rate_beats_a_global_per_trait_rate():
    settings = settings_with(trait_rates={"humor": 0.03})
    rates = effective_rates(LearningConfig(trait_rate=0.10), settings)
    assert rates.trait_rates == {trait: 0.10 for trait in TRAITS}


def test_an_agent_profile_counts_as_the_agent_trait_rate_and_beats_a_global_per_trait_rate():
    settings = settings_with(trait_rates={"humor": 0.03})
    rates = effective_rates(LearningConfig(profile="fast"), settings)
    assert rates.trait_rates["humor"] == 0.11


def test_an_agent_per_trait_rate_beats_the_agent_trait_rate_and_everything_below():
    settings = settings_with(trait_rate=0.05, trait_rates={"humor": 0.03, "empathy": 0.04})
    config = LearningConfig(profile="fast", trait_rate=0.10, trait_rates={"humor": 0.08})
    rates = effective_rates(config, settings)
    assert rates.trait_rates["humor"] == 0.08
    assert rates.trait_rates["empathy"] == 0.10  # agent trait rate over global per-trait
    assert rates.trait_rates["sarcasm"] == 0.10


def test_an_agent_action_rate_and_epsilon_beat_the_global_ones():
    settings = settings_with(action_rate=0.04, epsilon=0.03)
    rates = effective_rates(LearningConfig(action_rate=0.06, epsilon=0.015), settings)
    assert (rates.action_rate, rates.epsilon) == (0.06, 0.015)


def test_without_agent_overrides_the_global_action_rate_and_epsilon_apply():
    rates = effective_rates(LearningConfig(), settings_with(action_rate=0.04, epsilon=0.03))
    assert (rates.action_rate, rates.epsilon) == (0.04, 0.03)


# ------------------------------------------------------------------- clamping


@pytest.mark.parametrize(
    ("settings", "config", "expected"),
    [
        (settings_with(trait_rate=0.5), LearningConfig(), 0.12),
        (settings_with(trait_rate=0.001), LearningConfig(), 0.02),
        (settings_with(trait_rates={"empathy": 0.3}), LearningConfig(), 0.12),
        (DEFAULT_SETTINGS, LearningConfig(trait_rate=0.2), 0.12),
        (DEFAULT_SETTINGS, LearningConfig(trait_rates={"empathy": 0.0}), 0.02),
    ],
    ids=["global-high", "global-low", "global-per-trait-high", "agent-high", "agent-per-trait-low"],
)
def test_the_effective_trait_rate_is_clamped_to_0_02_through_0_12(settings, config, expected):
    assert effective_rates(config, settings).trait_rates["empathy"] == expected


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.12])
def test_an_effective_trait_rate_inside_the_bounds_is_kept(rate):
    assert effective_rates(LearningConfig(trait_rate=rate), DEFAULT_SETTINGS).trait_rates["empathy"] == rate


# ------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("profile", "trait_rate", "action_rate", "epsilon"),
    [("conservative", 0.04, 0.03, 0.01), ("balanced", 0.07, 0.05, 0.02), ("fast", 0.11, 0.08, 0.03)],
)
def test_a_profile_sets_the_agent_rates_from_the_profiles_table(profile, trait_rate, action_rate, epsilon):
    rates = effective_rates(LearningConfig(profile=profile), DEFAULT_SETTINGS)
    assert rates.trait_rates == {trait: trait_rate for trait in TRAITS}
    assert rates.action_rate == action_rate
    assert rates.epsilon == epsilon


def test_the_profiles_are_exactly_conservative_balanced_and_fast():
    assert set(PROFILES) == {"conservative", "balanced", "fast"}


def test_no_profile_learns_like_balanced():
    assert effective_rates(LearningConfig(), DEFAULT_SETTINGS) == effective_rates(
        LearningConfig(profile="balanced"), DEFAULT_SETTINGS
    )


def test_explicit_overrides_win_over_the_profile():
    config = LearningConfig(profile="conservative", trait_rate=0.09, action_rate=0.06, epsilon=0.015)
    rates = effective_rates(config, DEFAULT_SETTINGS)
    assert rates.trait_rates == {trait: 0.09 for trait in TRAITS}
    assert (rates.action_rate, rates.epsilon) == (0.06, 0.015)


def test_a_profile_fills_in_what_the_overrides_leave_unset():
    rates = effective_rates(LearningConfig(profile="fast", epsilon=0.01), DEFAULT_SETTINGS)
    assert rates.trait_rates["empathy"] == 0.11
    assert rates.action_rate == 0.08
    assert rates.epsilon == 0.01


def test_an_agent_registered_with_the_fast_profile_learns_at_the_fast_trait_rate():
    agent = registered_agent(config=LearningConfig(profile="fast"))
    for minute in range(5):
        agent.record_feedback(feedback(at(minutes=minute), traits={"empathy": 1.0}, action="answer"), DEFAULT_SETTINGS)
    assert agent.policy_version == 1
    assert agent.learned["empathy"] == pytest.approx(0.61, abs=1e-9)
    assert agent.preferences["answer"] == pytest.approx(0.58, abs=1e-9)
    assert agent.epsilon == 0.03


# --------------------------------------------------------- command validation


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (LearningConfig(trait_rate=0.13), "traitRate"),
        (LearningConfig(trait_rate=0.01), "traitRate"),
        (LearningConfig(trait_rates={"humor": 0.5}), "traitRates.humor"),
        (LearningConfig(action_rate=0.2), "actionRate"),
        (LearningConfig(action_rate=0.0), "actionRate"),
        (LearningConfig(epsilon=0.5), "epsilon"),
        (LearningConfig(epsilon=0.001), "epsilon"),
    ],
)
def test_a_configuration_command_with_a_rate_out_of_bounds_is_rejected_naming_the_field(config, field):
    with pytest.raises(InvalidLearningConfig) as raised:
        validate_command_config(config, DEFAULT_SETTINGS)
    assert f"{field}=" in str(raised.value)
    assert "outside" in str(raised.value)


def test_a_rejected_command_names_every_field_that_is_out_of_bounds():
    config = LearningConfig(trait_rate=0.5, epsilon=0.9)
    with pytest.raises(InvalidLearningConfig) as raised:
        validate_command_config(config, DEFAULT_SETTINGS)
    assert "traitRate=0.5" in str(raised.value)
    assert "epsilon=0.9" in str(raised.value)


@pytest.mark.parametrize(
    "config",
    [
        LearningConfig(trait_rate=0.02),
        LearningConfig(trait_rate=0.12),
        LearningConfig(profile="fast", trait_rates={"humor": 0.05}, action_rate=0.08, epsilon=0.03),
        LearningConfig(),
    ],
)
def test_a_configuration_command_inside_the_bounds_is_accepted_unchanged(config):
    assert validate_command_config(config, DEFAULT_SETTINGS) == config


@pytest.mark.parametrize("profile", ["conservative", "balanced", "fast"])
def test_every_profile_passes_command_validation_at_its_own_rates(profile):
    p = PROFILES[profile]
    config = LearningConfig(profile=profile, trait_rate=p.trait_rate, action_rate=p.action_rate, epsilon=p.epsilon)
    assert validate_command_config(config, DEFAULT_SETTINGS) == config


def test_an_unknown_profile_is_rejected_naming_it_and_the_choices():
    with pytest.raises(InvalidLearningConfig, match=r"'turbo'.*conservative, balanced, fast"):
        validate_command_config(LearningConfig(profile="turbo"), DEFAULT_SETTINGS)


def test_an_unknown_trait_in_trait_rates_is_rejected_naming_it():
    with pytest.raises(InvalidLearningConfig, match=r"'charm'"):
        validate_command_config(LearningConfig(trait_rates={"charm": 0.05}), DEFAULT_SETTINGS)


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "0.05"], ids=["nan", "inf", "bool", "text"])
def test_a_rate_that_is_not_a_finite_number_is_rejected_naming_the_field(value):
    with pytest.raises(InvalidLearningConfig, match=r"traitRate must be a finite number"):
        validate_command_config(LearningConfig(trait_rate=value), DEFAULT_SETTINGS)


# ------------------------------------------------------ event configs are capped


def test_a_configuration_by_event_is_capped_and_the_caps_are_returned():
    config = LearningConfig(trait_rate=0.5, trait_rates={"humor": 0.001}, action_rate=0.3, epsilon=0.0)
    capped, caps = cap_event_config(config, DEFAULT_SETTINGS)
    assert capped.trait_rate == 0.12
    assert capped.trait_rates == {"humor": 0.02}
    assert capped.action_rate == 0.10
    assert capped.epsilon == 0.005
    assert caps == [
        {"field": "traitRate", "requested": 0.5, "applied": 0.12},
        {"field": "traitRates.humor", "requested": 0.001, "applied": 0.02},
        {"field": "actionRate", "requested": 0.3, "applied": 0.10},
        {"field": "epsilon", "requested": 0.0, "applied": 0.005},
    ]


def test_a_configuration_by_event_inside_the_bounds_is_not_capped():
    config = LearningConfig(profile="fast", trait_rate=0.08, trait_rates={"humor": 0.05}, epsilon=0.01)
    capped, caps = cap_event_config(config, DEFAULT_SETTINGS)
    assert capped == config
    assert caps == []


def test_a_configuration_by_event_with_an_unknown_profile_is_still_rejected():
    with pytest.raises(InvalidLearningConfig):
        cap_event_config(LearningConfig(profile="turbo"), DEFAULT_SETTINGS)


def test_a_configuration_event_out_of_bounds_is_recorded_capped_with_its_caps():
    agent = registered_agent()
    agent.configure(ConfigureLearning("cfg-1", "a-1", at(minutes=1), LearningConfig(trait_rate=0.3)), DEFAULT_SETTINGS)
    [configured] = new_events(agent)
    assert isinstance(configured, Agent.LearningConfigured)
    assert configured.config["traitRate"] == 0.12
    assert configured.caps == [{"field": "traitRate", "requested": 0.3, "applied": 0.12}]
    assert agent.rates(DEFAULT_SETTINGS).trait_rates["empathy"] == 0.12


def test_a_registration_with_an_out_of_bounds_config_records_the_caps():
    agent = Agent.register(RegisterAgent("r", "a-1", T0, config=LearningConfig(epsilon=0.5)), DEFAULT_SETTINGS)
    registered, configured = agent.collect_events()
    assert isinstance(registered, Agent.AgentRegistered)
    assert isinstance(configured, Agent.LearningConfigured)
    assert configured.caps == [{"field": "epsilon", "requested": 0.5, "applied": 0.10}]
    assert agent.epsilon == 0.10


def test_configuring_a_new_epsilon_replaces_the_learned_one():
    agent = agent_with_lowered_epsilon()
    assert agent.epsilon == pytest.approx(0.018)
    agent.configure(ConfigureLearning("cfg-1", "a-1", at(minutes=30), LearningConfig(epsilon=0.03)), DEFAULT_SETTINGS)
    assert agent.epsilon == 0.03


def test_configuring_other_rates_keeps_the_learned_epsilon():
    agent = agent_with_lowered_epsilon()
    agent.configure(
        ConfigureLearning("cfg-1", "a-1", at(minutes=30), LearningConfig(trait_rate=0.09)), DEFAULT_SETTINGS
    )
    assert agent.epsilon == pytest.approx(0.018)
