"""Ownership is decided on fresh state inside the write: races between two writers, with real threads.

Each race is forced: a barrier holds the writers at the entry of `LearningService.process` until
all of them are there, so each one starts its write before the other's is saved, every time.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.bootstrap import Config, bootstrap
from adapters.files.jsonl_ingest import ingest_lines
from adapters.service.learning_service import LearningService
from domain.agent import Agent
from tests.conftest import feedback

AT = "2026-11-24T10:00:00Z"


@pytest.fixture
def held_at_process(monkeypatch):
    """`hold(n)`: the next n calls of LearningService.process wait for each other before going on."""
    original = LearningService.process
    state: dict = {"barrier": None}

    def process(self, items, *args, **kwargs):
        barrier = state["barrier"]
        if barrier is not None:
            try:
                barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass
        return original(self, items, *args, **kwargs)

    monkeypatch.setattr(LearningService, "process", process)

    def hold(parties: int) -> None:
        state["barrier"] = threading.Barrier(parties)

    def release() -> None:
        state["barrier"] = None

    hold.release = release
    return hold


def registration(agent_id: str, event_id: str, owner_id: str | None = None) -> dict:
    message = {"type": "agent_registered", "eventId": event_id, "agentId": agent_id, "occurredAt": AT}
    if owner_id is not None:
        message["ownerId"] = owner_id
    return message


def test_of_two_owners_registering_one_new_agent_at_once_one_wins_and_the_other_gets_409(api, held_at_process):
    for round_ in range(20):  # the interleaving is forced, but what each writer sees first is not
        agent_id = f"new-{round_}"
        held_at_process(2)
        with ThreadPoolExecutor(2) as pool:
            futures = {
                owner: pool.submit(
                    api.post, "/api/feedback", token, json=registration(agent_id, f"reg-{agent_id}-{owner}")
                )
                for owner, token in (("u-a", api.owner_a), ("u-b", api.owner_b))
            }
            responses = {owner: future.result() for owner, future in futures.items()}
        held_at_process.release()
        statuses = sorted(r.status_code for r in responses.values())
        assert statuses == [200, 409], {o: (r.status_code, r.text) for o, r in responses.items()}
        [winner] = [owner for owner, r in responses.items() if r.status_code == 200]
        [loser] = [r for r in responses.values() if r.status_code == 409]
        assert "already registered by another owner" in loser.json()["detail"]
        shown = api.get(f"/api/agents/{agent_id}", api.admin).json()
        assert shown["ownerId"] == winner


def test_a_former_owner_cannot_write_once_another_writer_hands_the_agent_on(api, home, held_at_process):
    """The API's systems have the agent cached with owner u-a; a second process (here another System on the
    same store, as the Kafka consumer would be) hands it to u-b. u-a's next feedback is refused."""
    assert api.post("/api/feedback", api.owner_a, json=feedback("f-0", "a-1", AT)).status_code == 200

    other_writer = bootstrap(Config(home=home))
    try:
        handover = json.dumps(registration("a-1", "handover", owner_id="u-b")).encode()
        held_at_process(2)
        with ThreadPoolExecutor(2) as pool:
            late = pool.submit(api.post, "/api/feedback", api.owner_a, json=feedback("f-1", "a-1", AT))
            handed = pool.submit(ingest_lines, other_writer.service, [handover], "kafka")
            assert handed.result().outcome.recorded == 1
            late_response = late.result()
        held_at_process.release()

        after = api.post("/api/feedback", api.owner_a, json=feedback("f-2", "a-1", AT))
        assert after.status_code == 404, after.text

        history = other_writer.service.history("a-1")
        handed_at = next(e.originator_version for e in history if isinstance(e, Agent.RegistrationAmended))
        recorded = {e.event_id: e.originator_version for e in history if isinstance(e, Agent.FeedbackRecorded)}
        assert "f-2" not in recorded
        if late_response.status_code == 200:  # it won the race: recorded before the handover
            assert recorded["f-1"] < handed_at
        else:
            assert late_response.status_code == 404 and "f-1" not in recorded
        assert api.post("/api/feedback", api.owner_b, json=feedback("f-3", "a-1", AT)).status_code == 200
    finally:
        other_writer.close()


def test_a_registration_that_leaves_out_the_owner_keeps_it(api):
    response = api.post("/api/feedback", api.admin, json=registration("a-1", "amend-1"))
    assert response.status_code == 200, response.text
    assert api.get("/api/agents/a-1", api.owner_a).json()["ownerId"] == "u-a"


def test_a_former_owner_cannot_configure_once_the_agent_is_handed_on_between_check_and_write(api, home, monkeypatch):
    """u-a's PUT has passed its read-model check when another writer hands the agent to u-b; the write
    itself must refuse it."""
    checked, handed_on = threading.Event(), threading.Event()
    original = LearningService.configure

    def configure_after_the_handover(self, command, *args, **kwargs):
        checked.set()  # the route's own check is behind it
        assert handed_on.wait(timeout=10)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(LearningService, "configure", configure_after_the_handover)
    other_writer = bootstrap(Config(home=home))
    try:
        with ThreadPoolExecutor(1) as pool:
            late = pool.submit(api.put, "/api/agents/a-1/learning-config", api.owner_a, json={"profile": "fast"})
            assert checked.wait(timeout=10)
            handover = json.dumps(registration("a-1", "handover", owner_id="u-b")).encode()
            assert ingest_lines(other_writer.service, [handover], "kafka").outcome.recorded == 1
            handed_on.set()
            response = late.result()
        assert response.status_code == 404, response.text
        assert not [e for e in other_writer.service.history("a-1") if isinstance(e, Agent.LearningConfigured)]
    finally:
        other_writer.close()
