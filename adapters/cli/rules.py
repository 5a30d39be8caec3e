"""`agent-learning rules …`: the learning rules an operator changes (docs/rules.md).

validate and diff read a file and change nothing; apply records it as the next version
(or, with --dry-run, replays the logged feedback of the last days through it beside the
rules in force); show and history read what was applied; schema prints the JSON Schema.
Exit status: 0 when done (or valid), 1 when the document has problems, 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, UsageError, actor, err, parse_time, safe
from adapters.rules.document import RulesFileError, canonical, read_rules_file, render_rules
from adapters.rules.schema import rules_schema
from adapters.service import rules_changes
from adapters.service.clock import utc_now
from adapters.service.rules_in_force import UnknownRulesVersion
from adapters.service.rules_replay import CAVEAT
from domain.rules import InvalidRules
from domain.timestamps import to_iso


def _read(system: System, path: str) -> tuple[dict[str, Any], str]:
    """The canonical document of the file, and its text; raises InvalidRules / RulesFileError."""
    document, text = read_rules_file(path)
    rules_changes.check(system.service, document)
    return canonical(document, system.service.rules.builtin), text


def _problems(path: str, error: Exception) -> int:
    if isinstance(error, InvalidRules):
        err(f"{path}: {len(error.problems)} problem(s); nothing was changed")
        for problem in error.problems:
            print(f"  {safe(problem)}")
    else:
        err(str(error))
    return EXIT_FAILED


def _shown(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)


def _print_changes(changes: list[tuple[str, Any, Any]], against: int) -> None:
    if not changes:
        print(f"no change against rules version {against} (in force)")
        return
    print(f"{len(changes)} change(s) against rules version {against} (in force):")
    for key, old, new in changes:
        print(f"  {key}: {_shown(old)} -> {_shown(new)}")


def cmd_rules_validate(system: System, args: argparse.Namespace) -> int:
    try:
        _read(system, args.file)
    except (InvalidRules, RulesFileError) as error:
        return _problems(args.file, error)
    print(f"{safe(args.file)}: valid; it can be applied over rules version {system.service.settings.rules_version}")
    return EXIT_OK


def cmd_rules_diff(system: System, args: argparse.Namespace) -> int:
    try:
        document, _ = _read(system, args.file)
    except (InvalidRules, RulesFileError) as error:
        return _problems(args.file, error)
    changes = rules_changes.changes_against_current(system.service, document)
    if args.json:
        print(json.dumps([{"key": k, "current": o, "proposed": n} for k, o, n in changes], indent=2))
    else:
        _print_changes(changes, system.service.settings.rules_version)
    return EXIT_OK


def cmd_rules_apply(system: System, args: argparse.Namespace) -> int:
    try:
        document, text = _read(system, args.file)
    except (InvalidRules, RulesFileError) as error:
        return _problems(args.file, error)
    if args.dry_run:
        return _dry_run(system, args, document)
    if args.replay is not None:
        raise UsageError("--replay DAYS goes with --dry-run: a replay never changes anything")
    if not (args.reason or "").strip():
        raise UsageError("rules apply needs --reason TEXT: why the rules change (it is recorded with the version)")
    before = system.service.settings.rules_version
    try:
        applied = rules_changes.apply_and_hand_over(
            system.service, system.projections, system.read_models, document, text, actor(args), args.reason, utc_now()
        )
    except InvalidRules as error:  # another operator's version came in between
        return _problems(args.file, error)
    if not applied.recorded:
        print(f"{safe(args.file)} says what rules version {applied.version} (in force) says; nothing recorded")
        return EXIT_OK
    _print_changes(applied.changes, before)
    print(
        f"applied as rules version {applied.version} by {safe(actor(args))}: running workers switch at their next batch"
    )
    for name, count in applied.priors_handed_over.items():
        print(f"  {name}: new priors; {count} of its agents took them for their future blending")
    return EXIT_OK


def _dry_run(system: System, args: argparse.Namespace, document: dict[str, Any]) -> int:
    days = args.replay if args.replay is not None else 7.0
    if not 0 < days <= 3650:
        raise UsageError(f"--replay {days}: give the number of days to replay, more than 0 and at most 3650")
    proposed = rules_changes.check(system.service, document)
    now: datetime = args.now or utc_now()
    report = rules_changes.dry_run(system.service, system.projections, system.read_models, proposed, now, days)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return EXIT_OK
    totals = report.totals()
    print(
        f"dry run: the logged inputs from {to_iso(report.since)} to {to_iso(report.until)} ({days:g} days), "
        f"through rules version {report.current_version} (in force) and through {safe(args.file)}"
    )
    print(CAVEAT)
    print(
        f"{'agent':<24} {'inputs':>6} {'recalculations':>15} {'freezes':>8} {'rejected':>9} {'trait moves differ':>19}"
    )
    for agent in report.agents:
        a = agent.to_dict()
        print(
            f"{safe(agent.agent_id)[:24]:<24} {a['inputs']:>6} "
            f"{_pair(a['recalculations']):>15} {_pair(a['freezes']):>8} {_pair(a['rejectedFeedback']):>9} "
            f"{a['differingTraitMovements']:>19}"
        )
    print(
        f"{'total':<24} {totals['inputs']:>6} {_pair(totals['recalculations']):>15} {_pair(totals['freezes']):>8} "
        f"{_pair(totals['rejectedFeedback']):>9} {totals['differingTraitMovements']:>19}"
    )
    print(
        f"{totals['agentsThatDiffer']} of {totals['agents']} agents with inputs in the window would learn differently "
        "(columns: current -> proposed). Nothing was recorded; apply without --dry-run to make the change."
    )
    return EXIT_OK


def _pair(pair: dict[str, int]) -> str:
    return f"{pair['current']} -> {pair['proposed']}"


def cmd_rules_show(system: System, args: argparse.Namespace) -> int:
    rules = system.service.rules
    version = args.version if args.version is not None else system.service.refresh_rules().rules_version
    try:
        document = rules.document(version)
    except UnknownRulesVersion as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(document, indent=2))
    elif args.as_written and rules.source(version) is not None:
        print(rules.source(version), end="")
    else:
        print(render_rules(document), end="")
    return EXIT_OK


def cmd_rules_history(system: System, args: argparse.Namespace) -> int:
    records = system.service.rules.records()
    if args.json:
        rows = [
            {k: (to_iso(v) if k == "occurredAt" else v) for k, v in r.items() if k not in ("document", "source")}
            for r in records
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print("version 0: the built-in rules" + ("" if records else " (in force; no rules document applied yet)"))
    for r in records:
        print(
            f"version {r['version']}: {to_iso(r['occurredAt'])} by {safe(r['by'])}: {safe(r['reason'])} "
            f"({r['contentHash'][:19]})"
        )
    if records:
        print(f"in force: version {records[-1]['version']}")
    return EXIT_OK


def cmd_rules_schema(system: System, args: argparse.Namespace) -> int:
    print(json.dumps(rules_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _version(text: str) -> int:
    try:
        version = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (see `rules history`)") from None
    if version < 0:
        raise argparse.ArgumentTypeError(f"{text}: versions start at 0 (the built-in rules)")
    return version


def _days(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="the learning rules: validate, diff, apply, show, history").add_subparsers(
        dest="rules_command", required=True
    )
    p = rules.add_parser("validate", help="check a rules file (TOML); exit 1 naming each problem")
    p.add_argument("file", help="the rules document (TOML; - for stdin)")
    p.set_defaults(handler=cmd_rules_validate)

    p = rules.add_parser("diff", help="what a rules file would change against the rules in force")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="a JSON array of {key, current, proposed}")
    p.set_defaults(handler=cmd_rules_diff)

    p = rules.add_parser("apply", help="record a rules file as the next version (or --dry-run it)")
    p.add_argument("file")
    p.add_argument("--reason", help="why the rules change (required unless --dry-run)")
    p.add_argument("--by", help="who (default: the current user)")
    p.add_argument("--dry-run", action="store_true", help="change nothing: replay the logged feedback through it")
    p.add_argument("--replay", type=_days, metavar="DAYS", help="with --dry-run: the days of history (default 7)")
    p.add_argument("--now", type=parse_time, help="with --dry-run: the end of the replayed window (default: now)")
    p.add_argument("--json", action="store_true", help="with --dry-run: the report as JSON")
    p.set_defaults(handler=cmd_rules_apply)

    p = rules.add_parser("show", help="the rules in force (or --version N) as a TOML document")
    p.add_argument("--version", type=_version, metavar="N", help="a version from `rules history` (default: in force)")
    p.add_argument("--json", action="store_true", help="the parsed document as JSON")
    p.add_argument("--as-written", action="store_true", help="the file as the operator applied it, comments and all")
    p.set_defaults(handler=cmd_rules_show)

    p = rules.add_parser("history", help="every version applied: when, by whom, why")
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.set_defaults(handler=cmd_rules_history)

    p = rules.add_parser("schema", help="the rules document's JSON Schema (for editors and CI)")
    p.set_defaults(handler=cmd_rules_schema)
