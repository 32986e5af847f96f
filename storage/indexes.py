"""Create the indexes every repository declares (idempotent; run at start-up)."""
from __future__ import annotations

import importlib
import pkgutil

from . import repos
from .repos.base import all_indexes


def load_repositories() -> None:
    """Import every module of storage.repos so their classes register their indexes."""
    for mod in pkgutil.iter_modules(repos.__path__):
        importlib.import_module(f"{repos.__name__}.{mod.name}")


#: indexes an earlier version declared and a wider one now serves: dropped at start-up
SUPERSEDED = {"call_records": ["pbx_start"], "audit_log": ["pbx_at", "account_at"],
              "ledger_entries": ["account_created"]}


async def ensure_indexes(db) -> dict[str, list[str]]:
    load_repositories()
    for collection, names in SUPERSEDED.items():
        existing = await db[collection].index_information()
        for name in names:
            if name in existing:
                await db[collection].drop_index(name)
    created = {}
    for collection, models in all_indexes().items():
        if models:
            created[collection] = await db[collection].create_indexes(models)
    return created
