"""Conventions of the JSON API (``/api/v1``), shared by every endpoint.

- Auth: the cabinet session cookie (API keys come later and will set ``csrf_exempt``);
  state-changing calls with a session need the ``X-XSRFToken`` header (value of the ``_xsrf``
  cookie; ``GET /api/v1/session`` returns it too).
- Bodies are JSON objects validated by a pydantic model (:meth:`ApiHandler.body`).
- Errors always have one shape, in the user's language::

      {"error": {"code": "validation_error", "message": "...", "fields": {"login": "..."}}}

  422 is a body wrong in itself (what the OpenAPI document can state); a body valid in itself
  that clashes with what is stored (taken, refers to nothing, not offered) is 409 ``conflict``.

- Lists are paginated with ``?page=&per_page=`` and answer
  ``{"items": [...], "page": 1, "per_page": 25, "total": 123}``.
- Dates are ISO 8601 in UTC with an explicit offset.
- Another tenant's object is simply not found (404): repositories are scoped.

Declaring an endpoint (it then appears in ``/api/v1/openapi.json`` by itself)::

    @route("/api/v1/calls/{uuid}", access="user")
    class CallApi(ApiHandler):
        @operation(N_("One call record"), response=CallOut, tags=["calls"],
                   errors=(401, 404))
        async def get(self, uuid): ...
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError, create_model

from pult.errors import AppError

from web.formats import iso

from pult.i18n import N_
from web.handlers import BaseHandler

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25


@dataclass(frozen=True)
class Param:
    """A query or path parameter of an operation (for the OpenAPI document and validation)."""

    name: str
    where: str = "query"          # query | path
    schema: dict = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Operation:
    summary: str
    response: type[BaseModel] | None = None
    request: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    status: int = 200
    description: str = ""
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = (401,)
    media_types: tuple[str, ...] = ()  # a file answer: its content types (instead of ``response``)
    extensions: tuple[tuple[str, Any], ...] = ()
    # a body that is not JSON (a file upload): the request body's ``content`` as the document states
    # it, ``(media type, media type object)`` pairs (instead of ``request``)
    request_content: tuple[tuple[str, Any], ...] = ()


#: the OpenAPI extension stating that two dates bound a period: ``{"since": <name>, "until": <name>,
#: "max_days": n | null}`` — since no later than until, at most max_days days (both counted). On an
#: operation it names query parameters, on an object schema its fields (a rule of two fields that
#: JSON Schema cannot state; the property-based run reads it)
PERIOD_EXTENSION = "x-pult-period"


def period(since: str, until: str, max_days: int | None = None) -> dict:
    """``extensions`` of an operation whose query parameters ``since``..``until`` are a period, or
    the same keys merged into an object schema whose fields ``since``..``until`` are one."""
    return {PERIOD_EXTENSION: {"since": since, "until": until, "max_days": max_days}}


#: the OpenAPI extension stating that a query parameter needs another one's value:
#: ``{param: [other, value]}`` (expenses for one PBX need by=destinations)
REQUIRES_EXTENSION = "x-pult-requires"


def requires(param: str, other: str, value: str) -> dict:
    """``extensions`` of an operation whose ``param`` is taken only with ``other=value``."""
    return {REQUIRES_EXTENSION: {param: [other, value]}}


#: the OpenAPI extension of an upload that takes its file as a form or as the raw body: ``[params]``,
#: the query parameters required with a raw body (a form carries them as fields). JSON Schema cannot
#: tie a parameter to the body's media type; the property-based run reads it
RAW_BODY_QUERY_EXTENSION = "x-pult-raw-body-query"


def raw_body_query(*params: str) -> dict:
    """``extensions`` of an upload whose raw-body form needs the query parameters ``params``."""
    return {RAW_BODY_QUERY_EXTENSION: list(params)}


#: the OpenAPI extension of an operation whose body's top-level fields ``[fields]`` are moments that
#: must be later than the time of the request (a block's end): relative to now, which a schema cannot
#: state; the property-based run reads it
FUTURE_EXTENSION = "x-pult-future"


def future(*fields: str) -> dict:
    """``extensions`` of an operation whose body fields ``fields`` must be in the future."""
    return {FUTURE_EXTENSION: list(fields)}


#: the OpenAPI extension of an object schema whose date fields (yyyy-mm-dd) lie in a window of days
#: counted from today: ``{field: [first, last]}`` — from today + first to today + last days, today
#: in the account's time zone (a receipt's payment date: today to a year ahead). Relative to the
#: date of the request, which a schema cannot state; the property-based run reads it
FROM_TODAY_EXTENSION = "x-pult-from-today"


def from_today(field: str, first: int, last: int) -> dict:
    """Keys of an object schema whose ``field`` is a date from today + ``first`` to today + ``last`` days."""
    return {FROM_TODAY_EXTENSION: {field: [first, last]}}


#: schemas the request models refer to by name besides pydantic's own (a tree a model documents
#: by hand, e.g. a scheme's steps level by level): merged into ``components/schemas``
EXTRA_SCHEMAS: dict[str, dict] = {}


def component(name: str, schema: dict) -> dict:
    """Register ``schema`` as ``components/schemas/<name>``; returns its ``$ref``."""
    EXTRA_SCHEMAS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


#: the OpenAPI extension of an object schema: ``{list field: {item field: [values]}}`` — the list's
#: last item is the one whose field has one of the values (a scheme's steps end with hangup or
#: return_to_main, its blocks with the one without a schedule): "last" is not a JSON Schema notion
#: (``contains`` states that there is one); the property-based run reads it
LAST_EXTENSION = "x-pult-last"


def operation(summary: str, *, response: type[BaseModel] | None = None,
              request: type[BaseModel] | None = None, params: Iterable[Param] = (),
              status: int = 200, description: str = "", tags: Iterable[str] = (),
              errors: Iterable[int] = (401,), section: str | None = None, level: str | None = None,
              media_types: Iterable[str] = (), extensions: dict[str, Any] | None = None,
              request_content: dict[str, Any] | None = None):
    """Describe an API method for OpenAPI (decorate ``get``/``post``/...).

    ``section``/``level`` override the route's right for this method (web/enforce.py).
    ``media_types``: the method answers with a file of one of these types (a download).
    ``extensions``: ``x-…`` keys of the operation (e.g. :func:`period`).
    ``request_content``: the body of a method that does not take JSON (an upload), as the OpenAPI
    ``content`` object ``{media type: {"schema": …, "encoding": …}}``.
    """
    op = Operation(summary, response, request, tuple(params), status, description, tuple(tags),
                   tuple(errors), tuple(media_types), tuple((extensions or {}).items()),
                   tuple((request_content or {}).items()))
    if section is not None or level is not None:
        from web.rights import check_route_right

        check_route_right(summary, section, level)

    def mark(fn):
        fn.__openapi__ = op
        if section is not None or level is not None:
            fn.__right__ = (section, level)
        return fn
    return mark


#: the OpenAPI format of a page cursor: an opaque token the server made (a list's ``next``); a
#: client cannot make one, so a made-up value is a 400
CURSOR_FORMAT = "pult-cursor"

AFTER_PARAM = Param("after", schema={"type": "string", "format": CURSOR_FORMAT, "maxLength": 400},
                    description="The `next` value of the previous page: the page after it (keyset pagination; "
                                "records added meanwhile never repeat or shift pages)")

PAGE_PARAMS = (
    Param("page", schema={"type": "integer", "minimum": 1, "default": 1}, description="Page number"),
    Param("per_page", schema={"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                              "default": DEFAULT_PER_PAGE}, description="Items per page"),
)

_PAGE_MODELS: dict[type, type[BaseModel]] = {}


def page_of(model: type[BaseModel]) -> type[BaseModel]:
    """The response model of a paginated list of ``model`` (named ``<Model>Page``)."""
    if model not in _PAGE_MODELS:
        _PAGE_MODELS[model] = create_model(f"{model.__name__}Page", items=(list[model], ...),
                                           page=(int, ...), per_page=(int, ...), total=(int, ...),
                                           next=(str | None, None))
    return _PAGE_MODELS[model]


_LIST_MODELS: dict[type, type] = {}


def list_of(model: type[BaseModel]) -> type[BaseModel]:
    """The response model of an unpaginated list ``{"items": [...], "total": n}`` (``<Model>List``)."""
    if model not in _LIST_MODELS:
        _LIST_MODELS[model] = create_model(f"{model.__name__}List", items=(list[model], ...), total=(int, ...))
    return _LIST_MODELS[model]


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str]


class ErrorEnvelope(BaseModel):
    error: ErrorBody


# pydantic error type -> message id shown for the field
_FIELD_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is too short."),
    "string_too_long": N_("This field is too long."),
    "string_type": N_("Must be text."),
    "int_parsing": N_("Must be a whole number."),
    "int_type": N_("Must be a whole number."),
    "bool_parsing": N_("Must be true or false."),
    "bool_type": N_("Must be true or false."),
    "literal_error": N_("This value is not supported."),
    "enum": N_("This value is not supported."),
    "extra_forbidden": N_("Unknown field."),
    "greater_than_equal": N_("The value is too small."),
    "less_than_equal": N_("The value is too large."),
}


class ApiHandler(BaseHandler):
    """Base of every ``/api/v1`` handler: JSON in, JSON out, the error envelope."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    def json_object(self) -> dict:
        """The request body as a JSON object: the one JSON parser of the API; 400 when the body is
        not valid UTF-8 JSON or not an object. A number without a fractional part (``5.0``,
        ``1e3``) is the integer it equals, as JSON Schema's ``integer`` says."""
        raw = self.request.body or b""
        try:
            data = json.loads(raw.decode("utf-8"), parse_float=_json_number) if raw.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise AppError(400, "invalid_json", N_("The request body is not valid JSON.")) from None
        if not isinstance(data, dict):
            raise AppError(400, "invalid_json", N_("The request body must be a JSON object."))
        return data

    def body(self, model: type[BaseModel]) -> BaseModel:
        """The request body validated by ``model``; 400/422 with field messages otherwise."""
        data = self.json_object()
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            fields = {}
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "body"
                fields.setdefault(key, _FIELD_MESSAGES.get(err["type"], N_("This value is not valid.")))
            raise AppError(422, "validation_error", N_("Some fields are not filled in correctly."),
                           fields=fields) from None

    def int_arg(self, name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={name: N_("Must be a whole number.")}) from None
        if value < minimum:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={name: N_("The value is too small.")})
        if maximum is not None and value > maximum:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={name: N_("The value is too large.")})
        return value

    def pagination(self) -> tuple[int, int]:
        """(page, per_page) from the query, validated."""
        return (self.int_arg("page", 1),
                self.int_arg("per_page", DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE))

    def reply(self, data: Any, status: int = 200) -> None:
        """Send ``data`` (a model, dict or list) as JSON."""
        self.set_status(status)
        if isinstance(data, BaseModel):
            text = data.model_dump_json()
        else:
            text = json.dumps(data, ensure_ascii=False, default=_json_default)
        self.finish(text)

    def no_content(self) -> None:
        """Answer 204 with no body (a delete, a sign-out)."""
        self.set_status(204)
        self.finish()

    def reply_page(self, items: list, page: int, per_page: int, total: int, next: str | None = None) -> None:
        """One page; ``next`` (lists with keyset pagination): pass it as ``after`` for the next page."""
        self.reply({"items": items, "page": page, "per_page": per_page, "total": total, "next": next})

    def after_arg(self, sort: list) -> list | None:
        """The decoded ``after`` cursor of a keyset-paginated list (None: from the start)."""
        from storage.paging import BadCursor, decode_cursor

        raw = self.get_query_argument("after", "")
        if not raw:
            return None
        try:
            return decode_cursor(raw, sort)
        except BadCursor:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={"after": N_("Not a page cursor: use the «next» value of the previous page.")}) from None


def _json_number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _json_default(value: Any):
    from datetime import datetime

    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
