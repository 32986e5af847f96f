"""What the telephony cabinet pages (``web/telephony/<area>/pages.py``) share.

The pages are plain server-rendered forms that work without JavaScript; the small local scripts in
``web/static/telephony/`` only add comfort (adding, removing and reordering table rows, a password
generator, step-by-step wizard, live status pills). Each page calls the area's service directly
(the same services the REST API uses), so the rules and their RU/EN messages are the same
everywhere.

- :class:`TelPage` — base of every telephony page: the service for the user's PBX and actor, form
  reading (plain fields, check boxes, and *row tables* such as contact methods or group members),
  service errors turned into per-field messages in the user's language, and the service's
  ``NotFound`` (another tenant's id too) turned into the 404 page; :meth:`TelPage.row_table`
  renders a row table's rows from one row template.
- :class:`ListPage` — the list of an area's objects.
- :class:`FormPage` — the new and edit pages of one kind of object: one form, the service's
  create/update, the form shown again with every error the area can name.
- :class:`DeletePage` — ``GET`` asks for confirmation, ``POST`` deletes; a refused delete shows the
  referring objects as links (``InUse.references``).
- :func:`object_pages` — registers the new / edit / delete pages of one kind of object.
- :func:`ref_url` — the page of a referring object.

Row tables: inputs are named ``<prefix>-<row key>-<column>`` (``cm-3-value``); rows come back in
the order they stand in the form, then sorted by their ``pos`` column when it is filled, so the
order can be changed with or without JavaScript. A row whose main column is empty is skipped
(that is how a row is removed without JavaScript).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from tornado.escape import xhtml_escape
from tornado.web import HTTPError

from esl_control.model.common import InUse, NotFound
from esl_control.model.crypto import SecretError
from esl_control.model.messages import type_name
from esl_control.model.names import logged_name
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.handlers import PageHandler
from web.routes import route
from web.telephony.api_common import OBJECT_ID, PbxServices

#: where each kind of object is edited (links from a refused delete)
REF_URLS = {
    "day_group": "/telephony/day-groups/{id}", "schedule": "/telephony/schedules/{id}",
    "employee": "/telephony/employees/{id}", "group": "/telephony/groups/{id}",
    "room": "/telephony/conferences/{id}", "sip_account": "/telephony/sip/accounts/{id}",
    "sip_domain": "/telephony/sip/domains", "number": "/telephony/numbers/{id}",
    "trunk": "/telephony/trunks/{id}", "client_rule": "/telephony/client-rules/{id}",
    "settings": "/telephony/settings", "trunk_mask": "/telephony/trunks/routing",
    "scheme": "/telephony/schemes/{id}", "sound": "/telephony/sounds/{id}",
}

INVALID = N_("Some fields are not filled in correctly. See the messages next to them.")


def ref_url(type: str, id: Any) -> str | None:
    pattern = REF_URLS.get(type)
    return pattern.format(id=id) if pattern else None


def yes(value: str | None) -> bool:
    """A check box or a yes/no select: ``on``, ``1``, ``yes``, ``true`` mean yes."""
    return (value or "").strip().lower() in ("on", "1", "yes", "true")


def int_or_raw(value: str | None) -> Any:
    """A number field as the services want it: ``None`` when empty, an int when it is one, else
    the text itself (so the service's range check names the field and shows the typed value)."""
    text = (value or "").strip()
    if text == "":
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    return text


class TelPage(PbxServices, PageHandler):
    """Base of the telephony pages (see the module docstring).

    An area's pages share one base (e.g. ``RoomPage``) that names the rights section and, for
    pages about one kind of object, the object: :attr:`service_cls`, :attr:`list_url`,
    :attr:`object_type`. :meth:`svc` and :meth:`load` are the hooks an area overrides when its
    service needs more (a secret box) or the user's *reach* limits which objects they may open.
    """

    #: the rights section whose ``edit`` level the page's forms need (read-only view otherwise)
    rights_key: str = ""
    #: the area's service (``svc()``), the list page and the kind of object (messages, links)
    service_cls: type | None = None
    list_url: str = ""
    object_type: str = ""
    #: the area's constants its templates use (choice titles and the like), and its tabs
    template_values: Mapping[str, Any] = {}
    tabs: tuple = ()
    tab: str = ""

    def not_a_pbx_user(self) -> Exception:
        return HTTPError(403)

    def svc(self):
        """The service of the page's kind of object."""
        return self.service(self.service_cls)

    async def load(self, id: str) -> dict:
        """One object the user may open (``NotFound`` -> 404 otherwise)."""
        return await self.svc().get(id)

    def may_manage(self) -> bool:
        """Whether the user may create and delete objects of this kind (not only change some)."""
        return True

    def check_manage(self) -> None:
        if not self.may_manage():
            raise HTTPError(403)

    def can_edit(self, section: str | None = None) -> bool:
        return bool(self.rights and self.rights.can(section or self.rights_key, "edit"))

    def require_edit(self, section: str | None = None) -> None:
        if not self.can_edit(section):
            raise HTTPError(403)

    # --- reading forms ------------------------------------------------------------------------
    def field(self, name: str, default: str = "") -> str:
        return self.get_body_argument(name, default)

    def fields(self, name: str) -> list[str]:
        return self.get_body_arguments(name)

    def checked(self, name: str) -> bool:
        return yes(self.get_body_argument(name, ""))

    def rows(self, prefix: str, main: str | Iterable[str]) -> list[dict[str, str]]:
        """The rows of a row table (see the module docstring), each ``{column: text}``."""
        mains = (main,) if isinstance(main, str) else tuple(main)
        order: list[str] = []
        values: dict[str, dict[str, str]] = {}
        start = prefix + "-"
        for name in self.request.body_arguments:
            if not name.startswith(start):
                continue
            key, _, column = name[len(start):].partition("-")
            if not column:
                continue
            if key not in values:
                values[key] = {}
                order.append(key)
            values[key][column] = self.get_body_argument(name, "")
        out = []
        for n, key in enumerate(order):
            row = values[key]
            if all(not (row.get(m) or "").strip() for m in mains):
                continue
            pos = (row.get("pos") or "").strip()
            out.append((int(pos) if pos.isdigit() else 10_000 + n, n, row))
        return [r for _p, _n, r in sorted(out, key=lambda t: (t[0], t[1]))]

    # --- errors -------------------------------------------------------------------------------
    def rule_errors(self, exc: RuleError, more: Iterable[RuleError] = ()) -> dict[str, str]:
        """``{field: message}`` of a service error in the user's language (``form`` without a
        field), plus ``more`` errors of other fields (a collect-all check of the same form)."""
        out = {exc.field or "form": exc.message(self.lang)}
        for other in more:
            out.setdefault(other.field or "form", other.message(self.lang))
        return out

    def references(self, exc: InUse) -> list[dict]:
        """The referrers of a refused delete: type name, name and the page to open."""
        out = []
        for r in exc.references:
            if r.type == "settings":  # a PBX-wide setting: name the page that holds it
                masks = r.field.startswith("trunk_masks")
                out.append({"type": r.type, "type_name": self.type_name("trunk_mask" if masks else "settings"),
                            "name": self._("Outgoing routing") if masks else self._("Call handling"),
                            "url": ref_url("trunk_mask" if masks else "settings", None)})
                continue
            out.append({"type": r.type, "type_name": self.type_name(r.type), "name": logged_name(r.type, r.name, self._),
                        "url": ref_url(r.type, r.id)})
        return out

    def type_name(self, type: str) -> str:
        return type_name(type, self.lang)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, NotFound):
            try:  # another PBX's id, or a deleted object: the plain 404 page
                raise HTTPError(404) from e
            except HTTPError as exc:
                return super()._handle_request_exception(exc)
        if isinstance(e, SecretError):
            try:
                raise HTTPError(409) from e
            except HTTPError as exc:
                return super()._handle_request_exception(exc)
        return super()._handle_request_exception(e)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, HTTPError) and isinstance(value.__cause__, NotFound):
            return
        super().log_exception(typ, value, tb)

    # --- rendering ----------------------------------------------------------------------------
    def notice(self) -> str | None:
        """The confirmation after a redirect (``?done=saved`` etc.)."""
        return {"saved": self._("Saved."), "deleted": self._("Deleted."), "created": self._("Created."),
                "moved": self._("The numbers have been moved."), "added": self._("Added.")
                }.get(self.get_query_argument("done", ""))

    def get_template_namespace(self) -> dict:
        """The namespace of every template the page renders — the page and its row templates
        (:meth:`row_table`) alike: the usual one, the helpers, and the values passed to
        :meth:`show`. Computed once per request (the menu is not rebuilt for every row)."""
        cached = getattr(self, "_tel_ns", None)
        if cached is None:
            cached = super().get_template_namespace()
            cached.update(self.template_values, tabs=self.tabs, tab=self.tab)
            cached.update(err=_err, inv=_inv, row_err=_row_err, row_table=self.row_table,
                          can_edit=self.can_edit() if self.rights_key else False, can_manage=self.may_manage(),
                          notice=self.notice() if self.request.method == "GET" else None)
            self._tel_ns = cached
        return {**cached, **getattr(self, "_page_args", {})}

    def show(self, template: str, status: int = 200, **kw: Any) -> None:
        self.set_status(status)
        kw.setdefault("errors", {})
        self._page_args = kw
        self.render(template, **kw)

    def row_table(self, row: str, field: str, items: Iterable[Mapping], blank: Mapping, cols: int,
                  template: Mapping | None = None) -> str:
        """The body rows of a row table (see the module docstring), each rendered by the row
        template ``row`` with ``key`` (the row key in input names), ``pos`` (its place, 1-based),
        ``rowclass``, ``dis`` (`` disabled`` for the script's template row) and the row's values
        ``m``: the rows of ``items``, each followed by its errors (of ``field[i]``) spanning
        ``cols`` columns; an empty row for adding without JavaScript; the hidden row the script
        copies (``template`` values, else ``blank``)."""
        errors = getattr(self, "_page_args", {}).get("errors") or {}
        out = []
        for i, item in enumerate(items):
            out.append(self.render_string(row, key=i, pos=i + 1, rowclass="row", dis="", m=item).decode())
            texts = _row_err(errors, field, i)
            if texts:
                out.append(f'<tr class="row-errors"><td colspan="{cols}">{texts}</td></tr>')
        out.append(self.render_string(row, key="new", pos="", rowclass="row no-js-only", dis="", m=blank).decode())
        out.append(self.render_string(row, key="__i__", pos="", rowclass="template-row", dis=" disabled",
                                      m=blank if template is None else template).decode())
        return "\n".join(out)


