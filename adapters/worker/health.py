"""`/healthz` and `/metrics` of the worker: the workers' health, and one Prometheus registry.

`HealthAndMetrics` is the small server `relay run --http` uses; `serve` puts the same
`/healthz` inside the whole HTTP API (`served_api.py`).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adapters.observability.metrics import ServiceMetrics
from adapters.worker.workers import Worker


def workers_health(workers: list[Worker], threads: dict[str, threading.Thread]) -> tuple[bool, dict]:
    """Healthy when every worker's thread is alive and none has been failing for a minute."""
    report = {w.name: {**w.health(), "alive": threads[w.name].is_alive()} for w in workers}
    ok = all(r["ok"] and r["alive"] for r in report.values())
    return ok, {"ok": ok, "workers": report}


def workers_readiness(workers: list[Worker], threads: dict[str, threading.Thread]) -> tuple[bool, dict]:
    """Ready when healthy and no worker is still waiting for something (its partitions, a catch-up)."""
    healthy, report = workers_health(workers, threads)
    missing = {w.name: why for w in workers if (why := w.not_ready()) is not None}
    if not healthy:
        missing["health"] = "a worker is not healthy: see /healthz"
    return not missing, {"ok": not missing, "ready": not missing, "waitingFor": missing}


class HealthAndMetrics:
    """`/healthz` (200 when every worker is alive and not failing for a minute, else 503) and `/metrics`."""

    def __init__(
        self, address: str, workers: list[Worker], threads: dict[str, threading.Thread], metrics: ServiceMetrics
    ):
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
                elif self.path == "/readyz":
                    ok, report = workers_readiness(workers, threads)
                    self._send(200 if ok else 503, json.dumps(report).encode(), "application/json")
                else:
                    self._send(404, b'{"error": "not found: try /healthz, /readyz or /metrics"}', "application/json")

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
