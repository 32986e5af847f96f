"""Cabinet pages of call-handling schemes (PRODUCT.md §4.1-4.2): the list and the tree editor.

``/telephony/schemes``
    Every scheme of the PBX with its description, the numbers it is active on and an "active"
    mark; create, copy, rename, delete (refused with the referrers while a number uses it) and
    bind to numbers. Plain server-rendered forms over :class:`SchemeService` — they work without
    JavaScript; ``static/schemes/list.js`` only asks for confirmations.

``/telephony/schemes/{scheme_id}``
    The editor. The page carries the scheme tree and the pickers' choices (schedules, sounds,
    groups, employees, trunks — read from the areas' services) as JSON in a non-executable
    ``<script type="application/json">`` block (CSP: no inline code), plus every text the
    editor shows, already translated. ``static/schemes/editor.js`` renders the tree as cards,
    edits it in memory and saves it with ONE ``PUT`` of the whole document to the scheme API
    (``/api/v1/telephony/schemes/{id}``); the server validates the whole tree and its per-field
    errors (``blocks[0].steps[2].children.1.steps[0].target.id``) are shown on the card they
    point at. Without JavaScript the page shows the tree as a read-only outline.

Rights: section ``call_handling`` — view to see, edit to change (the base handler enforces it
per route; a read-only user gets the editor without its controls). Another PBX's scheme is not
found (404), like everywhere else.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import quote

from tornado.web import HTTPError

from esl_control.model.calendars.services import ScheduleService
from esl_control.model.common import InUse, NotFound
from esl_control.model.employees.services import EmployeeService
from esl_control.model.groups.services import GroupService
from esl_control.model.names import group_name
from esl_control.model.numbers.services import NumberService
from esl_control.model.schemes.schemas import MAX_MENU_LEVEL, RULE_KINDS, refs_of_scheme
from esl_control.model.schemes.services import SchemeService
from esl_control.model.sounds.services import SoundService
from esl_control.model.trunks.services import TrunkService
from esl_control.routing.errors import RuleError
from jobs.builtin_media import sound_name
from pult.errors import AppError
from pult.i18n import N_
from web.handlers import PageHandler
from web.routes import route
from web.sections import Section, register_section
from web.telephony.api_common import OBJECT_ID, PbxServices
from web.telephony.dryrun.describe import now_headlines

SECTION = "call_handling"
BASE_URL = "/telephony/schemes"
API_URL = "/api/v1/telephony/schemes"

register_section(Section("schemes", N_("Call schemes"), BASE_URL, order=300, audience="tenant",
                         right="call_handling.view", icon="⋔"))

STEP_TITLES = {
    "greeting": N_("Greeting"), "menu": N_("Voice menu"), "forward": N_("Forward"),
    "voicemail": N_("Voice mail"), "fax": N_("Receive a fax"), "return_to_main": N_("Return to main menu"),
    "hangup": N_("Hang up"),
}
RULE_TITLES = {
    "disa": N_("Dialling an extension"), "fax_detect": N_("Fax detection"),
    "no_input": N_("No input"), "other_input": N_("Any other input"),
    "wrong_input": N_("Wrong input"), "wrong_password": N_("Wrong password"),
}
TARGET_TITLES = {
    "group": N_("Group"), "employee": N_("Employee"), "external": N_("External number"),
    "trunk": N_("SIP trunk"), "extension": N_("Extension"),
}

#: every text editor.js shows, by key (translated into the user's language when the page renders)
UI_TEXTS = {
    "block": N_("Time block"),
    "block_any": N_("At any other time"),
    "block_any_hint": N_("Calls that match none of the schedules above. This block is always last."),
    "block_hint": N_("Calls arriving while the schedule is in effect. Blocks are checked from the top."),
    "schedule": N_("Schedule"),
    "choose_schedule": N_("— choose a schedule —"),
    "add_block": N_("Add a time block"),
    "remove_block": N_("Remove the time block"),
    "block_up": N_("Move the block up"),
    "block_down": N_("Move the block down"),
    "add_step": N_("Add a step:"),
    "move_up": N_("Move up"),
    "move_down": N_("Move down"),
    "remove": N_("Remove"),
    "drag": N_("Drag to reorder"),
    "fold": N_("Show or hide the menu"),
    "final_fixed": N_("The final step. It is always last and cannot be removed."),
    "final_nested": N_("At the end"),
    "sound": N_("Sound file"),
    "no_sound": N_("— choose a sound file —"),
    "wait_end": N_("Wait until the greeting ends before the next step"),
    "target_type": N_("Forward to"),
    "not_set": N_("— not set —"),
    "target": N_("Whom"),
    "number": N_("Number"),
    "extension": N_("Extension"),
    "ring_time": N_("Ring time, s"),
    "ring_time_hint": N_("Empty: the PBX default; 0: until the caller hangs up."),
    "queue_override": N_("Override the group's queue settings"),
    "queue_enabled": N_("Put callers in a queue"),
    "queue_max_wait": N_("Maximum wait in the queue, s"),
    "emails": N_("E-mail addresses"),
    "emails_hint": N_("Separate addresses with commas. Empty: the PBX default address."),
    "menu_items": N_("Menu items"),
    "digit": N_("Digits"),
    "password": N_("Password"),
    "password_hint": N_("Optional: the caller must enter it to open this item."),
    "add_item": N_("Add a menu item"),
    "item": N_("Item"),
    "rules": N_("Processing rules"),
    "rules_hint": N_("What happens when the caller does something other than press a menu digit."),
    "rule_schedule": N_("Time period"),
    "rule_any_time": N_("— at any time —"),
    "timeout": N_("Wait for input, s"),
    "count": N_("Attempts"),
    "min_length": N_("Shortest extension"),
    "max_length": N_("Longest extension"),
    "level": N_("Level %(level)s"),
    "save": N_("Save"),
    "saving": N_("Saving…"),
    "saved": N_("All changes are saved."),
    "unsaved": N_("There are unsaved changes."),
    "save_failed": N_("The scheme was not saved. Fix the marked fields and save again."),
    "save_error": N_("The scheme was not saved: %(message)s"),
    "network_error": N_("The server could not be reached. Your changes are kept on this page; try again."),
    "leave_warning": N_("The scheme has unsaved changes. Leave the page anyway?"),
    "duplicate_digit": N_("The digits %(digits)s are used by another item of this menu"),
    "remove_confirm": N_("Remove this step with everything inside it?"),
    "empty_nested": N_("Nothing but the final step yet."),
    "moved": N_("Moved to position %(position)s of %(total)s."),
    "readonly": N_("You can view this scheme but not change it."),
}


def _t(handler: PageHandler, table: Mapping[str, str]) -> dict[str, str]:
    return {k: handler._(v) for k, v in table.items()}


def children_as_list(steps: Iterable[dict]) -> list[dict]:
    """A copy of ``steps`` where each menu's ``children`` dict becomes an ordered list of
    ``{digits, password, steps}`` (the editor's shape: JavaScript objects put integer-like keys
    in numeric order, so a dict would lose the order the admin arranged the items in; the
    service accepts the list form as is)."""
    out = []
    for step in steps:
        step = dict(step)
        if step.get("kind") == "menu":
            step["children"] = [{"digits": d, "password": c.get("password"),
                                 "steps": children_as_list(c.get("steps", ()))}
                                for d, c in (step.get("children") or {}).items()]
            step["rules"] = {k: ({**r, "steps": children_as_list(r["steps"])} if "steps" in r else dict(r))
                             for k, r in (step.get("rules") or {}).items()}
        out.append(step)
    return out


def editor_tree(doc: Mapping[str, Any]) -> dict:
    """The scheme as the editor holds it (see :func:`children_as_list`)."""
    return {"id": doc["id"], "name": doc["name"], "description": doc.get("description") or "",
            "blocks": [{"schedule_id": b.get("schedule_id"), "steps": children_as_list(b["steps"])}
                       for b in doc.get("blocks", ())]}


def outline(doc: Mapping[str, Any], translate, names: Mapping[str, str]) -> list[dict]:
    """The tree as indented lines ``{depth, text}`` — the page's no-JavaScript view (and what a
    screen reader reads before the editor starts)."""
    lines: list[dict] = []

    def step_text(step: Mapping) -> str:
        title = translate(STEP_TITLES.get(step["kind"], step["kind"]))
        if step["kind"] == "greeting" and step.get("sound_id"):
            return f"{title}: {names.get(step['sound_id'], step['sound_id'])}"
        if step["kind"] == "forward" and step.get("target"):
            t = step["target"]
            what = names.get(t.get("id"), t.get("id")) if t.get("id") else t.get("value")
            return f"{title}: {translate(TARGET_TITLES[t['type']])} {what}"
        return title

    def walk(steps: Iterable[Mapping], depth: int) -> None:
        for step in steps:
            lines.append({"depth": depth, "text": step_text(step)})
            if step["kind"] == "menu":
                for digits, child in (step.get("children") or {}).items():
                    lines.append({"depth": depth + 1, "text": f"{digits} · {translate('Password')}"
                              if child.get("password") else digits})
                    walk(child.get("steps", ()), depth + 2)
                for kind, rule in (step.get("rules") or {}).items():
                    lines.append({"depth": depth + 1, "text": translate(RULE_TITLES.get(kind, kind))})
                    walk(rule.get("steps", ()), depth + 2)

    blocks = list(doc.get("blocks", ()))
    for i, block in enumerate(blocks):
        if i == len(blocks) - 1:
            head = translate(UI_TEXTS["block_any"])
        else:
            sid = block.get("schedule_id")
            head = f"{translate(UI_TEXTS['schedule'])}: {names.get(sid, '—') if sid else '—'}"
        lines.append({"depth": 0, "text": head})
        walk(block["steps"], 1)
    return lines


class SchemePage(PbxServices, PageHandler):
    """Shared ground of the scheme pages: the services of the user's PBX, errors as pages."""

    section = "schemes"

    def not_a_pbx_user(self) -> Exception:
        return HTTPError(403)

    def svc(self, cls: type = SchemeService, **kw):
        return self.service(cls, **kw)

    @property
    def can_edit(self) -> bool:
        return bool(self.rights is None or self.rights.can(SECTION, "edit"))

    def rule_text(self, exc: RuleError) -> str:
        return exc.message(self.lang)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, NotFound):  # another PBX's scheme, or none at all
            try:
                raise AppError(404, "not_found", N_("Nothing was found at this address.")) from e
            except AppError as exc:
                return super()._handle_request_exception(exc)
        return super()._handle_request_exception(e)


