"""`agent-learning projections status|rebuild`: read-model positions, and blue/green rebuilds."""

from __future__ import annotations

import argparse
import json
import sys
import time

import attrs

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, Progress


def cmd_projections_status(system: System, args: argparse.Namespace) -> int:
    # Catching up first, as every command does, is what finds a projection that cannot go on.
    system.projections.catch_up()
    if args.json:
        statuses = system.projections.status()
        print(json.dumps([{**attrs.asdict(s), "lag": s.lag} for s in statuses], indent=2))
        return EXIT_FAILED if any(s.error for s in statuses) else EXIT_OK
    print(f"{'projection':<30} {'gen':>4} {'version':>8} {'state':<9} {'position':>10} {'lag':>8}")
    failed = []
    for s in system.projections.status():
        note = "" if s.version == s.code_version else f"  (code is at version {s.code_version})"
        print(f"{s.projection:<30} {s.generation:>4} {s.version:>8} {s.state:<9} {s.position:>10} {s.lag:>8}{note}")
        if s.error:
            failed.append(s.error)
    for error in failed:
        print(f"  {error}", file=sys.stderr)
    if failed:
        print(
            "  the other projections go on; fix the cause (the worker's log has the traceback), then restart "
            "or rebuild",
            file=sys.stderr,
        )
        return EXIT_FAILED
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    projections = sub.add_parser("projections", help="read models").add_subparsers(
        dest="projections_command", required=True
    )
    p = projections.add_parser("status", help="positions and lag of every read model; exit 1 when one has stopped")
    p.add_argument("--json", action="store_true", help="a JSON array, one object per read model")
    p.set_defaults(handler=cmd_projections_status)
    p = projections.add_parser("rebuild", help="rebuild read models from the event history (blue/green)")
    p.add_argument("name", nargs="?", help="one projection (default: all)")
    p.set_defaults(handler=cmd_projections_rebuild)
