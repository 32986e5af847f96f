"""What every telephony API handler (``web/telephony/<area>/http.py``) shares.

:class:`TelApi` is the base of those handlers. It builds the area's service for the request's
PBX and actor (user or API key, login and IP — the services write the action log), reads JSON
bodies, pages in-memory lists, and turns the services' errors into the API's error envelope in
the user's language:

================================  ======  ===========================================================
service error                     status  envelope
================================  ======  ===========================================================
``RuleError`` with a field        422     ``validation_error``; ``fields: {field: message}``
``RuleError`` without a field     422     ``validation_error``; the rule's message as ``message``
a state rule (:data:`STATE_CODES`)  409     ``conflict``; ``fields`` as above (taken, refers to nothing)
``InUse`` (referenced object)     409     ``in_use``; ``references: [{type, type_name, id, name, field}]``
``confirm.required``              409     ``confirmation_required``; repeat with ``?confirm=true``
``NotFound`` (incl. other PBXs)   404     ``not_found``
``SecretError`` (unreadable)      409     ``secret_unreadable``
================================  ======  ===========================================================

Every message comes from the rules' RU/EN tables (:mod:`esl_control.routing.errors`,
:mod:`esl_control.model.messages`), so the cabinet, the API and the call flow say the same thing.
Every envelope also carries ``rule: {code, params}`` for programs that want the stable code.

Request bodies are plain JSON objects validated by the services (which know every rule and say
precisely what is wrong); the pydantic request models of the handlers document them in OpenAPI
and reject unknown top-level fields (a typo must not be silently ignored).
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, get_args

from pydantic import BaseModel, ConfigDict, Field, RootModel

from esl_control.model.common import InUse, NotFound
from esl_control.model.crypto import SecretBox, SecretError
from esl_control.model.messages import type_name
from esl_control.model.reach import Reach
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from web.api_base import PAGE_PARAMS, ApiHandler, Param, operation, page_of
from web.enforce import request_reach
from web.routes import route

INVALID = N_("Some fields are not filled in correctly.")
#: rule codes that are conflicts with the stored state rather than bad input
CONFLICT_CODES = {"sip_domain.default": "conflict", "sip_account.employee_locked": "conflict"}
#: rule codes that refuse a body valid in itself (as the OpenAPI document describes it) because of
#: what is stored: a name, extension, login or address already taken, an id or extension that
#: refers to nothing in this PBX. They answer 409 ``conflict`` — 422 means the body itself is wrong
#: (what the document can say), 409 that it clashes with the PBX's current state.
STATE_CODES = frozenset({
    "name.taken", "ref.unknown", "extension.taken", "extension.unknown", "extension.none_free",
    "outgoing.unknown", "contact.unknown", "sip_domain.taken", "sip_domain.default_rename",
    "sip_account.taken", "number.taken", "number.not_in_pool", "sip_address.taken", "trunk.address_taken",
    "trunk.address_own", "trunk.number_unknown", "trunk.number_taken", "trunk.unknown", "trunk.prefix_taken",
    "trunk.default_number", "number.transfer_account", "number.transfer_same", "number.transfer_target",
    "number.warnings_off", "number.kind_change", "dry_run.number", "schedule.unknown_day_group", "sip_domain.limit",
    # LDAP matching: what the directory or the PBX's links say about a well-formed employee + DN
    "ldap.entry_not_found", "ldap.entry_linked", "ldap.entry_excluded", "ldap.entry_no_uid", "ldap.employee_linked",
    "ldap.not_linked", "ldap.unreachable", "ldap.bind_failed",
})
#: codes that are a state conflict on one field only: a list entry already stored (the same code
#: names a duplicate inside one body elsewhere, which stays a 422)
STATE_FIELD_CODES = frozenset({("list.duplicate", "value")})

#: path-parameter pattern of object ids (``str(ObjectId())``)
OBJECT_ID = "[0-9a-f]{24}"


def id_param(name: str = "id", what: str = "Object id") -> Param:
    """The OpenAPI description of an id in the path."""
    return Param(name, "path", schema={"type": "string", "pattern": f"^{OBJECT_ID}$"}, description=what,
                 required=True)


Q_PARAM = Param("q", description="Text to find (case-insensitive) in the name and other visible fields")


class TelError(AppError):
    """An :class:`AppError` whose envelope carries more than code/message/fields
    (``references`` of an in-use object, the rule's code and params)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None,
                 extra: Mapping[str, Any] | None = None, **values):
        super().__init__(status, code, message, fields, **values)
        self.extra = dict(extra or {})


