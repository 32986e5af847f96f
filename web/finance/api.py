"""The Finance API (``/api/v1/finance/...``) and payments (``/api/v1/accounts/{id}/payments``).

Who: the Finance rights section (web/rights.py) — the account administrator, accountants
and administrators (and roles derived from them); an Employee gets 403. Operators see any
account by passing ``?account_id=``; everyone else sees their own account only (the account of
their PBX), and another account's document is simply not found (404).

Documents are created here and rendered by a job (``jobs.billing.tasks.render_document``, queue
``documents``): ``POST /api/v1/finance/documents`` answers 202 with the entry, the page polls
``GET /api/v1/finance/documents/{id}`` for ``status``/``progress`` and downloads
``.../file`` when it is ``ready``.
"""
from __future__ import annotations

import asyncio

import uuid as uuidlib
from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from jobs.billing import documents as docs
from jobs.billing import ledger, notify, services
from pult import clock
from pult.errors import AppError
from pult.i18n import N_, translate
from pult.money import format_rub
from reports.common import DocumentError
from storage.repos.audit import audit
from storage.repos.base import Scope
from web.api_base import ApiHandler, Param, component, from_today, operation, period, requires
from web.api_fields import DATE_PATTERN, MAIL_ADDRESS, SMS_PHONE, documented, listed
from web.enforce import integration
from web.finance.access import FinanceRoleMixin
from web.finance.validation import (EXPENSE_ZONES, MAX_ADDRESSES, MAX_AMOUNT, MAX_PERIOD_DAYS, PRESETS,
                                    RECEIPT_DAYS_AHEAD, InputError, parse_amount, parse_choice, parse_emails,
                                    parse_expense_filters, parse_notification_settings, parse_period,
                                    parse_preset, parse_receipt)
from web.formats import iso
from web.routes import route

DOC_ID = "[0-9a-f]{24}"
KIND_TITLES = {"invoice": N_("Invoice"), "receipt": N_("Payment receipt"), "reconciliation": N_("Reconciliation act"),
               "call_detail": N_("Call detail"), "expenses": N_("Communication expenses"),
               "payments": N_("Payments")}
STATUS_TITLES = {"queued": N_("Queued"), "rendering": N_("Being generated"), "ready": N_("Ready"),
                 "failed": N_("Failed")}
INVALID = N_("Some fields are not filled in correctly.")
#: a document that could not be queued says so in the list (stored in both languages, like a failed render)
QUEUE_DOWN = N_("The job queue is unavailable. Please try again in a minute.")


# --------------------------------------------------------------------------- models
class BalanceOut(BaseModel):
    account_id: int
    balance: int = Field(description="kopecks")
    balance_text: str
    blocked: bool


# What a new document takes, by its kind (web.finance.validation is the judge: it also takes dates as
# dd.mm.yyyy, amounts with spaces, fields another kind ignores). The rules JSON Schema cannot state
# are extensions the property-based run reads: a period's since no later than its until and at most
# MAX_PERIOD_DAYS days (x-pult-period on the kind's schema), a receipt's payment date from today to a
# year ahead in the account's time zone (x-pult-from-today). Invoices, receipts and reconciliations
# need the operator's requisites: without them the body is valid but what is stored cannot serve it
# (409, the message says where the operator enters them). Call detail is not made on the 1st of a
# month in the account's time zone (422; said in its title).
_DOC_DATE = {"type": "string", "pattern": DATE_PATTERN, "description": "yyyy-mm-dd (dd.mm.yyyy is taken too)"}
#: roubles, more than zero, at most two decimals, at most 100 million
_DOC_AMOUNT = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT // 100},
                         {"type": "string", "pattern": r"^([1-9][0-9]{0,7}([.,][0-9]{1,2})?|0[.,]([1-9][0-9]?|0[1-9]))$"}],
               "description": "Roubles, e.g. 1100 or 1100,50"}
_VISIBLE_TEXT = "[0-9A-Za-zА-Яа-яЁё]"


def _doc_kind(kind: str, title: str, required: tuple[str, ...] = (), **props: Any) -> dict:
    fmts = docs.FORMATS[kind]
    return {"type": "object", "title": title, "additionalProperties": False, "required": ["kind", *required],
            "properties": {"kind": {"const": kind}, **props,
                           "format": {"enum": list(fmts), "default": fmts[0]}}}


#: a document's period: since no later than until, at most MAX_PERIOD_DAYS days (parse_period)
_DOC_PERIOD = period("since", "until", MAX_PERIOD_DAYS)


