"""`agent-learning`: the command line of the service (see the README for every command)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from adapters.audit import audit_agent
from adapters.bootstrap import Config, ConfigurationError, System, bootstrap
from adapters.cli_tokens import add_token_commands
from adapters.event_lines import summarise
from adapters.ingest import IngestReport, ingest_lines
from adapters.learning_service import UnknownAgent, utc_now
from adapters.projections_alongside import projections_alongside
from domain.commands import ConfigureLearning, FreezeUpdates, UnfreezeUpdates
from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig, validate_command_config
from domain.timestamps import parse_iso, to_iso
from projections.agent_learning_state import STATE
from projections.agent_queries import agents_due_for_tick
from projections.catch_up_runner import UnknownProjection

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PARALLEL_BYTES = 4 * 1024 * 1024  # about 10,000 messages

SHOW_FIELDS = ("agentId", "version", "trigger", "traits", "learnedTraits", "actionPolicy", "explorationEpsilon",
               "confidence", "metrics", "occurredAt", "frozen", "pendingFeedbackCount", "feedbackCount",
               "lastUpdateAt", "lastActivityAt", "archetype", "ownerId", "sentiment", "learningConfig")


class UsageError(Exception):
    pass


def _err(message: str) -> None:
    print(f"agent-learning: {message}", file=sys.stderr)


def _time(text: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time with a zone (e.g. 2026-11-24T10:00:00Z): {error}"
        ) from None


class Progress:
    """Progress lines on stderr for long runs, at most one every `every` seconds."""

    def __init__(self, every: float = 2.0):
        self.every = every
        self.last = time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            return True
        return False


# ------------------------------------------------------------------ commands


def cmd_ingest(system: System, args: argparse.Namespace) -> int:
    progress = Progress()

    def report_progress(report: IngestReport) -> None:
        if progress.due():
            rate = report.lines / report.seconds if report.seconds else 0
            print(f"… {report.lines:,} lines, {report.outcome.recorded:,} recorded, "
                  f"{report.rejected:,} rejected ({rate:,.0f} lines/s)", file=sys.stderr)

    source = "stdin" if args.file == "-" else args.file
    dead_letter_file = system.config.home / "dead-letters.jsonl"
    if args.file == "-":
        with projections_alongside(system.config):
            report = ingest_lines(system.service, sys.stdin.buffer, source, dead_letter_file, report_progress)
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no such file: {args.file} (give a JSONL file of messages, or - for stdin)")
        # A second process projects while this one records, when the file is long enough to repay starting it.
        with path.open("rb") as lines, projections_alongside(system.config, path.stat().st_size > PARALLEL_BYTES):
            report = ingest_lines(system.service, lines, source, dead_letter_file, report_progress)
    system.projections.catch_up()
    o = report.outcome
    triggers = ", ".join(f"{t} {n}" for t, n in sorted(o.recalculations.items())) or "none"
    print(f"{report.lines:,} messages: {o.recorded:,} recorded, {o.duplicates:,} duplicates skipped, "
          f"{report.rejected:,} rejected; {len(o.agents):,} agents changed; recalculations: {triggers}")
    if report.rejected:
        for rejection in o.rejected[:5]:
            print(f"  rejected {rejection.position}: {rejection.reason}", file=sys.stderr)
        more = f" (and {report.rejected - 5} more)" if report.rejected > 5 else ""
        print(f"  rejected lines{more} are in {dead_letter_file}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_tick(system: System, args: argparse.Namespace) -> int:
    now = args.now or utc_now()
    system.projections.catch_up()
    due = agents_due_for_tick(system.read_models, now, system.service.settings)
    outcome = system.service.tick(now, due)
    system.projections.catch_up()
    triggers = ", ".join(f"{t} {n}" for t, n in sorted(outcome.recalculations.items())) or "none"
    print(f"tick at {to_iso(now)}: {len(due)} agents checked, {len(outcome.agents)} changed; "
          f"recalculations: {triggers}")
    return EXIT_OK


def agent_document(system: System, agent_id: str) -> dict:
    system.projections.catch_up()
    doc = system.read_models.get(STATE, agent_id)
    if doc is None:
        raise UnknownAgent(agent_id)
    return {k: doc.get(k) for k in SHOW_FIELDS}


def cmd_agent_show(system: System, args: argparse.Namespace) -> int:
    doc = agent_document(system, args.id)
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    print(f"agent {doc['agentId']} (archetype {doc['archetype']}, owner {doc['ownerId'] or '-'})")
    print(f"  policy version {doc['version']}, last trigger {doc['trigger'] or '-'}, confidence {doc['confidence']}, "
          f"{'FROZEN' if doc['frozen'] else 'learning'}")
    print(f"  feedback {doc['feedbackCount']} ({doc['pendingFeedbackCount']} pending), "
          f"sentiment {doc['sentiment']:+.3f}, ε {doc['explorationEpsilon']:.4f}")
    print("  traits (effective / learned): " + ", ".join(
        f"{t} {v:.3f}/{doc['learnedTraits'][t]:.3f}" for t, v in doc["traits"].items()))
    print("  action policy: " + ", ".join(f"{a} {p:.3f}" for a, p in doc["actionPolicy"].items()))
    print(f"  last update {doc['lastUpdateAt']}, last activity {doc['lastActivityAt']}")
    return EXIT_OK


def _event_data(event: Any) -> dict:
    data = {}
    for key, value in vars(event).items():
        if key in ("originator_id", "originator_version", "timestamp", "originator_topic"):
            continue
        camel = key.split("_")[0] + "".join(part.title() for part in key.split("_")[1:])
        data[camel] = to_iso(value) if isinstance(value, datetime) else value
    return data


def history_entries(system: System, agent_id: str) -> list[dict]:
    entries = []
    for event in system.service.history(agent_id):
        data = _event_data(event)
        entries.append({
            "type": type(event).__name__,
            "version": event.originator_version,
            "occurredAt": data.pop("occurredAt", None) or to_iso(event.timestamp),
            "data": data,
        })
    return entries


def cmd_agent_history(system: System, args: argparse.Namespace) -> int:
    entries = history_entries(system, args.id)
    if args.json:
        print(json.dumps(entries, indent=2))
        return EXIT_OK
    for event in system.service.history(args.id):
        at = to_iso(getattr(event, "occurred_at", None) or event.timestamp)
        print(f"{event.originator_version:>6}  {at}  {type(event).__name__:<20} {summarise(event)}")
    return EXIT_OK


def cmd_agent_list(system: System, args: argparse.Namespace) -> int:
    system.projections.catch_up()
    docs = system.read_models.find(STATE, order_by=("agentId",))
    if not docs:
        print("no agents yet: ingest some feedback (agent-learning ingest FILE) or run agent-learning demo")
    for doc in docs:
        print(f"{doc['agentId']:<24} v{doc['version']:<5} {doc['confidence']:<9} "
              f"{'FROZEN' if doc['frozen'] else 'learning':<8} feedback {doc['feedbackCount']}")
    return EXIT_OK


def cmd_audit(system: System, args: argparse.Namespace) -> int:
    ids = list(args.ids)
    if args.all:
        system.projections.catch_up()
        ids = [doc["agentId"] for doc in system.read_models.find(STATE, order_by=("agentId",))]
    if not ids:
        raise UsageError("name the agents to audit, or pass --all")
    failed = False
    for agent_id in ids:
        report = audit_agent(system.service, agent_id)
        if report.ok:
            print(f"{agent_id}: ok — {report.recalculations} recalculations re-derived from {report.events} events")
        else:
            failed = True
            print(f"{agent_id}: MISMATCH — {report.mismatch}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_dead_letters_list(system: System, args: argparse.Namespace) -> int:
    import base64

    from projections.dead_letters import DEAD_LETTERS

    system.projections.catch_up()
    letters = system.read_models.find(DEAD_LETTERS, order_by=("rejectedAt",))
    for letter in letters:
        raw = base64.b64decode(letter["raw"])
        if args.raw:  # the original messages, one a line: fix them, then `ingest` the file
            sys.stdout.write(raw.decode("utf-8", "replace").rstrip("\n") + "\n")
        else:
            print(json.dumps({**letter, "raw": raw.decode("utf-8", "replace")}))
    if not letters:
        print("no dead letters", file=sys.stderr)
    return EXIT_OK


def cmd_relay_run(system: System, args: argparse.Namespace) -> int:
    target = f"Kafka at {system.config.kafka}" if system.config.kafka else system.config.home / "published.jsonl"
    if args.once:
        relay = system.relay()
        published = relay.relay_all()
        relay.sink.close()
        print(f"published {published} messages to {target}; position {relay.sink.position()}, lag {relay.lag()}")
        return EXIT_OK
    import threading

    from adapters import structured_log
    from adapters.serve import RelayWorker, run_workers
    from adapters.service_metrics import ServiceMetrics

    structured_log.configure()
    print(f"relaying to {target} until SIGTERM or Ctrl-C", file=sys.stderr)
    metrics = ServiceMetrics()
    worker = RelayWorker(system, metrics)
    worker.idle_seconds = args.interval
    return run_workers([worker], metrics, args.http, threading.Event())


def cmd_projections_status(system: System, args: argparse.Namespace) -> int:
    system.projections.prepare()
    print(f"{'projection':<30} {'gen':>4} {'version':>8} {'state':<9} {'position':>10} {'lag':>8}")
    for s in system.projections.status():
        note = "" if s.version == s.code_version else f"  (code is at version {s.code_version})"
        print(f"{s.projection:<30} {s.generation:>4} {s.version:>8} {s.state:<9} {s.position:>10} {s.lag:>8}{note}")
    return EXIT_OK


def cmd_projections_rebuild(system: System, args: argparse.Namespace) -> int:
    progress = Progress()

    def report(name: str, position: int, head: int) -> None:
        if progress.due():
            print(f"… {name}: {position:,} of {head:,}", file=sys.stderr)

    names = [args.name] if args.name else None
    started = time.monotonic()
    system.projections.rebuild(names, report)
    print(f"rebuilt {', '.join(names or system.projections.projections)} in {time.monotonic() - started:.1f}s")
    return EXIT_OK


def _actor(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def cmd_admin_freeze(system: System, args: argparse.Namespace) -> int:
    result = system.service.freeze(FreezeUpdates(args.id, args.reason, utc_now(), by=_actor(args)))
    system.projections.catch_up()
    print(f"{args.id}: {'frozen' if result == 'recorded' else 'was already frozen; nothing recorded'}")
    return EXIT_OK


def cmd_admin_unfreeze(system: System, args: argparse.Namespace) -> int:
    result = system.service.unfreeze(UnfreezeUpdates(args.id, args.reason, utc_now(), by=_actor(args)))
    system.projections.catch_up()
    print(f"{args.id}: {'unfrozen; sentiment restarts at 0' if result == 'recorded' else 'was not frozen; nothing recorded'}")
    return EXIT_OK


def _trait_rates(values: Sequence[str]) -> tuple[float | None, dict[str, float]]:
    all_traits, per_trait = None, {}
    for value in values:
        name, sep, rate = value.partition("=")
        try:
            if not sep:
                all_traits = float(name)
            else:
                per_trait[name] = float(rate)
        except ValueError:
            raise UsageError(f"--trait-rate {value!r}: expected TRAIT=RATE (e.g. humor=0.1) or RATE") from None
    return all_traits, per_trait


def cmd_config_set(system: System, args: argparse.Namespace) -> int:
    agent = system.service.get_agent(args.id)
    current = LearningConfig.from_dict(agent.config)
    all_traits, per_trait = _trait_rates(args.trait_rate or [])
    changed = LearningConfig(
        profile=args.profile if args.profile is not None else current.profile,
        trait_rate=all_traits if all_traits is not None else current.trait_rate,
        trait_rates={**current.trait_rates, **per_trait},
        action_rate=args.action_rate if args.action_rate is not None else current.action_rate,
        epsilon=args.epsilon if args.epsilon is not None else current.epsilon,
    )
    try:
        validate_command_config(changed, system.service.settings)
    except InvalidLearningConfig as error:
        raise UsageError(f"configuration for {args.id} rejected: {error}") from None
    system.service.configure(ConfigureLearning(None, args.id, utc_now(), changed, from_event=False))
    system.projections.catch_up()
    rates = system.service.get_agent(args.id).rates(system.service.settings)
    print(f"{args.id}: configured {json.dumps(changed.to_dict())}")
    print(f"  effective: trait rates {json.dumps(dict(rates.trait_rates))}, action rate {rates.action_rate}, "
          f"ε {rates.epsilon}")
    return EXIT_OK


def cmd_serve(system: System, args: argparse.Namespace) -> int:
    import os

    from adapters import structured_log
    from adapters.serve import serve

    structured_log.configure(args.log_level)
    system.close()  # serve builds one system per worker thread
    address = args.http or os.environ.get("AGENT_LEARNING_HTTP") or "127.0.0.1:8080"
    relay = not args.no_relay and os.environ.get("AGENT_LEARNING_SERVE_RELAY", "yes").lower() not in ("no", "0", "false")
    return serve(system.config, address, tick_interval=args.tick_interval, relay=relay)


def cmd_web(system: System, args: argparse.Namespace) -> int:
    import os

    from adapters import structured_log
    from adapters.web import run_web

    structured_log.configure(args.log_level)
    system.close()  # the web server builds its own pool of systems
    address = args.http or os.environ.get("AGENT_LEARNING_HTTP") or "127.0.0.1:8080"
    print(f"serving the HTTP API and owner pages on http://{address} (OpenAPI at /docs) until Ctrl-C",
          file=sys.stderr)
    return run_web(system.config, address)


def cmd_tokens_create(system: System, args: argparse.Namespace) -> int:
    from adapters.api_tokens import TokenStore

    if bool(args.owner) == args.admin:
        raise UsageError("give either --owner ID (a token for that owner's agents) or --admin, not both")
    tokens = TokenStore.in_home(system.config.home)
    try:
        token = tokens.create(owner_id=args.owner, admin=args.admin)
    except ValueError as error:
        raise UsageError(str(error)) from None
    finally:
        tokens.close()
    print(token)
    who = "administrators" if args.admin else f"owner {args.owner}"
    print(f"a new API token for {who}, id {TokenStore.token_id(token)}; it is shown only now (only its hash is "
          f"kept in {system.config.home / 'tokens.db'}): send it as 'Authorization: Bearer TOKEN'; "
          "revoke it with `agent-learning tokens revoke ID`", file=sys.stderr)
    return EXIT_OK


def cmd_demo(system: System, args: argparse.Namespace) -> int:
    from adapters.demo import run_demo

    return run_demo(system, quiet=args.quiet)


# -------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-learning",
        description="Event-sourced learning from user feedback for conversational AI agents.",
        epilog="Backends are chosen by environment variables: AGENT_LEARNING_HOME, AGENT_LEARNING_EVENT_STORE, "
               "AGENT_LEARNING_READ_MODELS, AGENT_LEARNING_KAFKA (see the README).",
    )
    parser.add_argument("--home", help="folder of the embedded store (default: $AGENT_LEARNING_HOME or ./.agent-learning)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="simulate a day of feedback for a few agents through the whole loop")
    p.add_argument("--quiet", action="store_true", help="only the summary")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("serve", help="the long-running worker: consumer, projections, relay, tick, and the HTTP API "
                                     "with owner pages, /healthz, /metrics")
    p.add_argument("--http", metavar="HOST:PORT", help="address of the HTTP API, owner pages, /healthz and /metrics "
                   "(default: $AGENT_LEARNING_HTTP or 127.0.0.1:8080)")
    p.add_argument("--tick-interval", type=float, default=60.0, metavar="S", help="seconds between ticks (default 60)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--no-relay", action="store_true",
                   help="leave publishing to a separate `relay run` (also AGENT_LEARNING_SERVE_RELAY=no): "
                        "one relay per transactional id, so replicas do not fence each other")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("web", help="the HTTP API and owner pages (OpenAPI at /docs)")
    p.add_argument("--http", metavar="HOST:PORT", help="address to listen on "
                   "(default: $AGENT_LEARNING_HTTP or 127.0.0.1:8080)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(handler=cmd_web)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens_command", required=True)
    p = tokens.add_parser("create", help="print a new API token (stored hashed) for one owner or for administrators")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--owner", metavar="ID", help="the owner whose agents the token may see and configure")
    who.add_argument("--admin", action="store_true", help="a token for administrators: every agent, freeze/unfreeze")
    p.set_defaults(handler=cmd_tokens_create)
    add_token_commands(tokens)

    p = sub.add_parser("ingest", help="process a JSONL file of messages as the realtime loop would")
    p.add_argument("file", help="JSONL file, one message a line (- for stdin)")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("tick", help="run the periodic tick (timer trigger and freeze check)")
    p.add_argument("--now", type=_time, help="the tick's time, ISO-8601 with a zone (default: the clock)")
    p.set_defaults(handler=cmd_tick)

    agent = sub.add_parser("agent", help="look at one agent").add_subparsers(dest="agent_command", required=True)
    p = agent.add_parser("show", help="the agent's current learning state")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_agent_show)
    p = agent.add_parser("history", help="the agent's recorded events, oldest first")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(handler=cmd_agent_history)
    p = agent.add_parser("list", help="all agents")
    p.set_defaults(handler=cmd_agent_list)

    p = sub.add_parser("audit", help="replay agents' histories and re-derive every recalculation")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="audit every agent")
    p.set_defaults(handler=cmd_audit)

    relay = sub.add_parser("relay", help="the outbox relay").add_subparsers(dest="relay_command", required=True)
    p = relay.add_parser("run", help="publish what the outbox holds and has not yet published")
    p.add_argument("--once", action="store_true", help="publish what is there now, then stop")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    p.add_argument("--http", metavar="HOST:PORT", help="serve /healthz and /metrics there (default: none)")
    p.set_defaults(handler=cmd_relay_run)

    dead = sub.add_parser("dead-letters", help="rejected messages").add_subparsers(dest="dead_command", required=True)
    p = dead.add_parser("list", help="every rejected message with its source, position and reason (JSONL)")
    p.add_argument("--raw", action="store_true", help="only the original messages, one a line, to fix and re-ingest")
    p.set_defaults(handler=cmd_dead_letters_list)

    projections = sub.add_parser("projections", help="read models").add_subparsers(
        dest="projections_command", required=True)
    p = projections.add_parser("status", help="positions and lag of every read model")
    p.set_defaults(handler=cmd_projections_status)
    p = projections.add_parser("rebuild", help="rebuild read models from the event history (blue/green)")
    p.add_argument("name", nargs="?", help="one projection (default: all)")
    p.set_defaults(handler=cmd_projections_rebuild)

    admin = sub.add_parser("admin", help="operator actions").add_subparsers(dest="admin_command", required=True)
    for name, handler, text in (("freeze", cmd_admin_freeze, "stop an agent's updates"),
                                ("unfreeze", cmd_admin_unfreeze, "resume an agent's updates")):
        p = admin.add_parser(name, help=text)
        p.add_argument("id")
        p.add_argument("--reason", required=True, help="why (recorded in the agent's history)")
        p.add_argument("--by", help="who (default: the current user)")
        p.set_defaults(handler=handler)

    config = sub.add_parser("config", help="owner learning configuration").add_subparsers(
        dest="config_command", required=True)
    p = config.add_parser("set", help="set profile and rate overrides (validated; unset values are kept)")
    p.add_argument("id")
    p.add_argument("--profile", choices=sorted(PROFILES))
    p.add_argument("--trait-rate", action="append", metavar="T=R",
                   help="per-trait rate (humor=0.1), or RATE for every trait; repeatable")
    p.add_argument("--action-rate", type=float, metavar="R")
    p.add_argument("--epsilon", type=float, metavar="E")
    p.set_defaults(handler=cmd_config_set)

    from adapters.cli_models import add_model_commands

    add_model_commands(sub)

    from adapters.cli_jobs import add_job_commands

    add_job_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        system = bootstrap(Config.from_env(home=args.home))
    except ConfigurationError as error:
        _err(str(error))
        return EXIT_USAGE
    try:
        return args.handler(system, args)
    except UsageError as error:
        _err(str(error))
        return EXIT_USAGE
    except UnknownAgent as error:
        _err(str(error))
        return EXIT_FAILED
    except UnknownProjection as error:
        _err(str(error))
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK
    finally:
        system.close()


if __name__ == "__main__":
    sys.exit(main())
