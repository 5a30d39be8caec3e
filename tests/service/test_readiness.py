"""`/readyz` gathers what each worker still waits for; `/healthz` stays about liveness."""

from __future__ import annotations

import threading

from adapters.worker.health import workers_readiness
from adapters.worker.workers import Worker


class Waiting(Worker):
    def __init__(self, name: str, why: str | None):
        super().__init__()
        self.name, self.why = name, why

    def step(self) -> bool:
        return False

    def not_ready(self) -> str | None:
        return self.why


def alive(*names: str) -> dict[str, threading.Thread]:
    threads = {}
    for name in names:
        thread = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
        thread.start()
        threads[name] = thread
    return threads


def test_ready_only_when_no_worker_waits_and_every_one_is_healthy():
    workers = [Waiting("consumer", "no partitions yet"), Waiting("relay", None)]
    ok, report = workers_readiness(workers, alive("consumer", "relay"))
    assert not ok and report["waitingFor"] == {"consumer": "no partitions yet"}
    workers[0].why = None
    ok, report = workers_readiness(workers, alive("consumer", "relay"))
    assert ok and report == {"ok": True, "ready": True, "waitingFor": {}}
    dead = {"consumer": threading.Thread(target=lambda: None), "relay": alive("relay")["relay"]}
    dead["consumer"].start()
    dead["consumer"].join()
    ok, report = workers_readiness(workers, dead)
    assert not ok and "health" in report["waitingFor"]
