"""`agent-learning models list|promote|rollback`: the model registry from the command line."""

from __future__ import annotations

import argparse
import json

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, actor, err
from adapters.service.clock import utc_now
from domain.model_registry import ModelRegistryError, Scope, describe
from jobs.model_registry_service import list_models, promote_model, rollback_alias, served_models

SHOWN_SERVED = 20


def _scope(args: argparse.Namespace) -> Scope | None:
    if args.agent is None and args.archetype is None:
        return None
    return Scope(args.agent, args.archetype)


def _failed(error: Exception) -> int:
    err(str(error))
    return EXIT_FAILED


def cmd_models_list(system: System, args: argparse.Namespace) -> int:
    try:
        docs = list_models(system, _scope(args))
    except ModelRegistryError as error:
        return _failed(error)
    served = served_models(system, [args.agent] if args.agent else None)
    if args.agent and args.agent in served:  # the archetype's champion it is served is part of its listing
        model_id = served[args.agent].model_id
        if model_id is not None and all(d["modelId"] != model_id for d in docs):
            docs += [d for d in list_models(system) if d["modelId"] == model_id]
    for doc in docs:
        doc["servedTo"] = sorted(a for a, m in served.items() if m.model_id == doc["modelId"])
    if args.json:
        print(json.dumps(docs, indent=2))
        return EXIT_OK
    if not docs:
        print(
            "no trained models yet: they are registered when a training job succeeds "
            "(agent-learning jobs run weekly, or jobs create then jobs work)"
        )
        if args.agent:
            _print_served(served)
        return EXIT_OK
    print(f"{'model':<36} {'aliases':<18} {'dataset':<20} {'loss before→after':<20} created")
    for doc in docs:
        metrics = doc.get("metrics") or {}
        before, after = metrics.get("heldoutLossBefore"), metrics.get("heldoutLossAfter")
        loss = (
            f"{before:.4f}→{after:.4f}" if isinstance(before, (int, float)) and isinstance(after, (int, float)) else "-"
        )
        print(
            f"{doc['modelId']:<36} {','.join(doc['aliases']) or '-':<18} {doc['datasetId']:<20} {loss:<20} "
            f"{doc['createdAt']}"
        )
    if args.archetype is None:
        _print_served(served)
    return EXIT_OK


def _print_served(served: dict) -> None:
    """Which model each agent is served, and why (its own champion, its archetype's, or the base model)."""
    if not served:
        return
    print("served:")
    for agent_id, model in sorted(served.items())[:SHOWN_SERVED]:
        print(f"  {agent_id}: {model.model_id or 'the base model'} ({model.why})")
    if len(served) > SHOWN_SERVED:
        print(f"  … and {len(served) - SHOWN_SERVED:,} more (--json lists servedTo on each model)")


def cmd_models_promote(system: System, args: argparse.Namespace) -> int:
    try:
        move = promote_model(system, args.model_id, args.alias, by=actor(args), reason=args.reason, now=utc_now())
    except ModelRegistryError as error:
        return _failed(error)
    system.projections.catch_up()
    if move.moved:
        print(
            f"{describe(move.scope)}: {move.alias} → {move.model_id} (was {move.previous_model_id or 'unset'}); "
            "ModelUpdated goes out with the next relay run"
        )
    else:
        print(f"{describe(move.scope)}: {move.alias} already points to {move.model_id}; nothing recorded")
    return EXIT_OK


def cmd_models_rollback(system: System, args: argparse.Namespace) -> int:
    try:
        move = rollback_alias(
            system, Scope(args.agent, args.archetype), args.alias, by=actor(args), reason=args.reason, now=utc_now()
        )
    except ModelRegistryError as error:
        return _failed(error)
    system.projections.catch_up()
    print(
        f"{describe(move.scope)}: {move.alias} rolled back to {move.model_id} (was {move.previous_model_id}); "
        "ModelUpdated goes out with the next relay run"
    )
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="trained model versions and their aliases").add_subparsers(
        dest="models_command", required=True
    )

    p = models.add_parser("list", help="model versions with lineage and aliases (all, or of one scope)")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--agent", metavar="ID", help="only this agent's models")
    scope.add_argument("--archetype", metavar="A", help="only this archetype's models")
    p.add_argument("--json", action="store_true", help="a JSON array of model_versions documents")
    p.set_defaults(handler=cmd_models_list)

    p = models.add_parser("promote", help="point an alias (e.g. champion) at a model version; publishes ModelUpdated")
    p.add_argument("model_id", metavar="MODEL_ID", help="e.g. agent:a-1/v2 (see `models list`)")
    p.add_argument("--alias", required=True, help="the alias to move, e.g. champion")
    p.add_argument("--by", help="who (default: the current user)")
    p.add_argument("--reason", required=True, help="why (recorded with the move)")
    p.set_defaults(handler=cmd_models_promote)

    p = models.add_parser("rollback", help="move an alias back to the model it pointed to before its last promotion")
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--agent", metavar="ID", help="the agent whose alias moves back")
    scope.add_argument("--archetype", metavar="A", help="the archetype whose alias moves back")
    p.add_argument("--alias", required=True, help="the alias to move back, e.g. champion")
    p.add_argument("--by", help="who (default: the current user)")
    p.add_argument("--reason", required=True, help="why (recorded with the move)")
    p.set_defaults(handler=cmd_models_rollback)
