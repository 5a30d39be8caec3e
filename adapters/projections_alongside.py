"""Catching read models up in a second process while this one records events.

Recording and projecting are both CPU-bound; on a machine with two cores a long
ingest finishes in about the time of the slower of the two instead of their sum.
The second process is an ordinary catch-up runner: checkpoints move by
compare-and-set, so it and the caller's final catch-up never apply a page twice.
"""

from __future__ import annotations

import multiprocessing
from contextlib import contextmanager
from typing import Iterator

from adapters.bootstrap import Config, bootstrap


def _follow(config: Config, stop) -> None:
    system = bootstrap(config)
    try:
        while not stop.is_set():
            if system.projections.run_once() == 0:
                stop.wait(0.05)
    finally:
        system.close()


@contextmanager
def projections_alongside(config: Config, enabled: bool = True) -> Iterator[None]:
    """While the block runs, a child process follows the log; on exit it stops after its page."""
    if not enabled:
        yield
        return
    context = multiprocessing.get_context("spawn")  # no inherited connections or threads
    stop = context.Event()
    follower = context.Process(target=_follow, args=(config, stop), name="projections", daemon=True)
    follower.start()
    try:
        yield
    finally:
        stop.set()
        follower.join(timeout=60)
        if follower.is_alive():
            follower.kill()
