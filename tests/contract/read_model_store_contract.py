"""What every read-model store must do, as one abstract test case; each backend is a small subclass.

A subclass implements `make_store()`: a new store (a new connection) on the
test's own, initially empty, backing data. Calling it twice gives two
connections to the same data, as two processes would have.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import pytest

from projections.read_model_store import (
    BUILDING,
    LIVE,
    Checkpoint,
    CheckpointMoved,
    Collection,
    Condition,
    ReadModelStore,
)

AGENTS = "agents"
SCORES = "scores"
PROJECTION = "agent_view"
COLLECTIONS = (Collection(AGENTS, indexes=(("ownerId",), ("score", "at"))), Collection(SCORES))

# Every kind of value a projection writes: exact types matter (1.0 is not 1, True is not 1).
ROUND_TRIP = {
    "agentId": "agent-1",
    "text": 'Grüße, 日本 — "quoted" \\ and\nnewline',
    "empty": "",
    "count": 3,
    "negative": -7,
    "big": 2**53 + 1,
    "zero": 0,
    "ratio": 0.1,
    "whole": 1.0,
    "tiny": 1e-300,
    "negativeFloat": -2.5,
    "yes": True,
    "no": False,
    "nothing": None,
    "list": [1, 2.5, "three", None, True, {"four": 4}],
    "emptyList": [],
    "emptyDict": {},
    "nested": {"traits": {"warmth": 0.61, "brevity": -0.2}, "metrics": {"reward": None, "deep": {"x": [[]]}}},
}

# Documents for the query tests: each op is checked against these.
FIND_DOCS = {
    "a": {"name": "a", "score": 1, "at": 30.0, "ownerId": "ann", "frozen": False, "meta": {"rank": 3}},
    "b": {"name": "b", "score": 2, "at": 20.0, "ownerId": "bob", "frozen": True, "meta": {"rank": 1}},
    "c": {"name": "c", "score": 2, "at": 10.5, "ownerId": None, "frozen": False, "meta": {"rank": 2}},
    "d": {"name": "d", "score": 3.5, "at": 40.0, "ownerId": "ann", "frozen": False, "meta": {}},
    "e": {"name": "e", "at": 50.0, "frozen": False},  # no score, no ownerId, no meta
}


def typed(value: Any) -> Any:
    """`value` with the type of every scalar made explicit, so `==` tells 1, 1.0 and True apart."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return type(value).__name__, value


def names(docs: list[dict]) -> list[str]:
    return [d["name"] for d in docs]