def _period_kind(kind: str, title: str, **props: Any) -> dict:
    return {**_doc_kind(kind, title, ("since", "until"), since=_DOC_DATE, until=_DOC_DATE, **props), **_DOC_PERIOD}


_EXPENSES_COMMON = {"zone": {"enum": list(EXPENSE_ZONES), "description": "Only calls of this destination type"}}
DOCUMENT_KINDS = {
    "invoice": component("DocumentInvoiceIn", _doc_kind(
        "invoice", "An invoice for an amount", ("amount",), amount=_DOC_AMOUNT,
        with_vat={"type": "boolean", "default": True})),
    "receipt": component("DocumentReceiptIn", {**_doc_kind(
        "receipt", "A receipt for an individual's payment", ("payer_name", "payer_address", "amount", "pay_date"),
        payer_name={"type": "string", "maxLength": 200, "pattern": _VISIBLE_TEXT, "description": "Full name"},
        payer_address={"type": "string", "maxLength": 300, "pattern": _VISIBLE_TEXT},
        amount=_DOC_AMOUNT,
        pay_date={**_DOC_DATE, "description": "Payment date: today or later, at most a year ahead "
                                              "(the account's time zone)"}),
        **from_today("pay_date", 0, RECEIPT_DAYS_AHEAD)}),
    "reconciliation": component("DocumentReconciliationIn", _period_kind("reconciliation", "A reconciliation act")),
    "call_detail": component("DocumentCallDetailIn", _period_kind(
        "call_detail", "Call detail (not on the 1st of a month, the account's time zone: 422)")),
    "payments": component("DocumentPaymentsIn", _period_kind("payments", "Payments of a period")),
    "expenses": component("DocumentExpensesIn", {"title": "Expenses of a period", **_DOC_PERIOD, "oneOf": [
        _period_kind("expenses", "By months (every PBX of the account)", by={"const": "months", "default": "months"},
                     **_EXPENSES_COMMON),
        {**_period_kind("expenses", "By destinations, of one PBX or all", by={"const": "destinations"},
                        pbx_id={"type": "integer", "minimum": 1,
                                "description": "One PBX of the account (another: 404)"}, **_EXPENSES_COMMON),
         "required": ["kind", "since", "until", "by"]}]}),
}


def _document_in_doc(schema: dict[str, Any]) -> None:
    title = schema.get("title")
    schema.clear()
    schema.update({"title": title, "oneOf": list(DOCUMENT_KINDS.values()),
                   "discriminator": {"propertyName": "kind",
                                     "mapping": {k: v["$ref"] for k, v in DOCUMENT_KINDS.items()}}})


