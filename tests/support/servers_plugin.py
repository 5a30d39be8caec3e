"""Pytest fixtures for the real test servers of ``infra/local_servers.py``.

Register with ``pytest_plugins = ["tests.support.servers_plugin"]``. A server starts the
first time a test asks for it and stops at the end of the session; one that
cannot start fails the tests that need it, with the reason (it never skips them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

import pytest

from infra.local_servers import KafkaBroker, MongoServer, PostgresServer, ServerStartError

Server = TypeVar("Server")


def _started(what: str, start: Callable[[], Server]) -> Server:
    try:
        return start()
    except ServerStartError as e:
        reason = str(e)
    pytest.fail(f"could not start the {what}: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def mongodb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    server = _started("MongoDB test server", lambda: MongoServer.start(tmp_path_factory.mktemp("secantusdb")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongodb_url(mongodb_server: MongoServer) -> str:
    """Connection URL of a fresh SecantusDB one-node replica set; tests share it,
    so each should use a database name of its own."""
    return mongodb_server.url


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = _started("Kafka test broker", lambda: KafkaBroker.start(log_dir=tmp_path_factory.mktemp("tansu")))
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """``bootstrap.servers`` of a fresh in-memory Tansu broker; tests share it,
    so each should use topics and group ids of its own."""
    return kafka_broker.bootstrap


TopicFactory = Callable[..., str]


@pytest.fixture
def kafka_topic_factory(kafka_bootstrap: str) -> TopicFactory:
    """``create(prefix="topic", partitions=1, config=None) -> name`` creates a
    topic with a unique name and waits until the broker confirms it."""
    from confluent_kafka.admin import AdminClient, NewTopic

    def create(prefix: str = "topic", partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
        # A client per call: one kept alive by a failed test's traceback would
        # log connection errors after the broker stops.
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.create_topics([topic], operation_timeout=10)[name].result(timeout=15)
        return name

    return create


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (Debian's server binaries, `initdb` in a temporary folder, run as
    the `postgres` user when the tests run as root) for the whole session."""
    server = _started("PostgreSQL test server", lambda: PostgresServer.start(tmp_path_factory.mktemp("postgresql")))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new empty database of the session's PostgreSQL cluster, one per test."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")