def _err(errors: Mapping[str, str], name: str) -> str:
    """HTML of the error under a field (nothing when the field is fine)."""
    if name not in errors:
        return ""
    return f'<p class="field-error" id="{_err_id(name)}">{xhtml_escape(errors[name])}</p>'


def _inv(errors: Mapping[str, str], name: str) -> str:
    """The attributes that mark an input invalid and point at its error."""
    if name not in errors:
        return ""
    return f' aria-invalid="true" aria-describedby="{_err_id(name)}"'


def _row_err(errors: Mapping[str, str], prefix: str, index: int) -> str:
    """Every error of row ``index`` of the list field ``prefix`` (``members[2].value`` …)."""
    start = f"{prefix}[{index}]"
    texts = [m for f, m in errors.items() if f == start or f.startswith(start + ".")]
    return "".join(f'<p class="field-error">{xhtml_escape(t)}</p>' for t in texts)


def _err_id(name: str) -> str:
    return "err-" + "".join(c if c.isalnum() else "-" for c in name)


class ListPage(TelPage):
    """``GET``: the list of the page's objects (:meth:`items`) in :attr:`list_template`."""

    list_template: str = ""

    async def items(self) -> list[dict]:
        return await self.svc().list()

    async def list_context(self, items: list[dict]) -> dict:
        """More values the list template needs (names of referred objects and the like)."""
        return {}

    async def get(self) -> None:
        items = await self.items()
        self.show(self.list_template, items=items, **await self.list_context(items))


