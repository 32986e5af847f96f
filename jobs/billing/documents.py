"""The documents service: create → number → render (a job) → store → list → download → e-mail.

A document is a ``billing_documents`` entry (``storage.repos.billing.BillingDocuments``, scoped
by account) plus, once rendered, a file in the media store (``store.media``, owner = the account
id)::

    {_id, account_id, key, kind, number, title, format, params, since, until,
     status: queued | rendering | ready | failed, progress (0..100), error: {en, ru} | None,
     file_id, filename, content_type, size, created_at, created_by, started_at, finished_at}

Kinds (:data:`KINDS`): ``invoice`` (prepayment invoice with or without VAT, PDF), ``receipt``
(an individual's payment receipt for a bank, PDF: payer's name, address, amount, payment date),
``reconciliation`` (act for a period, PDF), ``call_detail`` (PDF default, XLS, XLSX, TXT;
refused on the 1st of a month in the account's time zone), ``expenses`` (by months or by
destinations, XLSX or PDF), ``payments`` (XLSX or PDF).

:func:`create_document` validates what needs the data (the 1st-of-month rule), takes a number
for invoices (:func:`storage.repos.billing.next_number`, ``invoice:<year>``) and inserts the entry
``queued``; :func:`jobs.billing.tasks.queue_render` queues the render job on the ``documents``
queue. :func:`render_document` is the job body: it runs in a worker thread, reads the data and
writes status/progress through ``call`` (``jobs.context.call_store``: the store's own loop),
renders in the worker thread (never on the loop), stores the file and marks the entry ``ready``
— or ``failed`` with the reason in English and Russian.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any, Awaitable, Callable, Iterable, Iterator

from bson import ObjectId

from esl_control.model import vocabulary as vocab
from jobs.billing import ledger, services
from pult import clock
from pult.i18n import N_
from reports.common import DocumentError, Requisites, check_call_detail_allowed, check_period

log = logging.getLogger("pult.billing.documents")

KINDS = ("invoice", "reconciliation", "call_detail", "expenses", "payments", "receipt")
FORMATS = {"invoice": ("pdf",), "receipt": ("pdf",), "reconciliation": ("pdf",), "call_detail": ("pdf", "xls", "xlsx", "txt"),
           "expenses": ("xlsx", "pdf"), "payments": ("xlsx", "pdf")}
CONTENT_TYPES = {"pdf": "application/pdf", "xls": "application/vnd.ms-excel",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "txt": "text/plain; charset=utf-8"}
TITLES_RU = {"invoice": "Счёт на оплату", "receipt": "Квитанция на оплату", "reconciliation": "Акт сверки", "call_detail": "Детализация звонков",
             "expenses": "Расходы на связь", "payments": "Платежи"}
MAX_PERIOD_DAYS = 400
PROGRESS_STEP = 5  # percent between progress writes

Call = Callable[[Callable[[Any], Awaitable[Any]]], Any]


@dataclass(frozen=True)
class Period:
    since: date
    until: date

    def label(self) -> str:
        return f"{self.since:%d.%m.%Y}–{self.until:%d.%m.%Y}"


def _period(params: dict) -> Period:
    since, until = params.get("since"), params.get("until")
    if isinstance(since, str):
        since = date.fromisoformat(since)
    if isinstance(until, str):
        until = date.fromisoformat(until)
    if not isinstance(since, date) or not isinstance(until, date):
        raise DocumentError(N_("Choose the period: both dates are required."))
    check_period(since, until, MAX_PERIOD_DAYS)
    return Period(since, until)


# --------------------------------------------------------------------------- requisites
async def supplier_requisites(db, settings=None) -> tuple[Requisites, dict]:
    """The operator's requisites as the supplier and the signatories ``{head, accountant}``.

    Read through :func:`storage.repos.tenants.effective_platform_settings` (platform setting
    ``supplier``, edited and validated in the operator console); empty fields stay empty when
    the operator has not filled them in.
    """
    from storage.repos.tenants import effective_platform_settings, get_platform_settings

    if settings is None:
        from pult.settings import get_settings
        settings = get_settings()
    sup = effective_platform_settings(await get_platform_settings(db), settings).get("supplier") or {}
    return Requisites.from_dict(sup), {"head": str(sup.get("head") or ""),
                                       "accountant": str(sup.get("accountant") or "")}


#: documents that print the operator as the supplier, and what must be on them
SUPPLIER_KINDS = ("invoice", "reconciliation", "receipt")
SUPPLIER_REQUIRED = (("name", N_("full name")), ("inn", N_("INN")), ("address", N_("legal address")),
                     ("bank", N_("bank")), ("bik", N_("BIK")), ("account", N_("settlement account")))


#: the demo operator's requisites (``pult seed-demo``): made up, with valid check digits
DEMO_SUPPLIER = {"name": "ООО «Пульт Телеком» (демо)", "inn": "7709990008", "kpp": "770901001",
                 "address": "101000, г. Москва, ул. Примерная, д. 1", "bank": "АО «Демо-Банк», г. Москва",
                 "bik": "044525999", "account": "40702810900000000001", "corr_account": "30101810400000000999",
                 "head": "Петров П. П.", "accountant": "Сидорова С. С."}


class SupplierMissing(DocumentError):
    """The operator's requisites are not filled in: a request valid in itself that what is stored
    cannot serve (the API answers 409, the message says where the operator enters them)."""


async def check_supplier(db, settings=None) -> None:
    """Refuse (:class:`SupplierMissing`) to issue a document with a blank supplier block: the
    message names what is missing and where the operator enters it."""
    supplier, _ = await supplier_requisites(db, settings)
    missing = [name for key, name in SUPPLIER_REQUIRED if not str(getattr(supplier, key, "") or "").strip()]
    if missing:
        raise SupplierMissing(N_("The document cannot be issued: the supplier's requisites are not filled in (missing: %(missing)s). The platform operator enters them in the operator console: «Platform settings» → «The operator's requisites» (/operator/settings#supplier)."),  # noqa: E501
                              terms={"missing": missing})


def buyer_requisites(account: dict | None) -> Requisites:
    """The account's company as the buyer (``accounts.requisites``, see storage.repos.tenants)."""
    account = account or {}
    req = account.get("requisites") or {}
    return Requisites(name=str(account.get("name") or account.get("account_id") or ""),
                      inn=str(req.get("inn") or ""), kpp=str(req.get("kpp") or ""),
                      ogrn=str(req.get("ogrn") or ""),
                      address=str(req.get("legal_address") or req.get("postal_address") or ""),
                      bank=str(req.get("bank") or ""), bik=str(req.get("bik") or ""),
                      account=str(req.get("settlement_account") or ""),
                      corr_account=str(req.get("corr_account") or ""),
                      phone=str(account.get("company_phone") or ""), email=str(account.get("email") or ""))


