"""`agent-learning admin freeze|unfreeze`: an operator stops or resumes one agent's updates."""

from __future__ import annotations

import argparse

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, UsageError, actor, safe
from adapters.service.clock import utc_now
from domain.commands import FreezeUpdates, UnfreezeUpdates


def cmd_admin_freeze(system: System, args: argparse.Namespace) -> int:
    result = system.service.freeze(FreezeUpdates(args.id, _reason(args), utc_now(), by=actor(args)))
    system.projections.catch_up()
    print(f"{safe(args.id)}: {'frozen' if result == 'recorded' else 'was already frozen; nothing recorded'}")
    return EXIT_OK


def _reason(args: argparse.Namespace) -> str:
    if not args.reason.strip():
        raise UsageError(f"admin {args.admin_command} needs a --reason that says why (it is recorded in the history)")
    return args.reason


def cmd_admin_unfreeze(system: System, args: argparse.Namespace) -> int:
    result = system.service.unfreeze(UnfreezeUpdates(args.id, _reason(args), utc_now(), by=actor(args)))
    system.projections.catch_up()
    print(
        f"{safe(args.id)}: {'unfrozen; sentiment restarts at 0' if result == 'recorded' else 'was not frozen; nothing recorded'}"
    )
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    admin = sub.add_parser("admin", help="operator actions").add_subparsers(dest="admin_command", required=True)
    for name, handler, text in (
        ("freeze", cmd_admin_freeze, "stop an agent's updates"),
        ("unfreeze", cmd_admin_unfreeze, "resume an agent's updates"),
    ):
        p = admin.add_parser(name, help=text)
        p.add_argument("id")
        p.add_argument("--reason", required=True, help="why (recorded in the agent's history)")
        p.add_argument("--by", help="who (default: the current user)")
        p.set_defaults(handler=handler)
