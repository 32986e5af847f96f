"""REST API of the PBX's LDAP directory sync (``/api/v1/integrations/ldap…``; rights section
``integrations``). The same use cases as the cabinet page (:mod:`esl_control.model.ldap.services`):

- ``GET``/``PUT /api/v1/integrations/ldap``: the settings (the password is write-only; ``PUT``
  without ``password`` keeps the stored one);
- ``POST /api/v1/integrations/ldap/sync``: queue a sync now (202 with the job id);
- ``GET /api/v1/integrations/ldap/runs``, ``…/incidents``, ``…/incidents/{id}``;
- matching (inventory D §4.6.7.5 step 3): ``GET …/links`` (the matched cards and the statistics),
  ``POST …/links`` (match a card to a directory entry by hand), ``PATCH …/links/{id}``
  (``{sync: false}``: stop sync of that card, the link stays), ``DELETE …/links/{id}`` (the link);
- ``POST …/example``: "Show example", the first entries as the saved mapping reads them.
"""
from __future__ import annotations

import logging

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from esl_control.model.employees.schemas import RECEPTION_MODES
from esl_control.model.ldap.schemas import (AD_MAPPING, CARD_FIELDS, DN_MAX, DN_PATTERN, MESSAGES, OPENLDAP_MAPPING,
                                            SCHEDULE_HOURS, SCHEDULE_MODES, SECURITY)
from esl_control.model.ldap.services import LdapService
from pult.errors import AppError
from pult.i18n import N_
from web.api_base import Param, operation
from web.api_fields import EMAILS_PATTERN, HOST_PATTERN, LOCAL_HOST_EXTENSION, PHONE_PATTERN, ObjectIdStr, documented
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import Deleted, Out, TelApi, id_param

log = logging.getLogger("pult.web.ldap")
TAG = "integrations: LDAP"


# what clean_settings (esl_control/model/ldap/schemas.py) takes, as the document states it (the rules
# stay the judge and answer with their own messages): a DN of attribute=value parts, a filter in
# brackets, attribute names, the schedule by its mode, at least one sync policy on
_DN = r"[A-Za-z][A-Za-z0-9-]{0,15}=[A-Za-z0-9_.-]{1,30}(,[A-Za-z][A-Za-z0-9-]{0,15}=[A-Za-z0-9_.-]{1,30}){0,5}"
_ATTR = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9-]{0,63}$"}
_MAPPING = {"anyOf": [{"type": "null"}, {
    "type": "object", "additionalProperties": False, "required": ["uid", "name"],
    "properties": {k: (_ATTR if k in ("uid", "name") else {"anyOf": [_ATTR, {"type": "string", "maxLength": 0}]})
                   for k in CARD_FIELDS}}]}
_FLAG = {"type": "boolean"}
_POLICY = {"anyOf": [{"type": "null"}, {
    "type": "object", "additionalProperties": False, "properties": {k: _FLAG for k in ("create", "update", "deactivate")},
    # create and update are on unless false; deactivate only when true
    "anyOf": [{"properties": {"create": {"const": True}}}, {"properties": {"update": {"const": True}}},
              {"properties": {"deactivate": {"const": True}}, "required": ["deactivate"]}]}]}
_SCHEDULE = {"anyOf": [{"type": "null"}, {"oneOf": [
    {"type": "object", "additionalProperties": False, "properties": {"mode": {"const": "manual"}}},
    {"type": "object", "additionalProperties": False, "required": ["mode", "hours"],
     "properties": {"mode": {"const": "interval"}, "hours": {"enum": list(SCHEDULE_HOURS)}}},
    {"type": "object", "additionalProperties": False, "required": ["mode", "time"],
     "properties": {"mode": {"const": "daily"}, "time": {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}}},
]}]}
assert set(SCHEDULE_MODES) == {"manual", "interval", "daily"}
_DEFAULTS = {"anyOf": [{"type": "null"}, {
    "type": "object", "additionalProperties": False,
    "properties": {"outgoing_number": {"anyOf": [{"type": "string", "pattern": PHONE_PATTERN}, {"type": "null"}]},
                   "reception_mode": {"enum": [*RECEPTION_MODES, None]}}}]}


