"""Repositories of a tenant's telephony configuration (issue 4; services in ``web/telephony``).

Every collection here is PBX-scoped (``Scope.pbx``), except the operator's DID pool and the
platform-wide reads of the FreeSWITCH provisioning model (``Scope.platform``). Ids are strings
(``str(ObjectId())``) so they travel through JSON and URLs unchanged.

Uniqueness that must hold under concurrent writes is a unique index, not a read-then-write:

- ``extensions``: ONE extension namespace per PBX shared by employees, groups and conference rooms
  (``pbx_id`` + ``extension``); the owner documents point back at their claim;
- ``numbers.number``: a number belongs to one PBX platform-wide;
- ``sip_domains.name`` platform-wide; ``sip_accounts`` (domain, login);
- ``trunks`` (host, port) platform-wide (the source address tells whose trunk a call comes from)
  and (pbx_id, prefix) for trunks that have a prefix (partial index);
- names of day groups, schedules, groups, schemes, sound files per PBX (``name_norm``);
- ``list_entries`` (pbx_id, list, kind, value, exact).

Optional unique fields are left OUT of the document when empty so partial indexes skip them.
"""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from pult import clock

from .base import ScopedRepo

_HAS_PREFIX = {"prefix": {"$exists": True}}


def _name_unique(collection: str) -> IndexModel:
    return IndexModel([("pbx_id", ASCENDING), ("name_norm", ASCENDING)], unique=True,
                      name=f"{collection}_name_unique")


class DayGroups(ScopedRepo):
    collection = "day_groups"
    indexes = [_name_unique("day_groups")]


class Schedules(ScopedRepo):
    collection = "schedules"
    indexes = [_name_unique("schedules")]


class Extensions(ScopedRepo):
    """Claims of the PBX extension namespace: ``{pbx_id, extension, owner_type, owner_id}``."""

    collection = "extensions"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("extension", ASCENDING)], unique=True,
                          name="extension_unique"),
               IndexModel([("owner_id", ASCENDING)], name="owner")]


class Employees(ScopedRepo):
    collection = "employees"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("name_norm", ASCENDING)], name="employees_name")]


class RingGroups(ScopedRepo):
    """Groups («Группа» / seed 000 «Список дозвона»)."""

    collection = "ring_groups"
    indexes = [_name_unique("ring_groups")]


class ConferenceRooms(ScopedRepo):
    collection = "conference_rooms"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("extension", ASCENDING)], name="rooms_extension")]


class SipDomains(ScopedRepo):
    collection = "sip_domains"
    indexes = [IndexModel([("name", ASCENDING)], unique=True, name="sip_domain_name_unique"),
               # slots 0..2 make "at most 3 domains per PBX" hold under concurrent creates
               IndexModel([("pbx_id", ASCENDING), ("slot", ASCENDING)], unique=True, name="sip_domain_slot")]


class SipAccounts(ScopedRepo):
    collection = "sip_accounts"
    indexes = [IndexModel([("domain_id", ASCENDING), ("login", ASCENDING)], unique=True,
                          name="sip_login_unique"),
               IndexModel([("domain", ASCENDING), ("login", ASCENDING)], name="sip_domain_login"),
               # FreeSWITCH's directory/dialplan lookups by (login, domain): led by the login so
               # the embedded store's hash index narrows to one account, not a whole domain
               IndexModel([("login", ASCENDING), ("domain", ASCENDING)], name="sip_login_lookup"),
               IndexModel([("pbx_id", ASCENDING), ("employee_id", ASCENDING)], name="sip_employee")]


class Numbers(ScopedRepo):
    """Numbers (lines) of a PBX: platform DIDs, passive and active SIP numbers of other operators."""

    collection = "numbers"
    indexes = [IndexModel([("number", ASCENDING)], unique=True, name="number_unique"),
               IndexModel([("pbx_id", ASCENDING), ("scheme_id", ASCENDING)], name="numbers_scheme"),
               IndexModel([("sip_address", ASCENDING)], unique=True, name="sip_address_unique",
                          partialFilterExpression={"sip_address": {"$exists": True}})]


class DidPool(ScopedRepo):
    """The operator's pool of platform DIDs: ``{_id: number, status: free|assigned, pbx_id?}``."""

    collection = "did_pool"
    scopes = (None,)
    indexes = [IndexModel([("status", ASCENDING)], name="did_status")]


class Schemes(ScopedRepo):
    collection = "schemes"
    indexes = [_name_unique("schemes")]


