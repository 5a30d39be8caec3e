"""Shared fixtures: an embedded system in a temporary home, message builders, and the real test servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.bootstrap import Config, bootstrap

pytest_plugins = ["tests.servers_plugin"]


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
