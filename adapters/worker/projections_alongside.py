"""Catching read models up in a second process while this one records events.

Recording and projecting are both CPU-bound; on a machine with two cores a long
ingest finishes in about the time of the slower of the two instead of their sum.
The second process is an ordinary catch-up runner: checkpoints move by
compare-and-set, so it and the caller's final catch-up never apply a page twice.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.bootstrap import Config, bootstrap

# The follower waits for this many notifications before it applies them (or for the time
# below): each run reads and writes every document it touches once, so runs of a few
# hundred notifications, one per recorded batch, would cost several times more in all.
MIN_RUN = 10_000
MAX_WAIT_SECONDS = 1.0
# ... and keeps the documents it reads from one run to the next, rather than read them again.
KEEP_DOCUMENTS = 200_000


def _follow(config: Config, stop) -> None:
    system = bootstrap(config)
    runner = system.projections
    runner.keep_documents = KEEP_DOCUMENTS
    try:
        runner.prepare()  # a new home has no checkpoints yet, and nothing to follow without them
        waited = 0.0
        while not stop.is_set():
            behind = max((s.lag for s in runner.status() if s.projection in runner.projections), default=0)
            if behind >= MIN_RUN or (behind and waited >= MAX_WAIT_SECONDS):
                runner.run_once()
                waited = 0.0
            else:
                stop.wait(0.1)
                waited += 0.1
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
