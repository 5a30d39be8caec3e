"""Times on the wire: ISO-8601 in UTC with a `Z`, as the contract shows (`2026-11-24T10:00:00Z`)."""

from __future__ import annotations

from datetime import datetime, timezone


def to_iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is timezone.utc:  # the usual case, and a hot one (projections): isoformat ends "+00:00"
        return moment.isoformat()[:-6] + "Z"
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    # isoformat() leaves out zero microseconds, as the contract's examples do.
    return moment.replace(tzinfo=None).isoformat() + "Z"


def parse_utc(text: str) -> datetime:
    """`parse_iso`, converted to UTC; ValueError for a time that has no UTC equivalent (year 1 at +14:00)."""
    moment = parse_iso(text)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"time {text!r} is outside the calendar once converted to UTC") from None


def parse_iso(text: str) -> datetime:
    """Parses an ISO-8601 time that names its zone; a time without a zone is ambiguous and refused."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone; add one, e.g. {text}Z")
    return moment
