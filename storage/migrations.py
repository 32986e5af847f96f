"""Versioned data migrations.

A migration is an async function registered with a unique, increasing integer version::

    @migration(2, "split employee names")
    async def _split_names(db): ...

:func:`migrate` runs the ones newer than the version recorded in the ``_migrations`` collection,
in order, recording each as it completes (so an interrupted run resumes at the failed one).
Migrations must be idempotent: a crash between the work and the record re-runs the migration.
Only one process runs them at a time: a lease document with an expiry guards the run.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Awaitable, Callable

from pymongo.errors import DuplicateKeyError

from pult import clock

log = logging.getLogger("pult.storage.migrations")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    run: Callable[[object], Awaitable[None]]


MIGRATIONS: dict[int, Migration] = {}


def migration(version: int, description: str):
    def register(fn):
        if version in MIGRATIONS:
            raise ValueError(f"migration {version} is defined twice")
        MIGRATIONS[version] = Migration(version, description, fn)
        return fn
    return register


class MigrationLocked(RuntimeError):
    """Another process is migrating the database right now."""


async def current_version(db) -> int:
    doc = await db["_migrations"].find_one({"_id": "state"})
    return doc["version"] if doc else 0


async def migrate(db, lease: timedelta = timedelta(minutes=10)) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call."""
    coll = db["_migrations"]
    me = f"{socket.gethostname()}:{os.getpid()}"
    now = clock.now()
    try:  # take the lease: matches a free/expired/own lock, else the upsert collides on _id
        await coll.update_one({"_id": "lock", "$or": [{"until": {"$lt": now}}, {"owner": me}]},
                              {"$set": {"owner": me, "until": now + lease}}, upsert=True)
    except DuplicateKeyError:
        raise MigrationLocked("another process is running migrations; try again shortly") from None
    applied = []
    try:
        version = await current_version(db)
        for v in sorted(MIGRATIONS):
            if v <= version:
                continue
            m = MIGRATIONS[v]
            log.info("migration %d: %s", v, m.description)
            await m.run(db)
            await coll.update_one({"_id": "state"}, {"$set": {"version": v, "at": clock.now()}},
                                  upsert=True)
            applied.append(v)
    finally:
        await coll.delete_one({"_id": "lock", "owner": me})
    return applied
