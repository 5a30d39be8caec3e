"""The whole service on MongoDB: the same CLI, crash safety and concurrency as on the embedded store."""

from __future__ import annotations

import os
import random
import sys
import uuid
from pathlib import Path

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from tests.service.test_crash_safety import make_stream, run_and_kill
from tests.service.test_learning_service import thumbs
from tests.support.exactly_once import (
    assert_read_models_equal_a_rebuild,
    assert_recorded_exactly_once,
    logged_events,
)

pytestmark = pytest.mark.mongodb


def database_url(mongodb_url: str) -> str:
    """The server's URL with a database of this test's own (before any `?options`)."""
    base, _, options = mongodb_url.partition("?")
    return f"{base.rstrip('/')}/t_{uuid.uuid4().hex[:12]}" + (f"?{options}" if options else "")


@pytest.fixture
def mongo_config(tmp_path: Path, mongodb_url: str) -> Config:
    url = database_url(mongodb_url)
    return Config(home=tmp_path / "home", event_store=url, read_models=url)


@pytest.fixture
def mongo_env(mongo_config: Config, monkeypatch) -> Config:
    monkeypatch.setenv("AGENT_LEARNING_EVENT_STORE", mongo_config.event_store)
    monkeypatch.setenv("AGENT_LEARNING_READ_MODELS", mongo_config.read_models)
    return mongo_config


def test_the_demo_and_the_audit_run_unchanged_on_mongodb(mongo_env, capsys):
    home = str(mongo_env.home)
    assert main(["--home", home, "demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "FROZEN" in out and "Dead letters: 3" in out
    assert main(["--home", home, "audit", "--all"]) == 0
    assert main(["--home", home, "agent", "show", "aria", "--json"]) == 0
    assert not (mongo_env.home / "events.db").exists()  # nothing went to the embedded store


def test_two_writers_on_one_agent_never_lose_an_event_on_mongodb(mongo_config):
    first, second = bootstrap(mongo_config), bootstrap(mongo_config)
    try:
        first.service.process(thumbs(1, start=0))
        second.service.process(thumbs(1, start=1))
        first.service.process(thumbs(2, start=2))
        second.service.process(thumbs(1, start=4))  # stale cache: conflict, reload, record on top
        agent = bootstrap(mongo_config).service.get_agent("a-1")
        assert agent.feedback_count == 5 and agent.policy_version == 1
    finally:
        first.close()
        second.close()


@pytest.mark.slow
def test_ingest_killed_at_random_on_mongodb_loses_and_duplicates_nothing(tmp_path, mongo_config):
    stream = tmp_path / "stream.jsonl"
    ids = make_stream(stream, n=6_000, agents=100)
    env = {
        **os.environ,
        "AGENT_LEARNING_EVENT_STORE": mongo_config.event_store,
        "AGENT_LEARNING_READ_MODELS": mongo_config.read_models,
    }
    command = [sys.executable, "-m", "adapters.cli.main", "--home", str(mongo_config.home), "ingest", str(stream)]
    # A transaction cut off by SIGKILL holds its locks until the server reaps it (60 s): two kills.
    kills = run_and_kill(command, rounds=2, rng=random.Random(5), env=env)
    assert kills >= 1

    system = bootstrap(mongo_config)
    try:
        assert_recorded_exactly_once(logged_events(system), ids)
        assert_read_models_equal_a_rebuild(system)
    finally:
        system.close()
