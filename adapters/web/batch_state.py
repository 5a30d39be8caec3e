"""The batch loop's read models as a caller may see them: `training_jobs` and `model_versions`.

Owners see the rows of their own agents (a row's `agentId` is mapped to its owner through
`agent_learning_state`); rows for a whole archetype (no `agentId`) are shared by every owner of
that archetype, so they are shown to administrators only. Newest first.
"""

from __future__ import annotations

from adapters.web.api_tokens import Principal
from projections.agent_learning_state import STATE
from projections.read_model_store import Condition, ReadModelStore

TRAINING_JOBS = "training_jobs"
MODEL_VERSIONS = "model_versions"


def owned_agents(read_models: ReadModelStore, who: Principal) -> set[str]:
    return {doc["agentId"] for doc in read_models.find(STATE, [Condition("ownerId", "eq", who.owner_id)])}


def visible_rows(
    read_models: ReadModelStore, collection: str, who: Principal, agent_id: str | None = None, limit: int | None = None
) -> list[dict]:
    """Rows of `collection` the caller may see, newest (`createdAt`) first; `agent_id` narrows to one agent
    (the caller checks that agent is visible first)."""
    where = [Condition("agentId", "eq", agent_id)] if agent_id is not None else []
    rows = read_models.find(collection, where)
    if not who.admin:
        mine = {agent_id} if agent_id is not None else owned_agents(read_models, who)
        rows = [row for row in rows if row.get("agentId") in mine]
    rows.sort(key=lambda row: (row.get("createdAt") or "", row.get("jobId") or row.get("modelId") or ""), reverse=True)
    return rows[:limit] if limit is not None else rows