async def vat_rate(db, settings=None) -> int:
    """The platform's VAT rate (percent): the operator's stored ``vat_rate``, else
    ``settings.vat_rate`` (:func:`storage.repos.tenants.effective_platform_settings`)."""
    from storage.repos.tenants import effective_platform_settings, get_platform_settings

    if settings is None:
        from pult.settings import get_settings
        settings = get_settings()
    rate = effective_platform_settings(await get_platform_settings(db), settings).get("vat_rate")
    if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= 100:
        rate = int(settings.vat_rate)
    return rate


# --------------------------------------------------------------------------- create / list
async def create_document(db, account_id: int, kind: str, params: dict, *, actor: dict | None = None,
                          key: str | None = None, now_local: datetime | None = None) -> dict:
    """Validate, number and insert a ``queued`` document; returns the entry.

    ``key`` makes creation idempotent (the monthly close uses ``close:invoice:<period>``): a
    second call with the same key returns the existing entry. Raises :class:`DocumentError`
    (English and Russian messages) for input the data refuses.
    """
    from storage.repos.billing import BillingDocuments, next_number
    from storage.repos.base import Scope

    if kind not in KINDS:
        raise DocumentError(N_("Unknown document kind %(kind)s."), kind=repr(kind))
    fmt = (params.get("format") or FORMATS[kind][0]).lower()
    if fmt not in FORMATS[kind]:
        raise DocumentError(N_("This document is not available as %(format)s."), format=fmt.upper())
    repo = BillingDocuments(db, Scope.account(account_id))
    if key:
        existing = await repo.get({"key": key})
        if existing is not None:
            return existing
    if kind in SUPPLIER_KINDS:
        await check_supplier(db)
    tz = await services.account_tz(db, account_id)
    today = (now_local or clock.local_now(tz)).date()
    clean: dict[str, Any] = {"format": fmt}
    since = until = None
    number = None
    title = TITLES_RU[kind]
    if kind == "invoice":
        amount = params.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise DocumentError(N_("The invoice amount must be greater than zero."))
        from reports.invoice import MAX_INVOICE_KOPECKS
        if amount > MAX_INVOICE_KOPECKS:
            raise DocumentError(N_("The invoice amount is too large."))
        clean.update(amount=amount, with_vat=bool(params.get("with_vat", True)),
                     vat_rate=await vat_rate(db), on=today.isoformat())
        number = f"{today.year}-{await next_number(db, f'invoice:{today.year}'):06d}"
        title = f"Счёт на оплату № {number}"
        since = until = today
    elif kind == "receipt":
        amount, name, address = params.get("amount"), params.get("payer_name"), params.get("payer_address")
        pay_date = params.get("pay_date")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise DocumentError(N_("The receipt amount must be greater than zero."))
        if not isinstance(name, str) or not name.strip() or not isinstance(address, str) or not address.strip():
            raise DocumentError(N_("The payer's full name and address are required."))
        try:
            paid_on = date.fromisoformat(str(pay_date))
        except ValueError:
            raise DocumentError(N_("Enter the payment date.")) from None
        clean.update(amount=amount, payer_name=name.strip(), payer_address=address.strip(), pay_date=paid_on.isoformat())
        title = f"Квитанция на оплату от {paid_on:%d.%m.%Y}"
        since = until = paid_on
    else:
        period = _period(params)
        since, until = period.since, period.until
        if kind == "call_detail":
            check_call_detail_allowed(now_local or clock.local_now(tz))
        if kind == "expenses":
            by = params.get("by") or "months"
            if by not in ("months", "destinations"):
                raise DocumentError(N_("Show the expenses by months or by destinations."))
            clean["by"] = by
            pbx_id, zone = params.get("pbx_id"), params.get("zone")
            if pbx_id is not None:
                if by != "destinations" or pbx_id not in [p["pbx_id"] for p in await services.account_pbxes(db, account_id)]:
                    raise DocumentError(N_("One PBX can be chosen only by destinations, among the account's PBXs."))
                clean["pbx_id"] = pbx_id
            if zone is not None:
                clean["zone"] = str(zone)
        title = f"{title} за {period.label()}"
    doc = {"_id": str(ObjectId()), "key": key or f"{kind}:{secrets.token_hex(8)}", "kind": kind,
           "number": number, "title": title, "format": fmt, "params": clean,
           "since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
           "status": "queued", "progress": 0, "error": None, "file_id": None, "filename": None,
           "content_type": CONTENT_TYPES[fmt], "size": None, "created_at": clock.now(),
           "created_by": (actor or {}).get("login") or (actor or {}).get("kind")}
    try:
        await repo.insert(doc)
    except Exception as exc:
        from pymongo.errors import DuplicateKeyError
        if isinstance(exc, DuplicateKeyError) and key:
            return await repo.get({"key": key})
        raise
    doc["account_id"] = account_id
    return doc


