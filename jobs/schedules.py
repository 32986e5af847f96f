"""The beat schedule registry: periodic jobs are declared by the module that owns them.

A module registers its periodic jobs at import time::

    from jobs import schedules
    from celery.schedules import crontab

    schedules.register("billing.monthly-close", "jobs.billing.close_month",
                       crontab(minute=5, hour=0, day_of_month=1))
    schedules.register("spool.import", "jobs.spool.sweep", 30)   # every 30 s

Workers and beat import every task module (:func:`jobs.app.task_modules`) before beat starts,
so every registration is in place when the scheduler reads ``app.conf.beat_schedule``. Times are
UTC (the app runs with ``enable_utc``); a crontab for a local hour should say so in its name.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from celery.schedules import crontab, schedule as interval_schedule

_registry: dict[str, dict[str, Any]] = {}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,99}$")


def register(name: str, task: str, schedule: float | int | timedelta | crontab | interval_schedule,
             *, args: tuple | list = (), kwargs: dict | None = None,
             options: dict | None = None) -> None:
    """Declare (or replace) the periodic job ``name`` running ``task`` on ``schedule``.

    ``schedule`` is seconds, a :class:`~datetime.timedelta` or a Celery ``crontab``; ``task`` is
    the registered task name (a string, so registering never imports the task's module).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"schedule name {name!r}: expected lower-case letters, digits and ._:-")
    if not isinstance(task, str) or not task:
        raise ValueError(f"schedule {name!r}: task must be a task name string, got {task!r}")
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        if schedule <= 0:
            raise ValueError(f"schedule {name!r}: interval must be positive, got {schedule!r}")
        schedule = timedelta(seconds=schedule)
    elif isinstance(schedule, timedelta):
        if schedule.total_seconds() <= 0:
            raise ValueError(f"schedule {name!r}: interval must be positive, got {schedule!r}")
    elif not isinstance(schedule, (crontab, interval_schedule)):
        raise ValueError(f"schedule {name!r}: expected seconds, timedelta or crontab, "
                         f"got {type(schedule).__name__}")
    entry: dict[str, Any] = {"task": task, "schedule": schedule, "args": tuple(args),
                             "kwargs": dict(kwargs or {})}
    if options:
        entry["options"] = dict(options)
    _registry[name] = entry
    _apply_if_configured()


def unregister(name: str) -> bool:
    """Remove a periodic job; returns whether it was registered."""
    existed = _registry.pop(name, None) is not None
    _apply_if_configured()
    return existed


def entries() -> dict[str, dict[str, Any]]:
    """A copy of the registered entries (name -> Celery beat entry)."""
    return {name: dict(entry) for name, entry in _registry.items()}


def apply(app) -> None:
    """Install the registry as ``app.conf.beat_schedule`` (called by :func:`jobs.app.configure`)."""
    app.conf.beat_schedule = entries()


def _apply_if_configured() -> None:
    import sys

    mod = sys.modules.get("jobs.app")
    if mod is not None and hasattr(mod, "app"):
        apply(mod.app)
