"""Value formats the HTTP edge shares (the API's ISO 8601 timestamps)."""
from __future__ import annotations

from datetime import datetime, timezone

def iso(dt) -> str | None:
    """ISO 8601 in UTC with an explicit offset (``2026-11-01T10:00:00+00:00``)."""
    if dt is None:
        return None
    if isinstance(dt, (int, float)):
        dt = datetime.fromtimestamp(dt, timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")