@route(BASE_URL, access="tenant", section=SECTION, name="schemes")
class SchemesPage(SchemePage):
    """The list of schemes; POST creates one and opens it in the editor."""

    async def get(self) -> None:
        notices = {"copied": N_("The copy has been created."), "renamed": N_("The scheme has been renamed."),
                   "deleted": N_("The scheme has been deleted."), "bound": N_("The numbers have been updated.")}
        done = self.get_query_argument("done", "")
        await self.show(notice=self._(notices[done]) if done in notices else None)

    async def show(self, *, notice: str | None = None, error: str | None = None, form: dict | None = None,
                   form_errors: dict | None = None, open_id: str | None = None, status: int = 200) -> None:
        schemes = await self.svc().list()
        numbers = await self.svc(NumberService).list()
        trunk_numbers = await self.svc().trunk_numbers()  # a trunk's "receive" numbers (D §5.3.2)
        by_scheme: dict[str, list[dict]] = {}
        for n in [*numbers, *trunk_numbers]:
            if n.get("scheme_id"):
                by_scheme.setdefault(n["scheme_id"], []).append(n)
        names = {s["id"]: s["name"] for s in schemes}
        now_lines = await now_headlines(self, self.pbx_id, [n["number"] for n in numbers])
        self.set_status(status)
        self.render("schemes/list.html", schemes=schemes, numbers=numbers, trunk_numbers=trunk_numbers, by_scheme=by_scheme,
                    scheme_names=names, notice=notice, error=error, form=form or {"name": "", "description": ""},
                    form_errors=form_errors or {}, open_id=open_id, can_edit=self.can_edit,
                    base_url=BASE_URL, now_lines=now_lines)

    async def post(self) -> None:
        form = {"name": self.get_body_argument("name", ""), "description": self.get_body_argument("description", "")}
        try:
            doc = await self.svc().create({**form, "blocks": []})
        except RuleError as exc:
            await self.show(form=form, form_errors={exc.field or "name": self.rule_text(exc)}, status=422)
            return
        self.redirect(f"{BASE_URL}/{doc['id']}")


