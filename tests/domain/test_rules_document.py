"""The rules document: the defaults' document is today's rules exactly; every problem names key, value and bound."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from domain.agent import Agent
from domain.commands import RecordFeedback, RegisterAgent
from domain.learning_config import LearningConfig, explain_rates
from domain.rules import InvalidRules, document_from_settings, incompatibilities, settings_from_document
from domain.settings import DEFAULT_SETTINGS

AT = datetime(2026, 11, 24, 10, tzinfo=UTC)


def defaults() -> dict:
    return copy.deepcopy(document_from_settings(DEFAULT_SETTINGS))


def problems_of(document) -> list[str]:
    with pytest.raises(InvalidRules) as caught:
        settings_from_document(document, DEFAULT_SETTINGS, 1)
    return [str(p) for p in caught.value.problems]


def test_the_defaults_document_describes_todays_rules_exactly():
    settings = settings_from_document(defaults(), DEFAULT_SETTINGS, 0)
    assert settings == DEFAULT_SETTINGS
    assert settings.batch_size == 5 and settings.timer_interval == timedelta(minutes=5)
    assert settings.idle_limit == timedelta(minutes=40) and settings.freeze_threshold == -0.5
    assert settings.freeze_after == timedelta(days=7) and settings.full_confidence_feedback == 50


def test_a_number_past_its_hard_cap_is_named_with_its_key_value_and_bound():
    document = defaults()
    document["rates"]["traits"] = {"humor": 0.2}
    document["feedback"]["thumbs_up"]["reward"] = 3
    document["triggers"]["batch_size"] = 2.5
    found = problems_of(document)
    assert "rates.traits.humor: 0.2 is outside the hard cap: must be a number in [0.02, 0.12]" in found
    assert "feedback.thumbs_up.reward: 3 is outside the hard cap: must be a number in [-1, 1]" in found
    assert "triggers.batch_size: must be a whole number in [1, 1000], got 2.5" in found


def test_structural_problems_are_all_reported_at_once():
    document = defaults()
    del document["archetypes"]["default"]
    document["archetypes"]["mentor"]["traits"]["empathy"] = 0.99  # above empathy's max 0.95
    document["traits"]["humor"] = {"min": 0.5, "max": 0.4}
    document["speed"] = 1
    document["triggers"]["idle_limit_minutes"] = 2
    document["feedback"]["Bad Kind"] = {"reward": 0.1}
    found = "\n".join(problems_of(document))
    assert "archetypes.default: missing: the default archetype is required" in found
    assert "archetypes.mentor.traits.empathy: prior 0.99 is outside the trait's bounds [0.2, 0.95]" in found
    assert "traits.humor: min (0.5) must be below max (0.4)" in found
    assert "speed: unknown key" in found
    assert "triggers.idle_limit_minutes: 2 is shorter than triggers.timer_interval_minutes (5)" in found
    assert "feedback.'Bad Kind': is not a valid name" in found


@pytest.mark.parametrize("value", [True, "0.07", float("nan"), None, [0.07]])
def test_a_rate_of_the_wrong_type_is_refused(value):
    document = defaults()
    document["rates"]["trait_rate"] = value
    [found] = problems_of(document)
    assert found.startswith("rates.trait_rate: ")


def test_a_new_kind_and_a_new_strong_signal_change_the_reward_table():
    document = defaults()
    document["feedback"]["regenerated"] = {"reward": -0.4}
    document["feedback"]["draft_edited"]["strong_signal"] = True
    settings = settings_from_document(document, DEFAULT_SETTINGS, 3)
    assert settings.rules_version == 3
    assert settings.rewards.reward_for("regenerated") == -0.4
    assert settings.rewards.is_strong_signal("draft_edited")
    with pytest.raises(ValueError, match="unknown feedback kind 'shrug' in rules version 3"):
        settings.rewards.reward_for("shrug")


def test_an_archetype_override_prices_its_agents_feedback_and_sits_between_global_and_profile_rates():
    document = defaults()
    document["archetypes"]["mentor"]["rewards"] = {"thumbs_up": 0.5}
    document["archetypes"]["mentor"]["trait_rates"] = {"humor": 0.03}
    document["rates"]["traits"] = {"humor": 0.09, "empathy": 0.08}
    settings = settings_from_document(document, DEFAULT_SETTINGS, 1)

    mentor = Agent.register(RegisterAgent("r", "m", AT, archetype="mentor"), settings)
    plain = Agent.register(RegisterAgent("r2", "p", AT), settings)
    mentor.record_feedback(RecordFeedback("f", "m", AT, "thumbs_up"), settings)
    plain.record_feedback(RecordFeedback("f", "p", AT, "thumbs_up"), settings)
    assert mentor.pending[0]["reward"] == 0.5 and plain.pending[0]["reward"] == 1.0

    explained = explain_rates(LearningConfig(), settings, "mentor")
    assert explained.rates.trait_rates["humor"] == 0.03 and explained.sources["traitRates"]["humor"] == "archetype"
    assert explained.sources["traitRates"]["empathy"] == "global"
    assert explained.sources["traitRates"]["curiosity"] == "default"
    with_profile = explain_rates(LearningConfig(profile="fast"), settings, "mentor")
    assert with_profile.rates.trait_rates["humor"] == 0.11 and with_profile.sources["traitRates"]["humor"] == "profile"
    overridden = explain_rates(LearningConfig(profile="fast", trait_rates={"humor": 0.05}), settings, "mentor")
    assert overridden.sources["traitRates"]["humor"] == "override" and overridden.rates.trait_rates["humor"] == 0.05


def test_traits_actions_and_archetypes_can_be_added_but_not_removed():
    document = defaults()
    del document["traits"]["sarcasm"]
    for archetype in document["archetypes"].values():
        del archetype["traits"]["sarcasm"]
    shrunk = settings_from_document(document, DEFAULT_SETTINGS, 1)
    [problem] = incompatibilities(shrunk, DEFAULT_SETTINGS)
    assert problem.key == "traits" and "removes sarcasm" in problem.message

    grown = defaults()
    grown["traits"]["patience"] = {"min": 0.1, "max": 0.9}
    for archetype in grown["archetypes"].values():
        archetype["traits"]["patience"] = 0.5
    assert incompatibilities(settings_from_document(grown, DEFAULT_SETTINGS, 1), DEFAULT_SETTINGS) == []


def test_an_agent_that_learned_before_a_trait_was_added_starts_it_from_its_archetype_prior():
    agent = Agent.register(RegisterAgent("r", "a", AT, archetype="mentor"), DEFAULT_SETTINGS)
    grown = defaults()
    grown["traits"]["patience"] = {"min": 0.1, "max": 0.9}
    for name, archetype in grown["archetypes"].items():
        archetype["traits"]["patience"] = 0.7 if name == "mentor" else 0.5
    settings = settings_from_document(grown, DEFAULT_SETTINGS, 1)
    agent.record_feedback(RecordFeedback("f", "a", AT, "thumbs_down", traits={"patience": 1.0}), settings)
    assert agent.policy_version == 1  # a strong signal
    # From the prior 0.7, one rate (0.07) down; the effective value blends it with the prior (weight 1/50).
    assert agent.learned["patience"] == pytest.approx(0.63)
    assert agent.effective["patience"] == pytest.approx(0.7 * 0.98 + 0.63 * 0.02)


def test_the_rules_version_is_recorded_with_every_recalculation():
    settings = attrs.evolve(DEFAULT_SETTINGS, rules_version=4)
    agent = Agent.register(RegisterAgent("r", "a", AT), settings)
    agent.record_feedback(RecordFeedback("f", "a", AT, "thumbs_down"), settings)
    [recalculated] = [e for e in agent.collect_events() if isinstance(e, Agent.PolicyRecalculated)]
    assert recalculated.rules_version == 4
