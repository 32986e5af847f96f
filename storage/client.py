"""The store factory: MongoDB when ``MONGO_URL`` is set, the embedded store otherwise.

    store = open_store(settings)
    await store.start()          # ping, indexes, migrations
    store.db                     # async database (PyMongo AsyncDatabase shape) — the server
    store.sync_db                # sync database (PyMongo Database shape) — Celery workers
    store.media                  # binary files, streaming
    await store.close()

Workers in production open their own store with ``open_store(settings, sync_only=True)``
(no event loop needed). In embedded mode workers run inside the server process and share it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, ClassVar

from pult.settings import Settings

from .media import DirectoryMediaStore, GridFSMediaStore, MediaStore
from .versions import LocalVersions, local_versions, versioned

log = logging.getLogger("pult.storage")


#: the share of the embedded store's capacity from which /readyz and the operator console warn
CAPACITY_WARNING = 0.8


class StoreUnavailable(RuntimeError):
    """The configured MongoDB cannot be reached; the message says where and why."""


@dataclass
class Store:
    #: lets a repository tell a Store from a database without importing this module (a database
    #: object answers any attribute with a collection: read on the class)
    is_store: ClassVar[bool] = True

    settings: Settings
    db: Any
    sync_db: Any
    media: MediaStore | None
    kind: str  # "mongodb" | "embedded"
    _closers: list = field(default_factory=list)
    engine: Any = None  # the embedded engine (None for MongoDB)

    #: this process's copy of the change counters (storage.versions), shared by both faces
    versions: LocalVersions | None = None

    def __post_init__(self) -> None:
        # writes to the telephony configuration bump the change counters (storage.versions): in the
        # store, and in this process's copy, which is complete for the embedded store (one process
        # owns its data directory) and made complete by a Redis feed for MongoDB (several processes)
        if self.versions is None:
            if self.kind == "embedded":
                self.versions = local_versions(f"embedded:{self.settings.data_dir.resolve()}", exclusive=True)
            else:
                self.versions = local_versions(f"mongodb:{_redact(self.settings.mongo_url)}/{self.settings.mongo_db}",
                                               exclusive=False)
                if self.versions.feed is None and self.settings.redis_url:
                    from .change_feed import RedisChangeFeed
                    feed = RedisChangeFeed(self.versions, self.settings.redis_url).attach()
                    self._closers.append(feed.close)  # closed first (closers run in reverse)
                if self.versions.feed is not None and self.sync_db is not None:
                    self.versions.feed.sync_db = self.sync_db  # the newest client, for reconcile
        if self.db is not None:
            self.db = versioned(self.db, local=self.versions)
        if self.sync_db is not None:
            self.sync_db = versioned(self.sync_db, sync=True, local=self.versions)

    async def start(self, migrate: bool = True) -> None:
        from .indexes import ensure_indexes
        from .migrations import migrate as run_migrations

        await self.ping()
        await ensure_indexes(self.db)
        if migrate:
            await run_migrations(self.db)

    async def ping(self) -> None:
        try:
            await self.db.command("ping")
        except Exception as exc:
            raise StoreUnavailable(f"{self.describe()}: {exc}") from exc

    def usage(self) -> dict | None:
        """The embedded store's size against its configured capacity (None for MongoDB):
        ``{"documents", "capacity", "ratio", "warning"}`` — ``warning`` from 80 % on."""
        if self.kind != "embedded":
            return None
        n = self.engine.document_count()
        cap = int(getattr(self.settings, "store_capacity_documents", 1_000_000))
        ratio = n / cap
        return {"documents": n, "capacity": cap, "ratio": round(ratio, 3), "warning": ratio >= CAPACITY_WARNING}

    def describe(self) -> str:
        if self.kind == "embedded":
            return f"embedded store in {self.settings.data_dir}"
        return f"MongoDB {_redact(self.settings.mongo_url)} database {self.settings.mongo_db}"

    async def close(self) -> None:
        for close in reversed(self._closers):
            res = close()
            if hasattr(res, "__await__"):
                await res
        self._closers.clear()


def _redact(url: str | None) -> str:
    if not url or "@" not in url:
        return url or ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


_engines: dict[str, Any] = {}


def _mongo_options(appname: str = "pult") -> dict:
    return dict(tz_aware=True, tzinfo=timezone.utc, serverSelectionTimeoutMS=5000, appname=appname)


async def db_for_this_loop(store: Store) -> tuple[Any, Any]:
    """``(db, close)``: ``store``'s async database for use on another event loop than the one it
    was opened on (the FreeSWITCH port's, ``fs_config/server.py``). The embedded store's is
    returned as it is (its operations run in its own threads, awaited from any loop). MongoDB's
    async client is bound to the loop that uses it: a new client of the calling loop, whose writes
    count in the same copy of the change counters (``store.versions``); ``await close()`` closes it."""
    if store.kind == "embedded":
        async def nothing() -> None:
            return None
        return store.db, nothing
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(store.settings.mongo_url, **_mongo_options("pult-fs"))
    db = versioned(client[store.settings.mongo_db], local=store.versions)
    try:
        await db.command("ping")
    except Exception as exc:
        await client.close()
        raise StoreUnavailable(f"{store.describe()}: {exc}") from exc
    return db, client.close


def open_store(settings: Settings, sync_only: bool = False) -> Store:
    """Build the store for these settings (no I/O yet; ``await store.start()`` connects)."""
    if settings.mongo_url:
        from pymongo import AsyncMongoClient, MongoClient

        opts = _mongo_options()
        sync_client = MongoClient(settings.mongo_url, **opts)
        closers = [sync_client.close]
        db = media = None
        if not sync_only:
            aclient = AsyncMongoClient(settings.mongo_url, **opts)
            db = aclient[settings.mongo_db]
            media = GridFSMediaStore(db)
            closers.append(aclient.close)
        return Store(settings, db, sync_client[settings.mongo_db], media, "mongodb", closers)

    from .embedded import AsyncEmbeddedDatabase, EmbeddedEngine, JournaledDatabase

    key = str(settings.data_dir.resolve())
    if key not in _engines:  # one engine per data directory in this process (server + worker)
        _engines[key] = [EmbeddedEngine(settings.data_dir, fsync=settings.journal_fsync), 0]
    entry = _engines[key]
    entry[1] += 1
    engine = entry[0]
    closed = False

    def close_engine():  # the last store using the engine closes it (snapshot + unlock)
        nonlocal closed
        if closed:
            return
        closed = True
        entry[1] -= 1
        if entry[1] == 0 and _engines.get(key) is entry:
            del _engines[key]
            engine.close()

    db = AsyncEmbeddedDatabase(engine, settings.mongo_db)
    media = DirectoryMediaStore(settings.data_dir / "media", db)
    return Store(settings, db, JournaledDatabase(engine, settings.mongo_db), media, "embedded",
                 [close_engine], engine=engine)