class FormPage(TelPage):
    """The new (``…/new``) and edit (``…/{id}``) pages of one kind of object, one form for both:
    register the same subclass twice (a ``…New…`` and an ``…Edit…`` subclass) and say only what
    is the area's own in the hooks:

    - :meth:`blank` the values of a new form; :meth:`values_of` a stored object as form values;
    - :meth:`form_values` the posted form as the service's input; :meth:`redisplay` that input
      as form values again when the service refused it;
    - :meth:`form_context` what else the template needs (choices); :meth:`form_errors` the
      refusal as ``{field: message}`` (default: the service's error; areas add the other broken
      fields, or point a row error at its row);
    - :attr:`item_url` where a saved object goes (``None``: back to :attr:`list_url`).

    Creating needs :meth:`may_manage`; editing needs :meth:`load` to let the user open the object.
    """

    form_template: str = ""
    item_url: str | None = None

    async def blank(self) -> dict:
        return {}

    def values_of(self, doc: dict) -> dict:
        return doc

    def form_values(self) -> dict:
        return {}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return data

    async def form_context(self, id: str | None, values: dict) -> dict:
        return {}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        return self.rule_errors(exc)

    def saved_url(self, doc: dict) -> str:
        return self.item_url.format(id=doc["id"]) if self.item_url else self.list_url

    async def get(self, id: str | None = None) -> None:
        if id is None:
            self.check_manage()
            await self.form_page(None, await self.blank())
        else:
            await self.form_page(id, self.values_of(await self.load(id)))

    async def post(self, id: str | None = None) -> None:
        if id is None:
            self.check_manage()
        else:
            await self.load(id)
        await self.save(id)

    async def save(self, id: str | None) -> None:
        """Create or update through the service; a refusal shows the form again with its errors."""
        data = self.form_values()
        svc = self.svc()
        try:
            doc = await (svc.update(id, data) if id else svc.create(data))
        except RuleError as exc:
            errors = await self.form_errors(exc, data)
            await self.form_page(id, self.redisplay(data, errors), errors, 422)
            return
        self.redirect(self.saved_url(doc) + "?done=saved")

    async def form_page(self, id: str | None, values: dict, errors: dict | None = None, status: int = 200,
                        **kw: Any) -> None:
        self.show(self.form_template, status, id=id, values=values, errors=errors or {},
                  readonly=not self.can_edit(), **{**await self.form_context(id, values), **kw})