class ReadModelStoreContract(ABC):
    @abstractmethod
    def make_store(self) -> ReadModelStore:
        """A new store on this test's backing data (empty when the test starts)."""

    @abstractmethod
    def is_stored(self, collection: str, generation: int) -> bool:
        """Whether the backend still holds a table/collection for this generation of `collection`."""

    @pytest.fixture
    def store(self) -> Iterator[ReadModelStore]:
        store = self.make_store()
        yield store
        store.close()

    @pytest.fixture
    def other_store(self, store: ReadModelStore) -> Iterator[ReadModelStore]:
        """A second connection to the same data, as another process would have."""
        other = self.make_store()
        yield other
        other.close()

    @staticmethod
    def live(
        store: ReadModelStore, docs: dict[str, dict | None], collection: str = AGENTS, projection: str = PROJECTION
    ) -> Checkpoint:
        """A live generation of `projection` holding `docs`, committed at position 1."""
        started = store.start_generation(projection, 1, COLLECTIONS)
        store.commit(projection, started.generation, {collection: docs}, position=1, expected_position=0)
        store.activate(projection, started.generation)
        return Checkpoint(projection, started.generation, 1, 1, LIVE)

    def test_two_processes_that_both_start_a_first_generation_end_with_one_live(self, store: ReadModelStore) -> None:
        """Both saw no generation and started one (as `prepare` does); the first to activate wins and
        removes the other, whose activation then changes nothing."""
        other = self.make_store()
        try:
            mine = store.start_generation(PROJECTION, 1, COLLECTIONS)
            theirs = other.start_generation(PROJECTION, 1, COLLECTIONS)
            store.commit(PROJECTION, mine.generation, {AGENTS: {"a": {"who": "mine"}}}, 1, 0)
            store.activate(PROJECTION, mine.generation)
            other.activate(PROJECTION, theirs.generation)  # gone already: left alone
            [live] = [c for c in other.checkpoints() if c.projection == PROJECTION]
            assert (live.generation, live.state) == (mine.generation, LIVE)
            assert other.get(AGENTS, "a") == {"who": "mine"}
        finally:
            other.close()

    # ------------------------------------------------------------ an empty store

    def test_an_empty_store_has_no_checkpoints_and_no_documents(self, store: ReadModelStore) -> None:
        assert store.checkpoints() == []
        assert store.live_checkpoint(PROJECTION) is None
        assert store.get(AGENTS, "agent-1") is None
        assert store.find(AGENTS) == []

    # ------------------------------------------------------------- checkpoints

    def test_a_new_generation_is_building_at_position_zero(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 4, COLLECTIONS)

        assert started == Checkpoint(PROJECTION, 1, 4, 0, BUILDING)
        assert store.checkpoints() == [started]
        assert self.is_stored(AGENTS, 1) and self.is_stored(SCORES, 1)
        assert store.live_checkpoint(PROJECTION) is None

    def test_a_commit_moves_the_checkpoint_to_its_position(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)

        store.commit(PROJECTION, started.generation, {}, position=7, expected_position=0)
        store.commit(PROJECTION, started.generation, {AGENTS: {"x": {"n": 1}}}, position=12, expected_position=7)

        assert store.checkpoints() == [Checkpoint(PROJECTION, 1, 1, 12, BUILDING)]

    def test_each_projection_keeps_its_own_checkpoint(self, store: ReadModelStore) -> None:
        store.start_generation("first", 1, [Collection("first_docs")])
        store.start_generation("second", 2, [Collection("second_docs")])

        store.commit("second", 1, {"second_docs": {"k": {"v": 1}}}, position=9, expected_position=0)
        store.activate("first", 1)

        assert sorted(store.checkpoints(), key=lambda c: c.projection) == [
            Checkpoint("first", 1, 1, 0, LIVE),
            Checkpoint("second", 1, 2, 9, BUILDING),
        ]
        assert store.live_checkpoint("first") == Checkpoint("first", 1, 1, 0, LIVE)

    # ----------------------------------------------------------------- commits

    def test_a_commit_writes_its_documents(self, store: ReadModelStore) -> None:
        self.live(store, {"agent-1": {"name": "one"}, "agent-2": {"name": "two"}})

        assert store.get(AGENTS, "agent-1") == {"name": "one"}
        assert store.get(AGENTS, "agent-2") == {"name": "two"}
        assert store.get(AGENTS, "agent-3") is None

    def test_documents_come_back_exactly_as_written(self, store: ReadModelStore) -> None:
        checkpoint = self.live(store, {"agent-1": ROUND_TRIP})

        assert typed(store.get(AGENTS, "agent-1")) == typed(ROUND_TRIP)
        assert typed(store.find(AGENTS)) == [typed(ROUND_TRIP)]
        assert typed(store.get_many(PROJECTION, checkpoint.generation, AGENTS, ["agent-1"])) == {
            "agent-1": typed(ROUND_TRIP)
        }
        assert list(store.get(AGENTS, "agent-1")) == list(ROUND_TRIP)  # field order too

    def test_a_commit_replaces_the_whole_document(self, store: ReadModelStore) -> None:
        checkpoint = self.live(store, {"agent-1": {"name": "one", "extra": True}})

        store.commit(
            PROJECTION, checkpoint.generation, {AGENTS: {"agent-1": {"name": "uno"}}}, position=2, expected_position=1
        )

        assert store.get(AGENTS, "agent-1") == {"name": "uno"}

    def test_a_none_document_deletes_it(self, store: ReadModelStore) -> None:
        checkpoint = self.live(store, {"agent-1": {"name": "one"}, "agent-2": {"name": "two"}})

        store.commit(
            PROJECTION,
            checkpoint.generation,
            {AGENTS: {"agent-1": None, "never-there": None}},
            position=2,
            expected_position=1,
        )

        assert store.get(AGENTS, "agent-1") is None
        assert store.find(AGENTS) == [{"name": "two"}]

    def test_one_commit_writes_several_collections(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)

        store.commit(
            PROJECTION,
            started.generation,
            {AGENTS: {"a": {"n": 1}}, SCORES: {"a": {"s": 2}}},
            position=3,
            expected_position=0,
        )
        store.activate(PROJECTION, started.generation)

        assert store.get(AGENTS, "a") == {"n": 1}
        assert store.get(SCORES, "a") == {"s": 2}

    def test_a_commit_whose_checkpoint_moved_writes_nothing(self, store: ReadModelStore) -> None:
        checkpoint = self.live(store, {"agent-1": {"name": "one"}})
        store.commit(PROJECTION, checkpoint.generation, {}, position=5, expected_position=1)

        with pytest.raises(CheckpointMoved):
            store.commit(
                PROJECTION,
                checkpoint.generation,
                {AGENTS: {"agent-1": None, "agent-2": {"name": "two"}}, SCORES: {"s": {"n": 1}}},
                position=9,
                expected_position=1,
            )

        assert store.get(AGENTS, "agent-1") == {"name": "one"}
        assert store.get(AGENTS, "agent-2") is None
        assert store.get(SCORES, "s") is None
        assert store.live_checkpoint(PROJECTION).position == 5

    def test_a_commit_to_a_generation_that_does_not_exist_is_refused(self, store: ReadModelStore) -> None:
        self.live(store, {})

        with pytest.raises(CheckpointMoved):
            store.commit(PROJECTION, 99, {AGENTS: {"a": {"n": 1}}}, position=2, expected_position=0)

    def test_of_two_runners_committing_from_the_same_position_exactly_one_succeeds(
        self, store: ReadModelStore, other_store: ReadModelStore
    ) -> None:
        checkpoint = self.live(store, {})
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def run(runner: str, on: ReadModelStore) -> None:
            start.wait()
            try:
                on.commit(
                    PROJECTION,
                    checkpoint.generation,
                    {AGENTS: {"doc": {"by": runner}}},
                    position=2,
                    expected_position=1,
                )
                outcomes[runner] = "committed"
            except CheckpointMoved:
                outcomes[runner] = "moved"
            except Exception as error:  # noqa: BLE001 - shown in the assertion below
                outcomes[runner] = repr(error)

        threads = [
            threading.Thread(target=run, args=(name, s)) for name, s in (("first", store), ("second", other_store))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert sorted(outcomes.values()) == ["committed", "moved"]
        winner = next(runner for runner, outcome in outcomes.items() if outcome == "committed")
        assert store.get(AGENTS, "doc") == {"by": winner}
        assert store.live_checkpoint(PROJECTION).position == 2

    def test_another_connection_sees_what_was_committed(
        self, store: ReadModelStore, other_store: ReadModelStore
    ) -> None:
        checkpoint = self.live(store, {"agent-1": {"name": "one"}})

        assert other_store.get(AGENTS, "agent-1") == {"name": "one"}
        assert other_store.live_checkpoint(PROJECTION) == checkpoint

    # ---------------------------------------------------------------- get_many

    def test_get_many_returns_the_documents_found_in_the_given_generation(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)
        store.commit(
            PROJECTION,
            started.generation,
            {AGENTS: {"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}}},
            position=1,
            expected_position=0,
        )

        # A building generation is readable by its projector, not by readers.
        assert store.get_many(PROJECTION, started.generation, AGENTS, ["a", "c", "missing"]) == {
            "a": {"n": 1},
            "c": {"n": 3},
        }
        assert store.get_many(PROJECTION, started.generation, AGENTS, []) == {}
        assert store.get_many(PROJECTION, started.generation, SCORES, ["a"]) == {}

    def test_get_many_reads_any_number_of_keys(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)
        docs = {f"agent-{n}": {"n": n} for n in range(2500)}
        store.commit(PROJECTION, started.generation, {AGENTS: docs}, position=1, expected_position=0)

        assert store.get_many(PROJECTION, started.generation, AGENTS, [*docs, "missing"]) == docs

    # -------------------------------------------------------------------- find

    @pytest.fixture
    def queried(self, store: ReadModelStore) -> ReadModelStore:
        self.live(store, FIND_DOCS)
        return store

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            (Condition("score", "eq", 2), ["b", "c"]),
            (Condition("score", "ne", 2), ["a", "d"]),  # as in SQL, a missing field is not "not 2"
            (Condition("score", "gt", 2), ["d"]),
            (Condition("score", "gte", 2), ["b", "c", "d"]),
            (Condition("score", "lt", 2), ["a"]),
            (Condition("score", "lte", 2), ["a", "b", "c"]),
            (Condition("score", "gt", 1.5), ["b", "c", "d"]),
            (Condition("at", "lte", 20), ["b", "c"]),
            (Condition("ownerId", "eq", "ann"), ["a", "d"]),
            (Condition("ownerId", "ne", "ann"), ["b"]),
            (Condition("ownerId", "gt", "ann"), ["b"]),
            (Condition("ownerId", "eq", None), ["c", "e"]),  # null or missing
            (Condition("ownerId", "ne", None), ["a", "b", "d"]),
            (Condition("frozen", "eq", True), ["b"]),
            (Condition("frozen", "eq", False), ["a", "c", "d", "e"]),
            (Condition("meta.rank", "gte", 2), ["a", "c"]),
            (Condition("meta.rank", "eq", None), ["d", "e"]),
            (Condition("name", "eq", "nobody"), []),
        ],
        ids=lambda v: f"{v.field}-{v.op}-{v.value}" if isinstance(v, Condition) else None,
    )
    def test_find_matches_each_condition(
        self, queried: ReadModelStore, condition: Condition, expected: list[str]
    ) -> None:
        assert sorted(names(queried.find(AGENTS, [condition]))) == expected

    def test_find_matches_every_condition_together(self, queried: ReadModelStore) -> None:
        found = queried.find(
            AGENTS,
            [
                Condition("score", "gte", 1),
                Condition("at", "lt", 35),
                Condition("frozen", "eq", False),
            ],
        )

        assert sorted(names(found)) == ["a", "c"]

    def test_find_without_conditions_returns_every_document_as_written(self, queried: ReadModelStore) -> None:
        assert sorted(queried.find(AGENTS), key=lambda d: d["name"]) == list(FIND_DOCS.values())

    def test_find_orders_ascending_by_the_given_fields(self, queried: ReadModelStore) -> None:
        assert names(queried.find(AGENTS, order_by=["at"])) == ["c", "b", "a", "d", "e"]
        assert names(queried.find(AGENTS, [Condition("score", "ne", None)], order_by=["score", "at"])) == [
            "a",
            "c",
            "b",
            "d",
        ]
        assert names(queried.find(AGENTS, [Condition("score", "gte", 2)], order_by=["meta.rank"])) == [
            "d",
            "b",
            "c",  # a missing field sorts first, as null does
        ]

    def test_find_returns_at_most_limit_documents(self, queried: ReadModelStore) -> None:
        assert names(queried.find(AGENTS, order_by=["at"], limit=2)) == ["c", "b"]
        assert names(queried.find(AGENTS, [Condition("ownerId", "eq", "ann")], order_by=["at"], limit=1)) == ["a"]
        assert len(queried.find(AGENTS, limit=100)) == len(FIND_DOCS)
        assert queried.find(AGENTS, limit=0) == []

    def test_find_refuses_a_field_that_is_not_a_field_name(self, queried: ReadModelStore) -> None:
        with pytest.raises(ValueError, match="field"):
            queried.find(AGENTS, [Condition("score') OR 1=1 --", "eq", 1)])

    def test_find_in_a_collection_without_a_live_generation_finds_nothing(self, store: ReadModelStore) -> None:
        started = store.start_generation(PROJECTION, 1, COLLECTIONS)
        store.commit(PROJECTION, started.generation, {AGENTS: {"a": {"n": 1}}}, position=1, expected_position=0)

        assert store.find(AGENTS) == []
        assert store.get(AGENTS, "a") is None
        assert store.find("never_created") == []

    # -------------------------------------------------------------- blue/green

    def test_readers_keep_the_live_generation_while_a_new_one_builds(self, store: ReadModelStore) -> None:
        old = self.live(store, {"agent-1": {"name": "old"}, "agent-2": {"name": "old only"}})

        new = store.start_generation(PROJECTION, 2, COLLECTIONS)
        store.commit(
            PROJECTION, new.generation, {AGENTS: {"agent-1": {"name": "new"}}}, position=1, expected_position=0
        )

        assert new == Checkpoint(PROJECTION, old.generation + 1, 2, 0, BUILDING)
        assert store.get(AGENTS, "agent-1") == {"name": "old"}
        assert sorted(names(store.find(AGENTS))) == ["old", "old only"]
        assert store.live_checkpoint(PROJECTION) == old
        assert store.checkpoints() == [old, Checkpoint(PROJECTION, new.generation, 2, 1, BUILDING)]
        # The new generation starts empty: nothing of the old one is copied into it.
        assert store.get_many(PROJECTION, new.generation, AGENTS, ["agent-1", "agent-2"]) == {
            "agent-1": {"name": "new"}
        }

    def test_activating_a_generation_switches_readers_and_drops_the_old_one(
        self, store: ReadModelStore, other_store: ReadModelStore
    ) -> None:
        old = self.live(store, {"agent-1": {"name": "old"}, "agent-2": {"name": "old only"}})
        new = store.start_generation(PROJECTION, 2, COLLECTIONS)
        store.commit(
            PROJECTION,
            new.generation,
            {AGENTS: {"agent-1": {"name": "new"}}, SCORES: {"s": {"n": 1}}},
            position=3,
            expected_position=0,
        )

        store.activate(PROJECTION, new.generation)

        assert store.get(AGENTS, "agent-1") == {"name": "new"}
        assert store.get(AGENTS, "agent-2") is None
        assert store.find(AGENTS) == [{"name": "new"}]
        assert other_store.get(SCORES, "s") == {"n": 1}
        assert store.checkpoints() == [Checkpoint(PROJECTION, new.generation, 2, 3, LIVE)]
        assert not self.is_stored(AGENTS, old.generation) and not self.is_stored(SCORES, old.generation)
        assert self.is_stored(AGENTS, new.generation) and self.is_stored(SCORES, new.generation)
        with pytest.raises(CheckpointMoved):  # the old generation's runner has nothing left to write to
            store.commit(PROJECTION, old.generation, {AGENTS: {"agent-3": {}}}, position=2, expected_position=1)

    def test_activating_drops_every_other_generation_also_one_still_building(self, store: ReadModelStore) -> None:
        self.live(store, {"a": {"g": 1}})
        second = store.start_generation(PROJECTION, 2, COLLECTIONS)
        third = store.start_generation(PROJECTION, 3, COLLECTIONS)
        store.commit(PROJECTION, second.generation, {AGENTS: {"a": {"g": 2}}}, position=1, expected_position=0)
        store.commit(PROJECTION, third.generation, {AGENTS: {"a": {"g": 3}}}, position=1, expected_position=0)

        store.activate(PROJECTION, third.generation)

        assert store.get(AGENTS, "a") == {"g": 3}
        assert store.checkpoints() == [Checkpoint(PROJECTION, third.generation, 3, 1, LIVE)]
        assert [g for g in range(1, third.generation + 1) if self.is_stored(AGENTS, g)] == [third.generation]

    def test_a_generation_started_after_an_activation_starts_empty(self, store: ReadModelStore) -> None:
        first = self.live(store, {"a": {"g": 1}})
        second = store.start_generation(PROJECTION, 2, COLLECTIONS)
        store.activate(PROJECTION, second.generation)

        third = store.start_generation(PROJECTION, 3, COLLECTIONS)

        assert third.generation > second.generation > first.generation
        assert store.get_many(PROJECTION, third.generation, AGENTS, ["a"]) == {}

    def test_activating_one_projection_leaves_the_others_alone(self, store: ReadModelStore) -> None:
        self.live(store, {"a": {"n": 1}}, collection=AGENTS, projection=PROJECTION)
        other = store.start_generation("other", 1, [Collection("other_docs")])
        store.commit("other", other.generation, {"other_docs": {"o": {"n": 2}}}, position=4, expected_position=0)
        store.activate("other", other.generation)

        again = store.start_generation("other", 1, [Collection("other_docs")])
        store.activate("other", again.generation)

        assert store.get(AGENTS, "a") == {"n": 1}
        assert store.live_checkpoint(PROJECTION) == Checkpoint(PROJECTION, 1, 1, 1, LIVE)
        assert store.get("other_docs", "o") is None
