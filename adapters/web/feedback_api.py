"""`POST /api/feedback`: one message in, the same JSON as the Kafka topic, idempotent on `eventId`.

Bad JSON is a 400; a message that breaks the contract is a 422 with the reason. Unlike
the topic, nothing bad goes to the dead letters here: the caller hears the reason at once.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Literal

from attrs import evolve
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from adapters.messages.inbound import BadMessage, parse_message
from adapters.web.api_tokens import Principal
from adapters.web.authorization import agent_not_found, principal
from adapters.web.problems import problems
from domain.agent import Agent
from domain.commands import AgentCommand, RegisterAgent

router = APIRouter(prefix="/api")
MESSAGE_REF = "#/components/schemas/FeedbackMessage"

MESSAGE_BODY = {
    # The schema itself is filled in by the app from its settings (`adapters.messages.schema`).
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": MESSAGE_REF}}}}
}


class Accepted(BaseModel):
    eventId: str  # noqa: N815 - the wire names
    agentId: str  # noqa: N815
    result: Literal["recorded", "duplicate"]


@router.post(
    "/feedback",
    summary="one message in (as on the agent-feedback topic); idempotent on eventId",
    openapi_extra=MESSAGE_BODY,
    response_model=Accepted,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def post_feedback(request: Request, who: Principal = Depends(principal)) -> dict:
    raw = await request.body()
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise HTTPException(400, f"the body is not valid JSON: {str(error)[:200]}") from None
    except RecursionError:
        pass  # JSON nested too deeply: the parser says so (422)
    return await run_in_threadpool(_accept, request.app, who, raw)


def _accept(app, who: Principal, raw: bytes) -> dict:
    with app.state.pool.system() as system:
        try:
            command = parse_message(raw, system.service.refresh_rules())
        except BadMessage as error:
            raise HTTPException(422, f"message rejected: {error}") from None
        outcome = system.service.process([command], authorize=partial(authorized, who))
    app.state.metrics.record_batch(outcome)
    if outcome.rejected:
        raise HTTPException(422, f"message rejected: {outcome.rejected[0].reason}")
    return {
        "eventId": command.event_id,
        "agentId": command.agent_id,
        "result": "duplicate" if outcome.duplicates else "recorded",
    }


def authorized(who: Principal, command: AgentCommand, agent: Agent | None) -> AgentCommand:
    """Owners send messages only for their own agents, and register new agents only as theirs.

    Decided by the service inside the write, on the agent as stored (None: no such agent yet),
    and again if a concurrent write makes it run again: a token whose owner no longer holds the
    agent cannot write to it, and of two owners registering one new id, the second gets 409."""
    if who.admin:
        return command  # administrators may also move an agent to another owner
    if isinstance(command, RegisterAgent):
        if command.owner_id is not None and command.owner_id != who.owner_id:
            raise HTTPException(
                403,
                f"this token registers agents for owner {who.owner_id!r} only: set ownerId to it, or leave ownerId out",
            )
        if agent is not None and not who.may_see(agent.owner_id):
            held = "by another owner" if agent.owner_id is not None else "without an owner (by its first feedback)"
            raise HTTPException(
                409,
                f"agent id {command.agent_id!r} is already registered {held}: choose another id "
                "(only an administrator may give an agent to an owner)",
            )
        return evolve(command, owner_id=who.owner_id)
    if agent is None or not who.may_see(agent.owner_id):  # anything else would register it without an owner
        raise agent_not_found(command.agent_id)
    return command
