"""`agent-learning serve` as a real child process, for the end-to-end tests through Kafka.

`ServeSetup` is one deployment: a home, the backends, topic names and a group id of its own on the
session's broker. `start()` runs `python -m adapters.cli.main --home HOME serve` with that environment on a
free port; the `ServeProcess` it returns reads `/healthz` and `/metrics`, and is stopped with SIGTERM
or killed with SIGKILL. The worker's log goes to a file (a pipe nobody reads would block it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
from attrs import frozen
from prometheus_client.parser import text_string_to_metric_families

from adapters.bootstrap import Config, System, bootstrap
from adapters.kafka.topics import KafkaTopics
from infra.local_servers import TANSU_CONSUMER_SETTINGS, free_port
from tests.contract.test_relay_sink_kafka import unique_topics

ROOT = Path(__file__).resolve().parents[2]

Sample = tuple[str, frozenset]  # metric sample name, its labels as (name, value) pairs


def mongodb_database_url(server_url: str, database: str) -> str:
    """`mongodb://host:port/?replicaSet=x` → `mongodb://host:port/DATABASE?replicaSet=x` (bootstrap takes
    the database name from the URL's path)."""
    base, _, query = server_url.partition("?")
    return f"{base.rstrip('/')}/{database}" + (f"?{query}" if query else "")


@frozen
class ServeSetup:
    bootstrap: str
    home: Path
    topics: KafkaTopics = attrs.field(factory=unique_topics)
    group: str = attrs.field(factory=lambda: f"serve-{uuid.uuid4().hex[:8]}")
    event_store: str = "sqlite"
    read_models: str = "sqlite"
    tick_interval: float = 1.0

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_LEARNING_")}
        return {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "AGENT_LEARNING_KAFKA": self.bootstrap,
            "AGENT_LEARNING_KAFKA_GROUP": self.group,
            "AGENT_LEARNING_KAFKA_CLIENT_CONFIG": json.dumps(TANSU_CONSUMER_SETTINGS),
            "AGENT_LEARNING_EVENT_STORE": self.event_store,
            "AGENT_LEARNING_READ_MODELS": self.read_models,
            "AGENT_LEARNING_TOPIC_FEEDBACK": self.topics.feedback,
            "AGENT_LEARNING_TOPIC_DLQ": self.topics.dead_letters,
            "AGENT_LEARNING_TOPIC_UPDATES": self.topics.learning_updates,
            "AGENT_LEARNING_TOPIC_MODEL_UPDATES": self.topics.model_updates,
            "AGENT_LEARNING_TOPIC_RELAY_POSITIONS": self.topics.relay_positions,
        }

    def config(self) -> Config:
        """The same backends as the child's, for reading what it did (Kafka left out)."""
        return Config(home=self.home, event_store=self.event_store, read_models=self.read_models)

    @contextmanager
    def system(self) -> Iterator[System]:
        built = bootstrap(self.config())
        try:
            yield built
        finally:
            built.close()

    def start(self, log_name: str = "serve.log", relay: bool = True) -> ServeProcess:
        """A `serve` child; `relay=False` for a replica beside the one that relays (`--no-relay`)."""
        self.home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "adapters.cli.main",
            "--home",
            str(self.home),
            "serve",
            "--http",
            f"127.0.0.1:{port}",
            "--tick-interval",
            str(self.tick_interval),
            *([] if relay else ["--no-relay"]),
        ]
        return ServeProcess(argv, self.env(), port, self.home.parent / log_name)


class ServeProcess:
    def __init__(self, argv: list[str], env: Mapping[str, str], port: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    # ----------------------------------------------------------------- HTTP

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def health(self) -> tuple[int, dict]:
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def metrics(self) -> dict[Sample, float]:
        """Every sample of `/metrics`: (name, labels) → value."""
        _, body = self.get("/metrics")
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }

    def answers(self) -> bool:
        try:
            self.get("/healthz", timeout=1.0)
        except OSError:
            return False
        return True

    # ------------------------------------------------------------- waiting

    def wait_until(
        self, condition: Callable[[], bool], what: str, timeout: float = 60.0, interval: float = 0.1
    ) -> None:
        """Polls `condition` while the process lives; fails with the log's tail when it dies or time is up."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.popen.poll() is None, (
                f"serve exited ({self.popen.returncode}) before {what}:\n{self.log_tail()}"
            )
            if condition():
                return
            assert time.monotonic() < deadline, f"serve did not get to {what} within {timeout} s:\n{self.log_tail()}"
            time.sleep(interval)

    def wait_until_answering(self, timeout: float = 30.0) -> ServeProcess:
        self.wait_until(self.answers, "answering HTTP", timeout)
        return self

    # ----------------------------------------------------------- stopping

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit status once it has stopped."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve did not stop within {timeout} s of SIGTERM:\n{self.log_tail()}") from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def sample(metrics: Mapping[Sample, float], name: str, **labels: str) -> float | None:
    return metrics.get((name, frozenset(labels.items())))


def samples(metrics: Mapping[Sample, float], name: str) -> dict[frozenset, float]:
    return {labels: value for (sample_name, labels), value in metrics.items() if sample_name == name}
