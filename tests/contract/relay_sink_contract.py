"""What every relay sink must do, as one abstract test case; each sink is a small subclass.

A subclass implements `make_sink()`: a new sink instance on the test's own, initially empty,
destination (calling it again is a restart), and `published()`: what the sink has published
so far, as a consumer of it sees it, in order within each key.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from attrs import frozen

from adapters.bootstrap import Config, bootstrap
from adapters.messages.outbound import (
    FEEDBACK_DLQ,
    JSON,
    LEARNING_UPDATES,
    OutboundMessage,
    stable_event_id,
)
from adapters.service.learning_service import Rejection
from adapters.service.outbox_relay import RelaySink
from domain.agent import Agent, agent_id_of
from domain.commands import RecordFeedback, RegisterAgent

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CONTRACT_HEADERS = {"event-id", "event-type", "content-type"}


@frozen
class Published:
    topic: str  # the contract's (logical) name
    key: str
    headers: dict[str, str]
    value: bytes


def update(position: int, agent_id: str = "a-1", version: int = 1) -> OutboundMessage:
    """An AgentLearningUpdated-shaped message from notification `position`."""
    event_id = f"agent:{agent_id}:{position}"
    body = {"type": "AgentLearningUpdated", "eventId": event_id, "agentId": agent_id, "version": version}
    return OutboundMessage(
        topic=LEARNING_UPDATES,
        key=agent_id,
        headers={"event-id": event_id, "event-type": "AgentLearningUpdated", "content-type": JSON},
        value=json.dumps(body, separators=(",", ":")).encode(),
        position=position,
    )


def as_published(message: OutboundMessage) -> Published:
    return Published(message.topic, message.key, dict(message.headers), message.value)


def by_key(messages: list[Published]) -> dict[str, list[str]]:
    """The event ids of each key, in the order they arrived."""
    keyed: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        keyed[message.key].append(message.headers["event-id"])
    return dict(keyed)


def feedback_for(agents: int, rounds: int, start: int = 0) -> list[RecordFeedback]:
    """Strong signals (each recalculates at once), alternating good and bad."""
    return [
        RecordFeedback(
            f"fb-{n}",
            f"agent-{n % agents}",
            T0 + timedelta(seconds=n),
            kind="thumbs_down" if n % 2 else "draft_approved",
            traits={"empathy": 1.0},
            action="answer",
        )
        for n in range(start, start + agents * rounds)
    ]


class RelaySinkContract(ABC):
    @abstractmethod
    def make_sink(self) -> RelaySink:
        """A new sink on this test's destination; a second call is a restart of the relay."""

    @abstractmethod
    def published(self) -> list[Published]:
        """Everything published to this test's destination, in order within each key."""

    @pytest.fixture(autouse=True)
    def _close_sinks(self) -> Iterator[None]:
        self._sinks: list[RelaySink] = []
        yield
        for sink in self._sinks:
            sink.close()

    def sink(self) -> RelaySink:
        made = self.make_sink()
        self._sinks.append(made)
        return made

    # ------------------------------------------------------------------ position

    def test_a_new_sink_starts_at_position_zero(self) -> None:
        assert self.sink().position() == 0
        assert self.published() == []

    def test_a_publish_moves_the_position(self) -> None:
        sink = self.sink()

        sink.publish([update(1), update(2)], 2)

        assert sink.position() == 2

    def test_a_new_sink_resumes_at_the_position_of_the_last_publish(self) -> None:
        first = self.sink()
        first.publish([update(1), update(2)], 2)
        first.publish([update(4)], 5)

        assert self.sink().position() == 5

    def test_an_empty_publish_moves_the_position_and_publishes_nothing(self) -> None:
        sink = self.sink()
        sink.publish([update(1)], 1)

        sink.publish([], 7)

        assert sink.position() == 7
        assert self.sink().position() == 7
        assert self.published() == [as_published(update(1))]

    def test_a_page_whose_last_events_publish_nothing_still_ends_at_its_position(self) -> None:
        self.sink().publish([update(3)], 9)

        assert self.sink().position() == 9

    # ------------------------------------------------------------------ messages

    def test_each_message_arrives_with_its_key_value_and_the_contract_headers(self) -> None:
        messages = [update(1, "a-1"), update(2, "a-2", version=4)]

        self.sink().publish(messages, 2)

        published = self.published()
        assert sorted(published, key=lambda m: m.key) == [as_published(m) for m in messages]
        for message in published:
            assert set(message.headers) >= CONTRACT_HEADERS
            assert message.key == json.loads(message.value)["agentId"]

    def test_a_message_that_is_not_json_arrives_byte_for_byte(self) -> None:
        raw = b"\x00{not json\xff"
        message = OutboundMessage(
            FEEDBACK_DLQ,
            "a-1",
            {"event-id": "dead-letter:1:1", "event-type": "MessageRejected", "rejection-reason": "not valid JSON"},
            raw,
            1,
        )

        self.sink().publish([message], 1)

        assert self.published() == [as_published(message)]

    def test_messages_keep_their_order_within_each_key(self) -> None:
        sink = self.sink()
        messages = [update(n, f"a-{n % 3}", version=n) for n in range(1, 31)]

        for page in range(0, 30, 7):
            chunk = messages[page : page + 7]
            sink.publish(chunk, chunk[-1].position)

        assert by_key(self.published()) == by_key([as_published(m) for m in messages])

    def test_publishing_goes_on_after_a_restart_without_repeating_anything(self) -> None:
        self.sink().publish([update(1), update(2)], 2)

        restarted = self.sink()
        restarted.publish([update(3)], restarted.position() + 1)

        assert [m.headers["event-id"] for m in self.published()] == ["agent:a-1:1", "agent:a-1:2", "agent:a-1:3"]

    # ------------------------------------------------------------ with the relay

    def test_the_relay_publishes_each_learning_update_exactly_once_across_restarts(self, tmp_path: Path) -> None:
        system = bootstrap(Config(home=tmp_path / "home"))
        try:
            system.service.process(
                [RegisterAgent("reg-0", "agent-0", T0, owner_id="ann"), *feedback_for(agents=4, rounds=3)]
            )
            system.service.process([Rejection("kafka", "agent-feedback:0:9", b"{not json", "not valid JSON")])
            relay = system.relay(self.sink())
            relay.page_size = 4
            relay.relay_once()
            relay.relay_once()  # the relay stops here, part of the way

            system.service.process(feedback_for(agents=4, rounds=2, start=100))
            restarted = system.relay(self.sink())
            restarted.page_size = 4
            restarted.relay_all()
            assert system.relay(self.sink()).relay_all() == 0  # and a third start finds nothing new

            expected: dict[str, list[str]] = defaultdict(list)
            for notification in system.service.recorder.select_notifications(start=1, limit=10**6):
                event = system.service.mapper.to_domain_event(notification)
                if isinstance(event, Agent.PolicyRecalculated):
                    expected[agent_id_of(event.originator_id)].append(stable_event_id(event))
            published = self.published()
            updates = [m for m in published if m.headers["event-type"] == "AgentLearningUpdated"]
            assert sum(map(len, expected.values())) == 4 * 5
            assert by_key(updates) == expected  # each once, in the order of each agent's history
            assert max(Counter(m.headers["event-id"] for m in published).values()) == 1
            assert [m.topic for m in published if m.headers["event-type"] == "MessageRejected"] == [FEEDBACK_DLQ]
            assert system.relay(self.sink()).lag() == 0
        finally:
            system.close()