@route(BASE_URL + "/{scheme_id}", access="tenant", section=SECTION, params={"scheme_id": OBJECT_ID},
       name="scheme_editor")
class SchemeEditorPage(SchemePage):
    """The tree editor (see the module docstring)."""

    async def get(self, scheme_id: str) -> None:
        doc = await self.svc().get(scheme_id)
        pickers = await self.pickers(doc)
        names = {p["id"]: p["name"] for items in pickers.values() for p in items}
        numbers = await self.svc().numbers(scheme_id)
        config = {
            "scheme": editor_tree(doc),
            "api": f"{API_URL}/{scheme_id}",
            "list_url": BASE_URL,
            "readonly": not self.can_edit,
            "max_level": MAX_MENU_LEVEL,
            "lang": self.lang,
            "pickers": pickers,
            "texts": _t(self, UI_TEXTS),
            "steps": _t(self, STEP_TITLES),
            "rules": {k: self._(RULE_TITLES[k]) for k in RULE_KINDS},
            "targets": _t(self, TARGET_TITLES),
            # the server's own words for what it refuses, so the editor says exactly the same
            "depth_message": RuleError("scheme.menu_depth", max=MAX_MENU_LEVEL).message(self.lang),
            "rules_level_message": RuleError("scheme.rules_level", level=MAX_MENU_LEVEL).message(self.lang),
            "final_message": RuleError("scheme.final_hangup").message(self.lang),
        }
        self.render("schemes/editor.html", scheme=doc, config=config, numbers=numbers,
                    outline=outline(doc, self._, names), can_edit=self.can_edit, base_url=BASE_URL)

    async def pickers(self, scheme: dict | None = None) -> dict[str, list[dict]]:
        """Choices of the editor's pickers, each ``{id, name, hint}`` sorted by name. Trunks: the
        switched-on ones (D §5.5: a call is not forwarded to a switched-off trunk), and a
        switched-off one only where ``scheme`` already forwards to it, marked so."""
        def items(docs, hint=lambda d: ""):
            return [{"id": d["id"], "name": d.get("name") or d["id"], "hint": hint(d)} for d in docs]

        used_trunks = {ref_id for kind, ref_id, _where in refs_of_scheme(scheme or {}) if kind == "trunk"}
        trunks = [d for d in await self.svc(TrunkService).list() if d.get("active", True) or d["id"] in used_trunks]

        sounds = [{**d, "name": sound_name(d, self._)} for d in await self.svc(SoundService).list()]
        return {
            "schedule": items(await self.svc(ScheduleService).list()),
            "sound": items(sounds, lambda d: self._("built-in") if d.get("builtin") else ""),
            "group": items([{**d, "name": group_name(d, self._)} for d in await self.svc(GroupService).list()],
                           lambda d: d.get("extension") or ""),
            "employee": items(await self.svc(EmployeeService).list(), lambda d: d.get("extension") or ""),
            "trunk": items(trunks, lambda d: "" if d.get("active", True) else self._("switched off")),
        }


