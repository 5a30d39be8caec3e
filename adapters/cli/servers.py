"""`agent-learning serve` (the worker with the HTTP API) and `agent-learning web` (the HTTP API alone).

The web stack (FastAPI, Starlette, uvicorn, Jinja2: about 14 MiB and half a second) is imported
by these two commands when they run, not by every command of the CLI."""

from __future__ import annotations

import argparse
import sys

from adapters.bootstrap import System
from adapters.observability import logs

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def cmd_serve(system: System, args: argparse.Namespace) -> int:
    from adapters.worker.serve import serve  # the web stack, for the commands that serve HTTP only

    logs.configure(args.log_level)
    system.close()  # serve builds one system per worker thread
    address = args.http or system.config.http
    relay = not args.no_relay and system.config.serve_relay
    return serve(system.config, address, tick_interval=args.tick_interval, relay=relay)


def cmd_web(system: System, args: argparse.Namespace) -> int:
    from adapters.web.app import run_web  # the web stack, for the commands that serve HTTP only

    logs.configure(args.log_level)
    system.close()  # the web server builds its own pool of systems
    address = args.http or system.config.http
    print(f"serving the HTTP API and owner pages on http://{address} (OpenAPI at /docs) until Ctrl-C", file=sys.stderr)
    return run_web(system.config, address)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="the long-running worker: consumer, projections, relay, tick, and the HTTP API "
        "with owner pages, /healthz, /metrics",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="address of the HTTP API, owner pages, /healthz and /metrics "
        "(default: $AGENT_LEARNING_HTTP or 127.0.0.1:8080)",
    )
    p.add_argument("--tick-interval", type=float, default=60.0, metavar="S", help="seconds between ticks (default 60)")
    p.add_argument(
        "--log-level", default="INFO", choices=LOG_LEVELS, help="log lines at this level and above (default INFO)"
    )
    p.add_argument(
        "--no-relay",
        action="store_true",
        help="leave publishing to a separate `relay run` (also AGENT_LEARNING_SERVE_RELAY=no): "
        "one relay per transactional id, so replicas do not fence each other",
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("web", help="the HTTP API and owner pages (OpenAPI at /docs)")
    p.add_argument(
        "--http", metavar="HOST:PORT", help="address to listen on (default: $AGENT_LEARNING_HTTP or 127.0.0.1:8080)"
    )
    p.add_argument(
        "--log-level", default="INFO", choices=LOG_LEVELS, help="log lines at this level and above (default INFO)"
    )
    p.set_defaults(handler=cmd_web)
