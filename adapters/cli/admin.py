"""`agent-learning admin freeze|unfreeze` and `config set`: operators' and owners' changes to one agent."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, UsageError, actor, safe
from adapters.service.clock import utc_now
from domain.commands import ConfigureLearning, FreezeUpdates, UnfreezeUpdates
from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig, validate_command_config


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


def _trait_rates(values: Sequence[str]) -> tuple[float | None, dict[str, float]]:
    all_traits, per_trait = None, {}
    for value in values:
        name, sep, rate = value.partition("=")
        try:
            if not sep:
                all_traits = float(name)
            else:
                per_trait[name] = float(rate)
        except ValueError:
            raise UsageError(f"--trait-rate {value!r}: expected TRAIT=RATE (e.g. humor=0.1) or RATE") from None
    return all_traits, per_trait


def cmd_config_set(system: System, args: argparse.Namespace) -> int:
    agent = system.service.get_agent(args.id)
    current = LearningConfig.from_dict(agent.config)
    all_traits, per_trait = _trait_rates(args.trait_rate or [])
    changed = LearningConfig(
        profile=args.profile if args.profile is not None else current.profile,
        trait_rate=all_traits if all_traits is not None else current.trait_rate,
        trait_rates={**current.trait_rates, **per_trait},
        action_rate=args.action_rate if args.action_rate is not None else current.action_rate,
        epsilon=args.epsilon if args.epsilon is not None else current.epsilon,
    )
    try:
        validate_command_config(changed, system.service.settings)
    except InvalidLearningConfig as error:
        raise UsageError(f"configuration for {args.id} rejected: {error}") from None
    system.service.configure(ConfigureLearning(None, args.id, utc_now(), changed, from_event=False))
    system.projections.catch_up()
    rates = system.service.get_agent(args.id).rates(system.service.settings)
    print(f"{safe(args.id)}: configured {json.dumps(changed.to_dict())}")
    print(
        f"  effective: trait rates {json.dumps(dict(rates.trait_rates))}, action rate {rates.action_rate}, "
        f"ε {rates.epsilon}"
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

    config = sub.add_parser("config", help="owner learning configuration").add_subparsers(
        dest="config_command", required=True
    )
    p = config.add_parser("set", help="set profile and rate overrides (validated; unset values are kept)")
    p.add_argument("id")
    p.add_argument("--profile", choices=sorted(PROFILES))
    p.add_argument(
        "--trait-rate",
        action="append",
        metavar="T=R",
        help="per-trait rate (humor=0.1), or RATE for every trait; repeatable",
    )
    p.add_argument("--action-rate", type=float, metavar="R")
    p.add_argument("--epsilon", type=float, metavar="E")
    p.set_defaults(handler=cmd_config_set)
