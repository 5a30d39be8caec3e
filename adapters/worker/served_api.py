"""The HTTP API and owner pages inside `agent-learning serve`, on the worker's own address.

The same app as `agent-learning web`, run by uvicorn in a thread beside the workers. It
shares the workers' metrics registry, so `/metrics` is one endpoint for both, and its
`/healthz` reports the workers (200 when every one is alive and not failing for a minute).
The socket is bound at once, so a taken port fails `serve` at start, as before.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from adapters.bootstrap import Config, bootstrap
from adapters.observability.metrics import ServiceMetrics
from adapters.web.app import create_app
from adapters.worker.health import workers_health, workers_readiness
from adapters.worker.workers import Worker

log = logging.getLogger("agent_learning.web")
START_SECONDS = 30.0


class ServedApi:
    def __init__(
        self,
        address: str,
        workers: list[Worker],
        threads: dict[str, threading.Thread],
        metrics: ServiceMetrics,
        config: Config,
    ):
        host, _, port = address.rpartition(":")
        app = create_app(
            lambda: bootstrap(config),
            metrics=metrics,
            health=lambda: workers_health(workers, threads),
            readiness=lambda: workers_readiness(workers, threads),
        )
        self.socket = socket.create_server((host or "127.0.0.1", int(port)))
        bound = self.socket.getsockname()
        self.address = f"{bound[0]}:{bound[1]}"
        # access_log off and no log config of uvicorn's own: the service's JSON logs stay the only format.
        self.server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_config=None, lifespan="on"))
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="http", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP API did not start on {self.address}: see the log above")
            time.sleep(0.02)
        return self.thread

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Finishes requests in flight for up to `grace_seconds`, then closes the rest, so `serve` always exits."""
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=grace_seconds)
            if self.thread.is_alive():
                log.warning("the HTTP API did not stop within %.0f s; closing its connections", grace_seconds)
                self.server.force_exit = True
                self.thread.join(timeout=5)
        self.socket.close()
