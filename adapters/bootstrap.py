"""The one place where backends are chosen and wired: the CLI, `serve` and tests build the same graph.

Configuration comes from the environment (see the README):
AGENT_LEARNING_HOME, AGENT_LEARNING_EVENT_STORE, AGENT_LEARNING_READ_MODELS, AGENT_LEARNING_KAFKA.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping
from datetime import datetime

from attrs import define

from adapters.file_sink import FileSink
from adapters.learning_service import LearningService, utc_now
from adapters.outbox_relay import OutboxRelay, RelaySink
from adapters.sqlite_read_models import SQLiteReadModelStore
from domain.settings import DEFAULT_SETTINGS, LearningSettings
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import ReadModelStore

DEFAULT_HOME = "./.agent-learning"


class ConfigurationError(ValueError):
    pass


@define
class Config:
    home: Path
    event_store: str = "sqlite"
    read_models: str = "sqlite"
    kafka: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, home: str | None = None) -> "Config":
        env = os.environ if env is None else env
        return cls(
            home=Path(home or env.get("AGENT_LEARNING_HOME") or DEFAULT_HOME),
            event_store=env.get("AGENT_LEARNING_EVENT_STORE") or "sqlite",
            read_models=env.get("AGENT_LEARNING_READ_MODELS") or "sqlite",
            kafka=env.get("AGENT_LEARNING_KAFKA") or None,
        )


def _mongodb_database(url: str) -> str:
    from urllib.parse import urlparse

    path = urlparse(url).path.strip("/")
    return path or "agent_learning"


def event_store_env(config: Config) -> dict[str, str]:
    if config.event_store == "sqlite":
        config.home.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "adapters.sqlite_event_store",
                "SQLITE_DBNAME": str(config.home / "events.db"), "SQLITE_LOCK_TIMEOUT": "30"}
    if config.event_store.startswith("mongodb://") or config.event_store.startswith("mongodb+srv://"):
        return {"PERSISTENCE_MODULE": "adapters.mongodb_event_store", "MONGODB_URL": config.event_store,
                "MONGODB_DATABASE": _mongodb_database(config.event_store)}
    raise ConfigurationError(
        f"AGENT_LEARNING_EVENT_STORE={config.event_store!r} is not supported; use 'sqlite' or a "
        "'mongodb://host:port/database' URL"
    )


def read_model_store(config: Config) -> ReadModelStore:
    if config.read_models == "sqlite":
        config.home.mkdir(parents=True, exist_ok=True)
        return SQLiteReadModelStore(str(config.home / "read_models.db"))
    if config.read_models.startswith("mongodb://") or config.read_models.startswith("mongodb+srv://"):
        from adapters.mongodb_read_models import MongoDBReadModelStore

        return MongoDBReadModelStore(config.read_models, _mongodb_database(config.read_models))
    raise ConfigurationError(
        f"AGENT_LEARNING_READ_MODELS={config.read_models!r} is not supported; use 'sqlite' or a "
        "'mongodb://host:port/database' URL"
    )


@define
class System:
    """Everything a command needs, built once."""

    config: Config
    service: LearningService
    read_models: ReadModelStore
    projections: CatchUpRunner

    def relay(self, sink: RelaySink | None = None) -> OutboxRelay:
        """The relay to the given sink; by default Kafka when configured, else `published.jsonl`."""
        if sink is None:
            if self.config.kafka:
                from adapters.kafka_wiring import kafka_relay_sink

                sink = kafka_relay_sink(self.config)
            else:
                sink = self.file_sink()
        return OutboxRelay(self.service.recorder, self.service.mapper, sink)

    def file_sink(self) -> FileSink:
        self.config.home.mkdir(parents=True, exist_ok=True)
        return FileSink(self.config.home / "published.jsonl")

    def close(self) -> None:
        self.read_models.close()
        self.service.close()


def bootstrap(
    config: Config | None = None,
    settings: LearningSettings = DEFAULT_SETTINGS,
    clock: Callable[[], datetime] = utc_now,
) -> System:
    config = config or Config.from_env()
    # Whatever the backends, the home holds the dead-letter file, the file sink and the demo's stream.
    config.home.mkdir(parents=True, exist_ok=True)
    service = LearningService(env=event_store_env(config), settings=settings, clock=clock)
    store = read_model_store(config)
    runner = CatchUpRunner(service.recorder, service.mapper, store)
    return System(config, service, store, runner)
