"""The PBX snapshot: a PBX's effective configuration, loaded in one go before a call runs.

    snap = await load_snapshot(db, pbx_id)            # one read per collection, all scoped
    snap.group(gid); snap.employee(eid); snap.owner_of_extension("101"); snap.sound_playable(sid)
    snap.ring_time(None) == 120                         # None / "pbx" → the PBX default

    cache = SnapshotCache(db)                          # what a call uses: one per process
    snap = await cache.get(pbx_id, now)                # the change counters + the balance when kept

The engine never queries the store while a call runs: every step reads this object. Values a
tenant leaves unset (``None`` or ``"pbx"``) are resolved here to the PBX's settings, and those
to the product defaults (PRODUCT.md §4.3-4.4): default answer time 120 s, "if unavailable" →
voice mail, voice mail up to 180 s, the menu ringback melody "abba", fax to the default address.
It also says which webhook events the PBX's active subscriptions want (``webhook_events``), so a
call of a PBX nobody subscribed for emits nothing and reads nothing for it.

A call reads its PBX through :class:`SnapshotCache`: the snapshot is built once per PBX and kept
with the PBX's change counters and those of its account's balance
(:func:`storage.versions.current_versions`, read before the documents); a call gets the kept
snapshot while the counters are unchanged — with no store read at all when this process's copy of
the counters is complete (the embedded store; MongoDB with a live change feed), else one read of
the counters. Whether the PBX is blocked depends on the clock too, so it is worked out for every
call (from the kept PBX document and balance), never kept.

Stored documents are read as they are stored by the cabinet's services (shapes and defaults in
the areas' ``esl_control/model/<area>/schemas.py``).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from cachetools import TTLCache

from esl_control.model.calendars.schemas import to_day_group, to_schedule
from esl_control.model.platform_gateways import enabled_gateway_names
from esl_control.model.pbx_settings.schemas import (CALL_HANDLING_DEFAULTS, FAX_DEFAULTS, LISTS_DEFAULTS,
                                                    VOICEMAIL_DEFAULTS)
from esl_control.routing.lists import ClientNumberRule, ListEntry, parse_entry
from esl_control.routing.schedules import DEFAULT_TIMEZONE, DayGroup, Schedule, schedule_matches
from pult import clock
from storage.repos.base import Scope
from storage.repos.telephony import (ClientRules, ConferenceRooms, DayGroups, Employees, Extensions, ListEntries, Numbers,
                                     RingGroups, Schedules, Schemes, SipAccounts, SoundFiles, TelSettings,
                                     Trunks)
from storage.repos.tenants import PbxState, account_balance, get_pbx, pbx_state, stored_platform_gateways
from storage.repos.webhooks import WebhookSubscriptions
from storage.versions import Versions, current_versions, is_versioned

__all__ = ["PbxSnapshot", "SnapshotCache", "load_snapshot", "snapshot_from_documents", "DEFAULTS"]

#: what the engine reads when a PBX has not set it: the settings sections' own defaults
DEFAULTS: dict[str, Any] = {
    **CALL_HANDLING_DEFAULTS,
    "voicemail_max_length": VOICEMAIL_DEFAULTS["max_length"],
    "voicemail_prompt": VOICEMAIL_DEFAULTS["prompt"],
    "fax_auto_detect": FAX_DEFAULTS["auto_detect"],
    "lists": LISTS_DEFAULTS,
}


def _list_entry(doc: Mapping[str, Any]) -> ListEntry:
    return parse_entry(str(doc.get("value") or ""), kind=doc.get("kind"), exact=bool(doc.get("exact", True)),
                       comment=doc.get("comment") or "")


@dataclass
class PbxSnapshot:
    """Everything a call of one PBX may need (see the module docstring). Built by
    :func:`snapshot_from_documents`; problems found while building (a schedule that no longer
    parses, a list entry saved before validation) are kept in ``problems`` and the item skipped."""

    pbx_id: int
    pbx: dict
    state: PbxState
    settings: dict
    numbers: dict[str, dict] = field(default_factory=dict)          # by id
    schemes: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    employees: dict[str, dict] = field(default_factory=dict)
    sip_accounts: dict[str, dict] = field(default_factory=dict)
    extensions: dict[str, tuple[str, str]] = field(default_factory=dict)  # ext -> (owner_type, id)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    day_groups: dict[str, DayGroup] = field(default_factory=dict)
    sounds: dict[str, dict] = field(default_factory=dict)
    trunks: dict[str, dict] = field(default_factory=dict)
    rooms: dict[str, dict] = field(default_factory=dict)                # conference rooms by id
    list_entries: dict[str, list[ListEntry]] = field(default_factory=dict)  # black / white
    client_rules: list[ClientNumberRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the switch's names of the operator's enabled platform gateways, in order: every external
    #: number is dialled through them (none: an external number cannot be dialled)
    platform_gateways: tuple[str, ...] = ()
    #: the event types the PBX's active webhook subscriptions want (``None``: not loaded with the
    #: snapshot, so unknown): a call emits ``call.started`` only when it is wanted, without a
    #: store read of its own on the call's path
    webhook_events: frozenset[str] | None = None

    def wants_webhook(self, event_type: str) -> bool:
        """Whether an active webhook subscription of the PBX wants ``event_type`` (unknown: yes,
        and the emitter reads the subscriptions itself)."""
        return self.webhook_events is None or event_type in self.webhook_events

    # --- the PBX
    @property
    def blocked(self) -> bool:
        return self.state.blocked

    @property
    def timezone(self) -> str:
        return self.pbx.get("time_zone") or DEFAULT_TIMEZONE

    @property
    def language(self) -> str:
        lang = self.pbx.get("language") or "ru"
        return lang if lang in ("ru", "en") else "ru"

    @property
    def is_demo(self) -> bool:
        return self.pbx.get("status") == "demo"

    @property
    def max_calls(self) -> int | None:
        """The PBX's concurrent-call limit (``None``: none)."""
        value = self.pbx.get("max_concurrent_calls")
        return value if isinstance(value, int) and value > 0 else None

    # --- effective values
    def _ch(self, key: str) -> Any:
        value = (self.settings.get("call_handling") or {}).get(key)
        return DEFAULTS[key] if value is None else value

    def ring_time(self, value: Any) -> int:
        """A ring time as stored (``None``/``"pbx"`` = the PBX default answer time)."""
        if value is None or value == "pbx":
            return int(self._ch("default_ring_time"))
        return int(value)

    @property
    def unavailable_action(self) -> str:
        return self._ch("unavailable_action")

    @property
    def unavailable_extension(self) -> str:
        return str(self._ch("unavailable_extension"))

    @property
    def unavailable_message(self) -> str | None:
        ch = self.settings.get("call_handling") or {}
        return ch["unavailable_message"] if "unavailable_message" in ch else DEFAULTS["unavailable_message"]

    @property
    def menu_ringback(self) -> str | None:
        return self._ch("menu_transfer_melody")

    @property
    def password_prompt(self) -> str | None:
        return self._ch("password_prompt")

    @property
    def announce_caller(self) -> bool:
        return bool(self._ch("announce_caller"))

    @property
    def incoming_caller_id(self) -> str:
        """What an employee's phone shows for a call from outside: ``auto`` (SIP phones the
        caller, ordinary phones the PBX line), ``caller`` or ``line``."""
        return self._ch("incoming_caller_id")

    @property
    def dial_extensions(self) -> dict:
        return {**DEFAULTS["dial_extensions"], **(self._ch("dial_extensions") or {})}

    @property
    def voicemail_max_length(self) -> int:
        return int((self.settings.get("voicemail") or {}).get("max_length") or DEFAULTS["voicemail_max_length"])

    @property
    def voicemail_prompt(self) -> str | None:
        vm = self.settings.get("voicemail") or {}
        return vm["prompt"] if "prompt" in vm else DEFAULTS["voicemail_prompt"]

    @property
    def fax_auto_detect(self) -> bool:
        fax = self.settings.get("fax") or {}
        return bool(fax.get("auto_detect", DEFAULTS["fax_auto_detect"]))

    @property
    def default_fax_email(self) -> str:
        return self._ch("default_fax_email") or ""

    @property
    def list_mode(self) -> str | None:
        return (self.settings.get("lists") or {}).get("mode")

    @property
    def unknown_allowed(self) -> bool:
        return bool((self.settings.get("lists") or {}).get("unknown_allowed", True))

    # --- lookups
    def number(self, number_id: Any = None, number: str | None = None) -> dict | None:
        if number_id and number_id in self.numbers:
            return self.numbers[number_id]
        if number:
            return next((n for n in self.numbers.values() if n.get("number") == number), None)
        return None

    def scheme(self, scheme_id: Any) -> dict | None:
        return self.schemes.get(scheme_id) if scheme_id else None

    def group(self, group_id: Any) -> dict | None:
        return self.groups.get(group_id) if group_id else None

    def employee(self, employee_id: Any) -> dict | None:
        return self.employees.get(employee_id) if employee_id else None

    def owner_of_extension(self, extension: str) -> tuple[str, str] | None:
        return self.extensions.get(str(extension))

    def group_by_extension(self, extension: str) -> dict | None:
        owner = self.owner_of_extension(extension)
        return self.group(owner[1]) if owner and owner[0] == "group" else None

    def schedule(self, schedule_id: Any) -> Schedule | None:
        return self.schedules.get(schedule_id) if schedule_id else None

    def in_schedule(self, schedule_id: Any, at: datetime) -> bool:
        """``None`` schedule = always; a schedule deleted since = never (and noted)."""
        if not schedule_id:
            return True
        sched = self.schedule(schedule_id)
        if sched is None:
            return False
        return schedule_matches(sched, at, day_groups=self.day_groups, tz=self.timezone)

    def sound_playable(self, sound_id: Any) -> bool:
        """Can the switch play this sound now? Not when it is gone, or uploaded and not (yet)
        converted (``uploaded``/``converting``/``failed``: Pult's media endpoint would refuse it)."""
        doc = self.sounds.get(sound_id) if sound_id else None
        if doc is None:
            return False
        return bool(doc.get("builtin")) or doc.get("status") in (None, "ready")

    def sound_name(self, sound_id: Any) -> str | None:
        doc = self.sounds.get(sound_id) if sound_id else None
        return doc.get("name") if doc else None