# --- response models shared by the areas ----------------------------------------------------
class Out(BaseModel):
    """Base of the telephony response models: documented fields, and whatever else the service
    returns is passed through (the models describe, they do not hide data)."""

    model_config = ConfigDict(extra="allow")


class ReferenceOut(BaseModel):
    type: str = Field(description="Kind of the referring object (group, scheme, employee, …)")
    type_name: str = Field(description="The kind in the user's language")
    id: str
    name: str
    field: str = Field(description="Where the object refers (e.g. members, forward, intervals)")


class ReferencesOut(BaseModel):
    items: list[ReferenceOut]
    total: int


class Deleted(BaseModel):
    id: str
    deleted: bool = True


# --- the base handler -------------------------------------------------------------------------
class PbxServices:
    """The request's PBX and the areas' services for it: one ground for the API handlers
    (:class:`TelApi`) and the cabinet pages (``pages_common.TelPage``), so both call the same use
    cases as the same actor."""

    def not_a_pbx_user(self) -> Exception:
        """What a user of no PBX (an operator) gets."""
        return AppError(403, "forbidden", N_("This section is for PBX users only."))

    @property
    def pbx_id(self) -> int:
        pbx_id = (self.current_user or {}).get("pbx_id")
        if not pbx_id:
            raise self.not_a_pbx_user()
        return int(pbx_id)

    @property
    def db(self):
        return self.ctx.store.db

    def service(self, cls: type, **kw: Any):
        """The area's service for this request's PBX, acting as the user or API key (login and IP:
        the services write the action log)."""
        return cls(self.db, self.pbx_id, self.audit_actor(), **kw)

    def secret_box(self) -> SecretBox:
        return SecretBox.from_settings(self.ctx.settings)


