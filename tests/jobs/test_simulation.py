"""The simulator: paired, reproducible worlds driving the product's own Agent; its statistics; the command."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest
import scipy.stats
from attrs import evolve

from adapters.cli.main import main
from domain.learning_config import LearningConfig
from domain.settings import DEFAULT_SETTINGS as SETTINGS
from jobs.simulation.agent_run import run_agent
from jobs.simulation.configurations import InvalidConfiguration, parse_configuration
from jobs.simulation.population import draw_world, interact
from jobs.simulation.report import mean_interval, wilson_interval
from jobs.simulation.simulate import simulate

OPTIONS = LearningConfig(options={"rewardBaseline": "sentiment", "traitWeighting": "per-feedback"})


def test_a_seed_makes_the_same_world_and_the_same_run_every_time():
    assert draw_world(7, SETTINGS) == draw_world(7, SETTINGS)
    assert draw_world(7, SETTINGS) != draw_world(8, SETTINGS)
    assert run_agent(7, LearningConfig(), 120, SETTINGS) == run_agent(7, LearningConfig(), 120, SETTINGS)


def test_configurations_meet_the_same_users_so_they_compare_agent_by_agent():
    default, fast = (run_agent(3, LearningConfig(profile=p), 60, SETTINGS) for p in ("balanced", "fast"))
    assert (default.start_error, default.best_value, default.archetype_value) == (
        fast.start_error,
        fast.best_value,
        fast.archetype_value,
    )
    assert default.error != fast.error  # and the rates make a difference


def test_preferred_traits_stay_in_bounds_and_feedback_is_a_kind_the_rules_price():
    for seed in range(50):
        world = draw_world(seed, SETTINGS)
        for trait, value in world.preferred.items():
            assert SETTINGS.traits[trait].minimum <= value <= SETTINGS.traits[trait].maximum
        rng = random.Random(seed)
        policy = {a: 1 / len(SETTINGS.actions) for a in SETTINGS.actions}
        for _ in range(20):
            response = interact(world, world.priors, policy, rng, SETTINGS)
            reward = SETTINGS.rewards.reward_for(response.kind, response.value)
            assert -1 <= reward <= 1 and response.action in SETTINGS.actions
            assert all(-1 <= a <= 1 for a in response.traits.values())


def test_better_responses_get_better_feedback():
    world = draw_world(11, SETTINGS)
    rng = random.Random(1)
    policy = {a: 1 / len(SETTINGS.actions) for a in SETTINGS.actions}
    far = {t: SETTINGS.traits[t].clamp(p + (0.4 if p < 0.5 else -0.4)) for t, p in world.preferred.items()}

    def mean_reward(traits) -> float:
        responses = [interact(world, traits, policy, rng, SETTINGS) for _ in range(400)]
        return statistics.fmean(SETTINGS.rewards.reward_for(r.kind, r.value) for r in responses)

    assert mean_reward(world.preferred) > mean_reward(far) + 0.3


def test_the_agent_learns_toward_its_users_preferred_traits():
    """Pooled over 40 worlds, 600 feedbacks close part of the gap; with no learning (the rates' floor
    and every feedback carrying no traits) nothing would close."""
    curves = [run_agent(seed, OPTIONS, 600, SETTINGS) for seed in range(40)]
    pooled = 1 - sum(c.error[-1] for c in curves) / sum(c.start_error for c in curves)
    assert pooled > 0.15
    assert statistics.fmean(c.value[-1] - c.archetype_value for c in curves) > 0


def test_the_simulation_runs_the_rules_passed_in():
    trusting = evolve(SETTINGS, full_confidence_feedback=1)  # learned traits stand alone from the start
    changed, default = (run_agent(5, LearningConfig(), 100, s) for s in (trusting, SETTINGS))
    assert changed.error != default.error


def test_parallel_and_serial_runs_give_the_same_curves():
    configurations = [parse_configuration(c, SETTINGS) for c in ("balanced", "fast,rewardBaseline=sentiment")]
    serial = simulate(configurations, agents=6, feedbacks=40, seed=10, settings=SETTINGS, workers=1)
    parallel = simulate(configurations, agents=6, feedbacks=40, seed=10, settings=SETTINGS, workers=2)
    assert serial == parallel
    assert [c.seed for c in serial[0]] == list(range(10, 16))


def test_intervals():
    interval = mean_interval([1.0, 2.0, 3.0, 4.0])
    assert interval["mean"] == 2.5 and interval["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert interval["high"] - interval["mean"] == pytest.approx(1.959964 * math.sqrt(5 / 3) / 2, rel=1e-6)
    for successes, n in ((16, 100), (0, 200), (200, 200), (7, 9)):
        wilson = wilson_interval(successes, n)
        reference = scipy.stats.binomtest(successes, n).proportion_ci(method="wilson")
        assert wilson["share"] == successes / n
        assert (wilson["low"], wilson["high"]) == pytest.approx((reference.low, reference.high), abs=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quick", "unknown profile 'quick'"),
        ("fast,rewardBaseline", "is not OPTION=CHOICE"),
        ("fast,rewardBaseline=median", "rewardBaseline must be one of: none, sentiment"),
        ("", "names nothing"),
    ],
)
def test_a_bad_configuration_names_what_is_wrong(text, message):
    with pytest.raises(InvalidConfiguration, match=message):
        parse_configuration(text, SETTINGS)


def test_options_alone_take_the_balanced_profile():
    assert parse_configuration("rateSchedule=anneal", SETTINGS).config == LearningConfig(
        profile="balanced", options={"rateSchedule": "anneal"}
    )


def test_the_command_prints_the_table_writes_json_svg_and_markdown_and_records_nothing(tmp_path, home, capsys):
    doc = tmp_path / "page.md"
    doc.write_text("# Page\n\nbefore\n<!-- simulate:begin -->\nold table\n<!-- simulate:end -->\nafter\n")
    args = ["--agents", "4", "--feedbacks", "60", "--config", "balanced", "--config", "fast,rewardBaseline=sentiment"]
    files = ["--json", str(tmp_path / "r.json"), "--svg", str(tmp_path / "c.svg"), "--markdown", str(doc)]
    assert main(["--home", str(home), "simulate", *args, *files, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "4 simulated agents × 60 feedbacks per configuration" in out
    assert "fast,rewardBaseline=sentiment" in out and "vs first" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [c["configuration"] for c in report["configurations"]] == ["balanced", "fast,rewardBaseline=sentiment"]
    assert [p["feedbacks"] for p in report["configurations"][0]["checkpoints"]] == [10, 50]
    assert len(report["perAgentClosed"]["balanced"]["50"]) == 4
    svg = (tmp_path / "c.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    page = doc.read_text()
    assert "old table" not in page and page.startswith("# Page\n\nbefore\n") and page.endswith("after\n")
    assert "Made by `agent-learning simulate --agents 4 --feedbacks 60 --seed 1 --config balanced" in page
    assert "| balanced | 50 |" in page

    assert main(["--home", str(home), "agent", "list"]) == 0
    assert "sim-" not in capsys.readouterr().out  # nothing was recorded


def test_the_command_refuses_bad_arguments_with_the_fix(home, capsys):
    assert main(["--home", str(home), "simulate", "--agents", "0"]) == 2
    assert "--agents 0: choose from 1 to 100,000" in capsys.readouterr().err
    assert main(["--home", str(home), "simulate", "--config", "fast,epsilon=0.5"]) == 2
    assert "is not OPTION=CHOICE" in capsys.readouterr().err
