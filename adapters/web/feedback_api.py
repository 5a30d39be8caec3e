"""`POST /api/feedback`: one message in, the same JSON as the Kafka topic, idempotent on `eventId`.

Bad JSON is a 400; a message that breaks the contract is a 422 with the reason. Unlike
the topic, nothing bad goes to the dead letters here: the caller hears the reason at once.
"""

from __future__ import annotations

import json

from attrs import evolve
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from adapters.bootstrap import System
from adapters.messages.inbound import BadMessage, parse_message
from adapters.service.learning_service import UnknownAgent
from adapters.web.api_tokens import Principal
from adapters.web.authorization import agent_not_found, principal
from domain.commands import AgentCommand, RegisterAgent

router = APIRouter(prefix="/api")

MESSAGE_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "one message as on the `agent-feedback` topic (see the contract)",
                    "required": ["type", "eventId", "agentId", "occurredAt"],
                }
            }
        },
    }
}


@router.post(
    "/feedback",
    summary="one message in (as on the agent-feedback topic); idempotent on eventId",
    openapi_extra=MESSAGE_SCHEMA,
)
async def post_feedback(request: Request, who: Principal = Depends(principal)) -> dict:
    raw = await request.body()
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise HTTPException(400, f"the body is not valid JSON: {error}") from None
    return await run_in_threadpool(_accept, request.app, who, raw)


def _accept(app, who: Principal, raw: bytes) -> dict:
    with app.state.pool.system() as system:
        try:
            command = parse_message(raw, system.service.settings)
        except BadMessage as error:
            raise HTTPException(422, f"message rejected: {error}") from None
        command = _authorized(system, who, command)
        outcome = system.service.process([command])
    app.state.metrics.record_batch(outcome)
    if outcome.rejected:
        raise HTTPException(422, f"message rejected: {outcome.rejected[0].reason}")
    return {
        "eventId": command.event_id,
        "agentId": command.agent_id,
        "result": "duplicate" if outcome.duplicates else "recorded",
    }


def _authorized(system: System, who: Principal, command: AgentCommand) -> AgentCommand:
    """Owners send messages only for their own agents, and register new agents only as theirs."""
    if who.admin:
        return command
    try:
        owner_id = system.service.get_agent(command.agent_id).owner_id
    except UnknownAgent:
        owner_id = None
        exists = False
    else:
        exists = True
    if exists and not who.may_see(owner_id):
        raise agent_not_found(command.agent_id)
    if isinstance(command, RegisterAgent):
        if command.owner_id is None:
            return evolve(command, owner_id=who.owner_id)
        if command.owner_id != who.owner_id:
            raise HTTPException(
                403,
                f"this token registers agents for owner {who.owner_id!r} only: set ownerId to it, or leave ownerId out",
            )
        return command
    if not exists:  # anything else would register the agent without an owner
        raise agent_not_found(command.agent_id)
    return command