async def get_document(db, account_id: int, doc_id: str) -> dict | None:
    from storage.repos.billing import BillingDocuments
    from storage.repos.base import Scope

    if not isinstance(doc_id, str) or not ObjectId.is_valid(doc_id):
        return None
    return await BillingDocuments(db, Scope.account(account_id)).get({"_id": doc_id})


async def list_documents(db, account_id: int, since: date | None = None, until: date | None = None,
                         kind: str | None = None, limit: int = 500) -> list[dict]:
    """The account's documents created in ``[since, until]`` (local dates), newest first."""
    from storage.repos.billing import BillingDocuments
    from storage.repos.base import Scope

    flt: dict[str, Any] = {}
    if since or until:
        tz = await services.account_tz(db, account_id)
        start, end = services.period_bounds(since or date(2000, 1, 1), until or date(2100, 1, 1), tz)
        flt["created_at"] = {"$gte": start, "$lt": end}
    if kind:
        flt["kind"] = kind
    return await BillingDocuments(db, Scope.account(account_id)).list(flt, sort=[("created_at", -1)], limit=limit)


async def set_status(db, account_id: int, doc_id: str, **fields) -> None:
    from storage.repos.billing import BillingDocuments
    from storage.repos.base import Scope

    await BillingDocuments(db, Scope.account(account_id)).update({"_id": doc_id}, {"$set": fields})


