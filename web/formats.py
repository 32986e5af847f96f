"""Value formats the HTTP edge shares (the API's ISO 8601 timestamps, the wall-clock times pages show)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bson.tz_util import utc as _BSON_UTC

_ZERO = timedelta(0)
#: the UTC zones the stores and the clock hand out (compared by identity: no utcoffset() call)
_UTC_ZONES = (timezone.utc, _BSON_UTC)


def iso(dt) -> str | None:
    """ISO 8601 in UTC with an explicit offset (``2026-11-01T10:00:00+00:00``)."""
    if dt is None:
        return None
    if type(dt) is datetime and (dt.tzinfo is _UTC_ZONES[0] or dt.tzinfo is _UTC_ZONES[1]):
        # what isoformat(timespec="seconds") writes for them, without its two Python-level
        # utcoffset() calls (a page of calls formats a hundred of these)
        return "%04d-%02d-%02dT%02d:%02d:%02d+00:00" % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    if isinstance(dt, (int, float)):
        dt = datetime.fromtimestamp(dt, timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    elif dt.utcoffset() == _ZERO:  # already UTC (the stores hand out UTC): the same text
        return dt.isoformat(timespec="seconds")
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def format_local(dt, tz, lang: str, with_seconds: bool = False) -> str:
    """A stored instant (aware or naive UTC datetime, or unix seconds) as a wall-clock time of
    ``tz``: ``07.12.2026 01:30`` in Russian, ``2026-12-07 01:30`` in English; ``—`` for None."""
    if dt is None:
        return "—"
    if isinstance(dt, (int, float)):
        dt = datetime.fromtimestamp(dt, timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    fmt = "%d.%m.%Y %H:%M" if lang == "ru" else "%Y-%m-%d %H:%M"
    return dt.astimezone(tz).strftime(fmt + (":%S" if with_seconds else ""))