class DeletePage(TelPage):
    """``GET``: "Delete «name»?"; ``POST``: delete, or show who still uses the object (409)."""

    def name_of(self, doc: dict) -> str:
        return doc.get("name") or doc.get("number") or doc.get("value") or doc.get("address") or doc["id"]

    def warning(self, doc: dict) -> str | None:
        return None

    def extra_fields(self) -> dict:
        return {}

    async def do_delete(self, id: str) -> None:
        await self.svc().delete(id)

    async def get(self, id: str) -> None:
        doc = await self.load(id)
        self.check_manage()
        self.confirm(doc, warning=self.warning(doc))

    async def post(self, id: str) -> None:
        doc = await self.load(id)
        self.check_manage()
        try:
            await self.do_delete(id)
        except InUse as exc:
            self.confirm(doc, 409, refs=self.references(exc), message=exc.message(self.lang))
            return
        except RuleError as exc:
            self.confirm(doc, 409, message=exc.message(self.lang))
            return
        self.redirect(self.list_url + "?done=deleted")

    def confirm(self, doc: dict, status: int = 200, warning: str | None = None, refs: list | None = None,
                message: str | None = None) -> None:
        """The question, or (``refs``/``message``) why the object cannot be deleted now."""
        self.show("telephony/delete.html", status, doc=doc, name=self.name_of(doc), what=self.type_name(self.object_type),
                  warning=warning, refs=refs, message=message, action=self.request.path, back=self.list_url,
                  extra=self.extra_fields())