def snapshot_from_documents(pbx: dict, state: PbxState, docs: Mapping[str, list[dict]]) -> PbxSnapshot:
    """Build a snapshot from stored documents (``docs`` by collection name)."""
    settings_docs = docs.get("tel_settings") or []
    snap = PbxSnapshot(pbx_id=pbx["pbx_id"], pbx=pbx, state=state,
                       settings=dict(settings_docs[0]) if settings_docs else {})
    snap.numbers = {d["_id"]: d for d in docs.get("numbers", ())}
    snap.schemes = {d["_id"]: d for d in docs.get("schemes", ())}
    snap.groups = {d["_id"]: d for d in docs.get("ring_groups", ())}
    snap.employees = {d["_id"]: d for d in docs.get("employees", ())}
    snap.sip_accounts = {d["_id"]: d for d in docs.get("sip_accounts", ())}
    snap.sounds = {d["_id"]: d for d in docs.get("sound_files", ())}
    snap.trunks = {d["_id"]: d for d in docs.get("trunks", ())}
    snap.rooms = {d["_id"]: d for d in docs.get("conference_rooms", ())}
    snap.platform_gateways = enabled_gateway_names(docs.get("platform_gateways") or ())
    if "webhook_subscriptions" in docs:
        snap.webhook_events = frozenset(e for d in docs["webhook_subscriptions"] if d.get("active", True)
                                        for e in (d.get("events") or ()) if isinstance(e, str))
    for d in docs.get("extensions", ()):
        snap.extensions[str(d["extension"])] = (d.get("owner_type"), d.get("owner_id"))
    for d in docs.get("day_groups", ()):
        try:
            snap.day_groups[d["_id"]] = to_day_group(d)
        except Exception as exc:  # stored before validation: skip it, say so
            snap.problems.append(f"day group {d.get('_id')}: {exc}")
    for d in docs.get("schedules", ()):
        try:
            snap.schedules[d["_id"]] = to_schedule(d)
        except Exception as exc:
            snap.problems.append(f"schedule {d.get('_id')}: {exc}")
    for d in docs.get("list_entries", ()):
        try:
            snap.list_entries.setdefault(d.get("list"), []).append(_list_entry(d))
        except Exception as exc:
            snap.problems.append(f"list entry {d.get('_id')}: {exc}")
    for d in sorted(docs.get("client_rules", ()), key=lambda r: r.get("position", 0)):
        try:
            snap.client_rules.append(ClientNumberRule(
                _list_entry(d), d.get("target_kind"), str(d.get("target") or ""), d.get("ring_time"),
                d.get("contact_method"), bool(d.get("active", True)), d.get("comment") or "", d.get("_id")))
        except Exception as exc:
            snap.problems.append(f"client rule {d.get('_id')}: {exc}")
    return snap


