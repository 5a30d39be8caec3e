"""Times on the wire: ISO-8601 UTC with a `Z`; a time without a zone is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.timestamps import parse_iso, to_iso


def test_a_time_is_written_in_utc_with_a_z():
    assert to_iso(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == "2026-11-24T10:00:00Z"


def test_a_time_in_another_zone_is_converted_to_utc():
    plus_two = timezone(timedelta(hours=2))
    assert to_iso(datetime(2026, 11, 24, 12, 0, tzinfo=plus_two)) == "2026-11-24T10:00:00Z"


def test_microseconds_are_kept_when_present():
    assert to_iso(datetime(2026, 11, 24, 10, 0, 0, 1500, tzinfo=UTC)) == "2026-11-24T10:00:00.001500Z"


def test_no_time_is_written_as_none():
    assert to_iso(None) is None


@pytest.mark.parametrize("text", ["2026-11-24T10:00:00Z", "2026-11-24T10:00:00z", "2026-11-24T11:00:00+01:00"])
def test_a_time_with_a_zone_is_parsed_to_the_same_instant(text):
    assert parse_iso(text) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_time_without_a_zone_is_refused_with_a_suggestion():
    with pytest.raises(ValueError, match=r"has no zone; add one, e.g. 2026-11-24T10:00:00Z"):
        parse_iso("2026-11-24T10:00:00")


def test_writing_then_parsing_gives_back_the_same_instant():
    moment = datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_iso(to_iso(moment)) == moment


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(0), "GMT"), timezone(timedelta(hours=-5))])
@pytest.mark.parametrize("microsecond", [0, 792000])
def test_the_same_instant_is_written_the_same_in_any_zone(zone, microsecond):
    instant = datetime(2026, 1, 5, 8, 9, 36, microsecond, tzinfo=UTC)
    expected = "2026-01-05T08:09:36" + (".792000" if microsecond else "") + "Z"
    assert to_iso(instant.astimezone(zone)) == expected
    assert to_iso(datetime.fromisoformat(instant.astimezone(zone).isoformat())) == expected
