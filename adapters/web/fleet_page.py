"""`/fleet` (administrators): every agent, and how the fleet learns, at a glance. `GET /api/insights`.

Server-rendered SVG like the agent page: no script, no CDN. Lags come from the workers' metrics
when the page is served by `serve`; `web` alone knows only the read models' own lag.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from adapters.service.fleet_events import events_of
from adapters.web.api_tokens import Principal
from adapters.web.authorization import administrator
from adapters.web.charts import stacked_days_svg
from adapters.web.fleet_charts import histogram_svg, registry_moves_svg, training_gantt_svg, trait_strips_svg
from adapters.web.owner_pages import _session, templates
from adapters.web.problems import problems
from adapters.web.svg import empty_state
from domain.agent import Agent, agent_id_of
from domain.model_registry import ModelRegistry, scope_name, scope_of_registry
from projections.agent_learning_state import STATE
from projections.agent_policy_history import HISTORY
from projections.clustering_insights import INSIGHTS
from projections.dead_letters import DEAD_LETTERS
from projections.training_jobs import TRAINING_JOBS

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")


def _day(iso: str | None) -> str:
    return (iso or "")[:10]


def _lags(request: Request, system) -> list[dict[str, Any]]:
    rows = [{"what": f"read model {s.projection}", "lag": s.lag} for s in system.projections.status()]
    metrics = request.app.state.metrics
    if metrics is not None:
        for family in metrics.registry.collect():
            if family.name == "agent_learning_consumer_lag":
                for sample in family.samples:
                    rows.append(
                        {
                            "what": f"consumer {sample.labels['topic']}/{sample.labels['partition']}",
                            "lag": int(sample.value),
                        }
                    )
            elif family.name == "agent_learning_relay_lag":
                for sample in family.samples:
                    rows.append({"what": "relay", "lag": int(sample.value)})
    return rows


def fleet_context(request: Request, system) -> dict[str, Any]:
    read = system.read_models
    system.projections.catch_up()
    agents = read.find(STATE, order_by=("agentId",))
    history = read.find(HISTORY, order_by=("occurredAt",))
    letters = read.find(DEAD_LETTERS, order_by=("rejectedAt",))
    jobs = read.find(TRAINING_JOBS, order_by=("createdAt",))
    insights = read.find(INSIGHTS, order_by=("period",))
    rare = events_of(system.service, [Agent.UpdatesFrozen.TOPIC, ModelRegistry.AliasMoved.TOPIC])
    freezes = [e for e in rare if isinstance(e, Agent.UpdatesFrozen)]
    moves = [
        {
            "scope": scope_name(scope_of_registry(e.originator_id)),
            "at": e.occurred_at,
            "action": e.action,
            "alias": e.alias,
            "modelId": e.model_id,
            "by": e.by,
            "reason": e.reason,
        }
        for e in rare
        if isinstance(e, ModelRegistry.AliasMoved)
    ]
    settings = system.service.settings
    now = datetime.now(UTC)
    charts = {
        "freezes": stacked_days_svg(
            [(e.occurred_at.date().isoformat(), "sentiment" if e.by is None else "operator", 1) for e in freezes],
            "freezes",
            "freezes per day",
        )
        if freezes
        else empty_state("freezes", "No agent has been frozen."),
        "triggers": stacked_days_svg(
            [(_day(h["occurredAt"]), h["trigger"], 1) for h in history], "triggers", "recalculations per day by trigger"
        )
        if history
        else empty_state("triggers", "No recalculation yet."),
        "sentiment": histogram_svg([a["sentiment"] for a in agents], -1, 1, "sentiment", "sentiment across agents"),
        "traits": trait_strips_svg(agents, list(settings.traits)),
        "dead_letters": stacked_days_svg(
            [(_day(d["rejectedAt"]), d["code"], 1) for d in letters],
            "dead-letters",
            "dead letters per day by code",
        )
        if letters
        else empty_state("dead-letters", "No dead letters: every message so far was accepted."),
        "jobs": training_gantt_svg(jobs, now),
        "moves": registry_moves_svg(moves),
    }
    latest = insights[-1] if insights else None
    return {
        "agents": agents,
        "counts": Counter("frozen" if a["frozen"] else "learning" for a in agents),
        "charts": {name: Markup(svg) for name, svg in charts.items()},
        "lags": _lags(request, system),
        "insights": latest,
        "rules_version": settings.rules_version,
        "freeze_count": len(freezes),
        "frozen_agents": [agent_id_of(e.originator_id) for e in freezes],
    }


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/login?next=%2Ffleet", status_code=303)
    if not session.principal.admin:
        return templates.TemplateResponse(
            request,
            "not_found.html",
            {"detail": "the fleet page is for administrators: sign in with an admin token (tokens create --admin)"},
            status_code=403,
        )
    with request.app.state.pool.system() as system:
        context = fleet_context(request, system)
    return templates.TemplateResponse(request, "fleet.html", {**context, "session": session})


@api.get(
    "/insights",
    summary="the monthly clusterings: centroids, refreshed priors, suggestions and what became of them (administrators)",
    responses=problems(401, 403),
)
def get_insights(request: Request, who: Principal = Depends(administrator)) -> dict:
    with request.app.state.pool.system() as system:
        system.projections.catch_up()
        found = system.read_models.find(INSIGHTS, order_by=("period",))
    return {"latest": found[-1] if found else None, "clusterings": found}