class DocumentIn(BaseModel):
    """A new document (validation: web.finance.validation; the document: DOCUMENT_KINDS)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_in_doc)
    kind: Literal["invoice", "reconciliation", "call_detail", "expenses", "payments", "receipt"]
    since: str | None = None
    until: str | None = None
    format: str | None = None
    amount: str | float | int | None = Field(None, description="invoice, receipt: roubles, e.g. 1100 or 1100,50")
    with_vat: bool = True
    payer_name: str | None = Field(None, max_length=1000, description="receipt: the payer's full name")
    payer_address: str | None = Field(None, max_length=1000, description="receipt: the payer's address")
    pay_date: str | None = Field(None, description="receipt: payment date, dd.mm.yyyy (today or later)")
    by: str | None = Field(None, description="expenses: months (default) or destinations")
    pbx_id: int | str | None = Field(None, description="expenses by destinations: one PBX of the account")
    zone: str | None = Field(None, description="expenses: one destination type")


class DocumentOut(BaseModel):
    id: str
    kind: str
    kind_title: str
    title: str
    number: str | None
    format: str
    status: str
    status_title: str
    progress: int
    error: str | None
    since: str | None
    until: str | None
    created_at: str | None
    created_local: str | None = Field(None, description="created_at as the cabinet shows it: the account's "
                                                         "time zone, dd.mm.yyyy HH:MM (ru) or yyyy-mm-dd HH:MM (en)")
    filename: str | None
    size: int | None
    download_url: str | None


class DocumentList(BaseModel):
    items: list[DocumentOut]
    total: int


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # documented as the addresses parse_emails takes (it stays the judge, with its own messages)
    to: str | list[str] = Field(description="One to 10 e-mail addresses: a list, or a text separated by commas",
                                json_schema_extra=documented(**listed(MAIL_ADDRESS, MAX_ADDRESSES, least=1)))
    request_id: str | None = Field(None, max_length=64, description="the same id never sends twice")


class JobOut(BaseModel):
    job_id: str
    to: list[str]


#: an amount in roubles above zero with at most two decimals, below MAX_AMOUNT
AMOUNT_PATTERN = r"^[1-9][0-9]{0,6}([.,][0-9]{1,2})?$"


def _as_amount_text(schema: dict) -> None:
    schema.pop("anyOf", None)
    schema.update(type="string", pattern=AMOUNT_PATTERN)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # documented as the text the cabinet takes (roubles, at most two decimals, above zero); the
    # handler's check answers with its own messages
    amount: str | float | int = Field(description="Roubles, e.g. \"1100\" or \"1100,50\"",
                                      json_schema_extra=_as_amount_text)
    key: str | None = Field(None, max_length=120, description="payment document id (idempotency)")
    comment: str = Field("", max_length=300)


class PaymentOut(BaseModel):
    account_id: int
    amount: int
    balance: int | None
    key: str
    duplicate: bool
    blocked: bool


class NoticeBlock(BaseModel):
    enabled: bool = False
    emails: str | list[str] = ""
    phones: str | list[str] = ""
    mode: str | None = None
    threshold: str | float | int | None = None
    computed_threshold: str | None = Field(None, description="read only: last week's spend (mode auto)")
    attach_invoice: bool | None = None
    invoice_amount: str | float | int | None = None


class NotificationsIO(BaseModel):
    language: str = "ru"
    low_balance: NoticeBlock = NoticeBlock()
    block: NoticeBlock = NoticeBlock()
    credit: NoticeBlock = NoticeBlock()


# what parse_notification_settings takes, as the document states it (the rules stay the judge and
# answer with their own messages): addresses the mailer and the SMS gateway accept, amounts in roubles
_AMOUNT_DOC = {"anyOf": [{"type": "string", "pattern": r"^[1-9][0-9]{0,7}([.,][0-9]{1,2})?$"},
                         {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT // 100}, {"type": "null"}]}


def _notice_schema(s: dict) -> None:
    """A notice switched on needs an e-mail or a phone."""
    s["oneOf"] = [{"title": "off", "properties": {"enabled": {"const": False}}},
                  {"title": "on", "properties": {"enabled": {"const": True}}, "required": ["enabled"],
                   "anyOf": [{"properties": {k: {"minLength": 1, "minItems": 1}}, "required": [k]}
                             for k in ("emails", "phones")]}]


class NoticeBlockIn(NoticeBlock):
    model_config = ConfigDict(json_schema_extra=_notice_schema)

    emails: str | list[str] = Field("", json_schema_extra=documented(**listed(MAIL_ADDRESS, MAX_ADDRESSES)))
    phones: str | list[str] = Field("", description="Russian mobile numbers (SMS)",
                                    json_schema_extra=documented(**listed(SMS_PHONE, MAX_ADDRESSES)))
    mode: str | None = Field(None, description="low_balance: manual (threshold) or auto (last week's spend)",
                             json_schema_extra=documented(anyOf=[{"enum": ["manual", "auto"]}, {"type": "null"}]))
    threshold: str | float | int | None = Field(None, description="Roubles (low_balance, manual mode)",
                                                json_schema_extra=documented(**_AMOUNT_DOC))
    invoice_amount: str | float | int | None = Field(None, description="Roubles (low_balance, with an invoice)",
                                                     json_schema_extra=documented(**_AMOUNT_DOC))


class NotificationsIn(NotificationsIO):
    language: str = Field("ru", json_schema_extra=documented(enum=["ru", "en"]))
    low_balance: NoticeBlockIn = NoticeBlockIn()
    block: NoticeBlockIn = NoticeBlockIn()
    credit: NoticeBlockIn = NoticeBlockIn()


class ReportOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # expenses also echo since/until/by/pbx_id/zone
    items: list[dict]
    totals: dict


DATE = {"type": "string", "pattern": DATE_PATTERN}
#: a period of whole days (parse_period: since ≤ until, at most MAX_PERIOD_DAYS days)
PERIOD_PARAMS = (Param("since", schema=DATE, required=True, description="First day: dd.mm.yyyy or yyyy-mm-dd"),
                 Param("until", schema=DATE, required=True, description="Last day, inclusive"))
# required in the document: an operator must name the account; a PBX user's request is about its
# own account whatever it sends
ACCOUNT_PARAM = Param("account_id", schema={"type": "integer", "minimum": 1}, required=True,
                      description="Operators: the account (others always get their own, whatever they send)")


# --------------------------------------------------------------------------- base
class FinanceApi(FinanceRoleMixin, ApiHandler):
    """Resolves the account of the request and turns input errors into 422 with field messages.
    Only the roles of :data:`web.finance.access.FINANCE_BASES` get past :meth:`prepare`."""

    async def account_id(self) -> int:
        db = self.ctx.store.db
        user = self.current_user
        if user["kind"] == "operator":
            raw = self.get_query_argument("account_id", "") or ""
            if not raw.isdigit() or int(raw) <= 0:
                raise AppError(400, "validation_error", INVALID,
                               fields={"account_id": N_("Choose the account (account_id).")})
            acc = int(raw)
            if await services.account_doc(db, acc) is None:
                raise AppError(404, "not_found", N_("No such account."))
            return acc
        acc = user.get("account_id")
        if not isinstance(acc, int) or acc <= 0:
            acc = await services.account_of_pbx(db, user.get("pbx_id"))
        if not acc:
            raise AppError(404, "not_found", N_("This PBX is not attached to an account."))
        return acc

    def input_error(self, exc: InputError) -> AppError:
        return AppError(422, "validation_error", INVALID,
                        fields={f: self._(m, **exc.values_for(f)) if "%(" in m else self._(m)
                                for f, m in exc.fields.items()})

    def document_error(self, exc: DocumentError, field: str | None = None, status: int = 422) -> AppError:
        text = exc.text(self.lang)
        return AppError(status, "document_refused", text, fields={field: text} if field else None)

    def doc_out(self, d: dict, tz) -> dict:
        """A document as the API gives it; ``tz``: the account's time zone (:func:`services.account_tz`)."""
        err = d.get("error") or None
        return DocumentOut(
            id=d["_id"], kind=d["kind"], kind_title=self._(KIND_TITLES[d["kind"]]), title=d.get("title") or "",
            number=d.get("number"), format=d.get("format") or "pdf", status=d["status"],
            status_title=self._(STATUS_TITLES.get(d["status"], d["status"])), progress=int(d.get("progress") or 0),
            error=(err.get(self.lang) or err.get("en")) if isinstance(err, dict) else err,
            since=d.get("since"), until=d.get("until"), created_at=iso(d.get("created_at")),
            created_local=self.fmt_dt(d["created_at"], tz=tz) if d.get("created_at") else None, filename=d.get("filename"), size=d.get("size"),
            download_url=f"/api/v1/finance/documents/{d['_id']}/file" if d["status"] == "ready" else None,
        ).model_dump()

    async def document(self, doc_id: str) -> tuple[int, dict]:
        acc = await self.account_id()
        d = await docs.get_document(self.ctx.store.db, acc, doc_id)
        if d is None:
            raise AppError(404, "not_found", N_("No such document."))
        return acc, d


