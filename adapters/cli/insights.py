"""`agent-learning insights show|dismiss` and `agents remap`: what the monthly clustering found, and acting on it."""

from __future__ import annotations

import argparse
import json

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, UsageError, actor, safe
from adapters.service.clock import utc_now
from adapters.service.insights import dismiss_suggestion, remap_agent
from domain.agent import RECORDED
from domain.clustering_insights import UnknownSuggestion
from domain.settings import UnknownArchetype
from projections.clustering_insights import INSIGHTS


def _reason(args: argparse.Namespace, what: str) -> str:
    if not args.reason.strip():
        raise UsageError(f"{what} needs a --reason that says why (it is recorded)")
    return args.reason


def latest_insights(system: System) -> list[dict]:
    system.projections.catch_up()
    return system.read_models.find(INSIGHTS, order_by=("period",))


def cmd_insights_show(system: System, args: argparse.Namespace) -> int:
    found = latest_insights(system)
    if args.period:
        found = [d for d in found if d["period"] == args.period]
    elif found:
        found = found[-1:]
    if args.json:
        print(json.dumps(found if args.period is None or len(found) != 1 else found[0], indent=2))
        return EXIT_OK
    if not found:
        print("No clustering recorded yet: `agent-learning jobs run monthly` records one each month.")
        return EXIT_OK
    for doc in found:
        print(f"clustering of {doc['period']}: {doc['clustered']} of {doc['agents']} agents clustered")
        for name, centre in doc["centroids"].items():
            print(f"  centroid {name:<14} " + ", ".join(f"{t} {v:.3f}" for t, v in centre.items()))
        print(f"  refreshed priors: {', '.join(doc['refreshed']) or 'none'}")
        if not doc["suggestions"]:
            print("  no agent sits nearer another archetype")
        for s in doc["suggestions"]:
            print(
                f"  suggestion [{s['status']}]: {safe(s['agentId'])} ({s['archetype']}) sits nearer {s['nearer']} "
                f"({s['distanceNearer']:.3f} against {s['distanceOwn']:.3f})"
            )
    return EXIT_OK


def cmd_insights_dismiss(system: System, args: argparse.Namespace) -> int:
    period = args.period or _latest_period(system)
    try:
        result = dismiss_suggestion(system.service, period, args.id, actor(args), _reason(args, "dismiss"), utc_now())
    except UnknownSuggestion as error:
        raise UsageError(str(error)) from None
    system.projections.catch_up()
    print(f"{safe(args.id)}: suggestion of {period} {'dismissed' if result == RECORDED else 'was already resolved'}")
    return EXIT_OK


def _latest_period(system: System) -> str:
    found = latest_insights(system)
    if not found:
        raise UsageError("no clustering recorded yet: run `agent-learning jobs run monthly` first, or give --period")
    return found[-1]["period"]


def cmd_agents_remap(system: System, args: argparse.Namespace) -> int:
    period = args.period
    if period is None and not args.no_suggestion:
        for doc in reversed(latest_insights(system)):
            if any(s["agentId"] == args.id and s["status"] == "open" for s in doc["suggestions"]):
                period = doc["period"]
                break
    try:
        result = remap_agent(
            system.service, args.id, args.archetype, actor(args), _reason(args, "remap"), utc_now(), period
        )
    except (UnknownSuggestion, UnknownArchetype) as error:
        raise UsageError(str(error)) from None
    system.projections.catch_up()
    if result != RECORDED:
        print(f"{safe(args.id)} is of archetype {args.archetype} already; nothing recorded")
        return EXIT_OK
    settled = f" (the suggestion of {period} is marked remapped)" if period else ""
    print(f"{safe(args.id)}: remapped to {args.archetype}; its priors are now {args.archetype}'s{settled}")
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    insights = sub.add_parser("insights", help="what the monthly clustering found").add_subparsers(
        dest="insights_command", required=True
    )
    p = insights.add_parser("show", help="the latest clustering (or --period YYYY-MM): centroids and suggestions")
    p.add_argument("--period", help="the month, e.g. 2026-12 (default: the latest)")
    p.add_argument("--json", action="store_true", help="the clustering documents as JSON")
    p.set_defaults(handler=cmd_insights_show)
    p = insights.add_parser("dismiss", help="dismiss a mapping suggestion for an agent")
    p.add_argument("id", help="the agent")
    p.add_argument("--reason", required=True, help="why (recorded with the suggestion)")
    p.add_argument("--period", help="the clustering's month (default: the latest)")
    p.add_argument("--by", help="who (default: the current user)")
    p.set_defaults(handler=cmd_insights_dismiss)

    agents = sub.add_parser("agents", help="operator changes to agents").add_subparsers(
        dest="agents_command", required=True
    )
    p = agents.add_parser("remap", help="move an agent to another archetype (its priors become that archetype's)")
    p.add_argument("id")
    p.add_argument("--archetype", required=True, help="the archetype to move it to (one the rules define)")
    p.add_argument("--reason", required=True, help="why (recorded in the agent's history)")
    p.add_argument("--period", help="the clustering whose suggestion this acts on (default: the latest open one)")
    p.add_argument("--no-suggestion", action="store_true", help="remap without marking any suggestion")
    p.add_argument("--by", help="who (default: the current user)")
    p.set_defaults(handler=cmd_agents_remap)