class SchemeAction(SchemePage):
    """A POST on one scheme from the list page; refusals come back as the list with a message."""

    async def refuse(self, exc: RuleError, scheme_id: str) -> None:
        status = 409 if isinstance(exc, InUse) else 422
        await SchemesPage.show(self, error=self.rule_text(exc), open_id=scheme_id, status=status)


@route(BASE_URL + "/{scheme_id}/copy", access="tenant", section=SECTION, level="edit",
       params={"scheme_id": OBJECT_ID}, name="scheme_copy")
class SchemeCopyPage(SchemeAction):
    async def post(self, scheme_id: str) -> None:
        source = await self.svc().get(scheme_id)
        name = self.get_body_argument("name", "").strip() or self._("%(name)s (copy)", name=source["name"])
        try:
            doc = await self.svc().copy(scheme_id, name)
        except RuleError as exc:
            await self.refuse(exc, scheme_id)
            return
        self.redirect(f"{BASE_URL}?done=copied#scheme-{doc['id']}")


@route(BASE_URL + "/{scheme_id}/rename", access="tenant", section=SECTION, level="edit",
       params={"scheme_id": OBJECT_ID}, name="scheme_rename")
class SchemeRenamePage(SchemeAction):
    async def post(self, scheme_id: str) -> None:
        await self.svc().get(scheme_id)
        try:
            await self.svc().rename(scheme_id, self.get_body_argument("name", ""),
                                    self.get_body_argument("description", None))
        except RuleError as exc:
            await self.refuse(exc, scheme_id)
            return
        back = self.get_body_argument("back", "")
        self.redirect(f"{BASE_URL}/{scheme_id}" if back == "editor" else f"{BASE_URL}?done=renamed")