# --------------------------------------------------------------------------- balance
@route("/api/v1/finance/balance", access="user", section="finance")
class BalanceApi(FinanceApi):
    @operation(N_("Balance of the account"), response=BalanceOut, params=[ACCOUNT_PARAM], tags=["finance"],
               errors=(400, 401, 403, 404))
    async def get(self) -> None:
        acc = await self.account_id()
        bal = await ledger.get_balance(self.ctx.store.db, acc)
        self.reply(BalanceOut(account_id=acc, balance=bal["balance"], balance_text=format_rub(bal["balance"]),
                              blocked=bal["balance"] < 0))


class AdviceOut(BaseModel):
    account_id: int
    day: int = Field(description="the account's day since registration (registration day = 1)")
    week: int | None = Field(description="kopecks spent over the last 7 calendar days (from day 9)")
    month: int | None = Field(description="kopecks spent over the last 30 calendar days (from day 32)")


@route("/api/v1/finance/advice", access="user", section="finance")
class AdviceApi(FinanceApi):
    @operation(N_("How much to deposit: spending over the last 7 and 30 days"), response=AdviceOut,
               params=[ACCOUNT_PARAM], tags=["finance"], errors=(400, 401, 403, 404))
    async def get(self) -> None:
        acc = await self.account_id()
        self.reply(AdviceOut(account_id=acc, **await services.spend_advice(self.ctx.store.db, acc)))