def _settings_schema(s: dict) -> None:
    """A bind password needs a bind DN; the server's address is the property run's own (fuzz_hooks.py:
    a check connects to it)."""
    s["anyOf"] = [{"properties": {"password": {"anyOf": [{"type": "null"}, {"maxLength": 0}]}}},
                  {"required": ["bind_dn"], "properties": {"bind_dn": {"minLength": 1}}}]
    s[LOCAL_HOST_EXTENSION] = ["host"]


class LdapSettingsIn(Strict):
    model_config = ConfigDict(**Strict.model_config, json_schema_extra=_settings_schema)

    enabled: bool | None = Field(None, description="Off: no scheduled or manual sync")
    host: str = Field(description="LDAP server host name or IP address",
                      json_schema_extra=documented(pattern=HOST_PATTERN, maxLength=255))
    port: int | None = Field(None, description="Default 389, or 636 with LDAPS",
                             json_schema_extra=documented(minimum=1, maximum=65535))
    security: str | None = Field(None, description="none | ldaps | starttls",
                                 json_schema_extra=documented(enum=[*SECURITY, None]))
    ca_cert: str | None = Field(None, description="PEM of the CA that signed the server's certificate (TLS)",
                                json_schema_extra=documented(pattern=r"^(-----BEGIN CERTIFICATE-----[\s\S]*)?$",
                                                             maxLength=20000))
    timeout: int | None = Field(None, description="Seconds to wait for the server (1-120, default 10)",
                                json_schema_extra=documented(minimum=1, maximum=120))
    bind_dn: str | None = Field(None, description="DN of the service account; empty: anonymous",
                                json_schema_extra=documented(pattern=f"^({_DN})?$"))
    password: str | None = Field(None, description="The service account's password (write-only; left out: kept)",
                                 json_schema_extra=documented(maxLength=1000))
    base_dn: str = Field(description="Where to search, e.g. ou=people,dc=example,dc=org",
                         json_schema_extra=documented(pattern=f"^{_DN}$"))
    filter: str | None = Field(None, description="Search filter, default (objectClass=inetOrgPerson)",
                               json_schema_extra=documented(pattern=r"^(\([A-Za-z]{1,30}=[A-Za-z0-9*]{1,30}\))?$"))
    mapping: dict[str, str] | None = Field(None, description="Card field → attribute: uid (permanent id), name, "
                                                              "extension, email, mobile, position, department, login. "
                                                              f"Default (OpenLDAP): {OPENLDAP_MAPPING}; Active Directory: "
                                                              f"{AD_MAPPING}",
                                          json_schema_extra=documented(**_MAPPING))
    policy: dict[str, bool] | None = Field(None, description="create (new employees), update (existing), "
                                                             "deactivate (absent: contact methods off, never deleted)",
                                          json_schema_extra=documented(**_POLICY))
    notify_email: str | None = Field(None, description="Who receives the incidents of a sync",
                                     json_schema_extra=documented(pattern=EMAILS_PATTERN, maxLength=254))
    login: dict[str, bool] | None = Field(None, description="{enabled}: employees may sign in to the cabinet with "
                                                            "their directory password",
                                         json_schema_extra=documented(additionalProperties=False,
                                                                      properties={"enabled": _FLAG}))
    extension_start: int | None = Field(None, description="New employees without a directory extension get the "
                                                          "next free one from here (default 100)",
                                            json_schema_extra=documented(minimum=1, maximum=99999))
    schedule: dict | None = Field(None, description="{mode: manual | interval | daily, hours: 1|2|3|4|8|12, "
                                                    "time: HH:MM in the PBX's time zone}",
                                  json_schema_extra=documented(**_SCHEDULE))
    exclusions: list[str] | None = Field(None, description="The exclusion list: directory entries that never sync "
                                                           "(DN, permanent id or login), e.g. technical accounts",
                                         json_schema_extra=documented(maxItems=100, items={"type": "string",
                                                                                           "maxLength": 200}))
    defaults: dict | None = Field(None, description="For the cards the sync creates: {outgoing_number: one of the "
                                                    "PBX's lines or null, reception_mode: main | sequential | "
                                                    "simultaneous (default)}",
                                  json_schema_extra=documented(**_DEFAULTS))
    auto_sip: bool | None = Field(None, description="Each employee the sync creates also gets a SIP account "
                                                    "ext<extension> in the PBX's own domain")


class LdapSettingsOut(Out):
    configured: bool
    has_password: bool | None = None
    host: str | None = None
    next_run_at: UtcDatetime | None = None
    last_run_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class SyncQueuedOut(Out):
    queued: bool
    job_id: str | None = None


