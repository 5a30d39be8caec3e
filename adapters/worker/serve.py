"""`agent-learning serve`: the long-running worker.

Runs, each in its own thread and with its own service instance (so no two
threads ever share a cached aggregate): the feedback consumer (when Kafka is
configured), the projections, the relay, and the periodic tick (`workers.py`), plus
the HTTP API and owner pages (as `agent-learning web`) with `/healthz` (the workers'
health) and `/metrics` (one registry: the workers' and the API's metrics together).
SIGTERM or SIGINT stops every loop after the work in hand, then the process exits.
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from adapters.bootstrap import Config, bootstrap
from adapters.config import ConfigurationError
from adapters.observability.logs import fields
from adapters.observability.metrics import ServiceMetrics
from adapters.worker.runner import run_workers
from adapters.worker.served_api import ServedApi
from adapters.worker.workers import ConsumerWorker, ProjectionsWorker, RelayWorker, TickWorker, TrainingWorker, Worker
from jobs.trainers.choice import trainer_problem

log = logging.getLogger("agent_learning.serve")


def build_workers(
    config: Config, metrics: ServiceMetrics, tick_interval: float = 60.0, relay: bool = True
) -> list[Worker]:
    """`relay=False` for replicas beside a single relay (one transactional id publishes at a time)."""
    workers: list[Worker] = [ProjectionsWorker(bootstrap(config), metrics)]
    relay_worker = RelayWorker(bootstrap(config), metrics) if relay else None
    relay_wake = threading.Event()  # the consumer's saved batches are published without a polling wait
    if relay_worker is not None:
        relay_worker.wake = relay_wake
    if config.kafka:
        workers.append(ConsumerWorker(bootstrap(config), metrics, [relay_wake] if relay_worker else []))
    if relay_worker is not None:
        workers.append(relay_worker)
    workers.append(TickWorker(bootstrap(config), metrics, tick_interval))
    if config.serve_training:
        problem = trainer_problem(config.trainer)
        if problem is not None:
            raise ConfigurationError(f"AGENT_LEARNING_SERVE_TRAINING=yes, but {problem}")
        workers.append(TrainingWorker(bootstrap(config)))
    return workers


def serve(
    config: Config,
    http_address: str,
    tick_interval: float = 60.0,
    stop: threading.Event | None = None,
    relay: bool = True,
) -> int:
    log.info(
        "starting",
        extra=fields(
            kafka=config.kafka or None, event_store=config.event_store, read_models=config.read_models, relay=relay
        ),
    )
    metrics = ServiceMetrics()
    workers = build_workers(config, metrics, tick_interval, relay)
    return run_workers(
        workers, metrics, http_address, stop or threading.Event(), http_server=partial(ServedApi, config=config)
    )
