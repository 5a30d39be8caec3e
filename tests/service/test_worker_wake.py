"""A worker's idle wait ends when another worker of the process wakes it (the consumer wakes the relay)."""

from __future__ import annotations

import threading

from adapters.worker.workers import Worker


class CountingWorker(Worker):
    name = "counting"
    idle_seconds = 60.0  # were the wake ignored, the second step would come a minute later

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.stepped = threading.Event()

    def step(self) -> bool:
        self.steps += 1
        self.stepped.set()
        return False


def test_a_wake_ends_the_idle_wait_and_the_next_step_runs():
    worker, stop = CountingWorker(), threading.Event()
    worker.wake = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.stepped.wait(5)
    worker.stepped.clear()
    worker.wake.set()
    assert worker.stepped.wait(5), "the woken worker did not step again"
    assert worker.steps == 2
    stop.set()
    worker.wake.set()
    thread.join(5)
    assert not thread.is_alive()


def test_without_a_wake_the_worker_waits_on_stop_as_before():
    worker, stop = CountingWorker(), threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.stepped.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and worker.steps == 1