# --------------------------------------------------------------------------- rendering
class _Progress:
    """Counts rows as a renderer consumes them and writes the percentage every few percent."""

    def __init__(self, call: Call, account_id: int, doc_id: str, total: int):
        self.call, self.account_id, self.doc_id = call, account_id, doc_id
        self.total = max(1, total)
        self.done = 0
        self.written = 0

    def wrap(self, rows: Iterable) -> Iterator:
        for row in rows:
            self.done += 1
            pct = min(95, self.done * 100 // self.total)
            if pct >= self.written + PROGRESS_STEP:
                self.written = pct
                self.call(lambda st, p=pct: set_status(st.db, self.account_id, self.doc_id, progress=p))
            yield row


def _record_rows(records: list[dict]) -> Iterator:
    """Call-detail rows from rated records (internal legs that cost nothing are left out)."""
    from reports.call_detail import CallRow

    for rec in records:
        rated = rec.get("rated") or {}
        direction = rated.get("direction") or rec.get("direction") or ""
        cost = int(rated.get("cost") or 0)
        if direction == "internal" and not cost:
            continue
        callee = rec.get("callee") or ""
        if direction == "outbound":
            callee = (rec.get("vars") or {}).get(vocab.DESTINATION_NUMBER) or callee
        start = rec.get("start") or rec.get("answer") or rec.get("end")
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        yield CallRow(start, str(rec.get("caller") or ""), str(callee), direction,
                      rated.get("zone") if rated.get("zone") not in ("internal", "inbound") else "",
                      int(rec.get("billsec") or 0), int(rated.get("rated_seconds") or 0), cost,
                      rated.get("destination_name") or "")


async def fetch_call_records(db, account_id: int, start: datetime, end: datetime, *,
                             pbx_id: int | None = None, zone: str | None = None) -> list[dict]:
    """Rated call records of the account's PBXs that started in ``[start, end)``, oldest first;
    only one PBX's (``pbx_id``, if it is the account's) and one destination zone's if asked."""
    from storage.repos.base import Scope
    from storage.repos.calls import CallRecords

    pbx_ids = [p["pbx_id"] for p in await services.account_pbxes(db, account_id)]
    if pbx_id is not None:
        pbx_ids = [p for p in pbx_ids if p == pbx_id]
    if not pbx_ids:
        return []
    flt: dict[str, Any] = {"pbx_id": {"$in": pbx_ids}, "start": {"$gte": start, "$lt": end},
                           "rated": {"$exists": True}}
    if zone:
        flt["rated.zone"] = zone
    return await CallRecords(db, Scope.platform()).find(
        flt,
        sort=[("start", 1), ("uuid", 1)],
        projection={"_id": 0, "start": 1, "answer": 1, "end": 1, "caller": 1, "callee": 1, "direction": 1,
                    "billsec": 1, "rated": 1, f"vars.{vocab.DESTINATION_NUMBER}": 1})


def _localize(rows: Iterable, tz) -> Iterator:
    """Rows with their start in the account's local time (documents print local time)."""
    for r in rows:
        if r.started_at is not None and r.started_at.tzinfo is not None:
            r = replace(r, started_at=r.started_at.astimezone(tz).replace(tzinfo=None))
        yield r


def render_document(account_id: int, doc_id: str, call: Call, *, pdf_workers: int | None = None) -> dict:
    """The render job's body (see the module docstring); returns ``{status, file_id, size}``.

    Idempotent: a document already ``ready`` is not rendered again. A :class:`DocumentError`
    (or any failure) marks the entry ``failed`` with its reason; unexpected errors re-raise so
    the job shows them too.
    """
    doc = call(lambda st: get_document(st.db, account_id, doc_id))
    if doc is None:
        return {"status": "missing"}
    if doc["status"] == "ready":
        return {"status": "ready", "file_id": doc["file_id"], "size": doc.get("size"), "duplicate": True}
    call(lambda st: set_status(st.db, account_id, doc_id, status="rendering", progress=0,
                               started_at=clock.now(), error=None))
    try:
        data, filename = _render(account_id, doc, call, pdf_workers)
    except DocumentError as exc:
        call(lambda st: set_status(st.db, account_id, doc_id, status="failed", finished_at=clock.now(),
                                   error={"en": exc.message_en, "ru": exc.message_ru}))
        return {"status": "failed", "error": exc.message_en}
    except Exception as exc:
        log.exception("document %s of account %s failed", doc_id, account_id)
        failed = DocumentError(N_("The document could not be generated: %(reason)s"), reason=str(exc))
        call(lambda st: set_status(st.db, account_id, doc_id, status="failed", finished_at=clock.now(),
                                   error={"en": failed.message_en, "ru": failed.message_ru}))
        raise
    ctype = CONTENT_TYPES[doc["format"]]

    async def store_it(st):
        file_id = await st.media.put(account_id, filename, data, ctype,
                                     metadata={"document": doc_id, "kind": doc["kind"]})
        await set_status(st.db, account_id, doc_id, status="ready", progress=100, file_id=file_id,
                         filename=filename, size=len(data), finished_at=clock.now())
        return file_id

    file_id = call(store_it)
    return {"status": "ready", "file_id": file_id, "size": len(data)}


def _render(account_id: int, doc: dict, call: Call, pdf_workers: int | None) -> tuple[bytes, str]:
    kind, fmt, params = doc["kind"], doc["format"], doc.get("params") or {}
    since = date.fromisoformat(doc["since"]) if doc.get("since") else None
    until = date.fromisoformat(doc["until"]) if doc.get("until") else None

    async def basics(st):
        pbxes = await services.account_pbxes(st.db, account_id)
        return (await services.account_doc(st.db, account_id), await services.account_tz(st.db, account_id, pbxes),
                pbxes)

    account, tz, pbxes = call(basics)
    acc_name = str((account or {}).get("name") or "")
    if kind == "receipt":
        from reports.receipt import Receipt, receipt_pdf

        supplier, _ = call(lambda st: supplier_requisites(st.db))
        paid_on = date.fromisoformat(params["pay_date"])
        pdf = receipt_pdf(Receipt(supplier, params["payer_name"], params["payer_address"], params["amount"],
                                  paid_on, account_id))
        return pdf, f"Квитанция {account_id} {paid_on:%d.%m.%Y}.pdf"
    if kind == "invoice":
        from reports.invoice import invoice_pdf, prepayment_invoice

        supplier, signs = call(lambda st: supplier_requisites(st.db))
        inv = prepayment_invoice(doc["number"], date.fromisoformat(params["on"]), supplier,
                                 buyer_requisites(account), params["amount"], account_id=account_id,
                                 with_vat=params.get("with_vat", True), vat_rate=params.get("vat_rate", 20),
                                 supplier_head=signs["head"], supplier_accountant=signs["accountant"])
        return invoice_pdf(inv), f"Счёт № {doc['number']}.pdf"
    start, end = services.period_bounds(since, until, tz)
    label = f"{since:%d.%m.%Y}-{until:%d.%m.%Y}"
    if kind == "reconciliation":
        from reports.reconciliation import act_from_entries, reconciliation_pdf

        async def data(st):
            totals = await ledger.period_totals(st.db, account_id, start, end)
            return totals, await ledger.list_entries(st.db, account_id, start, end), await supplier_requisites(st.db)

        totals, entries, (supplier, _) = call(data)
        entries = [{**e, "created_at": e["created_at"].replace(tzinfo=timezone.utc).astimezone(tz)
                    if e["created_at"].tzinfo is None else e["created_at"].astimezone(tz)} for e in entries]
        act = act_from_entries(account_id, since, until, supplier, buyer_requisites(account),
                               totals["opening"], entries)
        return reconciliation_pdf(act), f"Акт сверки {label}.pdf"
    if kind == "payments":
        from reports.payments import payments_pdf, payments_xlsx

        entries = call(lambda st: ledger.list_entries(st.db, account_id, start, end, kinds=("payment",)))
        entries = [{**e, "created_at": (e["created_at"] if e["created_at"].tzinfo else
                                        e["created_at"].replace(tzinfo=timezone.utc)).astimezone(tz).replace(tzinfo=None)}
                   for e in entries]
        out = (payments_xlsx if fmt == "xlsx" else payments_pdf)(account_id, since, until, entries)
        return out, f"Платежи {label}.{fmt}"
    pbx_only, zone = (params.get("pbx_id"), params.get("zone")) if kind == "expenses" else (None, None)
    records = call(lambda st: fetch_call_records(st.db, account_id, start, end, pbx_id=pbx_only, zone=zone))
    if kind == "expenses":
        from reports.expenses import aggregate_expenses, expenses_pdf, expenses_xlsx

        # fees belong to the account and to no destination: left out when calls are filtered
        fees = [] if (pbx_only or zone) else \
            call(lambda st: ledger.list_entries(st.db, account_id, start, end, kinds=("fee", "service")))
        fees = [{**f, "created_at": (f["created_at"] if f["created_at"].tzinfo else
                                     f["created_at"].replace(tzinfo=timezone.utc)).astimezone(tz)} for f in fees]
        by = params.get("by", "months")
        lines = aggregate_expenses(_localize(_record_rows(records), tz), fees, by=by)
        out = (expenses_xlsx if fmt == "xlsx" else expenses_pdf)(account_id, since, until, lines, by=by)
        return out, f"Расходы на связь {label}.{fmt}"
    # call detail
    from reports.call_detail import Header, render_call_detail

    header = Header(account_id, since, until, clock.local_now(tz).replace(tzinfo=None), acc_name,
                    ", ".join(str(p.get("name") or p["pbx_id"]) for p in pbxes))
    progress = _Progress(call, account_id, doc["_id"], len(records))
    rows = progress.wrap(_localize(_record_rows(records), tz))
    kw = {"workers": pdf_workers} if fmt == "pdf" and pdf_workers else {}
    out = render_call_detail(fmt, header, rows, **kw)
    return out, f"Детализация {account_id} {label}.{fmt}"


__all__ = ["KINDS", "FORMATS", "CONTENT_TYPES", "create_document", "get_document", "list_documents",
           "render_document", "set_status", "supplier_requisites", "SupplierMissing", "check_supplier",
           "buyer_requisites", "vat_rate", "fetch_call_records"]