# --------------------------------------------------------------------------- documents
@route("/api/v1/finance/documents", access="user", section="finance")
class DocumentsApi(FinanceApi):
    @operation(N_("Documents of the account created in a period"), response=DocumentList, tags=["finance"],
               extensions=period("since", "until", MAX_PERIOD_DAYS),
               params=[ACCOUNT_PARAM, Param("since", schema=DATE, description="dd.mm.yyyy or yyyy-mm-dd (with until)"),
                       Param("until", schema=DATE, description="dd.mm.yyyy or yyyy-mm-dd (with since)"),
                       Param("kind", schema={"type": "string", "enum": list(docs.KINDS)})],
               errors=(400, 401, 403, 404, 422))
    async def get(self) -> None:
        acc = await self.account_id()
        since_raw, until_raw = self.get_query_argument("since", ""), self.get_query_argument("until", "")
        since = until = None
        try:
            if since_raw or until_raw:
                since, until = parse_period(since_raw, until_raw)
            kind = self.get_query_argument("kind", "") or None
            if kind is not None:
                parse_choice(kind, "kind", docs.KINDS, "", N_("Unknown kind of document."))
        except InputError as exc:
            raise self.input_error(exc) from None
        items = await docs.list_documents(self.ctx.store.db, acc, since, until, kind)
        tz = await services.account_tz(self.ctx.store.db, acc)
        self.reply({"items": [self.doc_out(d, tz) for d in items], "total": len(items)})

    @operation(N_("Create a document (rendered by a job; poll its status)"), request=DocumentIn,
               response=DocumentOut, status=202, params=[ACCOUNT_PARAM], tags=["finance"],
               errors=(400, 401, 403, 404, 409, 422, 503),
               description="The body by its kind. An invoice, a receipt or a reconciliation act prints the "
                           "operator as the supplier: while the operator's requisites are not filled in, "
                           "409 `requisites_missing` (the message says where the operator enters them). "
                           "503 when the job queue that renders documents is unreachable (the document "
                           "is kept as failed).")
    async def post(self) -> None:
        body = self.body(DocumentIn)
        acc = await self.account_id()
        params: dict[str, Any] = {}
        try:
            if body.kind == "invoice":
                params = {"amount": parse_amount(body.amount), "with_vat": body.with_vat}
            elif body.kind == "receipt":
                tz = await services.account_tz(self.ctx.store.db, acc)
                params = parse_receipt(body.model_dump(), clock.local_now(tz).date())
            else:
                since, until = parse_period(body.since, body.until)
                params = {"since": since.isoformat(), "until": until.isoformat()}
            fmts = docs.FORMATS[body.kind]
            params["format"] = parse_choice(body.format, "format", fmts, fmts[0],
                                            N_("Choose PDF, XLS, XLSX or TXT.") if body.kind == "call_detail"
                                            else N_("This document is made in PDF or XLSX only.")
                                            if len(fmts) > 1 else N_("This document is made in PDF only."))
            if body.kind == "expenses":
                pbx_ids = [p["pbx_id"] for p in await services.account_pbxes(self.ctx.store.db, acc)]
                filters = parse_expense_filters(body.by, body.pbx_id, body.zone, pbx_ids)
                params["by"] = filters["by"]
                params.update({k: filters[k] for k in ("pbx_id", "zone") if filters[k] is not None})
        except InputError as exc:
            raise self.input_error(exc) from None
        except LookupError:
            raise AppError(404, "not_found", N_("No such PBX.")) from None
        db = self.ctx.store.db
        try:
            d = await docs.create_document(db, acc, body.kind, params, actor=self.audit_actor())
        except docs.SupplierMissing as exc:  # a valid body that what is stored cannot serve
            text = exc.text(self.lang)
            raise AppError(409, "requisites_missing", text) from None
        except DocumentError as exc:
            raise self.document_error(exc, "since" if body.kind == "call_detail" else None) from None
        await self.queue(acc, d)
        await audit(db, Scope.account(acc), actor=self.audit_actor(), section="finance", operation="create",
                    object={"type": "document", "id": d["_id"], "name": d["title"]}, before=None,
                    after={"kind": d["kind"], "params": d["params"], "since": d["since"], "until": d["until"]})
        self.reply(self.doc_out(d, await services.account_tz(db, acc)), status=202)

    async def queue(self, acc: int, d: dict) -> None:
        from jobs.app import JobsUnavailable
        from jobs.billing.tasks import queue_render

        try:
            await queue_render(acc, d["_id"])
        except JobsUnavailable:
            await docs.set_status(self.ctx.store.db, acc, d["_id"], status="failed",
                                  error={lang: translate(lang, QUEUE_DOWN) for lang in ("en", "ru")})
            raise AppError(503, "unavailable", N_("The service is temporarily unavailable. Please try again in a minute."))


