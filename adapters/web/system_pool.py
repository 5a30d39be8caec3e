"""A few Systems shared by the web server's worker threads, one request at a time each.

As in `serve`, no two threads ever share a System: its service caches aggregates
and is not meant to be used from two threads at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.bootstrap import System


class SystemPool:
    def __init__(self, factory: Callable[[], System], size: int = 4):
        self._factory = factory
        self._idle: queue.LifoQueue[System] = queue.LifoQueue()
        self._all: list[System] = []
        self._lock = threading.Lock()
        self._size = size

    @contextmanager
    def system(self) -> Iterator[System]:
        system = self._take()
        try:
            yield system
        finally:
            self._idle.put(system)

    def _take(self) -> System:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self._size:
                system = self._factory()
                self._all.append(system)
                return system
        return self._idle.get()  # every System is busy: wait for one

    def failed_projections(self) -> list[str]:
        """Why projections stopped, in any System of the pool (each catches up on its own)."""
        with self._lock:
            systems = list(self._all)
        failed = set()
        for system in systems:
            for (name, _), failure in list(system.projections.failures.items()):
                failed.add(failure.describe(name))
        return sorted(failed)

    def close(self) -> None:
        with self._lock:
            for system in self._all:
                system.close()
            self._all.clear()
