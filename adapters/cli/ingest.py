"""`agent-learning ingest FILE` and `agent-learning tick`: the realtime loop from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, Progress, UsageError, parse_time, plural, safe
from adapters.files.jsonl_ingest import IngestReport, ingest_lines
from adapters.service.clock import utc_now
from adapters.worker.projections_alongside import projections_alongside
from domain.timestamps import to_iso
from projections.agent_queries import agents_due_for_tick

PARALLEL_BYTES = 4 * 1024 * 1024  # about 10,000 messages


def cmd_ingest(system: System, args: argparse.Namespace) -> int:
    progress = Progress()

    def report_progress(report: IngestReport) -> None:
        if progress.due():
            rate = report.lines / report.seconds if report.seconds else 0
            print(
                f"… {report.lines:,} lines, {report.outcome.recorded:,} recorded, "
                f"{report.rejected:,} rejected ({rate:,.0f} lines/s)",
                file=sys.stderr,
            )

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
    print(
        f"{report.lines:,} messages: {o.recorded:,} recorded, {o.duplicates:,} duplicates skipped, "
        f"{report.rejected:,} rejected; {len(o.agents):,} agents changed; recalculations: {triggers}"
    )
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
    if args.json:
        print(
            json.dumps(
                {
                    "now": to_iso(now),
                    "checked": len(due),
                    "changed": sorted(outcome.agents),
                    "recalculations": dict(outcome.recalculations),
                    "frozen": sorted(outcome.frozen),
                },
                indent=2,
            )
        )
        return EXIT_OK
    triggers = ", ".join(f"{t} {n}" for t, n in sorted(outcome.recalculations.items())) or "none"
    print(
        f"tick at {to_iso(now)}: {plural(len(due), 'agent')} checked, {len(outcome.agents):,} changed; "
        f"recalculations: {triggers}"
    )
    if outcome.frozen:
        print(
            f"froze {plural(len(outcome.frozen), 'agent')} whose sentiment stayed below the threshold: "
            f"{', '.join(safe(a) for a in sorted(outcome.frozen))} (admin unfreeze ID --reason TEXT to resume)"
        )
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="process a JSONL file of messages as the realtime loop would")
    p.add_argument("file", help="JSONL file, one message a line (- for stdin)")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("tick", help="run the periodic tick (timer trigger and freeze check)")
    p.add_argument("--now", type=parse_time, help="the tick's time, ISO-8601 with a zone (default: the clock)")
    p.add_argument("--json", action="store_true", help="what it did as one JSON object")
    p.set_defaults(handler=cmd_tick)
