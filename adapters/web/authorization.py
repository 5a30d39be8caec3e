"""Who a request acts as, and what it may see: owners their own agents, administrators every agent.

An agent that exists but belongs to someone else answers exactly like one that does
not exist, so agent ids never leak from one owner to another.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.bootstrap import System
from adapters.service.agent_state import agent_document
from adapters.service.learning_service import UnknownAgent
from adapters.web.api_tokens import Principal
from domain.agent import Agent

bearer = HTTPBearer(auto_error=False, description="an API token from `agent-learning tokens create`")

MISSING_TOKEN = (
    "missing API token: send 'Authorization: Bearer TOKEN' "
    "(an administrator creates one with `agent-learning tokens create --owner ID`)"
)
WRONG_TOKEN = "the API token is not valid: check it, or ask an administrator for a new one"


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if credentials is None:
        raise unauthorized(MISSING_TOKEN)
    found = request.app.state.tokens.principal(credentials.credentials)
    if found is None:
        raise unauthorized(WRONG_TOKEN)
    return found


def administrator(who: Principal = Depends(principal)) -> Principal:
    if not who.admin:
        raise HTTPException(
            403, "only administrators may do this: use an admin token (`agent-learning tokens create --admin`)"
        )
    return who


def agent_not_found(agent_id: str) -> HTTPException:
    return HTTPException(404, f"no agent {agent_id!r} for this token: check the id, and that the agent is yours")


def owned_by(who: Principal) -> Callable[[Agent], None]:
    """For a write: refuses (404) an agent the caller may not see, as the service holds it inside the write."""

    def allowed(agent: Agent) -> None:
        if not who.may_see(agent.owner_id):
            raise agent_not_found(agent.agent_id)

    return allowed


def visible_agent(system: System, who: Principal, agent_id: str) -> dict:
    """The agent's `agent show` document, or 404 when it does not exist or is not the caller's."""
    try:
        doc = agent_document(system.projections, system.read_models, agent_id)
    except UnknownAgent:
        raise agent_not_found(agent_id) from None
    if not who.may_see(doc.get("ownerId")):
        raise agent_not_found(agent_id)
    return doc
