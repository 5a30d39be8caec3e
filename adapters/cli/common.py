"""What every command shares: exit codes, the usage error, time parsing, progress lines, who acts."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import datetime

from domain.timestamps import parse_iso
from projections.agent_learning_state import STATE

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line cannot be carried out as given; exit status 2 with the message."""


def safe(text: object) -> str:
    """Text for a terminal: control characters (a newline, an escape sequence in an id) written as escapes."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def err(message: str) -> None:
    print(f"agent-learning: {safe(message)}", file=sys.stderr)


def parse_time(text: str) -> datetime:
    """An argparse `type` for `--now`: ISO-8601 with a zone."""
    try:
        return parse_iso(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time with a zone (e.g. 2026-11-24T10:00:00Z): {error}"
        ) from None


def actor(args: argparse.Namespace) -> str:
    """`--by`, or the user running the command."""
    return args.by or getpass.getuser()


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


def chosen_agents(system, ids: list[str], every: bool, verb: str) -> list[str]:
    """The agents a command names, or every agent (`--all`, from the state read model, caught up first)."""
    if every:
        system.projections.catch_up()
        ids = [doc["agentId"] for doc in system.read_models.find(STATE, order_by=("agentId",))]
    if not ids:
        raise UsageError(f"name the agents to {verb}, or pass --all")
    return ids


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 agent`, `2 agents` (`many` when the plural is not word + s)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def table(columns: list[str], rows: list[list[object]], numeric: frozenset[str] = frozenset()) -> str:
    """An aligned table with a header; the `numeric` columns are right-aligned."""
    cells = [[safe("-" if v is None else v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if columns[i] in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])
