"""What a projection is: a name, a version, its collections, and `apply(event, view)`.

`apply` is a small function from one event to document changes; it reads and
writes documents through a `View`, an identity map over one page of events that
the runner commits in a single transaction with the new position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from projections.read_model_store import Changes, Collection, ReadModelStore


class View:
    """The documents one page of events reads and writes, loaded at most once each."""

    def __init__(self, store: ReadModelStore, projection: str, generation: int):
        self._store = store
        self._projection = projection
        self._generation = generation
        self._docs: defaultdict[str, dict[str, dict | None]] = defaultdict(dict)
        self._changed: defaultdict[str, set[str]] = defaultdict(set)
        self._read: set[str] = set()  # collections whose documents were looked up in the store

    def prefetch(self, collection: str, keys: Iterable[str]) -> None:
        self._read.add(collection)
        docs = self._docs[collection]
        missing = [k for k in set(keys) if k not in docs]
        if missing:
            found = self._store.get_many(self._projection, self._generation, collection, missing)
            for key in missing:
                docs[key] = found.get(key)

    def get(self, collection: str, key: str) -> dict | None:
        docs = self._docs[collection]
        if key not in docs:
            self.prefetch(collection, [key])
        return docs[key]

    def put(self, collection: str, key: str, doc: dict) -> None:
        self._docs[collection][key] = doc
        self._changed[collection].add(key)

    def delete(self, collection: str, key: str) -> None:
        self._docs[collection][key] = None
        self._changed[collection].add(key)

    def changes(self) -> Changes:
        return {c: {k: self._docs[c][k] for k in keys} for c, keys in self._changed.items()}

    def committed(self) -> int:
        """After its changes are committed: starts afresh for the next batch, keeping the documents
        of the collections it looked up (which the next batch will likely read again; the others
        are only written). Returns how many documents it holds."""
        for collection in [c for c in self._docs if c not in self._read]:
            del self._docs[collection]
        self._changed.clear()
        return sum(len(docs) for docs in self._docs.values())


class Projection:
    name: ClassVar[str]
    version: ClassVar[int]
    collections: ClassVar[tuple[Collection, ...]]
    # The event topics this projection reads; others are not even decoded for it.
    topics: ClassVar[frozenset[str]]

    def prefetch(self, events: list[Any], view: View) -> None:
        """Optionally load, in one query per collection, the documents this page will touch."""

    def apply(self, event: Any, view: View) -> None:
        raise NotImplementedError
