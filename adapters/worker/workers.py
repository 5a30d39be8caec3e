"""The worker's loops: projections, relay, tick and the Kafka consumer, each a `Worker` run in its own thread.

A failing step is logged and retried; it never kills the process. Each worker has its
own System (so no two threads ever share a cached aggregate) and reports its health.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.bootstrap import System
from adapters.observability.logs import fields
from adapters.observability.metrics import ServiceMetrics
from adapters.service.clock import utc_now
from domain.training_job import STATUSES
from jobs.training_worker import needs_work, run_worker
from projections.agent_learning_state import STATE
from projections.agent_queries import agents_due_for_tick
from projections.read_model_store import Condition
from projections.training_jobs import TRAINING_JOBS

log = logging.getLogger("agent_learning.serve")
READY_LAG = 1000  # events a read model or the relay may be behind and still be ready (`/readyz`)


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
    # Set by another worker of the process when it has made work for this one: an idle wait ends at once.
    wake: threading.Event | None = None

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
                self._idle(stop)
        self.close()

    def _idle(self, stop: threading.Event) -> None:
        if self.wake is None:
            stop.wait(self.idle_seconds)
            return
        # A wake that comes while the step runs ends the next wait at once; the step after the clear
        # sees whatever was committed before the wake was set.
        self.wake.wait(self.idle_seconds)
        self.wake.clear()

    def close(self) -> None:
        pass

    def not_ready(self) -> str | None:
        """What keeps this worker from doing its job yet (None: ready). `/readyz` lists these."""
        return None

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

    def health(self) -> dict:
        """Not ok while a projection has stopped on an event it cannot apply (the others go on)."""
        report = super().health()
        failures = list(self.system.projections.failures.items())  # read from the HTTP thread
        if failures:
            report["ok"] = False
            report["failedProjections"] = [f.describe(name) for (name, _), f in failures]
        return report

    def not_ready(self) -> str | None:
        failed = [name for name, _ in list(self.system.projections.failures)]
        if failed:
            return f"read model {', '.join(sorted(failed))} stopped on an event it cannot apply"
        behind = max((s.lag for s in self.system.projections.status()), default=0)
        if behind > READY_LAG:
            return f"read models are {behind:,} events behind (ready at {READY_LAG:,} or fewer)"
        return None

    def _report_lag(self) -> None:
        failed = {name for name, _ in list(self.system.projections.failures)}
        for status in self.system.projections.status():
            self.metrics.projection_lag.labels(status.projection).set(status.lag)
            self.metrics.projection_failed.labels(status.projection).set(1 if status.projection in failed else 0)


class RelayWorker(Worker):
    """Publishes the outbox. A failed publication replaces the sink: a Kafka producer that met a
    fatal error, or was fenced by a newer relay, can never publish again, while a new one re-reads
    the committed position and carries on."""

    name = "relay"
    # One cheap query when idle. The consumer of the same process wakes it after each batch it saves, so
    # its own writes are published without waiting; writes of other processes wait at most this long.
    idle_seconds = 0.05

    def __init__(self, system: System, metrics: ServiceMetrics):
        super().__init__()
        self.system = system  # held: the service closes its store when it is garbage-collected
        self.relay = system.relay()
        self.metrics = metrics

    def step(self) -> bool:
        started = time.perf_counter()
        try:
            published = self.relay.relay_once()
        except Exception:
            self.metrics.relay_errors.inc()
            self._replace_sink()
            raise
        if published > 0:
            self.metrics.relay_page_seconds.observe(time.perf_counter() - started)
            self.metrics.published.inc(published)
            self.metrics.relay_last_published.set(time.time())
        self.metrics.relay_lag.set(self.relay.lag())
        return published >= 0

    def not_ready(self) -> str | None:
        lag = self.relay.lag()
        if lag > READY_LAG:
            return f"the relay is {lag:,} events behind (ready at {READY_LAG:,} or fewer)"
        return None

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

    def __init__(
        self, system: System, metrics: ServiceMetrics, interval: float = 60.0, clock: Callable[[], datetime] = utc_now
    ):
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
            log.info(
                "tick",
                extra=fields(
                    checked=len(due), changed=len(outcome.agents), recalculations=dict(outcome.recalculations)
                ),
            )
        self._report_fleet()
        return False

    def _report_fleet(self) -> None:
        """Once a tick: how many agents are frozen, and the training jobs by status (read models)."""
        read_models = self.system.read_models
        self.metrics.frozen_agents.set(len(read_models.find(STATE, [Condition("frozen", "eq", True)])))
        statuses = Counter(job.get("status") for job in read_models.find(TRAINING_JOBS))
        for status in STATUSES:
            self.metrics.training_jobs.labels(status).set(statuses.get(status, 0))

    def close(self) -> None:
        self.system.close()


class ConsumerWorker(Worker):
    """The Kafka feedback consumer's batches (it reports each batch to the metrics itself)."""

    name = "consumer"
    idle_seconds = 0.0  # the consumer's own poll waits for messages

    def __init__(self, system: System, metrics: ServiceMetrics, wakes: Sequence[threading.Event] = ()):
        super().__init__()
        self.system = system
        self.metrics = metrics
        self.consumer = system.feedback_consumer(on_batch=metrics.record_batch)
        self.wakes = tuple(wakes)  # the workers to wake after a saved batch (the relay)
        self._lag_labels: set[tuple[str, str]] = set()  # the partitions whose lag the gauge shows

    def not_ready(self) -> str | None:
        if self.consumer.stats.first_assignment_at is None:
            return "the feedback consumer has not been given its partitions by the group yet"
        return None

    def step(self) -> bool:
        saved = self.consumer.poll_batch()
        if saved:
            for wake in self.wakes:
                wake.set()
            self.metrics.consumer_batch_seconds.observe(self.consumer.stats.last_batch_seconds)
        reported = set()
        for name, lag in self.consumer.stats.lag.items():
            _, topic, partition = name.rsplit(":", 2)
            self.metrics.consumer_lag.labels(topic, partition).set(lag)
            reported.add((topic, partition))
        for labels in self._lag_labels - reported:  # a partition the group gave to another member: no stale lag
            self.metrics.consumer_lag.remove(*labels)
        self._lag_labels = reported
        return saved > 0

    def close(self) -> None:
        self.consumer.close()
        self.system.close()


class TrainingWorker(Worker):
    """With `AGENT_LEARNING_SERVE_TRAINING=yes`: trains queued jobs inside `serve`, one per step, when
    one is due (or a lost one needs recovering); each step is a `jobs work --max-jobs 1` run."""

    name = "training"
    idle_seconds = 5.0

    def __init__(self, system: System, clock: Callable[[], datetime] = utc_now):
        super().__init__()
        self.system = system
        self.clock = clock

    def step(self) -> bool:
        if not needs_work(self.system, self.clock()):
            return False
        summary = run_worker(self.system, max_jobs=1, progress=lambda line: log.info(line))
        log.info("training", extra=fields(attempted=summary["attempted"], succeeded=len(summary["succeeded"])))
        return summary["attempted"] > 0
