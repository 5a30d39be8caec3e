"""`agent-learning contract schemas`: the JSON Schemas of every message in and out (docs/contract.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, safe
from adapters.messages.contract_files import contract_files


def cmd_contract_schemas(system: System, args: argparse.Namespace) -> int:
    settings = (
        system.service.rules.at(args.rules_version) if args.rules_version is not None else system.service.settings
    )
    files = contract_files(settings)
    if args.out is None:
        for path in files:
            print(path)
        return EXIT_OK
    out = Path(args.out)
    stale = [p for p, text in files.items() if not (out / p).is_file() or (out / p).read_text() != text]
    if args.check:
        for path in stale:
            print(f"differs from the code: {safe(out / path)}")
        if stale:
            print(f"regenerate with: agent-learning contract schemas --out {safe(out)}")
        return EXIT_FAILED if stale else EXIT_OK
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)
    print(
        f"wrote {len(files)} schema files to {safe(out)} ({len(stale)} changed), for rules version {settings.rules_version}"
    )
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    contract = sub.add_parser("contract", help="the message contract's JSON Schemas").add_subparsers(
        dest="contract_command", required=True
    )
    p = contract.add_parser("schemas", help="list, write or check the schema files (docs/schemas/)")
    p.add_argument("--out", metavar="DIR", help="write them into DIR (in/ and out/); without it, list them")
    p.add_argument("--check", action="store_true", help="with --out: exit 1 naming each file that differs")
    p.add_argument(
        "--rules-version", type=int, metavar="N", help="inbound vocabularies of rules version N (default: in force)"
    )
    p.set_defaults(handler=cmd_contract_schemas)
