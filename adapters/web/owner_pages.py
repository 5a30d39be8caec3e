"""The owner pages: `GET /agents` (the owner's agents; administrators see all) and `GET /agents/{id}`
(state, charts, the configuration form, the recent history, training jobs and model versions).

Signing in exchanges an API token for a session cookie (HttpOnly, SameSite=Strict);
forms carry the session's CSRF token. A session ends when its token is revoked. Other
owners' agents are 404, as in the API. Administrators also get freeze/unfreeze forms.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from adapters.service.learning_config_view import learning_config_view
from adapters.web.agent_timeline import AgentTimeline
from adapters.web.authorization import owned_by, visible_agent
from adapters.web.batch_state import MODEL_VERSIONS, TRAINING_JOBS, visible_rows
from adapters.web.charts import epsilon_svg, feedback_volume_svg, recalculations_svg, reward_sentiment_svg
from adapters.web.sessions import SESSION_COOKIE, SESSION_SECONDS, Session
from adapters.web.trait_chart import trait_chart_svg
from domain.commands import ConfigureLearning, FreezeUpdates, UnfreezeUpdates
from domain.learning_config import PROFILES, InvalidLearningConfig, LearningConfig, validate_command_config
from jobs.evaluation.estimators import CLIP
from jobs.evaluation.evaluate import evaluate_history
from projections.agent_feedback_aggregations import AGGREGATIONS
from projections.agent_learning_state import STATE
from projections.agent_policy_history import HISTORY
from projections.agent_relationship_strength import RELATIONSHIPS
from projections.read_model_store import Condition

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _session(request: Request) -> Session | None:
    """The request's session, if it has one that has not expired and whose token is not revoked."""
    sessions = request.app.state.sessions
    session_id = request.cookies.get(SESSION_COOKIE)
    session = sessions.get(session_id)
    revoked = (
        session is not None
        and session.token_id is not None
        and not request.app.state.tokens.is_active(session.token_id)
    )
    if revoked:
        sessions.close(session_id)
        return None
    return session


def _from_this_site(request: Request) -> None:
    """Forms are taken only from this site's own pages. A browser says where a request comes from in
    `Sec-Fetch-Site` (modern ones) or `Origin`; without either (a script, curl) there is no browser
    to trick."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None:
        foreign = site not in ("same-origin", "none")
    else:
        foreign = origin is not None and urlsplit(origin).netloc != request.headers.get("host")
    if foreign:
        raise HTTPException(403, "this form was sent from another site: use this site's own page, then retry")


def _check_csrf(request: Request, session: Session, csrf: str) -> None:
    _from_this_site(request)
    # As bytes: compare_digest refuses str with characters outside ASCII (that was a 500).
    if not hmac.compare_digest(csrf.encode("utf-8", "surrogatepass"), session.csrf.encode()):
        raise HTTPException(403, "the form is stale or did not come from this site: reload the page and retry")


def _safe_next(target: str) -> str:
    # Only paths of this site: never a redirect to another host.
    # Browsers read a backslash as a slash, so "/\\host" would leave the site too.
    local = target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target
    return target if local else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    _from_this_site(request)  # login CSRF: another site must not sign a visitor in as someone else
    found = request.app.state.tokens.identify(token)
    if found is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            status_code=401,
            context={"next": _safe_next(next), "error": "That token is not valid: check it, or ask an administrator."},
        )
    token_id, principal = found
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.sessions.open(principal, token_id),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.app.state.behind_tls or request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    session = _session(request)
    if session is not None:
        _check_csrf(request, session, csrf)
        request.app.state.sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/agents", status_code=303)


@router.get("/agents", response_class=HTMLResponse)
def agent_list(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return RedirectResponse("/login?next=%2Fagents", status_code=303)
    who = session.principal
    with request.app.state.pool.system() as system:
        system.projections.catch_up()
        where = [] if who.admin else [Condition("ownerId", "eq", who.owner_id)]
        agents = system.read_models.find(STATE, where, order_by=("agentId",))
    return templates.TemplateResponse(request, "agents.html", {"agents": agents, "session": session})


def _not_found(request: Request, error: HTTPException) -> Response:
    return templates.TemplateResponse(request, "not_found.html", {"detail": error.detail}, status_code=404)


def _page(
    request: Request, session: Session, agent_id: str, error: str | None = None, status_code: int = 200
) -> Response:
    with request.app.state.pool.system() as system:
        try:
            agent = visible_agent(system, session.principal, agent_id)
        except HTTPException as not_visible:
            return _not_found(request, not_visible)
        this_agent = [Condition("agentId", "eq", agent_id)]
        history = system.read_models.find(HISTORY, this_agent, order_by=("version",))
        volume = system.read_models.find(AGGREGATIONS, this_agent, order_by=("day",))
        events = list(system.service.history(agent_id))
        timeline = AgentTimeline.from_events(events)
        jobs = visible_rows(system.read_models, TRAINING_JOBS, session.principal, agent_id, limit=20)
        models = visible_rows(system.read_models, MODEL_VERSIONS, session.principal, agent_id, limit=20)
        users = system.read_models.find(RELATIONSHIPS, this_agent)
        users = sorted(users, key=lambda u: (-u["interactions"], u["userId"]))[:10]
        settings = system.service.settings
        rates = learning_config_view(system.service, agent_id)
    value = policy_value(evaluate_history(events, (), CLIP, settings))
    charts = {
        "traits": trait_chart_svg(history, settings.traits, timeline.marks, timeline.priors),
        "reward_sentiment": reward_sentiment_svg(timeline, settings.freeze_threshold),
        "epsilon": epsilon_svg(timeline, now=timeline.last_at, floor=settings.epsilon_floor),
        "volume": feedback_volume_svg(volume),
        "recalculations": recalculations_svg(history),
    }
    return templates.TemplateResponse(
        request,
        "agent.html",
        status_code=status_code,
        context={
            "agent": agent,
            "charts": {name: Markup(svg) for name, svg in charts.items()},
            "session": session,
            "csrf": session.csrf,
            "error": error,
            "timeline": timeline,
            "jobs": jobs,
            "models": models,
            "profiles": list(PROFILES),
            "config": LearningConfig.from_dict(agent["learningConfig"]).to_dict(),
            "rates": rates,
            "users": users,
            "value": value,
        },
    )


def policy_value(report: dict) -> dict | None:
    """The current policy against uniform, by DR, for the page (None when nothing can be estimated)."""
    if not report["samples"]:
        return None
    rows = {r["target"]: r for r in report["targets"]}
    current, uniform = rows["current"]["dr"], rows["uniform"]["dr"]
    if current["low"] > uniform["high"]:
        verdict = "Its current policy earns more than choosing actions at random: the intervals do not overlap."
    elif current["high"] < uniform["low"]:
        verdict = "Its current policy earns less than choosing actions at random: the intervals do not overlap."
    else:
        verdict = "The intervals overlap: the feedback so far cannot tell its policy from choosing at random."
    return {
        "samples": report["samples"],
        "rows": [{"label": "current policy", "dr": current}, {"label": "uniform (random)", "dr": uniform}],
        "verdict": verdict,
        # what bears on these two rows: their own warnings, and propensities that were not logged
        "warnings": [
            w for w in report["warnings"] if w.startswith(("current:", "uniform:")) or "propensities were derived" in w
        ],
    }


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


TRAIT_FIELD = "traitRates."


async def _trait_rate_fields(request: Request) -> dict[str, str]:
    """The form's per-trait fields (`traitRates.humor` …): one per trait the page shows."""
    form = await request.form()
    return {
        str(name)[len(TRAIT_FIELD) :]: str(value)
        for name, value in form.multi_items()
        if str(name).startswith(TRAIT_FIELD) and isinstance(value, str)
    }


