"""`agent-learning tokens list` and `tokens revoke ID`: see and end API tokens, never showing a secret again."""

from __future__ import annotations

import argparse
import json
import sys

from adapters.api_tokens import TokenStore, UnknownToken
from adapters.bootstrap import System


def cmd_tokens_list(system: System, args: argparse.Namespace) -> int:
    tokens = TokenStore.in_home(system.config.home)
    try:
        infos = tokens.list()
    finally:
        tokens.close()
    if args.json:
        for info in infos:
            print(json.dumps({"id": info.id, "ownerId": info.owner_id, "admin": info.admin,
                              "createdAt": info.created_at, "revokedAt": info.revoked_at}))
        return 0
    if not infos:
        print("no API tokens yet: create one with `agent-learning tokens create --owner ID` (or --admin)")
        return 0
    print(f"{'id':<13} {'for':<24} {'created':<33} state")
    for info in infos:
        who = "administrators" if info.admin else f"owner {info.owner_id}"
        state = f"revoked {info.revoked_at}" if info.revoked_at else "active"
        print(f"{info.id:<13} {who:<24} {info.created_at:<33} {state}")
    return 0


def cmd_tokens_revoke(system: System, args: argparse.Namespace) -> int:
    tokens = TokenStore.in_home(system.config.home)
    try:
        info = tokens.revoke(args.id)
    except UnknownToken as error:
        print(f"agent-learning: {error}", file=sys.stderr)
        return 1
    finally:
        tokens.close()
    who = "administrators" if info.admin else f"owner {info.owner_id}"
    print(f"token {info.id} for {who} revoked at {info.revoked_at}: it no longer authenticates "
          "(API calls get 401; owner-page sessions opened with it end)")
    return 0


def add_token_commands(tokens: argparse._SubParsersAction) -> None:
    p = tokens.add_parser("list", help="every API token's id, owner, creation and revocation (never the secret)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token by the id `tokens list` shows (it then gets 401)")
    p.add_argument("id", help="the token's id (12 hex digits)")
    p.set_defaults(handler=cmd_tokens_revoke)
