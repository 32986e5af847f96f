"""The one clock of a Pult process: what time it is, for every area (storage, jobs, the call
side, the cabinet, the documents).

Product code never calls ``datetime.now()``, ``datetime.utcnow()``, ``date.today()`` or
``time.time()`` for the wall-clock time; it asks this module:

- :func:`now` — the current instant, a timezone-aware UTC ``datetime`` (what is stored);
- :func:`timestamp` — the same instant as unix seconds (expiry checks, signed links, heartbeats);
- :func:`local_now` / :func:`today` — the instant / the date in a time zone (a PBX's or an
  account's: every date a user sees or types is in that zone, never the server's).

Monotonic timers (durations, timeouts, rate windows) keep using ``time.monotonic()``: they measure
intervals, not the time of day, and must not jump when a test sets the clock.

The clock is injectable: :func:`set_clock` installs another :class:`Clock` for the process (the
composition root could, tests do) and :func:`use_clock` does it for a ``with`` block.
:class:`FixedClock` is a clock that stands still until moved (:meth:`FixedClock.set`,
:meth:`FixedClock.advance`), so a test says "it is 22:30 UTC" instead of depending on the hour it
runs at.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Iterator

__all__ = ["Clock", "SystemClock", "FixedClock", "get_clock", "set_clock", "use_clock", "now",
           "timestamp", "local_now", "today"]


class Clock:
    """The source of the current instant. Subclasses implement :meth:`now`."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        raise NotImplementedError

    def timestamp(self) -> float:
        """The current instant as unix seconds."""
        return self.now().timestamp()


class SystemClock(Clock):
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock(Clock):
    """A clock that stands still at a given instant until :meth:`set` or :meth:`advance` moves it.

    ``FixedClock("2026-12-06T22:30:00Z")``, ``FixedClock(datetime(...))`` or ``FixedClock()`` (the
    real time at creation). A naive ``datetime`` is taken as UTC.
    """

    def __init__(self, at: datetime | str | float | None = None) -> None:
        self._lock = threading.Lock()
        self._at = _instant(at) if at is not None else datetime.now(timezone.utc)

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime | str | float) -> None:
        with self._lock:
            self._at = _instant(at)

    def advance(self, delta: timedelta | float = 0.0, **kw: float) -> None:
        """Move on by ``delta`` (a timedelta or seconds) and/or ``timedelta`` keywords
        (``advance(hours=2)``)."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._at = self._at + step + timedelta(**kw)

    # the ``time.time()`` shape, so a FixedClock also serves where a ``now()`` in seconds is injected
    def __call__(self) -> float:
        return self.timestamp()


def _instant(at: datetime | str | float) -> datetime:
    if isinstance(at, (int, float)):
        return datetime.fromtimestamp(at, timezone.utc)
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if not isinstance(at, datetime):
        raise TypeError(f"not an instant: {at!r}")
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    """The process's clock."""
    return _clock


def set_clock(clock: Clock | None) -> Clock:
    """Install ``clock`` for the whole process (None: the machine's clock); returns the previous one."""
    global _clock
    previous, _clock = _clock, clock if clock is not None else SystemClock()
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """``with use_clock(FixedClock("2026-12-06T22:30Z")) as c: ...`` — the process's clock is
    ``clock`` inside the block and the previous one again after it."""
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def now() -> datetime:
    """The current instant, timezone-aware UTC (the form every stored datetime takes)."""
    return _clock.now()


def timestamp() -> float:
    """The current instant as unix seconds (the clock's ``time.time()``)."""
    return _clock.timestamp()


def local_now(tz: tzinfo) -> datetime:
    """The current instant as a wall-clock time in ``tz`` (aware)."""
    return _clock.now().astimezone(tz)


def today(tz: tzinfo) -> date:
    """Today's date in ``tz`` — a PBX's or an account's zone, never the server's."""
    return local_now(tz).date()