@router.post("/agents/{agent_id}/learning-config")
def save_learning_config(
    agent_id: str,
    request: Request,
    csrf: str = Form(""),
    profile: str = Form(""),
    traitRate: str = Form(""),
    actionRate: str = Form(""),  # noqa: N803 - the wire names
    epsilon: str = Form(""),
    trait_fields: dict[str, str] = Depends(_trait_rate_fields),
) -> Response:
    session = _session(request)
    if session is None:
        return _sign_in(agent_id)
    _check_csrf(request, session, csrf)
    with request.app.state.pool.system() as system:
        try:
            visible_agent(system, session.principal, agent_id)
        except HTTPException as not_visible:
            return _not_found(request, not_visible)
        try:
            per_trait = {}
            for trait, text in trait_fields.items():
                rate = _rate(text, f"the trait rate of {trait}")
                if rate is not None:
                    per_trait[trait] = rate
            config = LearningConfig(
                profile=profile or None,
                trait_rate=_rate(traitRate, "traitRate"),
                trait_rates=per_trait,  # the form shows every trait: an emptied field removes that rate
                action_rate=_rate(actionRate, "actionRate"),
                epsilon=_rate(epsilon, "epsilon"),
            )
            validate_command_config(config, system.service.settings)
        except InvalidLearningConfig as error:
            rejected = str(error)
        else:
            rejected = None
            service = system.service
            service.configure(
                ConfigureLearning(None, agent_id, service.clock(), config, from_event=False, by=session.principal.name),
                owned_by(session.principal),  # checked again inside the write
            )
            system.projections.catch_up()
    if rejected:
        return _page(request, session, agent_id, error=rejected, status_code=422)
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}", status_code=303)


@router.post("/agents/{agent_id}/freeze")
def freeze_from_page(agent_id: str, request: Request, csrf: str = Form(""), reason: str = Form("")) -> Response:
    return _freeze_or_unfreeze(agent_id, request, csrf, reason, freeze=True)


@router.post("/agents/{agent_id}/unfreeze")
def unfreeze_from_page(agent_id: str, request: Request, csrf: str = Form(""), reason: str = Form("")) -> Response:
    return _freeze_or_unfreeze(agent_id, request, csrf, reason, freeze=False)


def _freeze_or_unfreeze(agent_id: str, request: Request, csrf: str, reason: str, freeze: bool) -> Response:
    """Administrators only, as in the API; the reason is recorded in the agent's history."""
    session = _session(request)
    if session is None:
        return _sign_in(agent_id)
    _check_csrf(request, session, csrf)
    if not session.principal.admin:
        raise HTTPException(403, "only administrators may freeze or unfreeze an agent")
    reason = reason.strip()
    with request.app.state.pool.system() as system:
        try:
            visible_agent(system, session.principal, agent_id)
        except HTTPException as not_visible:
            return _not_found(request, not_visible)
        if not reason or len(reason) > 500:
            rejected = "give a reason (1 to 500 characters): it is recorded in the agent's history"
        else:
            rejected = None
            service = system.service
            command = (FreezeUpdates if freeze else UnfreezeUpdates)(
                agent_id, reason, service.clock(), by=session.principal.name
            )
            (service.freeze if freeze else service.unfreeze)(command)
            system.projections.catch_up()
    if rejected:
        return _page(request, session, agent_id, error=rejected, status_code=422)
    return RedirectResponse(f"/agents/{quote(agent_id, safe='')}", status_code=303)
