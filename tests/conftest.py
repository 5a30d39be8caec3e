"""Shared fixtures: an embedded system in a temporary home, message builders, and the real test servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.bootstrap import Config, bootstrap

pytest_plugins = ["tests.support.servers_plugin"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def system(home: Path):
    built = bootstrap(Config(home=home))
    yield built
    built.close()


def feedback(event_id: str, agent_id: str, at: str, kind: str = "thumbs_up", **fields) -> dict:
    return {"type": "feedback", "eventId": event_id, "agentId": agent_id, "occurredAt": at, "kind": kind, **fields}


def write_jsonl(path: Path, messages: list) -> Path:
    path.write_text("".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages))
    return path


_exit_status = {"code": 0}


def pytest_sessionfinish(session, exitstatus) -> None:
    _exit_status["code"] = int(exitstatus)


def pytest_unconfigure(config) -> None:
    """Never hang after the summary: a test that leaves a non-daemon thread behind would make the
    interpreter wait for it at exit (seen once in CI, not yet traced). The threads are named on
    stderr with where each waits, so the leak can be found, and the run fails: a leak is a bug of the test
    or fixture that started it."""
    import os
    import sys
    import threading
    import traceback

    lingering = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if lingering:
        print(f"\nnon-daemon threads still running after the tests: {[t.name for t in lingering]}", file=sys.stderr)
        frames = sys._current_frames()
        for thread in lingering:  # where each one waits points to the test or fixture that started it
            stack = "".join(traceback.format_stack(frames[thread.ident])) if thread.ident in frames else "(gone)\n"
            print(f"--- {thread.name}:\n{stack}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"] or 1)
