"""`/api/rules`: the learning rules in force and their history; administrators apply a new version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from adapters.rules.document import RulesFileError, canonical, parse_rules, render_rules
from adapters.service import rules_changes
from adapters.web.api_tokens import Principal
from adapters.web.authorization import administrator
from adapters.web.problems import problems
from domain.rules import InvalidRules
from domain.timestamps import to_iso

router = APIRouter(prefix="/api")


class RulesBody(BaseModel):
    """A rules document: the TOML text (as `rules apply FILE` reads it) or the same document as a JSON object."""

    model_config = ConfigDict(extra="forbid")
    toml: str | None = Field(None, max_length=60_000, description="the rules document as TOML text")
    document: dict[str, Any] | None = Field(None, description="the rules document as a JSON object")
    reason: str = Field("", max_length=500, description="why the rules change (required unless dryRun)")
    dryRun: bool = Field(False, description="change nothing: replay the logged feedback through it instead")
    replayDays: float = Field(7.0, gt=0, le=3650, description="with dryRun: the days of history to replay")


def _versions(service) -> list[dict[str, Any]]:
    return [
        {k: (to_iso(v) if k == "occurredAt" else v) for k, v in r.items() if k not in ("document", "source")}
        for r in service.rules.records()
    ]


@router.get(
    "/rules", summary="the rules in force and every version applied (administrators only)", responses=problems(401, 403)
)
def get_rules(request: Request, who: Principal = Depends(administrator)) -> dict:
    with request.app.state.pool.system() as system:
        service = system.service
        settings = service.refresh_rules()
        document = service.rules.document(settings.rules_version)
        return {
            "version": settings.rules_version,
            "document": document,
            "toml": render_rules(document),
            "history": _versions(service),
        }


def _rejected(error: Exception) -> JSONResponse:
    if isinstance(error, InvalidRules):
        errors = [
            {"loc": ["body", "document", *p.key.split(".")], "msg": p.message, "type": "rules"} for p in error.problems
        ]
    else:
        errors = [{"loc": ["body", "toml"], "msg": str(error), "type": "rules"}]
    return JSONResponse({"detail": str(error), "errors": errors}, status_code=422)


@router.put(
    "/rules",
    summary="apply a rules document as the next version, or dry-run it (administrators only; 422 names each problem)",
    responses=problems(401, 403, 413, 422),
)
def put_rules(body: RulesBody, request: Request, who: Principal = Depends(administrator)) -> Any:
    if (body.toml is None) == (body.document is None):
        raise HTTPException(422, "give the rules document once: as `toml` text or as a `document` object")
    with request.app.state.pool.system() as system:
        service = system.service
        try:
            document = parse_rules(body.toml, "the toml field") if body.toml is not None else body.document
            proposed = rules_changes.check(service, document)
            document = canonical(document, service.rules.builtin)
        except (InvalidRules, RulesFileError) as error:
            return _rejected(error)
        if body.dryRun:
            now = service.clock()
            return rules_changes.dry_run(
                service, system.projections, system.read_models, proposed, now, body.replayDays
            ).to_dict()
        if not body.reason.strip():
            raise HTTPException(422, "a rules change needs a `reason`: why the rules change (it is recorded)")
        source = body.toml if body.toml is not None else render_rules(document)
        try:
            applied = rules_changes.apply_and_hand_over(
                service,
                system.projections,
                system.read_models,
                document,
                source,
                who.name,
                body.reason,
                service.clock(),
            )
        except InvalidRules as error:
            return _rejected(error)
        return {
            "version": applied.version,
            "recorded": applied.recorded,
            "changes": [{"key": k, "current": o, "proposed": n} for k, o, n in applied.changes],
            "priorsHandedOver": applied.priors_handed_over,
        }
