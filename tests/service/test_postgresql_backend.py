"""The whole service on PostgreSQL (events and read models): the same CLI, crash safety and concurrency
as on the embedded store, and the database server itself killed with `kill -9` and restarted."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.cli.main import main
from infra.local_servers import PostgresServer
from tests.service.test_crash_safety import make_stream
from tests.support.backend_scenarios import (
    env_for,
    ingest_killed_at_random_loses_and_duplicates_nothing,
    two_writers_on_one_agent_never_lose_an_event,
)
from tests.support.exactly_once import (
    assert_read_models_equal_a_rebuild,
    assert_recorded_exactly_once,
    logged_events,
)

pytestmark = pytest.mark.postgresql


@pytest.fixture
def postgres_config(tmp_path, postgres_url: str) -> Config:
    return Config(home=tmp_path / "home", event_store=postgres_url, read_models=postgres_url)


@pytest.fixture
def postgres_env(postgres_config: Config, monkeypatch) -> Config:
    monkeypatch.setenv("AGENT_LEARNING_EVENT_STORE", postgres_config.event_store)
    monkeypatch.setenv("AGENT_LEARNING_READ_MODELS", postgres_config.read_models)
    return postgres_config


def test_demo_audit_and_a_rebuild_run_unchanged_on_postgresql(postgres_env, capsys):
    home = str(postgres_env.home)
    assert main(["--home", home, "demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "FROZEN" in out and "Dead letters: 3" in out
    assert main(["--home", home, "audit", "--all"]) == 0
    assert main(["--home", home, "projections", "rebuild"]) == 0  # every read model, blue/green
    assert main(["--home", home, "agent", "show", "aria", "--json"]) == 0
    assert '"agentId": "aria"' in capsys.readouterr().out
    assert not (postgres_env.home / "events.db").exists()  # nothing went to the embedded store
    assert not (postgres_env.home / "read_models.db").exists()
    system = bootstrap(postgres_env)
    try:
        assert_read_models_equal_a_rebuild(system)
    finally:
        system.close()


def test_two_writers_on_one_agent_never_lose_an_event_on_postgresql(postgres_config):
    two_writers_on_one_agent_never_lose_an_event(postgres_config)


@pytest.mark.slow
def test_ingest_killed_at_random_on_postgresql_loses_and_duplicates_nothing(tmp_path, postgres_config):
    ingest_killed_at_random_loses_and_duplicates_nothing(
        tmp_path, postgres_config, messages=8_000, rounds=4, seed=7, min_kills=2
    )


@pytest.mark.slow
def test_the_database_server_killed_and_restarted_mid_ingest_loses_and_duplicates_nothing(tmp_path):
    server = PostgresServer.start(tmp_path / "cluster")
    try:
        url = server.create_database("agent_learning")
        config = Config(home=tmp_path / "home", event_store=url, read_models=url)
        stream = tmp_path / "stream.jsonl"
        ids = make_stream(stream, n=8_000, agents=100)
        command = [sys.executable, "-m", "adapters.cli.main", "--home", str(config.home), "ingest", str(stream)]
        rng = random.Random(13)
        killed = 0
        for _ in range(2):
            ingest = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env_for(config))
            time.sleep(rng.uniform(1.0, 2.5))
            if ingest.poll() is None:
                server.kill()  # the database dies under a running ingest
                killed += 1
                time.sleep(1.5)
            server = server.restart()  # and comes back while ingest waits for it, or has failed
            ingest.wait(timeout=180)  # it carries on to the end, or fails with the connection
        assert killed >= 1, "ingest finished before the server could be killed; make the stream longer"
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env_for(config))  # and to the end

        system = bootstrap(config)
        try:
            assert_recorded_exactly_once(logged_events(system), ids)
            assert_read_models_equal_a_rebuild(system)
        finally:
            system.close()
    finally:
        server.stop()
