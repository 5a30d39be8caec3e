"""`agent-learning config set|unset|show`: an agent's learning configuration, and where each rate comes from."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from attrs import evolve

from adapters.bootstrap import System
from adapters.cli.common import EXIT_OK, UsageError, actor, safe
from adapters.service.learning_config_view import SOURCES_EXPLAINED, learning_config_view
from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig
from domain.learning_options import CHOICES as OPTION_CHOICES


def _flag(option: str) -> str:
    """`rewardBaseline` → `reward-baseline`: the option's command-line flag (without the dashes)."""
    return "".join("-" + c.lower() if c.isupper() else c for c in option)


def _attribute(option: str) -> str:
    return _flag(option).replace("-", "_")


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


def _reconfigure(system: System, args: argparse.Namespace, edit) -> int:
    try:
        config = system.service.reconfigure(args.id, edit, by=actor(args))
    except InvalidLearningConfig as error:
        raise UsageError(f"configuration for {args.id} rejected: {error}") from None
    system.projections.catch_up()
    print(f"{safe(args.id)}: configured {json.dumps(config.to_dict())}")
    _print_rates(system, args.id)
    return EXIT_OK


def cmd_config_set(system: System, args: argparse.Namespace) -> int:
    all_traits, per_trait = _trait_rates(args.trait_rate or [])

    def edit(current: LearningConfig) -> LearningConfig:
        return LearningConfig(
            profile=args.profile if args.profile is not None else current.profile,
            trait_rate=all_traits if all_traits is not None else current.trait_rate,
            trait_rates={**current.trait_rates, **per_trait},
            action_rate=args.action_rate if args.action_rate is not None else current.action_rate,
            epsilon=args.epsilon if args.epsilon is not None else current.epsilon,
            temperature=args.temperature if args.temperature is not None else current.temperature,
            options={
                **current.options,
                **{o: getattr(args, _attribute(o)) for o in OPTION_CHOICES if getattr(args, _attribute(o)) is not None},
            },
        )

    return _reconfigure(system, args, edit)


def cmd_config_unset(system: System, args: argparse.Namespace) -> int:
    traits = args.trait_rate or []
    options = [o for o in OPTION_CHOICES if getattr(args, _attribute(o))]
    if not (
        traits
        or options
        or args.temperature
        or args.profile
        or args.all_traits_rate
        or args.action_rate
        or args.epsilon
        or args.everything
    ):
        raise UsageError(
            "config unset needs what to remove: --trait-rate T (repeatable), --all-traits-rate, --profile, "
            f"--action-rate, --epsilon, {', '.join('--' + _flag(o) for o in OPTION_CHOICES)}, --temperature, or --all"
        )
    known = system.service.settings.traits
    for trait in traits:
        if trait not in known:
            raise UsageError(f"--trait-rate {trait!r}: unknown trait; known traits: {', '.join(known)}")

    def edit(current: LearningConfig) -> LearningConfig:
        if args.everything:
            return LearningConfig()
        return evolve(
            current,
            profile=None if args.profile else current.profile,
            trait_rate=None if args.all_traits_rate else current.trait_rate,
            trait_rates={t: r for t, r in current.trait_rates.items() if t not in traits},
            action_rate=None if args.action_rate else current.action_rate,
            epsilon=None if args.epsilon else current.epsilon,
            options={o: c for o, c in current.options.items() if o not in options},
            temperature=None if args.temperature else current.temperature,
        )

    return _reconfigure(system, args, edit)


def _print_rates(system: System, agent_id: str) -> None:
    explained = system.service.get_agent(agent_id).explained_rates(system.service.settings)
    rates, sources = explained.rates, explained.sources
    for trait, rate in rates.trait_rates.items():
        capped = " (capped to the hard bounds)" if trait in explained.capped else ""
        print(f"  trait rate {trait:<12} {rate:<8g} from {sources['traitRates'][trait]}{capped}")
    print(f"  action rate {'':<11} {rates.action_rate:<8g} from {sources['actionRate']}")
    print(f"  epsilon {'':<15} {rates.epsilon:<8g} from {sources['epsilon']}")
    option_sources = sources.get("options", {})
    for option, choice in rates.options.to_dict().items():
        print(
            f"  {option:<23} {choice:<12g} from {option_sources.get(option, 'default')}"
            if option == "temperature"
            else f"  {option:<23} {choice:<12} from {option_sources.get(option, 'default')}"
        )


def cmd_config_show(system: System, args: argparse.Namespace) -> int:
    view = learning_config_view(system.service, args.id)
    if args.json:
        print(json.dumps(view, indent=2))
        return EXIT_OK
    print(
        f"{safe(args.id)} (archetype {safe(view['archetype'])}, rules version {view['rulesVersion']}): "
        f"configured {json.dumps(view['learningConfig'])}"
    )
    _print_rates(system, args.id)
    print("  sources: " + "; ".join(f"{name} = {text}" for name, text in SOURCES_EXPLAINED.items()))
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="an agent's learning configuration").add_subparsers(
        dest="config_command", required=True
    )
    p = config.add_parser("set", help="set profile and rate overrides (validated; unset values are kept)")
    p.add_argument("id")
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help="conservative (rates 0.04/0.03, ε 0.01), balanced (0.07/0.05, 0.02) or fast (0.11/0.08, 0.03)",
    )
    p.add_argument(
        "--trait-rate",
        action="append",
        metavar="T=R",
        help="per-trait rate (humor=0.1), or RATE for every trait, in [0.02, 0.12]; repeatable",
    )
    p.add_argument("--action-rate", type=float, metavar="R", help="the action learning rate, in [0.01, 0.10]")
    p.add_argument("--epsilon", type=float, metavar="E", help="the exploration rate ε, in [0.005, 0.10]")
    for option, choices in OPTION_CHOICES.items():
        p.add_argument(
            "--" + _flag(option),
            choices=choices,
            help=f"the learning option {option} (docs/learning-options.md; default {choices[0]})",
        )
    p.add_argument("--temperature", type=float, metavar="T", help="softmax's temperature, in [0.01, 1.0]")
    p.add_argument("--by", help="who (default: the current user)")
    p.set_defaults(handler=cmd_config_set)

    p = config.add_parser("unset", help="remove overrides: the next level down decides again")
    p.add_argument("id")
    p.add_argument("--trait-rate", action="append", metavar="T", help="a trait's own rate; repeatable")
    p.add_argument("--all-traits-rate", action="store_true", help="the rate set for every trait at once")
    p.add_argument("--profile", action="store_true", help="the profile")
    p.add_argument("--action-rate", action="store_true", help="the action rate")
    p.add_argument("--epsilon", action="store_true", help="ε (the learned ε is kept)")
    for option in OPTION_CHOICES:
        p.add_argument("--" + _flag(option), action="store_true", help=f"the option {option}")
    p.add_argument("--temperature", action="store_true", help="softmax's temperature")
    p.add_argument("--all", dest="everything", action="store_true", help="every override and the profile")
    p.add_argument("--by", help="who (default: the current user)")
    p.set_defaults(handler=cmd_config_unset)

    p = config.add_parser("show", help="the configuration and where each effective rate comes from")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="one JSON object (as GET /api/agents/{id}/learning-config)")
    p.set_defaults(handler=cmd_config_show)
