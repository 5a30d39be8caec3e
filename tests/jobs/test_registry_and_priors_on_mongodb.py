"""The model registry and the monthly priors refresh on MongoDB, as on the embedded store."""

from __future__ import annotations

import pytest

from adapters.files.file_sink import read_published
from domain.model_registry import CHAMPION, Scope
from jobs.model_registry_service import aliases_of, list_models, promote_model, rollback_alias
from jobs.monthly import run_monthly
from tests.jobs.test_model_registry import T0, register
from tests.jobs.test_monthly import CATALOGUE_MENTOR, MENTORS, MONTH_END, learn

pytestmark = pytest.mark.mongodb


def test_promote_rollback_and_model_updated_on_mongodb(mongo_system):
    first = register(mongo_system, "j-1", after=1.5)
    second = register(mongo_system, "j-2", after=1.9)
    promote_model(mongo_system, second, CHAMPION, by="alice", reason="try it", now=T0)
    assert aliases_of(mongo_system, Scope(agent_id="a-1")) == {CHAMPION: second}
    rollback_alias(mongo_system, Scope(agent_id="a-1"), CHAMPION, by="bob", reason="undo", now=T0)
    assert {d["modelId"]: d["aliases"] for d in list_models(mongo_system, Scope(agent_id="a-1"))} == {
        first: [CHAMPION],
        second: [],
    }
    mongo_system.relay().relay_all()
    updates = [
        m["value"]
        for m in read_published(mongo_system.config.home / "published.jsonl")
        if m["topic"] == "agent-model-updates"
    ]
    assert [(u["modelId"], u["action"]) for u in updates] == [
        (first, "promote"),
        (second, "promote"),
        (first, "rollback"),
    ]


def test_the_monthly_refresh_reaches_new_and_existing_agents_on_mongodb(mongo_system):
    for i, agent_id in enumerate(MENTORS):
        learn(mongo_system, agent_id, "mentor", {"humor": 0.6 + 0.4 * i / len(MENTORS)})
    summary = run_monthly(mongo_system, MONTH_END, dry_run=False)
    new_priors = summary["priors"]["mentor"]["after"]
    assert summary["refreshed"] == ["mentor"] and new_priors["humor"] > CATALOGUE_MENTOR["humor"]
    assert mongo_system.service.get_agent(MENTORS[0]).priors == new_priors
    learn(mongo_system, "newcomer", "mentor", {}, count=0, start=MONTH_END)
    assert mongo_system.service.get_agent("newcomer").priors == new_priors
