"""Reading the action log (inventory D §4.6.3.2): filter, search, page, export CSV/XLSX.

Entries are written by every service through ``storage.repos.audit.audit``; this module only
reads them, always through the caller's scope (a PBX sees its own entries, an operator every
PBX's).

Search (``q``) is a phrase, as in the manual: the words in the order typed, case-insensitive,
found inside the actor's name, login or IP, the section or operation (their keys or their titles
in English or Russian), or the object's name. Separate exact filters exist for login, IP,
section, operation and actor kind. The period is given as dates in the user's time zone
(inclusive) or as ISO date-times.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from pult import i18n
from pult.i18n import N_
from storage.paging import KeysetPage, list_page
from storage.repos.audit import ACTOR_KINDS, AuditLog
from storage.repos.base import Scope
from esl_control.model.names import logged_name
from web.access.changes import describe_changes
from web.rights import SECTIONS_BY_KEY

EXPORT_LIMIT = 100_000
NEWEST_FIRST = [("at", -1), ("_id", -1)]

#: titles of operations the services write (unknown operations are shown as written)
OPERATION_TITLES = {
    "create": N_("Created"), "update": N_("Changed"), "delete": N_("Deleted"),
    "revoke": N_("Revoked"), "assign_role": N_("Role changed"), "login": N_("Signed in"),
    "logout": N_("Signed out"), "send": N_("Sent"), "import": N_("Imported"),
    "password_change": N_("Password changed"), "password_reset": N_("Password reset"),
    "offer_accept": N_("Offer accepted"),
    "copy": N_("Copied"), "admin_password_link": N_("Password link sent to the main administrator"),
}
ACTOR_LABELS = {"system": N_("System"), "api": N_("API")}

#: sections outside the rights matrix that services log under (own profile, recovery, lifecycle,
#: the operator console), so the log shows and searches them by a title too
EXTRA_SECTION_TITLES = {
    "profile": N_("Profile"), "security": N_("Security"), "account": N_("Account"),
    "lifecycle": N_("PBX lifecycle"), "operator.accounts": N_("Operator: accounts"),
    "operator.pbxes": N_("Operator: PBXs"), "operator.editions": N_("Operator: editions"),
    "operator.did_pool": N_("Operator: DID pool"), "operator.settings": N_("Operator: platform settings"),
    "operator.tariffs": N_("Operator: tariffs"),
}

#: sections some services log under their own keys (``telephony.groups``) → rights sections
_SECTION_ALIASES = {"telephony.calendars": "call_handling", "telephony.groups": "groups",
                    "telephony.employees": "employees", "telephony.numbers": "numbers",
                    "telephony.schemes": "call_handling", "telephony.lists": "call_handling",
                    "telephony.sounds": "sounds", "telephony.sip": "sip", "telephony.trunks": "trunks",
                    "telephony.conferences": "conferences", "telephony.pbx_settings": "pbx_settings"}


class LogQueryError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def section_title(key: str, translate: Callable[[str], str]) -> str:
    sect = SECTIONS_BY_KEY.get(key) or SECTIONS_BY_KEY.get(_SECTION_ALIASES.get(key, ""))
    if sect is None and key in EXTRA_SECTION_TITLES:
        return translate(EXTRA_SECTION_TITLES[key])
    if sect is None and "." in key:
        sect = SECTIONS_BY_KEY.get(key.split(".", 1)[1])
    return translate(sect.title) if sect else key


def operation_title(op: str, translate: Callable[[str], str]) -> str:
    return translate(OPERATION_TITLES[op]) if op in OPERATION_TITLES else op


@dataclass
class LogQuery:
    since: datetime | None = None
    until: datetime | None = None      # exclusive
    q: str = ""
    login: str = ""
    ip: str = ""
    section: str = ""
    operation: str = ""
    actor_kind: str = ""
    pbx_id: int | None = None          # operators: one PBX


def parse_bound(value: str | None, tz: ZoneInfo, end: bool, field: str) -> datetime | None:
    """``2026-11-01`` (a day in ``tz``; as an end bound: the end of that day) or an ISO date-time.

    Years outside 1970..9998 are refused with their own message (the edges of the calendar
    would overflow when shifted to UTC)."""
    if not value:
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            dt = datetime.combine(d, time.min, tzinfo=tz)
        else:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise LogQueryError(field, N_("Enter a date as YYYY-MM-DD.")) from None
    if not 1970 <= dt.year <= 9998:
        raise LogQueryError(field, N_("Enter a year from 1970 to 9998."))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    if len(value) == 10 and end:
        dt += timedelta(days=1)
    return dt.astimezone(timezone.utc)


def build_query(args: Mapping[str, str], tz: ZoneInfo) -> LogQuery:
    """A :class:`LogQuery` from request arguments; :class:`LogQueryError` names a bad one."""
    get = lambda name: (args.get(name) or "").strip()  # noqa: E731
    query = LogQuery(since=parse_bound(get("from"), tz, False, "from"),
                     until=parse_bound(get("to"), tz, True, "to"),
                     q=get("q")[:200], login=get("login")[:200], ip=get("ip")[:64],
                     section=get("section")[:64], operation=get("operation")[:64],
                     actor_kind=get("actor").lower())
    if query.since and query.until and query.until <= query.since:
        raise LogQueryError("to", N_("The end of the period is before its start."))
    if query.actor_kind and query.actor_kind not in ACTOR_KINDS:
        raise LogQueryError("actor", N_("This value is not supported."))
    return query


def _phrase(text: str) -> dict:
    return {"$regex": re.escape(text), "$options": "i"}


def _titled_keys(q: str, titles: Mapping[str, str]) -> list[str]:
    """Keys whose title (English or Russian) contains the phrase ``q``."""
    ql = q.casefold()
    out = []
    for key, title in titles.items():
        if any(ql in i18n.translate(lang, title).casefold() for lang in ("en", "ru")):
            out.append(key)
    return out


def mongo_filter(query: LogQuery) -> dict:
    flt: dict[str, Any] = {}
    at: dict[str, Any] = {}
    if query.since:
        at["$gte"] = query.since
    if query.until:
        at["$lt"] = query.until
    if at:
        flt["at"] = at
    if query.login:
        flt["actor.login"] = {"$regex": f"^{re.escape(query.login)}$", "$options": "i"}
    if query.ip:
        flt["actor.ip"] = query.ip
    if query.section:
        flt["section"] = query.section
    if query.operation:
        flt["operation"] = query.operation
    if query.actor_kind:
        flt["actor.kind"] = query.actor_kind
    if query.pbx_id:
        flt["pbx_id"] = query.pbx_id
    if query.q:
        ors: list[dict] = [{f: _phrase(query.q)} for f in ("actor.name", "actor.login", "actor.ip", "section",
                                                             "operation", "object.name")]
        sections = _titled_keys(query.q, {k: s.title for k, s in SECTIONS_BY_KEY.items()})
        sections += [alias for alias, key in _SECTION_ALIASES.items() if key in sections]
        sections += _titled_keys(query.q, EXTRA_SECTION_TITLES)
        if sections:
            ors.append({"section": {"$in": sections}})
        ops = _titled_keys(query.q, OPERATION_TITLES)
        if ops:
            ors.append({"operation": {"$in": ops}})
        kinds = _titled_keys(query.q, ACTOR_LABELS)
        if kinds:
            ors.append({"actor.kind": {"$in": kinds}})
        flt["$or"] = ors
    return flt


async def find_entries(db, scope: Scope, query: LogQuery, page: int, per_page: int,
                       after: list | None = None, before: list | None = None) -> tuple[KeysetPage, int]:
    """One page of entries (newest first) and the total — the API's and the cabinet's.
    ``after`` / ``before`` (decoded keyset cursors): the page after / before that entry (the
    cabinet's «Older» / «Newer»); without them, page number ``page`` (the API)."""
    repo = AuditLog(db, scope)
    flt = mongo_filter(query)
    total = await repo.count(flt)
    return await list_page(repo.find, flt, NEWEST_FIRST, per_page, page, after, before), total


async def export_entries(db, scope: Scope, query: LogQuery) -> list[dict]:
    """Every matching entry (newest first); :class:`LogQueryError` above :data:`EXPORT_LIMIT`."""
    docs = await AuditLog(db, scope).find(mongo_filter(query), sort=NEWEST_FIRST, limit=EXPORT_LIMIT + 1)
    if len(docs) > EXPORT_LIMIT:
        raise LogQueryError("from", N_("Too many entries to export: narrow the period."))
    return docs


def actor_label(actor: Mapping, translate: Callable[[str], str]) -> str:
    kind = actor.get("kind")
    if kind in ACTOR_LABELS:
        name = actor.get("name")
        return f"{translate(ACTOR_LABELS[kind])}: {name}" if kind == "api" and name else translate(ACTOR_LABELS[kind])
    return actor.get("name") or actor.get("login") or "—"


def entry_out(doc: Mapping, translate: Callable[[str], str]) -> dict:
    actor = doc.get("actor") or {}
    obj = doc.get("object") or {}
    at = doc.get("at")
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return {"id": str(doc["_id"]), "at": at, "pbx_id": doc.get("pbx_id"),
            "actor": {"kind": actor.get("kind") or "user", "label": actor_label(actor, translate),
                      "login": actor.get("login"), "ip": actor.get("ip")},
            "section": doc.get("section") or "", "section_title": section_title(doc.get("section") or "", translate),
            "operation": doc.get("operation") or "",
            "operation_title": operation_title(doc.get("operation") or "", translate),
            "object": {"type": obj.get("type"), "id": obj.get("id"),
                       "name": logged_name(obj.get("type"), obj.get("name"), translate)},
            "before": doc.get("before"), "after": doc.get("after")}


def _shown(kind: str | None, state: Any, translate: Callable[[str], str]) -> Any:
    """A logged state with the object's seeded name in the reader's language (see
    :func:`esl_control.model.names.logged_name`)."""
    if isinstance(state, Mapping) and "name" in state:
        name = logged_name(kind, state["name"], translate)
        if name != state["name"]:
            return {**state, "name": name}
    return state


def changes_text(before: Any, after: Any, translate: Callable[[str], str] | None = None, tz=None,
                 lang: str = "en", kind: str | None = None) -> str:
    """The «Changes» column: field names in the reader's language, old → new values, dates in
    their time zone (:func:`web.access.changes.describe_changes`); the seeded name of an object of
    ``kind`` as the reader's cabinet names it."""
    if translate is not None:
        before, after = _shown(kind, before, translate), _shown(kind, after, translate)
    return describe_changes(before, after, translate, tz, lang)


EXPORT_COLUMNS = (N_("Time"), N_("Actor"), N_("Login"), N_("IP address"), N_("Section"), N_("Operation"),
                  N_("Object"), N_("Changes"))


def export_rows(docs: list[Mapping], translate: Callable[[str], str], tz: ZoneInfo,
                lang: str = "en") -> list[list[str]]:
    rows = []
    for doc in docs:
        e = entry_out(doc, translate)
        obj = e["object"]
        rows.append([e["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if e["at"] else "",
                     e["actor"]["label"], e["actor"]["login"] or "", e["actor"]["ip"] or "",
                     e["section_title"], e["operation_title"],
                     obj["name"] or obj["id"] or "", changes_text(e["before"], e["after"], translate, tz, lang,
                                                                    obj["type"])])
    return rows


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in exported text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: list[list[str]], headers: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(headers)
    for row in rows:
        w.writerow([_cell(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 as such


def to_xlsx(rows: list[list[str]], headers: list[str], title: str) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    ws = wb.add_worksheet(title[:31])
    bold = wb.add_format({"bold": True, "bg_color": "#EEF1F6", "border": 1})
    for c, h in enumerate(headers):
        ws.write_string(0, c, h, bold)
    widths = [len(h) for h in headers]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)
            widths[c] = min(60, max(widths[c], len(value)))
    for c, wdt in enumerate(widths):
        ws.set_column(c, c, wdt + 2)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(rows)), len(headers) - 1)
    wb.close()
    return buf.getvalue()
