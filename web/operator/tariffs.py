"""Tariff tables in the operator console: the API (``/api/v1/operator/tariffs``) and the pages
(``/operator/tariffs``), platform operators only.

A tariff is a destination table (number prefix → zone, with the country for international
prefixes), prices per minute per zone (and per country) in roubles with kopecks, the billing step,
a monthly pool of free minutes and the zones it covers (see :mod:`jobs.billing.rating`). Input
is validated field by field — ``prices.mobile``, ``destinations.3.prefix`` — and then once more
as a whole by building the :class:`jobs.billing.rating.Tariff` (every zone the table uses needs a
price), so a saved tariff always rates. Every change is in the action log (platform scope).

The page edits the destination table and the country prices as text, one entry per line
(``7495; local; ; Москва`` / ``DE 12,00``), so it works without JavaScript.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobs.billing.rating import ZONES, BillingStep, Destination, RatingError, Tariff
from jobs.billing.tariffs import default_tariff_id, get_tariff_doc, list_tariffs
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from pult.money import format_rub, parse_rub
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.billing import Tariffs
from web.api_base import Param, list_of, operation
from web.api_fields import NOT_BLANK, UNIQUE_EXTENSION, documented, requires, stated
from web.operator.api import OperatorApi
from web.operator.models import Strict, validate
from web.operator.pages import OperatorPage
from web.operator.services import INVALID, refuse
from web.routes import route
from web.sections import Section, register_section

register_section(Section("op_tariffs", N_("Tariffs"), "/operator/tariffs", order=825, audience="operator", icon="₽"))

TAGS = ["operator"]
ERRORS = (400, 401, 403, 404, 422)
CODE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
PRICED_ZONES = ("local", "mobile", "long_distance", "international", "service")
ZONE_LABELS = {"local": N_("Local"), "mobile": N_("Mobile"), "long_distance": N_("Long distance"),
               "international": N_("International"), "service": N_("Service numbers"), "free": N_("Free")}
MAX_DESTINATIONS = 5000


# --------------------------------------------------------------------------- the document
# What the checks below take, stated for the OpenAPI document (the checks stay the judge and answer
# with their own messages; where a rule takes more — spaces in a price, a prefix listed twice when
# one entry is exact, an unpriced zone no destination uses — the document states the plain form).
_STEP_NUMBER = "([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|3600)"  # 1..3600 seconds
STEP_PATTERN = f"^{_STEP_NUMBER}/{_STEP_NUMBER}$"
#: a price per minute: roubles, at most two decimals, at most 10 000 roubles
_PRICE_DOC = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 10_000},
                        {"type": "string", "pattern": r"^[0-9]{1,4}([.,][0-9]{1,2})?$"}]}
#: the zones a destination table may use without a price
_UNPRICED = ("service", "free")
_PRICES_DOC = {
    "type": "object", "propertyNames": {"pattern": f"^(({'|'.join(PRICED_ZONES)})|international:[A-Z]{{2}})$"},
    "additionalProperties": _PRICE_DOC, "required": [z for z in PRICED_ZONES if z not in _UNPRICED],
    "description": "Roubles per minute: zone or international:DE → «1,50». Every zone but service (free: "
                   "none) is priced, so any destination table rates (a zone no destination uses may also "
                   "be left out)"}
_DESTINATION_COMMON = {
    "prefix": {"type": "string", "pattern": "^[0-9]{1,15}$", "description": "International digits without +, "
                                                                            "e.g. 7495"},
    "name": {"type": "string", "maxLength": 100}, "exact": {"type": "boolean", "default": False,
                                                            "description": "Match the whole number only "
                                                                           "(service numbers such as 112)"}}
_DESTINATIONS_DOC = {
    "type": "array", "minItems": 1, "maxItems": MAX_DESTINATIONS,
    "description": "The destination table: at least one entry, each prefix once (the server also takes a "
                   "prefix twice when one of the entries is exact)",
    "items": {"oneOf": [
        {"type": "object", "title": "A domestic, service or free destination", "additionalProperties": False,
         "required": ["prefix", "zone"],
         "properties": {**_DESTINATION_COMMON,
                        "zone": {"enum": [z for z in ZONES if z != "international"]},
                        "country": {"anyOf": [{"type": "string", "pattern": "^([A-Z]{2})?$"}, {"type": "null"}],
                                    "description": "ISO 3166 alpha-2 (not kept for these zones)"}}},
        {"type": "object", "title": "An international destination", "additionalProperties": False,
         "required": ["prefix", "zone", "country"],
         "properties": {**_DESTINATION_COMMON, "zone": {"const": "international"},
                        "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166 alpha-2"}}},
    ]}}


# --------------------------------------------------------------------------- models
class DestinationIn(Strict):
    prefix: str = Field(description="International digits without +, e.g. 7495")
    zone: str = Field(description="local, mobile, long_distance, international, service or free")
    country: str | None = Field(None, description="ISO 3166 alpha-2, required for international")
    name: str = Field("", max_length=100)
    exact: bool = Field(False, description="Match the whole number only (service numbers such as 112)")


class TariffIn(Strict):
    model_config = ConfigDict(json_schema_extra={UNIQUE_EXTENSION: {"destinations": ["prefix"]}})

    code: str | None = Field(None, description="Only when creating: 2-32 Latin letters, digits, _ or -",
                             json_schema_extra=documented(pattern=CODE.pattern))
    name: str = Field(min_length=1, max_length=100, json_schema_extra=NOT_BLANK)
    name_en: str = Field("", max_length=100, description="The name in the English cabinet (empty: the name)")
    description: str = Field("", max_length=1000)
    description_en: str = Field("", max_length=1000,
                                description="The description in the English cabinet (empty: the description)")
    public: bool = Field(True, description="Offered to account administrators for a tariff change")
    step: str = Field("60/60", description="FIRST/STEP seconds (1-3600 each): 60/60 per minute, 1/1 per second, 60/1",
                      json_schema_extra=documented(pattern=STEP_PATTERN))
    free_minutes: int = Field(0, ge=0, le=1_000_000, description="Monthly pool of free minutes")
    free_zones: list[str] = Field(default_factory=lambda: ["local", "mobile"],
                                  json_schema_extra=documented(items={"enum": list(ZONES)}))
    grace_seconds: int = Field(0, ge=0, le=60, description="Calls this short are not charged")
    home_area: str = Field("", max_length=6, description="Completes 7-digit numbers, e.g. 7495",
                           json_schema_extra=documented(pattern="^[0-9]{0,6}$"))
    prices: dict[str, int | str] = Field(json_schema_extra=stated(_PRICES_DOC))
    inbound_price: int | str = Field("0", json_schema_extra=stated(
        {**_PRICE_DOC, "default": "0", "description": "Roubles per minute for inbound calls (usually 0)"}))
    internal_price: int | str = Field("0", json_schema_extra=stated(
        {**_PRICE_DOC, "default": "0", "description": "Roubles per minute for internal calls (usually 0)"}))
    destinations: list[DestinationIn] = Field(max_length=MAX_DESTINATIONS, json_schema_extra=stated(_DESTINATIONS_DOC))


class TariffNewIn(TariffIn):
    """A new tariff: :class:`TariffIn` with its ``code`` (documented as required; a missing or bad
    one is refused with the code's own message, a taken one is 409)."""

    model_config = ConfigDict(json_schema_extra=lambda s: _new_tariff_doc(s))

    code: str | None = Field(None, json_schema_extra=stated({
        "type": "string", "pattern": CODE.pattern,
        "description": "2-32 Latin letters, digits, _ or -, starting with a letter (a taken one: 409)"}))


def _new_tariff_doc(schema: dict[str, Any]) -> None:
    schema[UNIQUE_EXTENSION] = {"destinations": ["prefix"]}
    requires("code")(schema)


class TariffOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    public: bool
    default: bool
    prices: dict[str, int]
    prices_text: dict[str, str]


# --------------------------------------------------------------------------- validation
def _price(value: Any, field: str) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise refuse(field, N_("Enter the price in roubles as text, e.g. 1,50."))
    if isinstance(value, str) and not value.strip():
        raise refuse(field, N_("Enter the price in roubles, e.g. 1,50 (0 for free)."))
    try:
        kop = parse_rub(value)
    except ValueError as exc:
        if "more than two decimals" in str(exc):
            raise refuse(field, N_("At most two digits after the comma (kopecks).")) from None
        raise refuse(field, N_("Enter the price in roubles, e.g. 1,50 (0 for free).")) from None
    if kop > 1_000_000:
        raise refuse(field, N_("The price per minute is too large (at most 10 000 roubles)."))
    return kop


def build_tariff(code: str, data: TariffIn) -> Tariff:
    """The :class:`Tariff` of validated input, or AppError 422 naming the first bad field."""
    try:
        step = BillingStep.parse(data.step)
    except RatingError:
        raise refuse("step", N_("Enter the billing step as FIRST/STEP seconds, e.g. 60/60 or 1/1.")) from None
    for z in data.free_zones:
        if z not in ZONES:
            raise refuse("free_zones", N_("Unknown zone."))
    if data.home_area and not data.home_area.isdigit():
        raise refuse("home_area", N_("The home area code is digits, e.g. 7495."))
    prices: dict[str, int] = {}
    for key, value in data.prices.items():
        zone, _, country = key.partition(":")
        if zone not in ZONES or zone == "free" or (country and (zone != "international" or not COUNTRY.match(country))):
            raise refuse(f"prices.{key}", N_("Unknown zone: use local, mobile, long_distance, international, "
                                             "service or international:DE for a country."))
        if isinstance(value, str) and not value.strip() and not country:
            continue  # an empty zone price: not priced (the table must not use it)
        prices[key] = _price(value, f"prices.{key}")
    rows: list[Destination] = []
    seen: dict[tuple[str, bool], int] = {}
    for i, d in enumerate(data.destinations):
        where = f"destinations.{i}"
        if not d.prefix.isdigit() or len(d.prefix) > 15:
            raise refuse(f"{where}.prefix", N_("A prefix is up to 15 digits, e.g. 7495 (no + or spaces)."))
        if d.zone not in ZONES:
            raise refuse(f"{where}.zone", N_("Unknown zone."))
        country = (d.country or "").strip().upper() or None
        if d.zone == "international" and not (country and COUNTRY.match(country)):
            raise refuse(f"{where}.country", N_("An international prefix needs its country: two Latin letters, e.g. DE."))
        if country and not COUNTRY.match(country):
            raise refuse(f"{where}.country", N_("The country is two Latin letters, e.g. DE."))
        if (d.prefix, d.exact) in seen:
            raise refuse(f"{where}.prefix", N_("This prefix is already in the table."))
        seen[(d.prefix, d.exact)] = i
        rows.append(Destination(d.prefix, d.zone, country if d.zone == "international" else None, d.name.strip(),
                                d.exact))
        if d.zone not in ("free", "service") and d.zone not in prices and \
                not (country and f"{d.zone}:{country}" in prices):
            raise refuse(f"prices.{d.zone}", N_("Set this zone's price: the destination table uses it."))
    if not rows:
        raise refuse("destinations", N_("Add at least one destination."))
    inbound, internal = _price(data.inbound_price, "inbound_price"), _price(data.internal_price, "internal_price")
    try:
        return Tariff(code, data.name.strip(), tuple(rows), prices, step=step, free_minutes=data.free_minutes,
                      free_zones=frozenset(data.free_zones), grace_seconds=data.grace_seconds,
                      inbound_price=inbound, internal_price=internal, home_area=data.home_area,
                      country_code="7")
    except RatingError as exc:  # a rule the checks above missed: still a clear refusal
        raise AppError(422, "validation_error", INVALID, fields={"destinations": str(exc)}) from None


# --------------------------------------------------------------------------- service
async def save_tariff(db, code: str | None, data: TariffIn, actor: dict) -> dict:
    """Create (``code`` None: ``data.code``) or replace a tariff; audited; returns the document."""
    repo = Tariffs(db, Scope.platform())
    creating = code is None
    if creating:
        code = (data.code or "").strip()
        if not CODE.match(code):
            raise refuse("code", N_("The code is 2-32 Latin letters, digits, _ or -, starting with a letter."))
        if await repo.get({"_id": code}) is not None:
            raise refuse("code", N_("A tariff with this code already exists."), 409)
        before = None
    else:
        before = await repo.get({"_id": code})
        if before is None:
            raise AppError(404, "not_found", N_("No such tariff."))
    tariff = build_tariff(code, data)
    now = clock.now()
    doc = {**tariff.to_dict(), "description": data.description.strip(), "name_en": data.name_en.strip(),
           "description_en": data.description_en.strip(), "public": data.public, "updated_at": now,
           "created_at": (before or {}).get("created_at") or now}
    await repo.save(doc)
    after = await repo.get({"_id": code})
    await audit(db, Scope.platform(), actor=actor, section="operator.tariffs",
                operation="create" if creating else "update",
                object={"type": "tariff", "id": code, "name": doc["name"]}, before=before, after=after)
    return after


async def make_default(db, settings, code: str, actor: dict) -> None:
    """Make ``code`` the platform default tariff (PBXs that name no tariff are rated by it)."""
    from web.operator.models import SettingsIn
    from web.operator.services import save_settings

    if await get_tariff_doc(db, code) is None:
        raise AppError(404, "not_found", N_("No such tariff."))
    await save_settings(db, settings, SettingsIn(default_tariff=code), actor)


async def usage(db) -> dict[str, int]:
    """PBXs per tariff id (PBXs without one are counted under the platform default)."""
    from storage.repos.tenants import Pbxes

    default = await default_tariff_id(db)
    counts: dict[str, int] = {}
    for p in await Pbxes(db, Scope.platform()).find({"status": {"$ne": "deleted"}}, projection={"tariff": 1}):
        key = p.get("tariff") or default
        counts[key] = counts.get(key, 0) + 1
    return counts


def tariff_out(doc: dict, default: str) -> dict:
    prices = {k: int(v) for k, v in (doc.get("prices") or {}).items()}
    out = {k: v for k, v in doc.items() if k != "_id"}
    out.update(code=doc["_id"], public=bool(doc.get("public")), default=doc["_id"] == default, prices=prices,
               prices_text={k: format_rub(v, sep="") for k, v in prices.items()},
               inbound_price_text=format_rub(int(doc.get("inbound_price") or 0), sep=""),
               internal_price_text=format_rub(int(doc.get("internal_price") or 0), sep=""))
    return out


# --------------------------------------------------------------------------- API
@route("/api/v1/operator/tariffs", access="operator")
class OperatorTariffsApi(OperatorApi):
    @operation(N_("Tariffs"), response=list_of(TariffOut), tags=TAGS, errors=(401, 403))
    async def get(self) -> None:
        db = self.ctx.store.db
        default = await default_tariff_id(db)
        items = [tariff_out(d, default) for d in await list_tariffs(db)]
        self.reply({"items": items, "total": len(items)})

    @operation(N_("Create a tariff"), request=TariffNewIn, response=TariffOut, status=201, tags=TAGS,
               errors=(*ERRORS, 409), description="Prices are roubles per minute as text («1,50»); "
               "the answer carries them in kopecks (`prices`) and as text (`prices_text`).")
    async def post(self) -> None:
        db = self.ctx.store.db
        doc = await save_tariff(db, None, self.body(TariffNewIn), self.actor)
        self.reply(tariff_out(doc, await default_tariff_id(db)), 201)


def _code_param():
    return [Param("code", "path", required=True, description="Tariff code")]


@route("/api/v1/operator/tariffs/{code}", access="operator", params={"code": "[^/]{1,40}"})
class OperatorTariffApi(OperatorApi):
    @operation(N_("One tariff"), response=TariffOut, tags=TAGS, errors=(401, 403, 404), params=_code_param())
    async def get(self, code: str) -> None:
        db = self.ctx.store.db
        doc = await get_tariff_doc(db, code)
        if doc is None:
            raise AppError(404, "not_found", N_("No such tariff."))
        self.reply(tariff_out(doc, await default_tariff_id(db)))

    @operation(N_("Replace a tariff"), request=TariffIn, response=TariffOut, tags=TAGS, errors=ERRORS,
               params=_code_param(), description="Effective immediately: calls that end afterwards are "
               "rated by the new table.")
    async def put(self, code: str) -> None:
        db = self.ctx.store.db
        doc = await save_tariff(db, code, self.body(TariffIn), self.actor)
        self.reply(tariff_out(doc, await default_tariff_id(db)))


# --------------------------------------------------------------------------- pages
SAVED = {"saved": N_("Saved."), "default": N_("This is now the platform default tariff.")}


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.strip().startswith("#")]


