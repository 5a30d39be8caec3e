"""`agent-learning models list|promote|rollback`: the model registry from the command line."""

from __future__ import annotations

import argparse
import json

from adapters.bootstrap import System
from adapters.cli.common import EXIT_FAILED, EXIT_OK, actor, err
from adapters.service.clock import utc_now
from domain.model_registry import ModelRegistryError, Scope, describe
from jobs.model_registry_service import list_models, promote_model, rollback_alias


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
    if args.json:
        print(json.dumps(docs, indent=2))
        return EXIT_OK
    if not docs:
        print(
            "no trained models yet: they are registered when a weekly training job succeeds "
            "(agent-learning jobs run weekly)"
        )
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
    return EXIT_OK


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
