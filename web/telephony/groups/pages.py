"""Cabinet pages of call groups: members (employees or external numbers with lines and a
schedule), the distribution strategy with an explanation of each, ring time, attempts, melodies,
ringback, announcing the caller, caller-id presentation, in-call features and their DTMF codes,
the queue (PBX defaults or special), exclusion, sticky agent, auto-callback and recording.

Rights: section ``groups``. A user whose reach in ``groups`` is ``supervised`` (Group leader)
sees and changes only the groups they supervise, and cannot create or delete groups.
"""
from __future__ import annotations

from esl_control.model.common import next_free_extension
from esl_control.model.groups.schemas import DTMF_DEFAULTS, FEATURE_DEFAULTS, group_errors
from esl_control.model.groups.services import GroupService
from esl_control.model.names import group_name, typed_group_name
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.quotas import pbx_has_feature
from esl_control.model.reach import MANAGE_GROUPS
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.groups.http import GroupReach
from web.telephony.pages_common import Choices, DeletePage, FormPage, ListPage, TelPage, int_or_raw, object_pages

SECTION = "groups"
STRATEGIES = (
    ("sequential", N_("Sequential"), N_("Members ring one after another in the order of the list, each for the ring time.")),
    ("simultaneous", N_("Simultaneous to all"), N_("Every free member rings at once; the first to answer takes the call.")),
    ("priority", N_("Parallel by priority"), N_("All members with the highest priority ring at once; if nobody answers, the next priority rings.")),
    ("random", N_("Random"), N_("One member chosen at random rings.")),
    ("uniform", N_("Uniform"), N_("The member whose last conversation ended earliest rings first: the load is spread evenly.")),
)
FEATURES = (("transfer", N_("Call transfer")), ("conference", N_("Conference (adding a third party)")),
            ("fax", N_("Receiving a fax")))
DTMF = (("transfer", N_("Transfer")), ("toggle", N_("Switch between callers")), ("return", N_("Return / merge")),
        ("fax", N_("Fax")), ("record", N_("Start recording")))
FIRST_GROUP_EXTENSION = 200

register_section(Section("tel_groups", N_("Groups"), "/telephony/groups", order=105, audience="tenant",
                         right="groups.view", icon="☷"))

assert set(DTMF_DEFAULTS) == {k for k, _t in DTMF} and set(FEATURE_DEFAULTS) == {k for k, _t in FEATURES}


class GroupPage(GroupReach, TelPage):
    """Base of the group pages. The reach of the user's role in ``groups`` applies as in the API
    (:class:`~web.telephony.groups.http.GroupReach`, applied by the service): a Group leader opens
    and changes only the groups they supervise ("groups" / "own": the groups they are a member
    of), and nobody whose reach is not everyone creates or deletes groups."""

    section = "tel_groups"
    rights_key = SECTION
    template_values = {"strategies": STRATEGIES, "features": FEATURES, "dtmf_names": DTMF}
    service_cls = GroupService
    list_url = "/telephony/groups"
    object_type = "group"

    def may_manage(self) -> bool:
        """Creating and deleting groups is for users whose reach covers every group."""
        r = self.rights
        return r is None or r.operator or r.reach(SECTION) in (None, "all")

    def check_manage(self) -> None:
        if not self.may_manage():
            raise AppError(403, "forbidden", MANAGE_GROUPS)

    async def load(self, id: str) -> dict:
        self.loaded = await self.svc().get_reached(id, await self.reach())  # another PBX's id stays "not found"
        return self.loaded


@route("/telephony/groups", access="tenant", section=SECTION, name="tel_groups")
class GroupsPage(ListPage, GroupPage):
    list_template = "telephony/groups.html"

    async def items(self) -> list[dict]:
        found = await self.svc().list_reached(await self.reach(), q=self.get_query_argument("q", "").strip())
        return [{**g, "name": group_name(g, self._)} for g in found]

    async def list_context(self, items: list[dict]) -> dict:
        return {"names": {e["id"]: e["name"] for e in await Choices(self).employees()},
                "titles": {k: t for k, t, _h in STRATEGIES}}


def _member_out(m: dict) -> dict:
    return {"kind": m.get("kind", "employee"), "employee_id": m.get("employee_id") or "", "method": m.get("method") or "card",
            "value": m.get("value") or "", "lines": str(m.get("lines") or 1), "schedule_id": m.get("schedule_id") or "",
            "priority": str(m.get("priority") or 1), "id": m.get("id") or "",
            "operator": m.get("operator", True), "supervisor": m.get("supervisor", False)}