def destinations_text(doc: dict | None) -> str:
    """The destination table as the page's text: ``prefix; zone; country; name[; exact]``."""
    out = []
    for d in (doc or {}).get("destinations") or []:
        parts = [d["prefix"], d["zone"], d.get("country") or "", d.get("name") or ""]
        if d.get("exact"):
            parts.append("exact")
        out.append("; ".join(parts))
    return "\n".join(out)


def countries_text(doc: dict | None) -> str:
    prices = (doc or {}).get("prices") or {}
    return "\n".join(f"{k.split(':', 1)[1]} {format_rub(int(v), sep='')}" for k, v in sorted(prices.items())
                     if k.startswith("international:"))


class LineError(Exception):
    def __init__(self, field: str, line: int):
        self.field, self.line = field, line


def form_to_input(h: OperatorPage) -> tuple[dict, dict[str, int]]:
    """The page's form as :class:`TariffIn` data, and which text line each destination came from."""
    prices: dict[str, Any] = {z: h.arg(f"price.{z}") for z in PRICED_ZONES}
    for n, line in _lines(h.get_body_argument("countries", "")):
        parts = line.split(None, 1)
        cc = parts[0].upper() if parts else ""
        if len(parts) != 2 or not COUNTRY.match(cc):
            raise LineError("countries", n)
        prices[f"international:{cc}"] = parts[1]
    dests, line_of = [], {}
    for n, line in _lines(h.get_body_argument("destinations", "")):
        parts = [p.strip() for p in line.split(";")]
        if len(parts) < 2 or len(parts) > 5 or (len(parts) == 5 and parts[4] not in ("exact", "")):
            raise LineError("destinations", n)
        parts += [""] * (5 - len(parts))
        line_of[str(len(dests))] = n
        dests.append({"prefix": parts[0], "zone": parts[1], "country": parts[2] or None, "name": parts[3],
                      "exact": parts[4] == "exact"})
    data = {"name": h.arg("name"), "description": h.get_body_argument("description", "").strip(),
            "name_en": h.arg("name_en"), "description_en": h.get_body_argument("description_en", "").strip(),
            "public": h.flag("public"), "step": h.arg("step") or "60/60",
            "free_minutes": h.arg("free_minutes") or "0", "grace_seconds": h.arg("grace_seconds") or "0",
            "free_zones": [z for z in ZONES if h.flag(f"free_zone.{z}")], "home_area": h.arg("home_area"),
            "prices": prices, "inbound_price": h.arg("inbound_price") or "0",
            "internal_price": h.arg("internal_price") or "0", "destinations": dests}
    return data, line_of