def object_pages(path: str, name: str, section: str, form: type | None = None, delete: type | None = None,
                 new: bool = True) -> None:
    """Register the pages of one kind of object under ``path`` (``/telephony/conferences``):

    - ``form`` (a :class:`FormPage`): ``path/new`` (needs *edit*; left out with ``new=False``)
      and ``path/{id}`` (view; saving needs *edit*), routes ``<name>_new`` and ``<name>``;
    - ``delete``: ``path/{id}/delete`` (needs *edit*), route ``<name>_delete`` — a
      :class:`DeletePage` subclass (registered as it is), or the area's base page (a
      ``DeletePage`` is made from it).

    Each route gets its own subclass (``RoomNewPage``, ``RoomEditPage``, ``RoomDeletePage``), as
    the route table wants one handler class per path.
    """
    def page(stem: str, suffix: str, bases: tuple) -> type:
        cls_name = stem.removesuffix("Form").removesuffix("Page") + suffix
        return type(cls_name, bases, {"__module__": bases[-1].__module__, "__qualname__": cls_name})

    ids = {"id": OBJECT_ID}
    if form is not None:
        if new:
            route(f"{path}/new", access="tenant", section=section, level="edit", name=f"{name}_new")(
                page(form.__name__, "NewPage", (form,)))
        route(f"{path}/{{id}}", access="tenant", section=section, params=ids, name=name)(
            page(form.__name__, "EditPage", (form,)))
    if delete is not None:
        handler = delete if issubclass(delete, DeletePage) else page(delete.__name__, "DeletePage", (DeletePage, delete))
        route(f"{path}/{{id}}/delete", access="tenant", section=section, level="edit", params=ids,
              name=f"{name}_delete")(handler)


def locate_row(exc: RuleError, rows: list, check, prefix: str) -> RuleError:
    """Point a row-level error that names no row (``field="end"``) at the row that causes it.

    ``check(row)`` validates one row alone and raises its :class:`RuleError`; the first row whose
    check fails with the same code gets the error as ``<prefix>[i].<field>``. When no single row
    fails (a duplicate across rows), the error goes to the list field ``prefix``.
    """
    if exc.field and exc.field.startswith(prefix):
        return exc
    for i, row in enumerate(rows):
        try:
            check(row)
        except RuleError as one:
            if one.code == exc.code:
                one.field = f"{prefix}[{i}].{one.field}" if one.field else f"{prefix}[{i}]"
                return one
    exc.field = prefix
    return exc


class Choices:
    """The lists the forms pick from (schedules, employees, SIP accounts, sounds, lines), read
    through the services of the request's PBX."""

    def __init__(self, page: TelPage):
        self.page = page

    async def schedules(self) -> list[tuple[str, str]]:
        from esl_control.model.calendars.services import ScheduleService

        return [(s["id"], s["name"]) for s in await self.page.service(ScheduleService).list()]

    async def employees(self) -> list[dict]:
        from esl_control.model.employees.services import EmployeeService

        return await self.page.service(EmployeeService).list()

    async def accounts(self) -> list[dict]:
        from esl_control.model.sip.services import SipAccountService

        return await self.page.service(SipAccountService, box=self.page.secret_box()).list()

    async def domains(self) -> list[dict]:
        from esl_control.model.sip.services import SipDomainService

        return await self.page.service(SipDomainService, base_domain=self.page.ctx.settings.sip_base_domain).list()

    async def sounds(self) -> list[tuple[str, str]]:
        from esl_control.model.sounds.services import SoundService

        from jobs.builtin_media import sound_name

        return [(s["id"], sound_name(s, self.page._)) for s in await self.page.service(SoundService).list()]

    async def lines(self) -> list[tuple[str, str]]:
        """Numbers an employee can call out from: platform and active SIP numbers, trunk numbers
        marked "call" (passive SIP numbers are inbound only)."""
        from storage.repos.base import Scope
        from storage.repos.telephony import Numbers, Trunks

        scope = Scope.pbx(self.page.pbx_id)
        out = []
        for n in await Numbers(self.page.db, scope).find({"kind": {"$in": ["platform", "active_sip"]}},
                                                         sort=[("number", 1)]):
            label = n["number"] + (f" — {n['comment']}" if n.get("comment") else "")
            out.append((n["number"], label))
        for t in await Trunks(self.page.db, scope).find({}, sort=[("name_norm", 1)]):
            for x in t.get("numbers", ()):
                if x.get("call"):
                    out.append((x["number"], f"{x['number']} — {self.page._('trunk')} {t['name']}"))
        return out
