"""The outbox relay and its file sink."""

from __future__ import annotations

import json

from adapters.cli.main import main
from adapters.files.file_sink import FileSink, read_published
from tests.conftest import feedback, write_jsonl
from tests.support.contract_fields import METRIC_FIELDS, UPDATE_FIELDS

AT = "2026-11-24T10:00:00Z"


def test_a_strong_signal_publishes_agent_learning_updated_with_the_contract_headers(tmp_path, system):
    from adapters.files.jsonl_ingest import ingest_lines

    ingest_lines(
        system.service,
        [json.dumps(feedback("e1", "a-1", AT, kind="thumbs_down", traits={"sarcasm": 1.0})).encode()],
        "t",
    )
    assert system.relay().relay_all() == 1
    [message] = read_published(system.config.home / "published.jsonl")
    assert message["topic"] == "agent-learning-updates"
    assert message["key"] == "a-1"
    assert message["headers"] == {
        "event-id": "agent:a-1:3",
        "event-type": "AgentLearningUpdated",
        "content-type": "application/json",
    }
    body = message["value"]
    assert body["type"] == "AgentLearningUpdated" and body["eventId"] == "agent:a-1:3"
    assert body["trigger"] == "strong_signal" and body["version"] == 1
    assert set(body) == UPDATE_FIELDS
    assert set(body["metrics"]) == METRIC_FIELDS
    assert body["occurredAt"] == AT


def test_the_relay_publishes_nothing_twice_across_restarts(tmp_path, home, capsys):
    stream = write_jsonl(tmp_path / "in.jsonl", [feedback(f"e{i}", "a", AT, kind="thumbs_down") for i in range(3)])
    main(["--home", str(home), "ingest", str(stream)])
    main(["--home", str(home), "relay", "run", "--once"])
    main(["--home", str(home), "relay", "run", "--once"])
    published = read_published(home / "published.jsonl")
    assert [m["value"]["version"] for m in published] == [1, 2, 3]


def test_a_torn_last_line_from_a_crash_is_cut_off_and_republished(tmp_path, system):
    from adapters.files.jsonl_ingest import ingest_lines

    ingest_lines(
        system.service, [json.dumps(feedback(f"e{i}", "a", AT, kind="thumbs_down")).encode() for i in range(2)], "t"
    )
    system.relay().relay_all()
    path = system.config.home / "published.jsonl"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # the crash tore the second line
    sink = FileSink(path)
    assert sink.position() == read_published.__globals__["json"].loads(text.splitlines()[0])["position"]
    system.relay(sink).relay_all()
    assert [m["value"]["version"] for m in read_published(path)] == [1, 2]


def test_frozen_and_unfrozen_are_published(tmp_path, home, capsys):
    stream = write_jsonl(tmp_path / "in.jsonl", [feedback("e1", "a", AT)])
    main(["--home", str(home), "ingest", str(stream)])
    main(["--home", str(home), "admin", "freeze", "a", "--reason", "investigating", "--by", "ops"])
    main(["--home", str(home), "admin", "unfreeze", "a", "--reason", "done", "--by", "ops"])
    main(["--home", str(home), "relay", "run", "--once"])
    types = [m["value"]["type"] for m in read_published(home / "published.jsonl")]
    assert types == ["AgentUpdatesFrozen", "AgentUpdatesUnfrozen"]