_COLLECTIONS = (Numbers, Schemes, RingGroups, Employees, SipAccounts, Extensions, Schedules, DayGroups,
                TelSettings, ListEntries, ClientRules, Trunks, ConferenceRooms, WebhookSubscriptions)


async def load_snapshot(db, pbx_id: int, now: datetime | None = None) -> PbxSnapshot | None:
    """The snapshot of a stored PBX (``None``: no such PBX). All reads go through repositories
    scoped to this PBX, concurrently; the built-in sounds come through the platform scope."""
    return (await _load(db, pbx_id, now or clock.now()))[0]


async def _load(db, pbx_id: int, now: datetime, after_pbx=None) -> tuple[PbxSnapshot | None, int]:
    """``(the snapshot or None, the account's balance it was built with)``; ``after_pbx(pbx)`` is
    awaited between reading the PBX document and the rest (the balance's counters are read there)."""
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        return None, 0
    if after_pbx is not None:
        await after_pbx(pbx)
    scope = Scope.pbx(pbx_id)
    repos = [cls(db, scope) for cls in _COLLECTIONS]
    sounds = SoundFiles(db, scope)
    builtin = SoundFiles(db, Scope.platform())
    balance_task = account_balance(db, pbx["account_id"]) if pbx.get("account_id") else None
    results = await asyncio.gather(*(r.find({}) for r in repos), sounds.find({}),
                                   builtin.find({"builtin": True}), stored_platform_gateways(db),
                                   *([balance_task] if balance_task is not None else []))
    docs = {repo.collection: res for repo, res in zip(repos, results)}
    docs["sound_files"] = list(results[len(repos)]) + list(results[len(repos) + 1])
    docs["platform_gateways"] = results[len(repos) + 2]
    balance = results[len(repos) + 3] if balance_task is not None else 0
    state = pbx_state(pbx, {"balance": balance}, now)
    return snapshot_from_documents(pbx, state, docs), balance


