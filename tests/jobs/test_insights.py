"""Insights that last: the monthly clustering's centroids and suggestions are recorded, survive a restart,
and a suggestion is acted on (the agent remapped, audited) or dismissed."""

from __future__ import annotations

import json

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from adapters.service.audit import audit_agent
from domain.agent import Agent
from jobs.monthly import run_monthly
from tests.jobs.test_monthly import MONTH_END, learn, population  # noqa: F401 - the fixture

ODD = "mentor-odd"
COMPANION_LIKE = {"empathy": 1.0, "formality": -1.0, "curiosity": -1.0, "humor": 1.0}  # users who want a companion


def test_the_clustering_is_recorded_and_survives_a_restart(population, capsys):  # noqa: F811
    learn(population, ODD, "mentor", COMPANION_LIKE, count=40)
    report = run_monthly(population, MONTH_END)
    assert any(s["agentId"] == ODD for s in report["suggestions"])
    home = population.config.home
    population.close()

    again = bootstrap(Config(home=home))
    try:
        again.projections.catch_up()
        [doc] = again.read_models.find("clustering_insights")
        assert doc["period"] == "2026-12" and doc["agents"] == report["agents"]
        assert doc["centroids"] == report["centroids"]
        [odd] = [s for s in doc["suggestions"] if s["agentId"] == ODD]
        assert odd["status"] == "open" and odd["nearer"] == "companion"
    finally:
        again.close()

    assert main(["--home", str(home), "insights", "show"]) == 0
    out = capsys.readouterr().out
    assert "clustering of 2026-12" in out and f"suggestion [open]: {ODD} (mentor) sits nearer companion" in out


def test_remapping_an_agent_moves_its_priors_settles_its_suggestion_and_keeps_the_audit(population, capsys):  # noqa: F811
    learn(population, ODD, "mentor", COMPANION_LIKE, count=40)
    run_monthly(population, MONTH_END)
    home = str(population.config.home)
    assert main(["--home", home, "agents", "remap", ODD, "--archetype", "companion", "--reason", " "]) == 2
    assert main(["--home", home, "agents", "remap", ODD, "--archetype", "nope", "--reason", "x"]) == 2
    assert "unknown archetype 'nope'" in capsys.readouterr().err
    assert main(["--home", home, "agents", "remap", ODD, "--archetype", "companion", "--reason", "its users"]) == 0
    assert "the suggestion of 2026-12 is marked remapped" in capsys.readouterr().out

    fresh = bootstrap(Config(home=population.config.home))
    try:
        agent = fresh.service.get_agent(ODD)
        assert agent.archetype == "companion"
        [remapped] = [e for e in fresh.service.history(ODD) if isinstance(e, Agent.ArchetypeRemapped)]
        assert (remapped.before, remapped.after, remapped.reason) == ("mentor", "companion", "its users")
        assert agent.priors == remapped.priors_after and remapped.priors_before != remapped.priors_after
        learn(fresh, ODD, None, {"empathy": 1.0}, count=5, start=MONTH_END)
        assert audit_agent(fresh.service, ODD).ok
        fresh.projections.catch_up()
        assert fresh.read_models.get("agent_learning_state", ODD)["archetype"] == "companion"
    finally:
        fresh.close()

    assert main(["--home", home, "insights", "show", "--json"]) == 0
    [odd] = [s for s in json.loads(capsys.readouterr().out)[0]["suggestions"] if s["agentId"] == ODD]
    assert odd["status"] == "remapped" and odd["reason"] == "its users"
    assert main(["--home", home, "insights", "dismiss", ODD, "--reason", "late"]) == 0
    assert "was already resolved" in capsys.readouterr().out


def test_a_suggestion_can_be_dismissed_and_an_unknown_one_is_named(population, capsys):  # noqa: F811
    learn(population, ODD, "mentor", COMPANION_LIKE, count=40)
    run_monthly(population, MONTH_END)
    home = str(population.config.home)
    assert main(["--home", home, "insights", "dismiss", ODD, "--reason", "the owner wants a mentor"]) == 0
    capsys.readouterr()
    assert main(["--home", home, "insights", "dismiss", "nobody", "--reason", "x"]) == 2
    assert "made no suggestion for agent 'nobody'" in capsys.readouterr().err
    assert main(["--home", home, "insights", "show", "--json"]) == 0
    [odd] = [s for s in json.loads(capsys.readouterr().out)[0]["suggestions"] if s["agentId"] == ODD]
    assert odd["status"] == "dismissed"
