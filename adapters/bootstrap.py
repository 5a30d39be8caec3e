"""The one place where backends are chosen and wired: the CLI, `serve`, the web app and tests build the same graph.

It reads nothing itself: `adapters/config.py` parses the environment into a `Config`, and
this module turns a `Config` into concrete classes (the event store, the read-model store,
the relay's sink, the Kafka consumer). Nothing else names them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import attrs
from attrs import define

from adapters.config import Config, ConfigurationError
from adapters.files.file_sink import FileSink
from adapters.kafka.topics import client_config
from adapters.readmodels.sqlite import SQLiteReadModelStore
from adapters.service.clock import utc_now
from adapters.service.learning_service import BatchOutcome, LearningService
from adapters.service.outbox_relay import OutboxRelay, RelaySink
from domain.settings import DEFAULT_SETTINGS, LearningSettings
from projections.catch_up_runner import CatchUpRunner
from projections.read_model_store import ReadModelStore

if TYPE_CHECKING:
    from adapters.kafka.feedback_consumer import FeedbackConsumer
    from adapters.kafka.relay_sink import KafkaRelaySink

__all__ = ["Config", "ConfigurationError", "System", "bootstrap"]

# The MongoDB and Kafka adapters are imported where they are chosen: pymongo and librdkafka
# (about 18 MiB) load only in a process configured to use them.

# librdkafka refuses consumer-only settings in a producer's or admin client's configuration.
CONSUMER_ONLY = (
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.id",
    "isolation.level",
    "auto.offset.reset",
    "enable.auto.commit",
)
MONGODB_SCHEMES = ("mongodb://", "mongodb+srv://")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SUPPORTED = "'sqlite', a 'mongodb://host:port/database' URL or a 'postgresql://user@host:port/database' URL"


def _mongodb_database(url: str) -> str:
    path = urlparse(url).path.strip("/")
    return path or "agent_learning"


def event_store_env(config: Config) -> dict[str, str]:
    """The eventsourcing library's settings for the configured event store."""
    if config.event_store == "sqlite":
        config.home.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "adapters.eventstore.sqlite",
            "SQLITE_DBNAME": str(config.home / "events.db"),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if config.event_store.startswith(MONGODB_SCHEMES):
        return {
            "PERSISTENCE_MODULE": "adapters.eventstore.mongodb",
            "MONGODB_URL": config.event_store,
            "MONGODB_DATABASE": _mongodb_database(config.event_store),
        }
    if config.event_store.startswith(POSTGRES_SCHEMES):
        return {"PERSISTENCE_MODULE": "adapters.eventstore.postgresql", **postgres_settings(config.event_store)}
    raise ConfigurationError(f"AGENT_LEARNING_EVENT_STORE={config.event_store!r} is not supported; use {SUPPORTED}")


def postgres_settings(url: str) -> dict[str, str]:
    """The library's POSTGRES_* settings from a `postgresql://user[:password]@host[:port]/database` URL."""
    parsed = urlparse(url)
    database = parsed.path.strip("/")
    if not parsed.hostname or not parsed.username or not database:
        raise ConfigurationError(
            f"{_hidden(url)!r} is not a PostgreSQL URL with a user, a host and a database; "
            "e.g. postgresql://agent_learning@db.example:5432/agent_learning"
        )
    return {
        "POSTGRES_HOST": parsed.hostname,
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": unquote(parsed.username),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_DBNAME": database,
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # Enough idle time in a transaction for a batch of 500 messages on a loaded machine.
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        # A pooled connection is checked before use, so a database restart costs one failed step, not many.
        "POSTGRES_PRE_PING": "y",
        "ORIGINATOR_ID_TYPE": "text",  # aggregate ids are text here (`agent:a-1`), not UUIDs
    }


def _hidden(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def read_model_store(config: Config) -> ReadModelStore:
    if config.read_models == "sqlite":
        config.home.mkdir(parents=True, exist_ok=True)
        return SQLiteReadModelStore(str(config.home / "read_models.db"))
    if config.read_models.startswith(MONGODB_SCHEMES):
        from adapters.readmodels.mongodb import MongoDBReadModelStore  # only when configured

        return MongoDBReadModelStore(config.read_models, _mongodb_database(config.read_models))
    if config.read_models.startswith(POSTGRES_SCHEMES):
        from adapters.readmodels.postgresql import PostgresReadModelStore  # only when configured

        return PostgresReadModelStore(config.read_models)
    raise ConfigurationError(f"AGENT_LEARNING_READ_MODELS={config.read_models!r} is not supported; use {SUPPORTED}")


def _client_extras(config: Config) -> dict[str, Any]:
    """The extra librdkafka settings that a producer or an admin client accepts."""
    return {k: v for k, v in config.kafka_settings.client.items() if k not in CONSUMER_ONLY}


def _ensure_topics(config: Config) -> None:
    from confluent_kafka.admin import AdminClient  # only when configured

    from adapters.kafka.relay_sink import ensure_topics

    if config.kafka_settings.create_topics:
        ensure_topics(AdminClient(client_config(config.kafka, **_client_extras(config))), config.kafka_settings.topics)


def kafka_relay_sink(config: Config) -> KafkaRelaySink:
    from adapters.kafka.relay_sink import KafkaRelaySink  # only when configured

    _ensure_topics(config)
    extras = _client_extras(config)
    return KafkaRelaySink(
        config.kafka,
        config.kafka_settings.topics,
        exactly_once=config.kafka_settings.relay_mode == "exactly-once",
        producer_config=extras,
        consumer_config=extras,
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
            sink = kafka_relay_sink(self.config) if self.config.kafka else self.file_sink()
        return OutboxRelay(self.service.recorder, self.service.mapper, sink)

    def file_sink(self) -> FileSink:
        self.config.home.mkdir(parents=True, exist_ok=True)
        return FileSink(self.config.home / "published.jsonl")

    def feedback_consumer(self, on_batch: Callable[[BatchOutcome], None] | None = None) -> FeedbackConsumer:
        """A member of the consumer group of `agent-feedback` (Kafka must be configured)."""
        if not self.config.kafka:
            raise ConfigurationError(
                "the feedback consumer needs Kafka: set AGENT_LEARNING_KAFKA to its bootstrap servers"
            )
        from adapters.kafka.feedback_consumer import ConsumerSettings, FeedbackConsumer  # only when configured

        _ensure_topics(self.config)
        kafka = self.config.kafka_settings
        settings = ConsumerSettings(group_id=kafka.group, client=dict(kafka.client), poll_timeout=kafka.poll_seconds)
        return FeedbackConsumer(self.service, self.config.kafka, kafka.topics, settings, on_batch=on_batch)

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
    if config.accepted_years is not None:
        settings = attrs.evolve(settings, accepted_years=config.accepted_years)
    service = LearningService(env=event_store_env(config), settings=settings, clock=clock)
    store = read_model_store(config)
    runner = CatchUpRunner(service.recorder, service.mapper, store)
    return System(config, service, store, runner)
