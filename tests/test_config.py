"""`Config.from_env`: every variable parsed once, and a bad value named with an example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.config import Config, ConfigurationError
from adapters.files.jsonl_ingest import ingest_lines
from tests.conftest import feedback


def test_with_nothing_set_the_embedded_defaults_are_used():
    config = Config.from_env({})
    assert (config.home, config.event_store, config.read_models, config.kafka) == (
        Path(".agent-learning"),
        "sqlite",
        "sqlite",
        None,
    )
    assert config.http == "127.0.0.1:8080" and config.serve_relay
    assert config.accepted_years is None
    assert config.kafka_settings.relay_mode == "exactly-once"


@pytest.mark.parametrize(
    "name, value, named",
    [
        ("AGENT_LEARNING_ACCEPTED_YEARS", "recent", "AGENT_LEARNING_ACCEPTED_YEARS=2000-2100"),
        ("AGENT_LEARNING_ACCEPTED_YEARS", "2100-2000", "must not be after the last"),
        ("AGENT_LEARNING_RELAY_MODE", "twice", "use exactly-once or at-least-once"),
        ("AGENT_LEARNING_KAFKA_POLL_SECONDS", "soon", "AGENT_LEARNING_KAFKA_POLL_SECONDS must be a number"),
        ("AGENT_LEARNING_KAFKA_CLIENT_CONFIG", "[1]", "must be a JSON object"),
        ("AGENT_LEARNING_JOBS_MAX_RETRIES", "many", "AGENT_LEARNING_JOBS_MAX_RETRIES='many' is not a whole number"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name, value, named):
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(")):
        Config.from_env({name: value})


def test_the_accepted_years_reach_the_boundary(tmp_path):
    old = json.dumps(feedback("f1", "a", "1995-06-01T00:00:00Z")).encode()
    strict = bootstrap(Config.from_env({"AGENT_LEARNING_HOME": str(tmp_path / "strict")}))
    wide = bootstrap(
        Config.from_env({"AGENT_LEARNING_HOME": str(tmp_path / "wide"), "AGENT_LEARNING_ACCEPTED_YEARS": "1990-2100"})
    )
    try:
        assert (
            "outside the accepted years 2000–2100"
            in ingest_lines(strict.service, [old], "t").outcome.rejected[0].reason
        )
        assert ingest_lines(wide.service, [old], "t").outcome.recorded == 1
    finally:
        strict.close()
        wide.close()


def test_the_environment_a_trainer_inherits_is_never_printed():
    config = Config.from_env({"DATABASE_PASSWORD": "hunter2", "AGENT_LEARNING_TRAINER": "command"})
    assert config.trainer.inherited["DATABASE_PASSWORD"] == "hunter2"  # the child process still gets it
    assert "hunter2" not in repr(config)