class RunOut(Out):
    id: str
    trigger: str
    status: str = Field(description="running | ok | failed | aborted")
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    counters: dict = Field(description="created, updated, deactivated, unchanged, failed")


class RunList(Out):
    items: list[RunOut]


class IncidentOut(Out):
    id: str
    run_id: str
    at: UtcDatetime
    code: str
    message: str = Field(description="What happened, in the caller's language")
    dn: str = ""
    uid: str = ""


class IncidentList(Out):
    items: list[IncidentOut]


@route("/api/v1/integrations/ldap", access="tenant", section="integrations")
class LdapSettingsApi(TelApi):
    @operation(N_("LDAP directory sync settings of the PBX"), response=LdapSettingsOut, tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(LdapSettingsOut, await self.service(LdapService, box=self.secret_box()).get())

    @operation(N_("Change the LDAP directory sync settings"), request=LdapSettingsIn, response=LdapSettingsOut,
               tags=[TAG], errors=(400, 401, 403, 409, 422))
    async def put(self) -> None:
        data = self.payload(LdapSettingsIn)
        self.reply_model(LdapSettingsOut, await self.service(LdapService, box=self.secret_box()).update(data))


class CheckOut(Out):
    ok: bool
    code: str | None = Field(None, description="ldap.unreachable | ldap.bind_failed")
    message: str = Field("", description="Why not, in the caller's language")


@route("/api/v1/integrations/ldap/check", access="tenant", section="integrations")
class LdapCheckApi(TelApi):
    @operation(N_("Check the connection to the LDAP server (the body: unsaved settings; empty: the saved ones)"),
               request=LdapSettingsIn, response=CheckOut, tags=[TAG], errors=(400, 401, 403, 409, 422))
    async def post(self) -> None:
        data = self.payload(LdapSettingsIn) if self.request.body.strip() else None
        self.reply_model(CheckOut, check_view(await self.service(LdapService, box=self.secret_box()).check(data),
                                              self.lang))


def check_view(result: dict, lang: str) -> dict:
    from esl_control.routing.errors import RuleError

    message = RuleError(result["code"], detail=result["detail"]).message(lang) if result["code"] else ""
    return {"ok": result["ok"], "code": result["code"], "message": message}


async def queue_sync(pbx_id: int) -> str | None:
    """Queue a sync of ``pbx_id`` now; the job id, or None when the job queue is unreachable."""
    from jobs.app import JobsUnavailable
    from jobs.client import submit_async
    from jobs.ldap_sync import run

    try:
        return await submit_async(run, args=(pbx_id, "manual"), what="the LDAP sync")
    except JobsUnavailable as exc:
        log.error("LDAP sync of PBX %s not queued: %s", pbx_id, exc)
        return None


@route("/api/v1/integrations/ldap/sync", access="tenant", section="integrations")
class LdapSyncApi(TelApi):
    @operation(N_("Run the LDAP directory sync now (queued; see runs and incidents)"), response=SyncQueuedOut,
               status=202, tags=[TAG], errors=(401, 403, 409, 503))
    async def post(self) -> None:
        doc = await self.service(LdapService).get()
        if not doc["configured"]:
            raise AppError(409, "ldap_not_configured", MESSAGES["ldap.not_configured"])
        if not doc.get("enabled"):
            raise AppError(409, "ldap_disabled", MESSAGES["ldap.disabled"])
        job_id = await queue_sync(self.pbx_id)
        if job_id is None:
            raise AppError(503, "unavailable", N_("The job queue is unavailable. Please try again in a minute."))
        self.reply_model(SyncQueuedOut, {"queued": True, "job_id": job_id}, status=202)


@route("/api/v1/integrations/ldap/runs", access="tenant", section="integrations")
class LdapRunsApi(TelApi):
    @operation(N_("The latest LDAP sync runs, newest first"), response=RunList, tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(RunList, {"items": await self.service(LdapService).list_runs()})


@route("/api/v1/integrations/ldap/incidents", access="tenant", section="integrations")
class LdapIncidentsApi(TelApi):
    @operation(N_("What LDAP syncs could not do, newest first"), response=IncidentList, tags=[TAG],
               params=(Param("run_id", description="Only the incidents of this run"),), errors=(401, 403))
    async def get(self) -> None:
        items = await self.service(LdapService).list_incidents(self.lang, run_id=self.text_arg("run_id") or None)
        self.reply_model(IncidentList, {"items": items})


@route("/api/v1/integrations/ldap/incidents/{id}", access="tenant", section="integrations")
class LdapIncidentApi(TelApi):
    @operation(N_("One LDAP sync incident"), response=IncidentOut, tags=[TAG], params=(id_param(what="Incident id"),),
               errors=(401, 403, 404))
    async def get(self, id: str) -> None:
        self.reply_model(IncidentOut, await self.service(LdapService).get_incident(id, self.lang))


class LinkOut(Out):
    employee_id: str
    name: str
    extension: str = ""
    dn: str = Field(description="The directory entry the card is matched to")
    uid: str = Field(description="The entry's permanent id")
    sync: bool = Field(description="False: sync of this card is stopped (the link stays)")
    absent: bool = Field(description="The entry was gone at the last sync (the card's contact methods are off)")


class LinkStats(Out):
    matched: int
    synced: int
    not_synced: int
    unmatched: int | None = Field(None, description="Directory entries with no card at the last sync (null: no "
                                                    "sync yet): excluded + other")
    excluded: int | None = None
    other: int | None = Field(None, description="Entries with no card: not created, refused, no id or name")


class LinkList(Out):
    items: list[LinkOut]
    stats: LinkStats


class MatchIn(Strict):
    employee_id: ObjectIdStr = Field(description="The PBX's employee")
    dn: Annotated[str, StringConstraints(max_length=DN_MAX, pattern=DN_PATTERN)] = Field(
        description="The directory entry's DN, e.g. uid=ivanov,ou=people,dc=example,dc=org")


class LinkSyncIn(Strict):
    sync: bool = Field(description="False: stop sync of this card; true: resume it")


class ExampleEntry(Out):
    dn: str
    values: dict[str, str] = Field(description="Card field → the value the mapping reads")


class ExampleOut(Out):
    ok: bool
    items: list[ExampleEntry]
    code: str | None = None
    message: str = ""


@route("/api/v1/integrations/ldap/links", access="tenant", section="integrations")
class LdapLinksApi(TelApi):
    @operation(N_("The employees matched to directory entries, and the matching statistics"), response=LinkList,
               tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(LinkList, await self.service(LdapService).links())

    @operation(N_("Match an employee to a directory entry by hand (the next sync fills the card)"), request=MatchIn,
               response=LinkOut, status=201, tags=[TAG], errors=(400, 401, 403, 404, 409, 422))
    async def post(self) -> None:
        data = self.payload(MatchIn)
        out = await self.service(LdapService, box=self.secret_box()).match(data.get("employee_id"), data.get("dn"))
        self.reply_model(LinkOut, out, status=201)


@route("/api/v1/integrations/ldap/links/{id}", access="tenant", section="integrations")
class LdapLinkApi(TelApi):
    @operation(N_("Stop or resume the sync of one matched employee (the link stays)"), request=LinkSyncIn,
               response=LinkOut, tags=[TAG], params=(id_param(what="Employee id"),),
               errors=(400, 401, 403, 404, 409, 422))
    async def patch(self, id: str) -> None:
        data = self.payload(LinkSyncIn)
        self.reply_model(LinkOut, await self.service(LdapService).set_sync(id, data.get("sync")))

    @operation(N_("Delete the link of an employee to its directory entry (the card stays)"), response=Deleted,
               tags=[TAG], params=(id_param(what="Employee id"),), errors=(401, 403, 404, 409))
    async def delete(self, id: str) -> None:
        await self.service(LdapService).unlink(id)
        self.reply_deleted(id)


def example_view(result: dict, lang: str) -> dict:
    from esl_control.routing.errors import RuleError

    message = RuleError(result["code"], detail=result["detail"]).message(lang) if result["code"] else ""
    return {"ok": result["ok"], "items": result["items"], "code": result["code"], "message": message}


@route("/api/v1/integrations/ldap/example", access="tenant", section="integrations")
class LdapExampleApi(TelApi):
    @operation(N_("Show example: the first directory entries as the saved mapping reads them (changes nothing)"),
               response=ExampleOut, tags=[TAG], errors=(401, 403, 409))
    async def post(self) -> None:
        result = await self.service(LdapService, box=self.secret_box()).example()
        self.reply_model(ExampleOut, example_view(result, self.lang))
