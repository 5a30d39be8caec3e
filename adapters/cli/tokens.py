"""`agent-learning tokens create|list|revoke`: make, see and end API tokens, never showing a secret again."""

from __future__ import annotations

import argparse
import json
import sys

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, UsageError, err, safe
from adapters.web.api_tokens import TokenStore, UnknownToken


def cmd_tokens_create(system: System, args: argparse.Namespace) -> int:
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
    print(
        f"a new API token for {who}, id {TokenStore.token_id(token)}; it is shown only now (only its hash is "
        f"kept in {system.config.home / 'tokens.db'}): send it as 'Authorization: Bearer TOKEN'; "
        "revoke it with `agent-learning tokens revoke ID`",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_tokens_list(system: System, args: argparse.Namespace) -> int:
    tokens = TokenStore.in_home(system.config.home)
    try:
        infos = tokens.list()
    finally:
        tokens.close()
    if args.json:
        for info in infos:
            print(
                json.dumps(
                    {
                        "id": info.id,
                        "ownerId": info.owner_id,
                        "admin": info.admin,
                        "createdAt": info.created_at,
                        "revokedAt": info.revoked_at,
                    }
                )
            )
        return EXIT_OK
    if not infos:
        print("no API tokens yet: create one with `agent-learning tokens create --owner ID` (or --admin)")
        return EXIT_OK
    print(f"{'id':<13} {'for':<24} {'created':<33} state")
    for info in infos:
        who = "administrators" if info.admin else f"owner {info.owner_id}"
        state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
        print(f"{info.id:<13} {safe(who):<24} {info.created_at:<33} {state}")
    return EXIT_OK


def cmd_tokens_revoke(system: System, args: argparse.Namespace) -> int:
    tokens = TokenStore.in_home(system.config.home)
    try:
        info = tokens.revoke(args.id)
    except UnknownToken as error:
        err(str(error))
        return EXIT_FAILED
    finally:
        tokens.close()
    who = "administrators" if info.admin else f"owner {info.owner_id}"
    print(
        f"token {info.id} for {who} revoked at {info.revoked_at}: it no longer authenticates "
        "(API calls get 401; owner-page sessions opened with it end)"
    )
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens_command", required=True)
    p = tokens.add_parser("create", help="print a new API token (stored hashed) for one owner or for administrators")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--owner", metavar="ID", help="the owner whose agents the token may see and configure")
    who.add_argument("--admin", action="store_true", help="a token for administrators: every agent, freeze/unfreeze")
    p.set_defaults(handler=cmd_tokens_create)
    p = tokens.add_parser("list", help="every API token's id, owner, creation and revocation (never the secret)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token by the id `tokens list` shows (it then gets 401)")
    p.add_argument("id", help="the token's id (12 hex digits)")
    p.set_defaults(handler=cmd_tokens_revoke)
