"""The owner's page `GET /agents/{id}`: state, one chart, and the configuration form.

Signing in exchanges an API token for a session cookie (HttpOnly, SameSite=Strict);
the form carries the session's CSRF token. Other owners' agents are 404, as in the API.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from adapters.web.authorization import visible_agent
from adapters.web.sessions import SESSION_COOKIE, SESSION_SECONDS, Session
from adapters.web.trait_chart import trait_chart_svg
from domain.commands import ConfigureLearning
from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig, validate_command_config
from projections.agent_policy_history import HISTORY
from projections.read_model_store import Condition

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _session(request: Request) -> Session | None:
    return request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE))


def _safe_next(target: str) -> str:
    # Only paths of this site: never a redirect to another host.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    principal = request.app.state.tokens.principal(token)
    if principal is None:
        return templates.TemplateResponse(request, "login.html", status_code=401, context={
            "next": _safe_next(next), "error": "That token is not valid: check it, or ask an administrator."})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, request.app.state.sessions.open(principal), max_age=SESSION_SECONDS,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


def _not_found(request: Request, error: HTTPException) -> Response:
    return templates.TemplateResponse(request, "not_found.html", {"detail": error.detail}, status_code=404)


def _page(request: Request, session: Session, agent_id: str, error: str | None = None,
          status_code: int = 200) -> Response:
    with request.app.state.pool.system() as system:
        try:
            agent = visible_agent(system, session.principal, agent_id)
        except HTTPException as not_visible:
            return _not_found(request, not_visible)
        history = system.read_models.find(HISTORY, [Condition("agentId", "eq", agent_id)], order_by=("version",))
    return templates.TemplateResponse(request, "agent.html", status_code=status_code, context={
        "agent": agent, "chart": Markup(trait_chart_svg(history)), "csrf": session.csrf, "error": error,
        "profiles": list(PROFILES), "config": LearningConfig.from_dict(agent["learningConfig"]).to_dict()})


def _sign_in(agent_id: str) -> Response:
    return RedirectResponse(f"/login?next={quote(f'/agents/{agent_id}', safe='')}", status_code=303)


@router.get("/agents/{agent_id}", response_class=HTMLResponse)
def agent_page(agent_id: str, request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _sign_in(agent_id)
    return _page(request, session, agent_id)


def _rate(text: str, name: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidLearningConfig(f"{name} {text!r} is not a number; write it like 0.05") from None


@router.post("/agents/{agent_id}/learning-config")
def save_learning_config(agent_id: str, request: Request, csrf: str = Form(""), profile: str = Form(""),
                         traitRate: str = Form(""), actionRate: str = Form(""),  # noqa: N803 - the wire names
                         epsilon: str = Form("")) -> Response:
    session = _session(request)
    if session is None:
        return _sign_in(agent_id)
    if not hmac.compare_digest(csrf, session.csrf):
        raise HTTPException(403, "the form is stale or did not come from this site: reload the page and retry")
    with request.app.state.pool.system() as system:
        try:
            agent = visible_agent(system, session.principal, agent_id)
        except HTTPException as not_visible:
            return _not_found(request, not_visible)
        current = LearningConfig.from_dict(agent["learningConfig"])
        try:
            config = LearningConfig(profile=profile or None, trait_rate=_rate(traitRate, "traitRate"),
                                    trait_rates=current.trait_rates, action_rate=_rate(actionRate, "actionRate"),
                                    epsilon=_rate(epsilon, "epsilon"))
            validate_command_config(config, system.service.settings)
        except InvalidLearningConfig as error:
            rejected = str(error)
        else:
            rejected = None
            service = system.service
            service.configure(ConfigureLearning(None, agent_id, service.clock(), config, from_event=False))
            system.projections.catch_up()
    if rejected:
        return _page(request, session, agent_id, error=rejected, status_code=422)
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}", status_code=303)
