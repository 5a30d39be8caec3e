"""`agent-learning agent show|history|list` and `audit`: looking at agents and re-deriving their histories."""

from __future__ import annotations

import argparse
import json

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, chosen_agents, plural, safe, table
from adapters.service.agent_history import history_entries, summarise
from adapters.service.agent_state import agent_document
from adapters.service.audit import audit_agent
from domain.timestamps import to_iso
from projections.agent_learning_state import STATE


def cmd_agent_show(system: System, args: argparse.Namespace) -> int:
    doc = agent_document(system.projections, system.read_models, args.id)
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"agent {safe(doc['agentId'])} (archetype {doc['archetype']}, owner {safe(doc['ownerId'] or '-')})")
    print(
        f"  policy version {doc['version']}, last trigger {doc['trigger'] or '-'}, confidence {doc['confidence']}, "
        f"{'FROZEN' if doc['frozen'] else 'learning'}"
    )
    print(
        f"  feedback {doc['feedbackCount']} ({doc['pendingFeedbackCount']} pending), "
        f"sentiment {doc['sentiment']:+.3f}, ε {doc['explorationEpsilon']:.4f}"
    )
    print(
        "  traits (effective / learned): "
        + ", ".join(f"{t} {v:.3f}/{doc['learnedTraits'][t]:.3f}" for t, v in doc["traits"].items())
    )
    print("  action policy: " + ", ".join(f"{a} {p:.3f}" for a, p in doc["actionPolicy"].items()))
    print(f"  last update {doc['lastUpdateAt']}, last activity {doc['lastActivityAt']}")
    return EXIT_OK


def cmd_agent_history(system: System, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(history_entries(system.service, args.id), indent=2))
        return EXIT_OK
    for event in system.service.history(args.id):
        at = to_iso(getattr(event, "occurred_at", None) or event.timestamp)
        print(f"{event.originator_version:>6}  {at}  {type(event).__name__:<20} {safe(summarise(event))}")
    return EXIT_OK


def cmd_agent_list(system: System, args: argparse.Namespace) -> int:
    system.projections.catch_up()
    docs = system.read_models.find(STATE, order_by=("agentId",))
    if args.json:
        print(json.dumps([{k: d.get(k) for k in LIST_FIELDS} for d in docs], indent=2))
        return EXIT_OK
    if not docs:
        print("no agents yet: ingest some feedback (agent-learning ingest FILE) or run agent-learning demo")
        return EXIT_OK
    rows = [
        [
            d["agentId"],
            d["archetype"],
            d.get("ownerId"),
            "frozen" if d["frozen"] else "learning",
            d["version"],
            d["confidence"],
            f"{d['sentiment']:+.3f}",
            d["feedbackCount"],
            d.get("lastUpdateAt"),
        ]
        for d in docs
    ]
    print(table(LIST_COLUMNS, rows, numeric=frozenset({"version", "sentiment", "feedback"})))
    frozen = sum(1 for d in docs if d["frozen"])
    print(f"{plural(len(docs), 'agent')}, {frozen:,} frozen")
    return EXIT_OK


LIST_COLUMNS = ["agent", "archetype", "owner", "state", "version", "confidence", "sentiment", "feedback", "last update"]
LIST_FIELDS = (
    "agentId",
    "archetype",
    "ownerId",
    "frozen",
    "version",
    "confidence",
    "sentiment",
    "feedbackCount",
    "lastUpdateAt",
)


def cmd_audit(system: System, args: argparse.Namespace) -> int:
    ids = chosen_agents(system, list(args.ids), args.all, "audit")
    failed = False
    for agent_id in ids:
        report = audit_agent(system.service, agent_id)
        if report.ok:
            print(
                f"{safe(agent_id)}: ok — {report.recalculations} recalculations re-derived from {report.events} events"
            )
        else:
            failed = True
            print(f"{safe(agent_id)}: MISMATCH — {safe(report.mismatch)}")
    return EXIT_FAILED if failed else EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser("agent", help="look at one agent").add_subparsers(dest="agent_command", required=True)
    p = agent.add_parser("show", help="the agent's current learning state")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_agent_show)
    p = agent.add_parser("history", help="the agent's recorded events, oldest first")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(handler=cmd_agent_history)
    p = agent.add_parser("list", help="all agents: archetype, owner, state, version, confidence, sentiment")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(handler=cmd_agent_list)

    p = sub.add_parser("audit", help="replay agents' histories and re-derive every recalculation")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="audit every agent")
    p.set_defaults(handler=cmd_audit)
