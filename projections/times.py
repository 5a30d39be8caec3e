"""Times as the read models write them, each converted once.

Several projections write the same event's time (the state, the policy history, the
relationships), each reading a whole page in turn; formatting is a hot cost of catching
up, so the last page's worth of conversions is remembered. Exact: equal datetimes are
the same instant, which `to_iso` writes the same way (in UTC).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import cast

from domain.timestamps import to_iso

iso = lru_cache(maxsize=1 << 15)(to_iso)


def utc_day(moment: datetime) -> str:
    """The UTC date of a moment, `YYYY-MM-DD`."""
    if moment.tzinfo is None:  # local time, as `astimezone` reads it
        return moment.astimezone(timezone.utc).date().isoformat()
    return cast(str, iso(moment))[:10]
