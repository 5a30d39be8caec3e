"""`agent-learning serve`: the long-running worker.

Runs, each in its own thread and with its own service instance (so no two
threads ever share a cached aggregate): the feedback consumer (when Kafka is
configured), the projections, the relay, and the periodic tick, plus the HTTP API
and owner pages (as `agent-learning web`) with `/healthz` (the workers' health) and
`/metrics` (one registry: the workers' and the API's metrics together). SIGTERM or
SIGINT stops every loop after the work in hand, then the process exits.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from datetime import datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from adapters.bootstrap import Config, System, bootstrap
from adapters.learning_service import utc_now
from adapters.service_metrics import ServiceMetrics
from adapters.structured_log import fields
from projections.agent_queries import agents_due_for_tick

log = logging.getLogger("agent_learning.serve")


class Worker(ABC):
    """One loop of the worker process; `run` returns when `stop` is set."""

    name: str

    def __init__(self) -> None:
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.failing_since: float | None = None

    @abstractmethod
    def step(self) -> bool:
        """One unit of work; True if there was something to do (the loop then goes on at once)."""

    idle_seconds = 0.5

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.step()
                self.last_success = time.monotonic()
                self.last_error = None
                self.failing_since = None
            except Exception as error:  # a failing step is logged and retried; it never kills the process
                busy = False
                self.last_error = f"{type(error).__name__}: {error}"
                self.failing_since = self.failing_since or time.monotonic()
                log.exception("worker step failed", extra=fields(worker=self.name))
                stop.wait(2.0)
            if not busy:
                stop.wait(self.idle_seconds)
        self.close()

    def close(self) -> None:
        pass

    def health(self) -> dict:
        failing_for = time.monotonic() - self.failing_since if self.failing_since else 0.0
        return {"ok": failing_for < 60, "lastError": self.last_error, "failingForSeconds": round(failing_for, 1)}


class ProjectionsWorker(Worker):
    name = "projections"

    def __init__(self, system: System, metrics: ServiceMetrics):
        super().__init__()
        self.system = system
        self.metrics = metrics
        self.system.projections.prepare()

    def close(self) -> None:
        self.system.close()

    def step(self) -> bool:
        # Measured after the page even when applying it fails: the gauges then show the real
        # lag rather than whatever they last said (a stale 0 would hide a stuck projection).
        try:
            return self.system.projections.run_once() > 0
        finally:
            self._report_lag()

    def _report_lag(self) -> None:
        for status in self.system.projections.status():
            self.metrics.projection_lag.labels(status.projection).set(status.lag)


class RelayWorker(Worker):
    """Publishes the outbox. A failed publication replaces the sink: a Kafka producer that met a
    fatal error, or was fenced by a newer relay, can never publish again, while a new one re-reads
    the committed position and carries on."""

    name = "relay"
    idle_seconds = 0.05  # one cheap query when idle; every 50 ms of waiting is 50 ms of publish latency

    def __init__(self, system: System, metrics: ServiceMetrics):
        super().__init__()
        self.system = system  # held: the service closes its store when it is garbage-collected
        self.relay = system.relay()
        self.metrics = metrics

    def step(self) -> bool:
        try:
            published = self.relay.relay_once()
        except Exception:
            self._replace_sink()
            raise
        if published > 0:
            self.metrics.published.inc(published)
        self.metrics.relay_lag.set(self.relay.lag())
        return published >= 0

    def _replace_sink(self) -> None:
        try:
            self.relay.sink.close()
        except Exception:  # noqa: BLE001 - a broken producer may not close cleanly; it is dropped anyway
            log.debug("closing a failed relay sink failed", exc_info=True)
        self.relay = self.system.relay()

    def close(self) -> None:
        self.relay.sink.close()
        self.system.close()


class TickWorker(Worker):
    """Every `interval` seconds: the agents the read model says may be due, ticked at the clock's time."""

    name = "tick"

    def __init__(self, system: System, metrics: ServiceMetrics, interval: float = 60.0,
                 clock: Callable[[], datetime] = utc_now):
        super().__init__()
        self.system = system
        self.metrics = metrics
        self.interval = interval
        self.clock = clock
        self.next_at = 0.0

    def step(self) -> bool:
        if time.monotonic() < self.next_at:
            return False
        self.next_at = time.monotonic() + self.interval
        now = self.clock()
        due = agents_due_for_tick(self.system.read_models, now, self.system.service.settings)
        if due:
            outcome = self.system.service.tick(now, due)
            self.metrics.record_batch(outcome)
            log.info("tick", extra=fields(checked=len(due), changed=len(outcome.agents),
                                          recalculations=dict(outcome.recalculations)))
        return False

    def close(self) -> None:
        self.system.close()