class SoundFiles(ScopedRepo):
    """Sound file metadata; the content lives in the media store. Built-ins have ``builtin: true``
    and no PBX (read through the platform scope)."""

    collection = "sound_files"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("name_norm", ASCENDING)], name="sound_name"),
               IndexModel([("builtin", ASCENDING)], name="sound_builtin")]


class Trunks(ScopedRepo):
    collection = "trunks"
    indexes = [_name_unique("trunks"),
               IndexModel([("host", ASCENDING), ("port", ASCENDING)], unique=True, name="trunk_address_unique"),
               IndexModel([("pbx_id", ASCENDING), ("prefix", ASCENDING)], unique=True,
                          name="trunk_prefix_unique", partialFilterExpression=_HAS_PREFIX),
               IndexModel([("numbers.number", ASCENDING)], name="trunk_numbers")]


class ListEntries(ScopedRepo):
    """Entries of the black and white lists (``list``: black | white)."""

    collection = "list_entries"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("list", ASCENDING), ("kind", ASCENDING),
                           ("value", ASCENDING), ("exact", ASCENDING)], unique=True, name="list_entry_unique")]


class ClientRules(ScopedRepo):
    """Client-number routing rules, ordered by ``position``."""

    collection = "client_rules"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("position", ASCENDING)], name="client_rules_order")]


class TelSettings(ScopedRepo):
    """One document per PBX (``_id`` = PBX id): call handling, security, SIP access, list mode,
    the ordered trunk-mask list. Sections are updated with ``$set`` on their own path."""

    collection = "tel_settings"
    indexes = [IndexModel([("pbx_id", ASCENDING)], unique=True, name="tel_settings_pbx")]



class LdapSettings(ScopedRepo):
    """LDAP directory sync of a PBX (issue 13): one document per PBX (``_id`` = PBX id) with the
    connection (the bind password encrypted), attribute mapping, policy and schedule, plus the
    schedule's bookkeeping (``last_run_at``, ``next_run_at``, ``running_since``)."""

    collection = "ldap_settings"
    indexes = [IndexModel([("pbx_id", ASCENDING)], unique=True, name="ldap_settings_pbx"),
               IndexModel([("next_run_at", ASCENDING)], name="ldap_settings_due")]


class LdapRuns(ScopedRepo):
    """One document per sync run: trigger, start/finish, status and counters."""

    collection = "ldap_runs"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("started_at", DESCENDING)], name="ldap_runs_recent")]


class LdapIncidents(ScopedRepo):
    """What a sync could not do (per PBX): ``{run_id, at, code, params, dn, uid}``; the message is
    the ``RuleError`` text of ``code`` in the reader's language."""

    collection = "ldap_incidents"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("at", DESCENDING)], name="ldap_incidents_recent")]

# --- built-in sound files (PRODUCT.md §3: "built-in melodies are seeded") ---------------------
BUILTIN_SOUNDS = (
    # id, name, kind, description
    ("builtin:abba", "abba", "melody", "Ringback melody when a call comes from a menu (default)"),
    ("builtin:sirtaki", "Сиртаки", "melody", "Queue hold music (default, looped)"),
    ("builtin:beethoven", "Бетховен", "melody", "Melody on transfer by an employee (default)"),
    ("builtin:all_busy", "К сожалению, все операторы заняты", "prompt", "Queue entry message (default)"),
    ("builtin:unavailable", "Абонент не отвечает или временно недоступен", "prompt",
     "Employee-unavailable message (default)"),
    ("builtin:enter_password", "Введите пароль", "prompt", "Password prompt of protected menu items"),
    ("builtin:voicemail_warning", "Предупреждение о начале записи голосовой почты", "prompt",
     "Played before a voice mail is recorded"),
)


async def seed_builtin_sounds(db) -> int:
    """Insert the built-in sound files that are missing (idempotent); returns how many were added."""
    from datetime import datetime, timezone

    added = 0
    for sid, name, kind, description in BUILTIN_SOUNDS:
        res = await db[SoundFiles.collection].update_one(
            {"_id": sid},
            {"$setOnInsert": {"builtin": True, "name": name, "name_norm": name.casefold(), "kind": kind,
                              "description": description, "format": "wav",
                              "path": f"builtin/{sid.split(':', 1)[1]}.wav",
                              "created_at": clock.now()}},
            upsert=True)
        added += res.upserted_id is not None
    return added


def _register_migration() -> None:
    from storage.migrations import MIGRATIONS, migration

    existing = MIGRATIONS.get(4)
    if existing is None:
        migration(4, "telephony: seed the built-in sound files")(seed_builtin_sounds)
    elif existing.run is not seed_builtin_sounds:  # loud, not silent: two modules chose version 4
        raise ValueError("migration 4 is taken by the telephony seed; choose another version")


_register_migration()
