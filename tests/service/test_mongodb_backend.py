"""The whole service on MongoDB: the same CLI, crash safety and concurrency as on the embedded store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from adapters.bootstrap import Config
from adapters.cli.main import main
from tests.support.backend_scenarios import (
    ingest_killed_at_random_loses_and_duplicates_nothing,
    two_writers_on_one_agent_never_lose_an_event,
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
    two_writers_on_one_agent_never_lose_an_event(mongo_config)


@pytest.mark.slow
def test_ingest_killed_at_random_on_mongodb_loses_and_duplicates_nothing(tmp_path, mongo_config):
    # A transaction cut off by SIGKILL holds its locks until the server reaps it (60 s): two kills.
    ingest_killed_at_random_loses_and_duplicates_nothing(
        tmp_path, mongo_config, messages=6_000, rounds=2, seed=5, min_kills=1
    )
