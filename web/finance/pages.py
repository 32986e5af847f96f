"""The cabinet's Finance section (``/finance``): balance, documents, invoice, reconciliation act,
call detail, expenses, payments, notification settings — and, for operators, the payment form;
``/finance/top-up`` (the account panel's «Top up», inventory A §2.4): how much to deposit, an
invoice for a company with its requisites filled in, a bank receipt for a person.

The page is rendered by the server with the current balance and settings; its forms talk to the
Finance API (web/finance/api.py) from ``static/finance/finance.js`` (no inline script: CSP),
which polls a document's status while it is generated and offers the download when it is ready.
"""
from __future__ import annotations

from datetime import timedelta

from jobs.billing import ledger, services
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from pult.money import format_rub
from web.finance.access import FinanceRoleMixin
from web.finance.api import NotificationsApi
from web.handlers import PageHandler
from web.routes import route
from web.sections import Section, register_section

ZONE_TITLES = {"local": N_("Local"), "mobile": N_("Mobile"), "long_distance": N_("Long distance"),
               "international": N_("International"), "service": N_("Service numbers")}

register_section(Section("finance", N_("Finance"), "/finance", order=800, right="finance.view", icon="₽"))


@route("/finance", access="user", name="finance", section="finance")
class FinancePage(FinanceRoleMixin, PageHandler):
    section = "finance"

    async def get(self) -> None:
        db = self.ctx.store.db
        user = self.current_user
        account_id = None
        if user["kind"] == "operator":
            raw = self.get_query_argument("account_id", "")
            if raw.isdigit() and int(raw) > 0:
                if await services.account_doc(db, int(raw)) is None:
                    raise AppError(404, "not_found", N_("No such account."))
                account_id = int(raw)
        else:
            account_id = user.get("account_id") if isinstance(user.get("account_id"), int) else \
                await services.account_of_pbx(db, user.get("pbx_id"))
            if not account_id:
                raise AppError(404, "not_found", N_("This PBX is not attached to an account."))
        balance = settings = None
        pbxes: list[dict] = []
        if account_id:
            pbxes = await services.account_pbxes(db, account_id)
            balance = (await ledger.get_balance(db, account_id))["balance"]
            settings = await NotificationsApi.settings_with_threshold(db, account_id)
        tariff = tariff_notice = tariff_error = None
        edition = edition_notice = edition_error = None
        if user["kind"] == "tenant" and isinstance(user.get("pbx_id"), int):
            from web.finance import edition as editions
            from web.finance.tariff import page_message, tariff_state

            tariff = await tariff_state(self)
            tariff_notice, tariff_error = page_message(self, tariff)
            edition = await editions.edition_state(self)
            edition_notice, edition_error = editions.page_message(self, edition)
        # the period pickers open on this month in the account's time zone (never the server's date)
        today = clock.today(await services.account_tz(db, account_id) if account_id else self.tz())
        first = today.replace(day=1)
        from esl_control.model.quotas import FEATURE_LABELS, QUOTA_LABELS
        from web.finance.edition import CONDITIONS

        self.render("finance/index.html", account_id=account_id, balance=balance, tariff=tariff,
                    edition=edition, edition_notice=edition_notice, edition_error=edition_error,
                    edition_conditions=CONDITIONS, quota_labels=QUOTA_LABELS, feature_labels=FEATURE_LABELS,
                    tariff_notice=tariff_notice, tariff_error=tariff_error, zone_titles=ZONE_TITLES,
                    balance_text=format_rub(balance) if balance is not None else "",
                    settings=settings, pbxes=pbxes, since=first.strftime("%d.%m.%Y"), until=today.strftime("%d.%m.%Y"),
                    last_month=(first - timedelta(days=1)).replace(day=1).strftime("%d.%m.%Y"))


@route("/finance/top-up", access="tenant", name="finance_topup", section="finance")
class TopUpPage(FinanceRoleMixin, PageHandler):
    """Top up (inventory A §2.4). Payment gateways and cash are out of scope (PRODUCT.md §12):
    the page offers the two bank transfers — a company's invoice (requisites auto-filled from the
    account's) and an individual's receipt — and the «How much to deposit?» block."""

    section = "finance"

    async def get(self) -> None:
        db = self.ctx.store.db
        user = self.current_user
        account_id = user.get("account_id") if isinstance(user.get("account_id"), int) else \
            await services.account_of_pbx(db, user.get("pbx_id"))
        if not account_id:
            raise AppError(404, "not_found", N_("This PBX is not attached to an account."))
        balance = (await ledger.get_balance(db, account_id))["balance"]
        advice = await services.spend_advice(db, account_id)
        account = await services.account_doc(db, account_id) or {}
        tz = await services.account_tz(db, account_id)
        self.render("finance/topup.html", account_id=account_id, balance=balance,
                    balance_text=format_rub(balance), advice=advice, rub=format_rub,
                    requisites=account.get("requisites") or {}, account_name=account.get("name") or "",
                    today=clock.local_now(tz).strftime("%d.%m.%Y"))
