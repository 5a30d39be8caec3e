"""`agent-learning relay run`: publishes the outbox (Kafka when configured, else `published.jsonl`)."""

from __future__ import annotations

import argparse
import sys
import threading

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK
from adapters.observability import logs
from adapters.observability.metrics import ServiceMetrics
from adapters.worker.runner import run_workers
from adapters.worker.workers import RelayWorker


def cmd_relay_run(system: System, args: argparse.Namespace) -> int:
    target = f"Kafka at {system.config.kafka}" if system.config.kafka else system.config.home / "published.jsonl"
    if args.once:
        relay = system.relay()
        published = relay.relay_all()
        relay.sink.close()
        print(f"published {published} messages to {target}; position {relay.sink.position()}, lag {relay.lag()}")
        return EXIT_OK
    logs.configure()
    print(f"relaying to {target} until SIGTERM or Ctrl-C", file=sys.stderr)
    metrics = ServiceMetrics()
    worker = RelayWorker(system, metrics)
    worker.idle_seconds = args.interval
    return run_workers([worker], metrics, args.http, threading.Event())


def add_commands(sub: argparse._SubParsersAction) -> None:
    relay = sub.add_parser("relay", help="the outbox relay").add_subparsers(dest="relay_command", required=True)
    p = relay.add_parser("run", help="publish what the outbox holds and has not yet published")
    p.add_argument("--once", action="store_true", help="publish what is there now, then stop")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    p.add_argument("--http", metavar="HOST:PORT", help="serve /healthz and /metrics there (default: none)")
    p.set_defaults(handler=cmd_relay_run)