class TariffPageBase(OperatorPage):
    section = "op_tariffs"

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(zone_labels=ZONE_LABELS, priced_zones=PRICED_ZONES, zones=ZONES, fmt_rub=format_rub)
        return ns

    def tariff_notice(self) -> str | None:
        key = self.get_query_argument("done", "")
        return self._(SAVED[key]) if key in SAVED else None


@route("/operator/tariffs", access="operator", name="op_tariffs")
class TariffsPage(TariffPageBase):
    async def get(self) -> None:
        db = self.ctx.store.db
        self.render("operator/tariffs.html", items=await list_tariffs(db), default=await default_tariff_id(db),
                    usage=await usage(db), notice=self.tariff_notice())


@route("/operator/tariffs/{code}", access="operator", params={"code": "[^/]{1,40}"})
class TariffPage(TariffPageBase):
    async def load(self, code: str) -> dict | None:
        if code == "new":
            return None
        doc = await get_tariff_doc(self.ctx.store.db, code)
        if doc is None:
            raise AppError(404, "not_found", N_("No such tariff."))
        return doc

    async def show(self, doc, form, error=None, errors=None) -> None:
        self.render("operator/tariff.html", tariff=doc, form=form, error=error, errors=errors or {},
                    default=await default_tariff_id(self.ctx.store.db), notice=self.tariff_notice(),
                    dest_text=form.get("destinations_text") if form else destinations_text(doc),
                    countries=form.get("countries_text") if form else countries_text(doc))

    async def get(self, code: str) -> None:
        await self.show(await self.load(code), None)

    async def post(self, code: str) -> None:
        db = self.ctx.store.db
        doc = await self.load(code)
        if self.arg("action") == "default" and doc is not None:
            await make_default(db, self.ctx.settings, doc["_id"], self.actor)
            self.redirect(f"/operator/tariffs/{doc['_id']}?done=default")
            return
        raw_form = {k: self.get_body_argument(k, "") for k in ("code", "name", "name_en", "description", "description_en",
                                                                 "step", "free_minutes",
                                                                 "grace_seconds", "home_area", "inbound_price",
                                                                 "internal_price")}
        raw_form.update(public=self.flag("public"), destinations_text=self.get_body_argument("destinations", ""),
                        countries_text=self.get_body_argument("countries", ""),
                        prices={z: self.arg(f"price.{z}") for z in PRICED_ZONES},
                        free_zones=[z for z in ZONES if self.flag(f"free_zone.{z}")])
        line_of: dict[str, int] = {}
        try:
            try:
                data, line_of = form_to_input(self)
            except LineError as le:
                msg = N_("Line %(n)s: write «prefix; zone; country; name» (add «; exact» for a whole number).") \
                    if le.field == "destinations" else N_("Line %(n)s: write «DE 12,00» — the country and the price.")
                self.set_status(422)
                await self.show(doc, raw_form, self._(INVALID), {le.field: self._(msg, n=le.line)})
                return
            if code == "new":
                data["code"] = self.arg("code")
            saved = await save_tariff(db, None if code == "new" else code, validate(TariffIn, data), self.actor)
        except AppError as exc:
            if exc.status_code not in (409, 422):
                raise
            self.set_status(exc.status_code)
            errors = {}
            for f, m in exc.fields.items():
                text = self._(m)
                parts = f.split(".")
                if parts[0] == "destinations" and len(parts) > 1 and parts[1] in line_of:
                    text = self._("Line %(n)s: %(problem)s", n=line_of[parts[1]], problem=text)
                    f = "destinations"
                elif parts[0] == "prices" and len(parts) > 1 and ":" in parts[1]:
                    f = "countries"
                elif parts[0] == "prices" and len(parts) > 1:
                    f = f"price.{parts[1]}"
                errors.setdefault(f, text)
            await self.show(doc, raw_form, self._(exc.message, **exc.values), errors)
            return
        self.redirect(f"/operator/tariffs/{saved['_id']}?done=saved")


__all__ = ["TariffIn", "DestinationIn", "build_tariff", "save_tariff", "make_default", "tariff_out"]
