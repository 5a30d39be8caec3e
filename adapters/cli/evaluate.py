"""`agent-learning evaluate ID… | --all`: off-policy evaluation from the recorded history (records nothing)."""

from __future__ import annotations

import argparse
import json

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, Progress, UsageError, chosen_agents, err, safe, table
from jobs.evaluation.estimators import CLIP, ESTIMATORS
from jobs.evaluation.evaluate import evaluate_agent
from jobs.simulation.configurations import SYNTAX, InvalidConfiguration, parse_configuration

OPTIONS = "rewardBaseline=sentiment,traitWeighting=per-feedback,actionWeighting=per-feedback"
DEFAULT_CONFIGURATIONS = ("conservative", "balanced", "fast", f"balanced,{OPTIONS}", f"fast,{OPTIONS}")
LABELS = {"ips": "IPS", "snips": "SNIPS", "clipped_ips": "clipped IPS", "dm": "DM", "dr": "DR"}


def _cell(estimate: dict) -> str:
    return f"{estimate['value']:+.3f} [{estimate['low']:+.3f}, {estimate['high']:+.3f}]"


def cmd_evaluate(system: System, args: argparse.Namespace) -> int:
    settings = system.service.settings
    ids = chosen_agents(system, list(args.ids), args.all, "evaluate")
    if args.clip <= 1:
        raise UsageError(f"--clip {args.clip:g}: the weight cap must be above 1")
    try:
        configurations = [parse_configuration(text, settings) for text in args.config or DEFAULT_CONFIGURATIONS]
    except InvalidConfiguration as error:
        raise UsageError(str(error)) from None
    reports, ticker = [], Progress()
    for done, agent_id in enumerate(ids, start=1):
        reports.append(evaluate_agent(system.service, agent_id, configurations, args.clip, settings))
        if ticker.due():
            err(f"  evaluated {done:,}/{len(ids):,} agents")
    if args.json:
        print(json.dumps(reports if args.all or len(ids) > 1 else reports[0], indent=2))
        return EXIT_OK
    for report in reports:
        _print(report)
    return EXIT_OK


def _print(report: dict) -> None:
    propensities = report.get("propensities", {"logged": 0, "derived": 0})
    print(
        f"{safe(report['agentId'])}: {report['samples']:,} feedbacks with an action "
        f"({propensities['logged']:,} propensities logged, {propensities['derived']:,} derived)"
        + (f", observed reward {report['observedReward']:+.3f}" if report["samples"] else "")
    )
    if report["targets"]:
        columns = ["target", "ESS", *(LABELS[e] for e in ESTIMATORS)]
        rows = [[r["target"], f"{r['ess']:.0f}", *(_cell(r[e]) for e in ESTIMATORS)] for r in report["targets"]]
        print(table(columns, rows, numeric=frozenset({"ESS"})))
    for warning in report["warnings"]:
        print(f"  warning: {warning}")
    recommendation = report.get("recommendation")
    if recommendation:
        current = recommendation["currentDr"]
        print(
            f"  recommended: {recommendation['configuration']} (DR lower bound {recommendation['drLow']:+.3f}; "
            f"the current policy's DR {_cell(current)})"
        )
    if report["targets"]:
        print(f"  {report['caveat']}")
    print()


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="off-policy evaluation of agents' policies from their recorded history (records nothing)",
        description="Estimates the value (expected reward per interaction) of the uniform policy, the current "
        "policy, the greedy one and of the history replayed under each configuration, by IPS, SNIPS, clipped "
        "IPS, DM and DR with 95%% intervals, and recommends the configuration with the best lower bound.",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="the agents to evaluate")
    p.add_argument("--all", action="store_true", help="every agent")
    p.add_argument(
        "--config",
        action="append",
        metavar="CONFIG",
        help=f"a configuration to replay the history under, {SYNTAX}; repeatable (default: the three "
        "profiles, and balanced and fast with the recommended options)",
    )
    p.add_argument("--clip", type=float, default=CLIP, help=f"clipped IPS's cap on each weight (default {CLIP:g})")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.set_defaults(handler=cmd_evaluate)