@route("/api/v1/finance/documents/{doc_id}", access="user", section="finance", params={"doc_id": DOC_ID})
class DocumentApi(FinanceApi):
    @operation(N_("One document with its status and progress"), response=DocumentOut, tags=["finance"],
               params=[ACCOUNT_PARAM, Param("doc_id", "path", required=True, description="Document id")],
               errors=(400, 401, 403, 404))
    async def get(self, doc_id: str) -> None:
        acc, d = await self.document(doc_id)
        self.reply(self.doc_out(d, await services.account_tz(self.ctx.store.db, acc)))


@route("/api/v1/finance/documents/{doc_id}/file", access="user", section="finance", params={"doc_id": DOC_ID})
class DocumentFileApi(FinanceApi):
    @operation(N_("Download a ready document"), tags=["finance"],
               media_types=("application/pdf", "application/vnd.ms-excel",
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/plain"),
               params=[ACCOUNT_PARAM, Param("doc_id", "path", required=True, description="Document id")],
               errors=(400, 401, 403, 404, 409))
    async def get(self, doc_id: str) -> None:
        acc, d = await self.document(doc_id)
        if d["status"] != "ready" or not d.get("file_id"):
            raise AppError(409, "not_ready", N_("The document is not ready yet."))
        media = self.ctx.store.media
        self.set_header("Content-Type", d.get("content_type") or "application/octet-stream")
        name = d.get("filename") or f"{d['_id']}.{d.get('format') or 'pdf'}"
        ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
        self.set_header("Content-Disposition",
                        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}")
        if d.get("size"):
            self.set_header("Content-Length", str(d["size"]))
        async for chunk in media.stream(acc, d["file_id"]):
            self.write(chunk)
            await self.flush()
        self.finish()


@route("/api/v1/finance/documents/{doc_id}/email", access="user", section="finance", params={"doc_id": DOC_ID})
class DocumentEmailApi(FinanceApi):
    @operation(N_("E-mail a ready document"), request=EmailIn, response=JobOut, status=202, tags=["finance"],
               params=[ACCOUNT_PARAM, Param("doc_id", "path", required=True, description="Document id")],
               errors=(400, 401, 403, 404, 409, 422, 503), level="view")
    async def post(self, doc_id: str) -> None:
        from jobs.app import JobsUnavailable
        from jobs.mail import Attachment, send_mail_async

        acc, d = await self.document(doc_id)
        body = self.body(EmailIn)
        try:
            to = parse_emails(body.to, "to")
        except InputError as exc:
            raise self.input_error(exc) from None
        if not to:
            raise AppError(422, "validation_error", INVALID, fields={"to": N_("Enter at least one e-mail address.")})
        if d["status"] != "ready" or not d.get("file_id"):
            raise AppError(409, "not_ready", N_("The document is not ready yet."))
        key = f"doc-mail:{acc}:{d['_id']}:{body.request_id or uuidlib.uuid4().hex}"
        subject = d.get("title") or d.get("filename") or "Документ"
        text = (f"Документ «{subject}» по лицевому счёту {acc} во вложении.\n\n"
                f"The document “{subject}” of account {acc} is attached.\n")
        try:
            job = await send_mail_async(", ".join(to), subject, text, idempotency_key=key,
                                        attachments=[Attachment.from_media(acc, d["file_id"], d.get("filename"),
                                                                           (d.get("content_type") or "").split(";")[0]
                                                                           or None)])
        except JobsUnavailable:
            raise AppError(503, "unavailable", N_("The service is temporarily unavailable. Please try again in a minute.")) from None
        await audit(self.ctx.store.db, Scope.account(acc), actor=self.audit_actor(), section="finance",
                    operation="email", object={"type": "document", "id": d["_id"], "name": d.get("title")},
                    before=None, after={"to": to})
        self.reply(JobOut(job_id=job, to=to), status=202)


# --------------------------------------------------------------------------- reports
class ReportApi(FinanceApi):
    def period(self) -> tuple[date, date]:
        try:
            return parse_period(self.get_query_argument("since", ""), self.get_query_argument("until", ""))
        except InputError as exc:
            raise self.input_error(exc) from None


@route("/api/v1/finance/expenses", access="user", section="finance")
class ExpensesApi(ReportApi):
    @operation(N_("Communication expenses of a period, by months or by destinations"), response=ReportOut,
               tags=["finance"], errors=(400, 401, 403, 404, 422),
               extensions={**period("since", "until", MAX_PERIOD_DAYS), **requires("pbx_id", "by", "destinations")},
               params=[ACCOUNT_PARAM, *PERIOD_PARAMS,
                       Param("preset", schema={"type": "string", "enum": list(PRESETS)},
                             description="instead of since/until: last_month («since last month») "
                                         "or month_before_last («since the month before last»)"),
                       Param("by", schema={"type": "string", "enum": ["months", "destinations"]},
                             description="months (default) or destinations"),
                       Param("pbx_id", schema={"type": "integer", "minimum": 1, "maximum": 10 ** 12 - 1},
                             description="by=destinations only: one PBX of the account"),
                       Param("zone", schema={"type": "string", "enum": list(EXPENSE_ZONES)},
                             description="one destination type")])
    async def get(self) -> None:
        from reports.expenses import aggregate_expenses

        acc = await self.account_id()
        db = self.ctx.store.db
        tz = await services.account_tz(db, acc)
        pbx_ids = [p["pbx_id"] for p in await services.account_pbxes(db, acc)]
        try:
            preset = parse_preset(self.get_query_argument("preset", ""), clock.local_now(tz).date())
            filters = parse_expense_filters(self.get_query_argument("by", ""), self.get_query_argument("pbx_id", ""),
                                            self.get_query_argument("zone", ""), pbx_ids)
        except InputError as exc:
            raise self.input_error(exc) from None
        except LookupError:
            raise AppError(404, "not_found", N_("No such PBX.")) from None
        since, until = preset or self.period()
        start, end = services.period_bounds(since, until, tz)
        records = await docs.fetch_call_records(db, acc, start, end, pbx_id=filters["pbx_id"], zone=filters["zone"])
        # fees belong to the account and to no destination: left out when the calls are filtered
        fees = [] if (filters["pbx_id"] or filters["zone"]) else \
            await ledger.list_entries(db, acc, start, end, kinds=("fee", "service"))
        by = filters["by"]
        # a period's calls can be many: total them off the event loop
        lines = await asyncio.to_thread(
            lambda: aggregate_expenses(docs._localize(docs._record_rows(records), tz), fees, by=by))
        items = [{"key": ln.key, "label": ln.label, "calls": ln.calls, "duration": ln.duration,
                  "calls_cost": ln.calls_cost, "fees": ln.fees, "total": ln.total} for ln in lines]
        totals = {k: sum(i[k] for i in items) for k in ("calls", "duration", "calls_cost", "fees", "total")}
        self.reply({"items": items, "totals": totals, "since": since.isoformat(), "until": until.isoformat(),
                    **filters})


@route("/api/v1/finance/payments", access="user", section="finance")
class PaymentsReportApi(ReportApi):
    @operation(N_("Payments of a period"), response=ReportOut, tags=["finance"], errors=(400, 401, 403, 404, 422),
               extensions=period("since", "until", MAX_PERIOD_DAYS), params=[ACCOUNT_PARAM, *PERIOD_PARAMS])
    async def get(self) -> None:
        acc = await self.account_id()
        since, until = self.period()
        db = self.ctx.store.db
        tz = await services.account_tz(db, acc)
        start, end = services.period_bounds(since, until, tz)
        entries = await ledger.list_entries(db, acc, start, end, kinds=("payment",))
        items = [{"at": iso(e["created_at"]), "at_local": self.fmt_dt(e["created_at"], tz=tz), "amount": e["amount"], "source": (e.get("meta") or {}).get("source"),
                  "key": e["key"].split(":", 1)[-1], "comment": e.get("comment") or ""} for e in entries]
        self.reply({"items": items, "totals": {"amount": sum(i["amount"] for i in items), "count": len(items)}})


# --------------------------------------------------------------------------- notifications
@route("/api/v1/finance/notifications", access="user", section="finance")
class NotificationsApi(FinanceApi):
    @operation(N_("Notification settings of the account"), response=NotificationsIO, params=[ACCOUNT_PARAM],
               tags=["finance"], errors=(400, 401, 403, 404))
    async def get(self) -> None:
        acc = await self.account_id()
        self.reply(await self.settings_with_threshold(self.ctx.store.db, acc))

    @classmethod
    async def settings_with_threshold(cls, db, acc: int) -> dict:
        """:meth:`settings_out` plus ``low_balance.computed_threshold``: in «calculate
        automatically» mode the critical balance is last week's spend (A §2.7), shown in the
        disabled amount field."""
        out = cls.settings_out(await notify.get_settings(db, acc))
        lb = out["low_balance"]
        lb["computed_threshold"] = format_rub(await services.week_spend(db, acc), sep="", decimal=",") \
            if lb.get("mode") == "auto" else None
        return out

    @operation(N_("Change the notification settings of the account"), request=NotificationsIn,
               response=NotificationsIO, params=[ACCOUNT_PARAM], tags=["finance"], errors=(400, 401, 403, 404, 422))
    async def put(self) -> None:
        body = self.body(NotificationsIn)
        acc = await self.account_id()
        try:
            values = parse_notification_settings(body.model_dump())
        except InputError as exc:
            raise self.input_error(exc) from None
        await notify.save_settings(self.ctx.store.db, acc, values, actor=self.audit_actor())
        self.reply(await self.settings_with_threshold(self.ctx.store.db, acc))

    @staticmethod
    def settings_out(s: dict) -> dict:
        out: dict[str, Any] = {"language": s.get("language") or "ru"}
        for block in notify.BLOCKS:
            cfg = dict(s[block])
            cfg["emails"] = ", ".join(cfg.get("emails") or [])
            cfg["phones"] = ", ".join(cfg.get("phones") or [])
            for k in ("threshold", "invoice_amount"):
                if k in cfg:
                    cfg[k] = format_rub(int(cfg[k]), sep="", decimal=",")
            out[block] = cfg
        return out


# --------------------------------------------------------------------------- payments
@route("/api/v1/accounts/{account_id}/payments", access="user", section="finance", level="edit",
       params={"account_id": "[0-9]{1,12}"})
class AccountPaymentsApi(FinanceApi):
    """A payment recorded by the platform operator (console, or this API with the operator's
    session) or by a platform integration: an operator's integration key with the ``payments``
    capability (operator console, Integration keys). A tenant never credits its own account: not
    its cabinet users, not its API keys, whatever their role (PRODUCT §10)."""

    @integration("payments")
    @operation(N_("Record a payment to an account"), request=PaymentIn,
               response=PaymentOut, status=201, tags=["finance"], errors=(400, 401, 403, 404, 409, 422),
               description="Recorded by the platform operator (session) or by an operator integration key "
                           "with the `payments` capability; a PBX's users and API keys get 403. Idempotent "
                           "on `key` (or the Idempotency-Key header): the same key and amount again answers "
                           "200 with `duplicate: true`, another amount 409.",
               params=[Param("account_id", "path", schema={"type": "integer"}, required=True,
                             description="Account number")])
    async def post(self, account_id: str) -> None:
        acc = int(account_id)
        db = self.ctx.store.db
        user = self.current_user
        if user["kind"] not in ("operator", "integration"):  # the integration key's capability: web.enforce
            raise AppError(403, "forbidden", N_("Payments are recorded by the platform operator."))
        if await services.account_doc(db, acc) is None:
            raise AppError(404, "not_found", N_("No such account."))
        body = self.body(PaymentIn)
        try:
            amount = parse_amount(body.amount)
        except InputError as exc:
            raise self.input_error(exc) from None
        key = (body.key or self.request.headers.get("Idempotency-Key") or uuidlib.uuid4().hex).strip()
        if not key or len(key) > 120:
            raise AppError(422, "validation_error", INVALID, fields={"key": N_("This value is not valid.")})
        source = "api" if user["kind"] == "integration" else "operator"  # the payments report: «API»
        try:
            result = await services.record_payment(db, acc, amount, key=key, source=source,
                                                   comment=body.comment.strip(), actor=self.audit_actor())
        except ledger.IdempotencyConflict:
            raise AppError(409, "conflict", N_("A payment with this key was already recorded with another amount.")) from None
        try:
            from jobs.billing.tasks import after_payment_async

            await after_payment_async(db, acc, result)
        except Exception as exc:  # noqa: BLE001 — the payment is recorded; its notices are owed
            import logging

            # the entry keeps its notice_pending mark: jobs.billing.tasks.sweep_notices queues them
            logging.getLogger("pult.finance").warning(
                "payment notices not queued now (the notice sweeper will): %s", exc)
        bal = result.balance_after if result.balance_after is not None else \
            (await ledger.get_balance(db, acc))["balance"]
        self.reply(PaymentOut(account_id=acc, amount=amount, balance=bal, key=key, duplicate=result.duplicate,
                              blocked=bal < 0), status=200 if result.duplicate else 201)
