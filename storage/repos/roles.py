"""Custom roles and the PBX's access settings (PRODUCT.md §6, inventory D §4.6.3.3).

A custom role is derived from a base role (``web.rights.BASE_ROLES``) and stores the
level and reach of every cabinet section as edited::

    {_id: str, pbx_id, name, name_norm, description, base: "employee",
     sections: {"employees": {"level": "view", "reach": "all"}, ...},
     created_at, updated_at}

Names are unique per PBX (case-insensitive, a unique index, not a read-then-write). A user's
``role`` field holds a base role key or a custom role's ``_id``; deleting a custom role moves its
users to Employee (what the manual does when custom roles disappear).

``access_settings`` holds one document per PBX: ``{pbx_id, supervised_mode}`` — which groups
a group leader supervises: ``member`` (the groups the user belongs to), ``all`` (every group)
or ``list`` (the user's own ``supervised_groups`` list; the default).
"""
from __future__ import annotations


from pymongo import ASCENDING, IndexModel

from pult import clock

from .base import ScopedRepo

SUPERVISED_MODES = ("member", "all", "list")
DEFAULT_SUPERVISED_MODE = "list"


class Roles(ScopedRepo):
    """Custom roles of one PBX."""

    collection = "roles"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("name_norm", ASCENDING)], unique=True,
                          name="roles_name_unique")]


class AccessSettings(ScopedRepo):
    """One document per PBX with its access settings."""

    collection = "access_settings"
    indexes = [IndexModel([("pbx_id", ASCENDING)], unique=True, name="access_settings_pbx")]


def name_norm(name: str) -> str:
    """The key a role name is unique by (case- and surrounding-space-insensitive)."""
    return " ".join(name.split()).casefold()


async def supervised_mode(db, scope) -> str:
    """The PBX's "choice of supervised groups" setting (``list`` when never set)."""
    doc = await AccessSettings(db, scope).find_one({})
    mode = (doc or {}).get("supervised_mode")
    return mode if mode in SUPERVISED_MODES else DEFAULT_SUPERVISED_MODE


async def set_supervised_mode(db, scope, mode: str) -> tuple[str, str]:
    """Store the setting; returns (before, after)."""
    if mode not in SUPERVISED_MODES:
        raise ValueError(f"supervised mode must be one of {SUPERVISED_MODES}, got {mode!r}")
    before = await supervised_mode(db, scope)
    await AccessSettings(db, scope).update_one(
        {}, {"$set": {"supervised_mode": mode, "updated_at": clock.now()}}, upsert=True)
    return before, mode