class ConsumerWorker(Worker):
    """The Kafka feedback consumer's batches (it reports each batch to the metrics itself)."""

    name = "consumer"
    idle_seconds = 0.0  # the consumer's own poll waits for messages

    def __init__(self, consumer, system: System, metrics: ServiceMetrics):
        super().__init__()
        self.consumer = consumer
        self.system = system
        self.metrics = metrics

    def step(self) -> bool:
        saved = self.consumer.poll_batch()
        for name, lag in self.consumer.stats.lag.items():
            _, topic, partition = name.rsplit(":", 2)
            self.metrics.consumer_lag.labels(topic, partition).set(lag)
        return saved > 0

    def close(self) -> None:
        self.consumer.close()
        self.system.close()


def workers_health(workers: list[Worker], threads: dict[str, threading.Thread]) -> tuple[bool, dict]:
    """Healthy when every worker's thread is alive and none has been failing for a minute."""
    report = {w.name: {**w.health(), "alive": threads[w.name].is_alive()} for w in workers}
    ok = all(r["ok"] and r["alive"] for r in report.values())
    return ok, {"ok": ok, "workers": report}


class HealthAndMetrics:
    """`/healthz` (200 when every worker is alive and not failing for a minute, else 503) and `/metrics`."""

    def __init__(self, address: str, workers: list[Worker], threads: dict[str, threading.Thread],
                 metrics: ServiceMetrics):
        host, _, port = address.rpartition(":")
        handler = self._handler(workers, threads, metrics)
        self.server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler)
        self.address = f"{self.server.server_address[0]}:{self.server.server_address[1]}"

    @staticmethod
    def _handler(workers, threads, metrics):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                if self.path == "/metrics":
                    self._send(200, metrics.exposition(), "text/plain; version=0.0.4")
                elif self.path == "/healthz":
                    ok, report = workers_health(workers, threads)
                    self._send(200 if ok else 503, json.dumps(report).encode(), "application/json")
                else:
                    self._send(404, b'{"error": "not found: try /healthz or /metrics"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # requests are not worth a log line each
                pass

        return Handler

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def build_workers(config: Config, metrics: ServiceMetrics, tick_interval: float = 60.0,
                  relay: bool = True) -> list[Worker]:
    """`relay=False` for replicas beside a single relay (one transactional id publishes at a time)."""
    workers: list[Worker] = [ProjectionsWorker(bootstrap(config), metrics)]
    if config.kafka:
        from adapters.kafka_wiring import kafka_consumer_worker

        workers.append(kafka_consumer_worker(config, bootstrap(config), metrics))
    if relay:
        workers.append(RelayWorker(bootstrap(config), metrics))
    workers.append(TickWorker(bootstrap(config), metrics, tick_interval))
    return workers


def run_workers(workers: list[Worker], metrics: ServiceMetrics, http_address: str | None,
                stop: threading.Event, http_server: Callable = HealthAndMetrics) -> int:
    """Runs the workers until `stop` (SIGTERM/SIGINT set it), with /healthz and /metrics if an address is given.

    `http_server(address, workers, threads, metrics)` builds what listens there: `HealthAndMetrics`,
    or in `serve` the whole HTTP API (`adapters.web.in_serve.ServedApi`)."""
    threads = {w.name: threading.Thread(target=w.run, args=(stop,), name=w.name) for w in workers}
    http = http_server(http_address, workers, threads, metrics) if http_address else None
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    for thread in threads.values():
        thread.start()
    if http:
        http.start()
    log.info("serving", extra=fields(http=http.address if http else None, workers=[w.name for w in workers]))
    stop.wait()
    log.info("stopping: finishing the work in hand")
    for thread in threads.values():
        thread.join()
    if http:
        http.stop()
    log.info("stopped")
    return 0


def serve(config: Config, http_address: str, tick_interval: float = 60.0,
          stop: threading.Event | None = None, relay: bool = True) -> int:
    log.info("starting", extra=fields(kafka=config.kafka or None, event_store=config.event_store,
                                      read_models=config.read_models, relay=relay))
    from adapters.web.in_serve import ServedApi

    metrics = ServiceMetrics()
    workers = build_workers(config, metrics, tick_interval, relay)
    return run_workers(workers, metrics, http_address, stop or threading.Event(),
                       http_server=partial(ServedApi, config=config))