class TelApi(PbxServices, ApiHandler):
    """Base of the telephony API handlers (see the module docstring)."""

    # --- input ------------------------------------------------------------------------------
    def payload(self, model: type[BaseModel] | None = None) -> dict:
        """The JSON object of the request body; unknown top-level fields of ``model`` are refused
        (of a ``RootModel`` over a union of strict models: a field none of them has)."""
        data = self.json_object()
        known = _known_fields(model) if model is not None else None
        if known is not None:
            unknown = [k for k in data if k not in known]
            if unknown:
                raise AppError(422, "validation_error", INVALID,
                               fields={k: N_("Unknown field.") for k in unknown})
        return data

    def text_arg(self, name: str) -> str:
        return (self.get_query_argument(name, "") or "").strip()

    def bool_arg(self, name: str, default: bool = False) -> bool:
        raw = self.text_arg(name).lower()
        if raw == "":
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise AppError(400, "validation_error", INVALID, fields={name: N_("Must be true or false.")})

    def choice_arg(self, name: str, choices: Iterable[str]) -> str | None:
        raw = self.text_arg(name)
        if raw == "":
            return None
        if raw not in tuple(choices):
            raise AppError(400, "validation_error", INVALID, fields={name: N_("This value is not supported.")})
        return raw

    # --- output -----------------------------------------------------------------------------
    def reply_list(self, items: list, model: type[BaseModel] | None = None) -> None:
        """One page (``?page=&per_page=``) of an in-memory list (a PBX has tens to hundreds of
        configuration objects, so the services return whole lists)."""
        page, per_page = self.pagination()
        chunk = items[(page - 1) * per_page: page * per_page]
        if model is not None:
            chunk = [model.model_validate(i).model_dump(mode="json") for i in chunk]
        self.reply_page(chunk, page, per_page, len(items))

    def reply_model(self, model: type[BaseModel], data: Any, status: int = 200) -> None:
        self.reply(model.model_validate(data), status=status)

    def reply_deleted(self, id: str) -> None:
        self.reply(Deleted(id=id))

    def type_name(self, type: str) -> str:
        return type_name(type, self.lang)

    def references_out(self, refs) -> list[dict]:
        return [{**r.as_dict(), "type_name": self.type_name(r.type)} for r in refs]

    # --- errors -----------------------------------------------------------------------------
    def map_error(self, exc: BaseException) -> AppError | None:
        """The API error of a service exception (None: not a service error)."""
        lang = self.lang
        if isinstance(exc, InUse):
            return TelError(409, "in_use", exc.message(lang),
                            extra={"references": self.references_out(exc.references), "rule": _rule(exc)})
        if isinstance(exc, RuleError):
            text = exc.message(lang)
            if exc.code == "confirm.required":
                return TelError(409, "confirmation_required", text, fields={exc.field or "confirm": text},
                                extra={"rule": _rule(exc)})
            if exc.code in CONFLICT_CODES or exc.code in STATE_CODES or (exc.code, exc.field) in STATE_FIELD_CODES:
                return TelError(409, CONFLICT_CODES.get(exc.code, "conflict"), text,
                                fields={exc.field: text} if exc.field else None, extra={"rule": _rule(exc)})
            if exc.field:
                return TelError(422, "validation_error", INVALID, fields={exc.field: text},
                                extra={"rule": _rule(exc)})
            return TelError(422, "validation_error", text, extra={"rule": _rule(exc)})
        if isinstance(exc, NotFound):
            return TelError(404, "not_found", N_("Not found: %(type)s."), type=self.type_name(exc.type))
        if isinstance(exc, SecretError):
            return TelError(409, "secret_unreadable",
                            N_("The stored password cannot be read (the installation secret has changed); set a new password."))
        return None

    def rule_errors_error(self, errors: list[RuleError]) -> AppError:
        """One 422 naming every wrong field of a collect-all check (the first error per field)."""
        first = errors[0]
        mapped = self.map_error(first)
        fields: dict[str, str] = {}
        for exc in errors:
            if exc.field:
                fields.setdefault(exc.field, exc.message(self.lang))
        if mapped is None or mapped.status_code != 422 or not fields:
            return mapped
        return TelError(422, "validation_error", INVALID, fields=fields, extra={"rule": _rule(first)})

    def _handle_request_exception(self, e: BaseException) -> None:
        mapped = self.map_error(e)
        if mapped is None:
            return super()._handle_request_exception(e)
        try:  # re-raise so sys.exc_info() (used by Tornado's send_error) is the mapped error
            raise mapped from e
        except AppError as exc:
            return super()._handle_request_exception(exc)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, TelError):
            return  # an expected refusal, not a server problem
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(exc, TelError):
            return super().write_error(status_code, **kwargs)
        for k, v in exc.headers.items():
            self.set_header(k, v)
        body = {"code": exc.code, "message": self._(exc.message, **exc.values),
                "fields": {f: self._(m) for f, m in exc.fields.items()}, **exc.extra}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": body}, ensure_ascii=False, default=str))


