"""Input no check foresaw stops one message, never the batch; times are stored in UTC; an amendment keeps
what it leaves out; a reason never echoes a huge value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from adapters.files.jsonl_ingest import ingest_lines
from adapters.service.learning_service import Rejection
from domain.agent import Agent
from domain.commands import RecordFeedback
from projections.agent_learning_state import STATE
from projections.dead_letters import DEAD_LETTERS
from tests.conftest import feedback

AT = "2026-11-24T10:00:00Z"


def lines(*messages: dict) -> list[bytes]:
    return [json.dumps(m).encode() for m in messages]


def test_a_time_with_an_offset_is_stored_in_utc(system):
    ingest_lines(system.service, lines(feedback("f1", "a", "2026-11-24T12:00:00+02:00")), "test")
    recorded = [e for e in system.service.history("a") if isinstance(e, Agent.FeedbackRecorded)]
    assert recorded[0].occurred_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert recorded[0].occurred_at.utcoffset().total_seconds() == 0
    system.projections.catch_up()
    assert system.read_models.get(STATE, "a")["lastActivityAt"] == "2026-11-24T10:00:00Z"


def test_after_times_at_the_ends_of_the_calendar_every_read_model_still_catches_up(system):
    extreme = [
        feedback("x1", "a", "0001-01-01T00:00:00+14:00"),
        feedback("x2", "a", "9999-12-31T23:00:00-14:00"),
        feedback("g1", "a", AT),
    ]
    outcome = ingest_lines(system.service, lines(*extreme), "test").outcome
    assert (outcome.recorded, len(outcome.rejected)) == (1, 2)
    assert system.projections.catch_up() > 0
    assert [s.state for s in system.projections.status() if s.state != "live"] == []
    assert system.read_models.get(STATE, "a")["feedbackCount"] == 1


def test_a_command_that_fails_unforeseen_is_dead_lettered_alone(system):
    """A command the boundary would never build (a rating of text) stands for any value no check foresaw."""
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    good = [RecordFeedback(f"g{i}", "a", at, kind="thumbs_up") for i in range(3)]
    poison = RecordFeedback("p1", "a", at, kind="rating", value="five")
    rejected_at_the_boundary = Rejection("test", "line 9", b"{", "not valid JSON")

    outcome = system.service.process([good[0], poison, good[1], rejected_at_the_boundary, good[2]])

    assert outcome.recorded == 3
    assert [r.position for r in outcome.rejected] == ["p1", "line 9"]
    assert "could not be processed (TypeError" in outcome.rejected[0].reason
    system.projections.catch_up()
    assert system.read_models.get(STATE, "a")["feedbackCount"] == 3
    assert sorted(d["position"] for d in system.read_models.find(DEAD_LETTERS)) == ["line 9", "p1"]
    # Processing it again records nothing twice.
    again = system.service.process([good[0], poison, good[1], good[2]])
    assert (again.recorded, again.duplicates) == (0, 3)


def registration(event_id: str, **fields) -> dict:
    return {"type": "agent_registered", "eventId": event_id, "agentId": "a", "occurredAt": AT, **fields}


def test_an_amendment_keeps_the_owner_and_archetype_it_leaves_out(system):
    ingest_lines(system.service, lines(registration("r1", archetype="mentor", ownerId="owner-1")), "test")
    ingest_lines(system.service, lines(registration("r2", learningConfig={"profile": "fast"})), "test")
    system.projections.catch_up()
    doc = system.read_models.get(STATE, "a")
    assert (doc["ownerId"], doc["archetype"]) == ("owner-1", "mentor")
    assert doc["learningConfig"]["profile"] == "fast"

    ingest_lines(system.service, lines(registration("r3", ownerId="owner-2")), "test")
    system.projections.catch_up()
    doc = system.read_models.get(STATE, "a")
    assert (doc["ownerId"], doc["archetype"]) == ("owner-2", "mentor")


def test_a_new_agent_registered_without_an_archetype_gets_the_default(system):
    ingest_lines(system.service, lines(registration("r1")), "test")
    system.projections.catch_up()
    assert system.read_models.get(STATE, "a")["archetype"] == "default"


def test_a_reason_quotes_at_most_a_few_hundred_characters_of_a_huge_value(system):
    outcome = ingest_lines(system.service, lines(feedback("f1", "a", AT, kind="k" * 1_000_000)), "test").outcome
    [rejection] = outcome.rejected
    assert "unknown feedback kind 'kkkk" in rejection.reason
    assert len(rejection.reason) < 600