@route(BASE_URL + "/{scheme_id}/delete", access="tenant", section=SECTION, level="edit",
       params={"scheme_id": OBJECT_ID}, name="scheme_delete")
class SchemeDeletePage(SchemeAction):
    async def post(self, scheme_id: str) -> None:
        try:
            await self.svc().delete(scheme_id)
        except RuleError as exc:  # InUse: bound to numbers, which the message names
            await self.refuse(exc, scheme_id)
            return
        self.redirect(f"{BASE_URL}?done=deleted")


@route(BASE_URL + "/{scheme_id}/numbers", access="tenant", section=SECTION, level="edit",
       params={"scheme_id": OBJECT_ID}, name="scheme_numbers")
class SchemeNumbersPage(SchemeAction):
    """Bind: the ticked numbers get this scheme as their active one (taking it over from
    whichever scheme they had); numbers of this scheme left unticked are left without one. A
    trunk's "receive" numbers (``trunk_number`` = ``<trunk id>:<number>``) likewise."""

    async def post(self, scheme_id: str) -> None:
        svc = self.svc()
        current = {n["id"] for n in await svc.numbers(scheme_id)}
        wanted = list(dict.fromkeys(self.get_body_arguments("number_id")))
        trunk_refs = [{"trunk_id": t, "number": n} for t, _sep, n in
                      (v.partition(":") for v in dict.fromkeys(self.get_body_arguments("trunk_number")))]
        try:
            if wanted:
                await svc.activate(scheme_id, wanted)
            for number_id in sorted(current - set(wanted)):
                await svc.deactivate(number_id)
            await svc.set_trunk_numbers(scheme_id, trunk_refs)
        except RuleError as exc:
            await self.refuse(exc, scheme_id)
            return
        back = self.get_body_argument("back", "")
        self.redirect(f"{BASE_URL}/{scheme_id}" if back == "editor" else
                      f"{BASE_URL}?done=bound#scheme-{quote(scheme_id)}")