class ReachedCrud:
    """The collection and item handlers of an area with people's data (employees, groups): the
    role's reach in ``reach_section`` is applied by the service (``list_reached`` /
    ``get_reached``), and creating or deleting needs a reach over everything
    (``manage_message`` otherwise). ``list_filters``: query arguments passed on to the list."""

    reach_section: str
    manage_message: str
    list_filters: tuple[str, ...] = ()

    async def reach(self) -> Reach:
        return await request_reach(self, self.reach_section)

    async def require_all(self) -> None:
        (await self.reach()).require_everything(self.manage_message)

    async def list_items(self):
        filters = {k: self.text_arg(k) or None for k in self.list_filters}
        return await self.svc().list_reached(await self.reach(), q=self.text_arg("q"), **filters)

    async def check_reach(self, id, write):
        await self.svc().get_reached(id, await self.reach())

    async def do_create(self, data):
        await self.require_all()
        return await self.svc().create(data)

    async def do_delete(self, id):
        await self.require_all()
        await self.svc().delete(id)


def _known_fields(model: type[BaseModel]) -> set[str] | None:
    """The top-level fields a body of ``model`` may have (None: any)."""
    if issubclass(model, RootModel):
        ann = model.model_fields["root"].annotation
        variants = [a for a in (get_args(ann) or (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not variants or any(v.model_config.get("extra") != "forbid" for v in variants):
            return None
        return set().union(*(v.model_fields for v in variants))
    return set(model.model_fields) if model.model_config.get("extra") == "forbid" else None


def _rule(exc: RuleError) -> dict:
    params = {k: v for k, v in exc.params.items() if k != "references"}
    return {"code": exc.code, "params": json.loads(json.dumps(params, default=str))}


def matches(item: Mapping[str, Any], q: str, keys: Iterable[str]) -> bool:
    """Whether the text ``q`` occurs (case-insensitively) in any of ``keys`` of ``item``."""
    if not q:
        return True
    needle = q.casefold()
    for k in keys:
        value = item.get(k)
        if value is not None and needle in str(value).casefold():
            return True
    return False


# --- collection / item handlers built from a service ----------------------------------------------
class ServiceApi(TelApi):
    """A handler over one area's service (``service_cls``) and its body / answer models."""

    service_cls: type
    in_model: type[BaseModel] | None = None
    out_model: type[BaseModel] | None = None

    def service_kwargs(self) -> dict:
        return {}

    def svc(self):
        return self.service(self.service_cls, **self.service_kwargs())


class CollectionApi(ServiceApi):
    """``GET`` (a filtered page of ``service.list()``) and ``POST`` (``service.create(body)``)."""

    async def filter_items(self, items: list[dict]) -> list[dict]:
        """Apply the query's filters (``q`` by default; areas add theirs)."""
        q = self.text_arg("q")
        return [i for i in items if matches(i, q, ("name", "extension", "number", "login", "value", "comment"))]

    async def list_items(self) -> list[dict]:
        return await self.filter_items(await self.svc().list())

    async def do_create(self, data: dict) -> dict:
        return await self.svc().create(data)


class ItemApi(ServiceApi):
    """``GET`` / ``PUT`` (whole object) / ``PATCH`` (the given fields over the current ones) /
    ``DELETE`` of one object by id."""

    async def check_reach(self, id: str, write: bool) -> None:
        """Refuse objects outside the user's reach (areas with people's data override it)."""

    async def do_get(self, id: str) -> dict:
        return await self.svc().get(id)

    async def do_update(self, id: str, data: dict) -> dict:
        return await self.svc().update(id, data)

    async def do_delete(self, id: str) -> None:
        await self.svc().delete(id)

    def patch_base(self, current: dict) -> dict:
        """The fields of the current object that a PATCH starts from."""
        return current


def _described(fn, summary: str, **kw):
    """A fresh function object around ``fn`` carrying its own @operation (each generated class
    needs its own, the OpenAPI document reads them per handler)."""
    async def method(self, *args, **kwargs):
        return await fn(self, *args, **kwargs)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return operation(summary, **kw)(method)


async def _list(self):
    self.reply_list(await self.list_items(), self.out_model)


async def _create(self):
    doc = await self.do_create(self.payload(self.in_model))
    self.reply_model(self.out_model, doc, status=201)


async def _get(self, id):
    await self.check_reach(id, write=False)
    self.reply_model(self.out_model, await self.do_get(id))


async def _put(self, id):
    await self.check_reach(id, write=True)
    data = self.payload(self.in_model)
    self.reply_model(self.out_model, await self.do_update(id, data))


async def _patch(self, id):
    await self.check_reach(id, write=True)
    data = self.payload(self.in_model)
    current = self.patch_base(await self.do_get(id))
    self.reply_model(self.out_model, await self.do_update(id, {**current, **data}))


async def _delete(self, id):
    await self.check_reach(id, write=True)
    await self.do_delete(id)
    self.reply_deleted(id)


def crud(path: str, name: str, *, section: str, tag: str, service_cls: type,
         in_model: type[BaseModel] | None, out_model: type[BaseModel], summaries: Mapping[str, str],
         list_params: Iterable[Param] = (), collection_base: type = CollectionApi,
         item_base: type = ItemApi, methods: Iterable[str] = ("list", "create", "get", "put", "patch", "delete"),
         id_name: str = "Object id", errors: Iterable[int] = (), mixin: type | None = None) -> tuple[type, type]:
    """Register ``path`` (collection) and ``path/{id}`` (item) for a service.

    ``summaries``: ``{list, create, get, put, patch, delete}`` → English message ids (marked with
    ``N_`` at the call site). ``collection_base``/``item_base``: subclasses of
    :class:`CollectionApi`/:class:`ItemApi` carrying the area's filters and hooks. ``mixin``: what
    both handlers take before their bases (an area's role reach: a :class:`ReachedCrud`). Returns
    the two generated handler classes (``<name>ListApi``, ``<name>Api``).
    """
    methods = tuple(methods)
    coll_bases = (mixin, collection_base) if mixin is not None else (collection_base,)
    item_bases = (mixin, item_base) if mixin is not None else (item_base,)
    extra_err = tuple(errors)
    tags = [tag]
    attrs: dict[str, Any] = {"service_cls": service_cls, "in_model": in_model, "out_model": out_model,
                             "__module__": coll_bases[0].__module__}
    if "list" in methods:
        attrs["get"] = _described(_list, summaries["list"], response=page_of(out_model), tags=tags,
                                  params=[*PAGE_PARAMS, *list_params], errors=(400, 401, 403))
    if "create" in methods:
        attrs["post"] = _described(_create, summaries["create"], request=in_model, response=out_model,
                                   status=201, tags=tags, errors=(400, 401, 403, 409, 422, *extra_err))
    coll = type(f"{name}ListApi", coll_bases, attrs)
    route(path, access="tenant", section=section)(coll)

    pid = [id_param("id", id_name)]
    attrs = {"service_cls": service_cls, "in_model": in_model, "out_model": out_model,
             "__module__": item_bases[0].__module__}
    if "get" in methods:
        attrs["get"] = _described(_get, summaries["get"], response=out_model, tags=tags, params=pid,
                                  errors=(401, 403, 404))
    if "put" in methods:
        attrs["put"] = _described(_put, summaries["put"], request=in_model, response=out_model, tags=tags,
                                  params=pid, errors=(400, 401, 403, 404, 409, 422, *extra_err))
    if "patch" in methods:
        attrs["patch"] = _described(_patch, summaries["patch"], request=in_model, response=out_model, tags=tags,
                                    params=pid, errors=(400, 401, 403, 404, 409, 422, *extra_err))
    if "delete" in methods:
        attrs["delete"] = _described(_delete, summaries["delete"], response=Deleted, tags=tags, params=pid,
                                     errors=(401, 403, 404, 409))
    item = type(f"{name}Api", item_bases, attrs)
    route(path + "/{id}", access="tenant", section=section, params={"id": OBJECT_ID})(item)
    return coll, item