def _retrieved(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


class SnapshotCache:
    """The snapshots of the PBXs this process serves calls for, kept while their configuration
    is unchanged (see the module docstring).

    ``get`` asks for the counters of the PBX, the platform and the account's balance
    (:func:`storage.versions.current_versions`: no store read while this process's copy of them is
    complete). While the PBX's and the platform's are those kept with the snapshot, the kept
    snapshot is returned with its blocked state worked out for ``now``; if only the balance's moved,
    the balance is read again (one read). Otherwise the snapshot is loaded again
    (:func:`load_snapshot`) and kept with the counters read before it; calls of one PBX that miss
    together share one load. Any write through Pult, by any process sharing the store, changes a
    counter and is seen by the next call; a change made behind Pult's back is seen once the kept
    snapshot is ``max_age`` seconds old. ``size`` PBXs are kept at most (the least recently used go
    first). Without counting writes (a database not from :func:`storage.client.open_store`)
    nothing is kept.
    """

    def __init__(self, db, *, size: int = 2_000, max_age: float = 300.0) -> None:
        self.db = db
        self.enabled = is_versioned(db) and size > 0
        # pbx id -> (Versions.state kept with it, snapshot, balance)
        self._kept: TTLCache = TTLCache(maxsize=max(1, size), ttl=max_age)
        self._loading: dict[int, tuple[tuple, asyncio.Future]] = {}
        #: how many snapshots were built (the rest of the calls used a kept one): for tests and metrics
        self.loads = 0

    def forget(self, pbx_id: int | None = None) -> None:
        """Drop the kept snapshot of ``pbx_id`` (of every PBX without one)."""
        if pbx_id is None:
            self._kept.clear()
        else:
            self._kept.pop(pbx_id, None)

    async def get(self, pbx_id: int, now: datetime | None = None) -> PbxSnapshot | None:
        now = now or clock.now()
        if not self.enabled:
            self.loads += 1
            return await load_snapshot(self.db, pbx_id, now)
        kept = self._kept.get(pbx_id)
        account_id = kept[1].pbx.get("account_id") if kept is not None else None
        versions = await current_versions(self.db, pbx_id, account_id)
        if kept is not None and kept[0][:4] == versions.config:
            snap, balance = kept[1], kept[2]
            if kept[0] != versions.state:  # only the balance's counters moved (read before it)
                balance = await account_balance(self.db, account_id) if account_id else 0
                self._kept[pbx_id] = (versions.state, snap, balance)
        else:
            loading = self._loading.get(pbx_id)
            if loading is None or loading[0] != versions.config:
                task = asyncio.ensure_future(self._load(pbx_id, versions, now))
                task.add_done_callback(_retrieved)  # every caller may have given up by then
                loading = self._loading[pbx_id] = (versions.config, task)
            # shielded: a caller that gives up (its timeout) does not cancel the load the others wait for
            snap, balance = await asyncio.shield(loading[1])
            if snap is None:
                return None
        return replace(snap, state=pbx_state(snap.pbx, {"balance": balance}, now))

    async def _load(self, pbx_id: int, versions: Versions, now: datetime) -> tuple[PbxSnapshot | None, int]:
        account: list = []

        async def balance_counters(pbx: dict) -> None:
            # the account is known now: its balance's counters, read before the balance
            account.append(await current_versions(self.db, pbx_id, pbx.get("account_id")))

        try:
            self.loads += 1
            snap, balance = await _load(self.db, pbx_id, now, balance_counters)
            if snap is not None:  # the PBX's counters were read before its documents: keep them
                self._kept[pbx_id] = (versions.state[:4] + account[0].state[4:], snap, balance)
            else:
                self._kept.pop(pbx_id, None)
            return snap, balance
        finally:
            if self._loading.get(pbx_id, (None, None))[0] == versions.config:
                self._loading.pop(pbx_id, None)
