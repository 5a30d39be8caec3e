"""The monthly job on real agents: refreshed priors reach new and existing agents, dry runs record nothing,
the audit still re-derives every recalculation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.files.file_sink import read_published
from adapters.service.audit import audit_agent
from domain.agent import Agent
from domain.archetype_priors import ArchetypePriors, archetype_priors_id
from domain.catalogue import ARCHETYPES, TRAIT_BOUNDS
from domain.commands import RecordFeedback, RegisterAgent
from domain.recalculation import blend, blend_weight
from jobs.clustering import MIN_AGENTS_PER_ARCHETYPE
from jobs.monthly import run_monthly

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MONTH_END = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
MENTORS = [f"mentor-{i:02d}" for i in range(MIN_AGENTS_PER_ARCHETYPE + 4)]
COMPANIONS = [f"companion-{i}" for i in range(5)]
CATALOGUE_MENTOR = dict(ARCHETYPES["mentor"].trait_priors)


def learn(system, agent_id: str, archetype: str, traits: dict, count: int = 10, start: datetime = T0) -> None:
    """Registers the agent (if `archetype`) and records `count` thumbs-up crediting `traits` (a recalculation every 5)."""
    commands = [RegisterAgent(f"reg-{agent_id}", agent_id, start, archetype=archetype)] if archetype else []
    commands += [
        RecordFeedback(
            f"fb-{agent_id}-{start.isoformat()}-{i}", agent_id, start + timedelta(minutes=i), "thumbs_up", traits=traits
        )
        for i in range(count)
    ]
    system.service.process(commands)


@pytest.fixture
def population(system):
    # Mentors whose users reward humour and frown on formality: their learned traits leave the catalogue's priors.
    for i, agent_id in enumerate(MENTORS):
        strength = 0.6 + 0.4 * i / len(MENTORS)
        learn(system, agent_id, "mentor", {"humor": strength, "formality": -strength})
    for agent_id in COMPANIONS:  # too few for their archetype's prior to move
        learn(system, agent_id, "companion", {"empathy": 1.0})
    return system


def events_of(system, aggregate_id: str) -> list:
    return list(system.service.events.get(aggregate_id))


def test_a_dry_run_shows_the_refresh_and_records_nothing(population):
    system = population
    head = system.service.recorder.max_notification_id()
    summary = run_monthly(system, MONTH_END, dry_run=True)
    assert summary["dryRun"] and summary["refreshed"] == ["mentor"]
    assert summary["priors"]["mentor"]["after"]["humor"] > CATALOGUE_MENTOR["humor"]
    assert not summary["priors"]["companion"]["changed"]
    assert summary["agentsUpdated"] == 0
    assert any(f"its {len(MENTORS)} agents would take the new priors" in line for line in summary["details"])
    assert system.service.recorder.max_notification_id() == head
    assert events_of(system, archetype_priors_id("mentor")) == []
    assert system.service.get_agent(MENTORS[0]).priors == CATALOGUE_MENTOR


def test_refreshed_priors_are_recorded_with_before_and_after_inside_the_bounds(population):
    system = population
    summary = run_monthly(system, MONTH_END, dry_run=False)
    assert summary["refreshed"] == ["mentor"] and summary["period"] == "2026-12"
    [seeded, refreshed] = events_of(system, archetype_priors_id("mentor"))
    assert isinstance(seeded, ArchetypePriors.Seeded) and seeded.priors == CATALOGUE_MENTOR
    assert refreshed.before == CATALOGUE_MENTOR and refreshed.after == summary["priors"]["mentor"]["after"]
    assert refreshed.agents == len(MENTORS)
    assert (
        refreshed.after["humor"] > CATALOGUE_MENTOR["humor"]
        and refreshed.after["formality"] < CATALOGUE_MENTOR["formality"]
    )
    assert refreshed.after["empathy"] == pytest.approx(CATALOGUE_MENTOR["empathy"], abs=1e-4)  # no one credited it
    for trait, value in refreshed.after.items():
        assert TRAIT_BOUNDS[trait].minimum <= value <= TRAIT_BOUNDS[trait].maximum
    assert events_of(system, archetype_priors_id("companion")) == []


def test_existing_agents_of_the_archetype_take_the_refreshed_priors_and_others_do_not(population):
    system = population
    summary = run_monthly(system, MONTH_END, dry_run=False)
    new_priors = summary["priors"]["mentor"]["after"]
    assert summary["agentsUpdated"] == len(MENTORS)
    for agent_id in MENTORS:
        last = events_of(system, f"agent:{agent_id}")[-1]
        assert isinstance(last, Agent.PriorsRefreshed)
        assert (last.before, last.after, last.period) == (CATALOGUE_MENTOR, new_priors, "2026-12")
    companion = system.service.get_agent(COMPANIONS[0])
    assert companion.priors == dict(ARCHETYPES["companion"].trait_priors)


def test_a_refreshed_prior_reaches_a_new_agents_cold_start(population):
    system = population
    new_priors = run_monthly(system, MONTH_END, dry_run=False)["priors"]["mentor"]["after"]
    after = MONTH_END + timedelta(hours=1)
    learn(system, "newcomer", "mentor", {}, count=0, start=after)
    learn(system, "auto-registered", None, {"empathy": 1.0}, count=1, start=after)  # feedback first: default
    [registered] = events_of(system, "agent:newcomer")
    assert registered.priors == new_priors
    system.projections.catch_up()
    assert system.read_models.get("agent_learning_state", "newcomer")["traits"] == new_priors
    assert system.service.get_agent("auto-registered").priors == dict(ARCHETYPES["default"].trait_priors)


def test_an_existing_agents_future_blending_uses_the_refreshed_priors_and_the_audit_still_passes(population):
    system = population
    new_priors = run_monthly(system, MONTH_END, dry_run=False)["priors"]["mentor"]["after"]
    agent_id = MENTORS[3]
    learn(system, agent_id, None, {"curiosity": 0.5}, count=5, start=MONTH_END + timedelta(days=1))
    recalculation = events_of(system, f"agent:{agent_id}")[-1]
    assert isinstance(recalculation, Agent.PolicyRecalculated)
    weight = blend_weight(recalculation.metrics["feedbackCount"], system.service.settings)
    assert 0 < weight < 1
    assert recalculation.effective == pytest.approx(blend(new_priors, recalculation.learned, weight))
    assert recalculation.effective != pytest.approx(blend(CATALOGUE_MENTOR, recalculation.learned, weight))
    for checked in (agent_id, MENTORS[0], COMPANIONS[0]):
        report = audit_agent(system.service, checked)
        assert report.ok, report.mismatch


def test_a_second_run_in_the_month_records_nothing_new(population):
    system = population
    run_monthly(system, MONTH_END, dry_run=False)
    head = system.service.recorder.max_notification_id()
    again = run_monthly(system, MONTH_END + timedelta(hours=3), dry_run=False)
    assert again["refreshed"] == [] and again["agentsUpdated"] == 0
    assert system.service.recorder.max_notification_id() == head


def test_the_period_is_the_utc_month_whatever_zone_now_is_given_in(population):
    from datetime import timezone

    evening_in_new_york = datetime(2026, 11, 30, 21, 30, tzinfo=timezone(timedelta(hours=-5)))  # 02:30Z Dec 1
    assert run_monthly(population, evening_in_new_york, dry_run=True)["period"] == "2026-12"


def test_a_run_that_stopped_before_handing_priors_to_agents_is_finished_by_the_next(population):
    system = population
    summary = run_monthly(system, MONTH_END, dry_run=True)
    # What a crash right after recording the archetype's refresh leaves behind.
    priors = ArchetypePriors.seed("mentor", CATALOGUE_MENTOR, MONTH_END)
    priors.refresh(
        summary["priors"]["mentor"]["after"], TRAIT_BOUNDS, agents=24, period="2026-12", occurred_at=MONTH_END
    )
    system.service.save(priors)
    resumed = run_monthly(system, MONTH_END + timedelta(hours=1), dry_run=False)
    assert resumed["refreshed"] == [] and resumed["agentsUpdated"] == len(MENTORS)
    assert system.service.get_agent(MENTORS[-1]).priors == summary["priors"]["mentor"]["after"]


def test_priors_refreshes_publish_nothing(population):
    system = population
    system.relay().relay_all()
    before = len(read_published(system.config.home / "published.jsonl"))
    run_monthly(system, MONTH_END, dry_run=False)
    system.relay().relay_all()
    assert len(read_published(system.config.home / "published.jsonl")) == before
