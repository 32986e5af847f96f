"""Cabinet page "Webhooks" (Integrations): subscriptions with their signing secret, "Send a test
event" before saving, the delivery log with manual redelivery. Calls the same use cases as the API
(esl_control/model/webhooks/services.py).

Rights: section ``integrations``.
"""
from __future__ import annotations

from esl_control.model.webhooks.events import EVENTS
from esl_control.model.webhooks.services import WebhookService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.api_common import OBJECT_ID
from web.telephony.pages_common import TelPage

SECTION = "integrations"

register_section(Section("webhooks", N_("Webhooks"), "/integrations/webhooks", order=400, audience="tenant",
                         right="integrations.view", icon="⇄"))


class WebhooksBase(TelPage):
    section = "webhooks"
    rights_key = SECTION
    service_cls = WebhookService
    template_values = {"event_types": EVENTS}

    def form_values(self) -> dict:
        return {"url": self.field("url").strip(), "events": self.fields("events"), "secret": self.field("secret").strip(),
                "active": self.checked("active"), "description": self.field("description").strip()}


@route("/integrations/webhooks", access="tenant", section=SECTION, name="webhooks")
class WebhooksPage(WebhooksBase):
    async def get(self) -> None:
        await self.page()

    async def page(self, values: dict | None = None, errors: dict | None = None, status: int = 200,
                   test: dict | None = None) -> None:
        self.show("telephony/webhooks.html", status, subscriptions=await self.svc().list(),
                  values=values or {"url": "", "events": [], "secret": "", "active": True, "description": ""},
                  errors=errors or {}, test=test)

    async def post(self) -> None:
        """Save a new subscription, or (button "Send a test event") only test it."""
        self.require_edit()
        values = self.form_values()
        try:
            if self.field("action") == "test":
                test = await self.svc().test(values)
                values["secret"] = test["secret"]  # the form keeps the secret the test was signed with
                await self.page(values, test=test)
                return
            doc = await self.svc().create(values)
        except RuleError as exc:
            await self.page(values, self.rule_errors(exc), 422)
            return
        self.redirect(f"/integrations/webhooks/{doc['id']}?done=created")


@route("/integrations/webhooks/{id}", access="tenant", section=SECTION, name="webhook", params={"id": OBJECT_ID})
class WebhookPage(WebhooksBase):
    async def get(self, id: str) -> None:
        await self.page(id)

    async def page(self, id: str, values: dict | None = None, errors: dict | None = None, status: int = 200,
                   test: dict | None = None) -> None:
        doc = await self.svc().get(id)
        self.show("telephony/webhook.html", status, doc=doc, values=values or doc, errors=errors or {}, test=test,
                  deliveries=await self.svc().deliveries(id))

    async def post(self, id: str) -> None:
        self.require_edit()
        values = self.form_values()
        try:
            if self.field("action") == "test":
                await self.page(id, values, test=await self.svc().test(values, id=id))
                return
            if self.field("action") == "rotate":
                await self.svc().rotate_secret(id)
            else:
                await self.svc().update(id, values)
        except RuleError as exc:
            await self.page(id, {**(await self.svc().get(id)), **values}, self.rule_errors(exc), 422)
            return
        self.redirect(f"/integrations/webhooks/{id}?done=saved")


@route("/integrations/webhooks/{id}/delete", access="tenant", section=SECTION, name="webhook_delete",
       params={"id": OBJECT_ID})
class WebhookDeletePage(WebhooksBase):
    async def get(self, id: str) -> None:
        await self.svc().get(id)  # another PBX's id: 404
        self.redirect(f"/integrations/webhooks/{id}")

    async def post(self, id: str) -> None:
        self.require_edit()
        await self.svc().delete(id)
        self.redirect("/integrations/webhooks?done=deleted")


@route("/integrations/webhooks/{id}/deliveries/{delivery_id}/redeliver", access="tenant", section=SECTION,
       name="webhook_redeliver", params={"id": OBJECT_ID, "delivery_id": OBJECT_ID})
class WebhookRedeliverPage(WebhooksBase):
    async def get(self, id: str, delivery_id: str) -> None:
        await self.svc().delivery(id, delivery_id)  # another PBX's ids: 404
        self.redirect(f"/integrations/webhooks/{id}")

    async def post(self, id: str, delivery_id: str) -> None:
        self.require_edit()
        await self.svc().redeliver(id, delivery_id)
        self.redirect(f"/integrations/webhooks/{id}?done=saved")
