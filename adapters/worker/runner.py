"""Runs workers, each in its own thread, until `stop`: with `/healthz` and `/metrics`, and SIGTERM or
SIGINT ending every loop after the work in hand. `serve` runs its workers so, and `relay run` its one."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from adapters.observability.logs import fields
from adapters.observability.metrics import ServiceMetrics
from adapters.worker.health import HealthAndMetrics
from adapters.worker.workers import Worker

log = logging.getLogger("agent_learning.serve")


def run_workers(
    workers: list[Worker],
    metrics: ServiceMetrics,
    http_address: str | None,
    stop: threading.Event,
    http_server: Callable = HealthAndMetrics,
) -> int:
    """Runs the workers until `stop` (SIGTERM/SIGINT set it), with /healthz and /metrics if an address is given.

    `http_server(address, workers, threads, metrics)` builds what listens there: `HealthAndMetrics`,
    or in `serve` the whole HTTP API (`adapters.worker.served_api.ServedApi`)."""
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
