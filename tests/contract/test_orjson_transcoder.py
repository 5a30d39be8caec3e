"""The orjson transcoder writes and reads the library's own stored format."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from adapters.eventstore.transcoder import OrjsonTranscoder

STATE = {
    "timestamp": datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc),
    "traits": {"empathy": 1.0},
    "nested": {
        "list": [1, {"at": datetime(2026, 11, 24, 10, 1, 5, 17, tzinfo=timezone.utc)}],
        "amount": Decimal("1.5"),
    },
    "empty": {},
    "none": None,
}


def transcoders():
    ours, library = OrjsonTranscoder(), JSONTranscoder()
    for transcoder in (ours, library):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    return ours, library


def test_it_reads_back_what_it_writes():
    ours, _ = transcoders()
    assert ours.decode(ours.encode(STATE)) == STATE


def test_the_library_reads_what_it_writes_and_it_reads_what_the_library_wrote():
    ours, library = transcoders()
    assert library.decode(ours.encode(STATE)) == STATE
    assert ours.decode(library.encode(STATE)) == STATE


def test_an_unregistered_type_is_refused_with_the_library_error():
    ours, _ = transcoders()
    with pytest.raises(TranscodingNotRegisteredError):
        ours.encode({"x": object()})


@pytest.mark.parametrize(
    "state",
    [
        # only top-level envelopes (the usual event): the fast path
        {
            "occurred_at": datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc),
            "below_since": None,
            "traits": {"empathy": 0.5},
            "caps": [1, 2],
        },
        # text that holds the envelope's key, quotes and all: counted, so the general walk runs
        {
            "at": datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc),
            "prompt": '"_type_": "datetime_iso", "_data_"',
            "response": '"_type_',
        },
        # user data with a `_type_` key that is no envelope
        {"at": datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc), "traits": {"_type_": "x", "weight": 1.0, "more": 2}},
        # an envelope at the top and one deeper down
        {
            "at": datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc),
            "metrics": {"at": datetime(2026, 11, 24, 10, 1, tzinfo=timezone.utc)},
        },
        # no envelope at all
        {"kind": "thumbs_up", "value": None},
    ],
)
def test_every_shape_of_event_state_reads_back_the_same_as_the_library_reads_it(state):
    ours, library = transcoders()
    for written in (ours.encode(state), library.encode(state)):
        assert ours.decode(written) == library.decode(written) == state
