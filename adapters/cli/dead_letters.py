"""`agent-learning dead-letters list`: rejected messages, or their original lines to fix and re-ingest."""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK
from projections.dead_letters import DEAD_LETTERS


def _in_order_rejected(letter: dict) -> tuple:
    """By time, then by where in its source: line 2 before line 10, offset 0:9 before 0:10."""
    position = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", letter["position"])]
    return letter["rejectedAt"], letter["source"], position


def cmd_dead_letters_list(system: System, args: argparse.Namespace) -> int:
    system.projections.catch_up()
    letters = sorted(system.read_models.find(DEAD_LETTERS), key=_in_order_rejected)
    for letter in letters:
        raw = base64.b64decode(letter["raw"])
        if args.raw:  # the original bytes, one message a line: fix them, then `ingest` the file
            sys.stdout.buffer.write(raw.rstrip(b"\n") + b"\n")
        else:
            print(json.dumps({**letter, "raw": raw.decode("utf-8", "replace")}))
    sys.stdout.flush()
    if not letters:
        print("no dead letters", file=sys.stderr)
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    dead = sub.add_parser("dead-letters", help="rejected messages").add_subparsers(dest="dead_command", required=True)
    p = dead.add_parser("list", help="every rejected message with its source, position and reason (JSONL)")
    p.add_argument("--raw", action="store_true", help="only the original messages, one a line, to fix and re-ingest")
    p.set_defaults(handler=cmd_dead_letters_list)
