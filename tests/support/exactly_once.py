"""The checks every crash test ends with: each message recorded exactly once, policy versions
without gaps, and read models equal to a rebuild from the log."""

from __future__ import annotations

from collections import Counter, defaultdict

from adapters.bootstrap import System
from domain.agent import Agent
from domain.dead_letter import DeadLetter
from projections.catch_up_runner import all_projections


def logged_events(system: System) -> list:
    """Every event of the store, in the order of its log."""
    recorder, mapper = system.service.recorder, system.service.mapper
    return [mapper.to_domain_event(n) for n in recorder.select_notifications(start=1, limit=10**9)]


def assert_recorded_exactly_once(events: list, ids: set[str], dead_letters: int | None = None) -> None:
    """Each eventId of `ids` recorded once and nothing else recorded; every agent's policy versions
    1, 2, 3 … in the log; `dead_letters` rejected messages, when given."""
    recorded = Counter(e.event_id for e in events if isinstance(e, (Agent.FeedbackRecorded, Agent.SessionEnded)))
    assert set(recorded) == ids, (len(set(recorded)), len(ids), sorted(ids - set(recorded))[:10])
    assert set(recorded.values()) == {1}, [i for i, n in recorded.items() if n > 1][:10]
    if dead_letters is not None:
        assert sum(isinstance(e, DeadLetter.MessageRejected) for e in events) == dead_letters
    versions: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if isinstance(e, Agent.PolicyRecalculated):
            versions[e.originator_id].append(e.policy_version)
    for agent, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), agent


def read_model_documents(system: System) -> dict[str, list]:
    """The live documents of every projection, in a stable order."""
    names = [c.name for p in all_projections() for c in p.collections]
    return {name: sorted(system.read_models.find(name), key=repr) for name in names}


def assert_read_models_equal_a_rebuild(system: System) -> dict[str, list]:
    """Catches up, then rebuilds every projection from the log and compares; returns the documents."""
    system.projections.catch_up()
    live = read_model_documents(system)
    system.projections.rebuild()
    assert read_model_documents(system) == live
    return live