class GroupForm(FormPage, GroupPage):
    form_template = "telephony/group.html"
    item_url = "/telephony/groups/{id}"

    async def blank(self) -> dict:
        ext = await next_free_extension(self.db, self.svc().scope, FIRST_GROUP_EXTENSION)
        member = self.get_query_argument("member", "")
        features = dict(FEATURE_DEFAULTS)
        if not await pbx_has_feature(self.db, self.svc().scope.value, "fax"):
            features["fax"] = False  # the edition has no fax: do not offer a box the save refuses
        return {"name": "", "extension": ext, "strategy": "sequential",
                "members": [_member_out({"kind": "employee", "employee_id": member})] if member else [],
                "ring_time": None, "attempts": 1, "attempt_pause": 0, "pause_melody": None, "ringback": None,
                "announce_caller": False, "caller_id": "caller", "features": features,
                "dtmf": dict(DTMF_DEFAULTS), "queue": {"mode": "pbx", "enabled": True, "max_wait": 600, "max_length": 0,
                                                      "entry_sound": None, "hold_sound": None, "overflow_sound": None,
                                                      "announce_position": False, "announce_ewt": False},
                "exclusion": None, "sticky_agent": False, "auto_callback": False, "record": False}

    def values_of(self, doc: dict) -> dict:
        return {**doc, "name": group_name(doc, self._), "members": [_member_out(m) for m in doc["members"]]}

    def redisplay(self, data: dict, errors: dict) -> dict:
        values = self.values_of(data)
        if "exclusion" in errors or data["exclusion"] is not None:
            values["exclusion_own"] = True
        return values

    async def form_context(self, id, values: dict) -> dict:
        ch = Choices(self)
        employees = await ch.employees()
        pbx = (await self.service(PbxSettingsService).get())["call_handling"]
        return {"employees": employees, "methods": {e["id"]: e.get("contact_methods", []) for e in employees},
                "accounts": {a["id"]: a["address"] for a in await ch.accounts()},
                "schedules": await ch.schedules(), "sounds": await ch.sounds(), "pbx": pbx}

    def form_values(self) -> dict:
        members = []
        for r in self.rows("m", ("employee_id", "value")):
            m = {"kind": r.get("kind", "employee"), "priority": int_or_raw(r.get("priority")) or 1}
            if r.get("id"):
                m["id"] = r["id"]
            if m["kind"] == "employee":
                m.update(employee_id=r.get("employee_id", ""), method=r.get("method") or "card",
                         operator="operator" in r, supervisor="supervisor" in r)
            else:
                m.update(value=r.get("value", "").strip(), lines=int_or_raw(r.get("lines")) or 1,
                         schedule_id=r.get("schedule_id") or None)
            members.append(m)
        queue = {"mode": self.field("queue.mode", "pbx"), "enabled": self.checked("queue.enabled"),
                 "max_wait": int_or_raw(self.field("queue.max_wait")),
                 "max_length": int_or_raw(self.field("queue.max_length")),
                 "announce_position": self.checked("queue.announce_position"),
                 "announce_ewt": self.checked("queue.announce_ewt")}
        for f in ("entry_sound", "hold_sound", "overflow_sound"):
            queue[f] = self.field(f"queue.{f}") or None
        return {"name": typed_group_name(getattr(self, "loaded", None), self.field("name"), self._),
                "extension": self.field("extension").strip(),
                "strategy": self.field("strategy", "sequential"), "members": members,
                "ring_time": int_or_raw(self.field("ring_time")), "attempts": int_or_raw(self.field("attempts")),
                "attempt_pause": int_or_raw(self.field("attempt_pause")),
                "pause_melody": self.field("pause_melody") or None, "ringback": self.field("ringback") or None,
                "announce_caller": self.checked("announce_caller"), "caller_id": self.field("caller_id", "caller"),
                "features": {k: self.checked(f"features.{k}") for k in FEATURE_DEFAULTS},
                "dtmf": {k: self.field(f"dtmf.{k}").strip() for k in DTMF_DEFAULTS}, "queue": queue,
                "exclusion": int_or_raw(self.field("exclusion")) if self.field("exclusion_mode") == "own" else None,
                "sticky_agent": self.checked("sticky_agent"), "auto_callback": self.checked("auto_callback"),
                "record": self.checked("record")}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        return self.rule_errors(exc, group_errors(data))


class GroupDeletePage(DeletePage, GroupPage):
    def name_of(self, doc: dict) -> str:
        """The seeded default group in the reader's language (a renamed one as typed)."""
        return group_name(doc, self._)


object_pages("/telephony/groups", "tel_group", SECTION, form=GroupForm, delete=GroupDeletePage)
