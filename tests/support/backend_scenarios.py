"""Scenarios every production backend must survive, each run by its backend's test module
(tests/service/test_mongodb_backend.py, tests/service/test_postgresql_backend.py) on its own server."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from adapters.bootstrap import Config, bootstrap
from tests.service.test_crash_safety import make_stream, run_and_kill
from tests.service.test_learning_service import thumbs
from tests.support.exactly_once import assert_read_models_equal_a_rebuild, assert_recorded_exactly_once, logged_events


def env_for(config: Config) -> dict[str, str]:
    """The environment of a child process using the config's stores."""
    return {
        **os.environ,
        "AGENT_LEARNING_EVENT_STORE": config.event_store,
        "AGENT_LEARNING_READ_MODELS": config.read_models,
    }


def two_writers_on_one_agent_never_lose_an_event(config: Config) -> None:
    first, second = bootstrap(config), bootstrap(config)
    try:
        first.service.process(thumbs(1, start=0))
        second.service.process(thumbs(1, start=1))
        first.service.process(thumbs(2, start=2))
        second.service.process(thumbs(1, start=4))  # stale cache: conflict, reload, record on top
        agent = bootstrap(config).service.get_agent("a-1")
        assert agent.feedback_count == 5 and agent.policy_version == 1
    finally:
        first.close()
        second.close()


def ingest_killed_at_random_loses_and_duplicates_nothing(
    tmp_path: Path, config: Config, messages: int, rounds: int, seed: int, min_kills: int
) -> None:
    stream = tmp_path / "stream.jsonl"
    ids = make_stream(stream, n=messages, agents=100)
    command = [sys.executable, "-m", "adapters.cli.main", "--home", str(config.home), "ingest", str(stream)]
    kills = run_and_kill(command, rounds=rounds, rng=random.Random(seed), env=env_for(config))
    assert kills >= min_kills, "ingest finished before it could be killed; make the stream longer"

    system = bootstrap(config)
    try:
        assert_recorded_exactly_once(logged_events(system), ids)
        assert_read_models_equal_a_rebuild(system)
    finally:
        system.close()
