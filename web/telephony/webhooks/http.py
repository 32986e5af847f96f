"""REST API of the PBX's webhooks (issue 13; the use cases: esl_control/model/webhooks/services.py).

- ``/api/v1/webhooks`` — subscriptions (URL, event types, signing secret, on/off);
- ``/api/v1/webhooks/{id}/deliveries`` — the delivery log of one subscription (newest first),
  ``…/{delivery_id}`` one delivery with the exact body sent, ``…/{delivery_id}/redeliver``;
- ``/api/v1/webhooks/{id}/secret`` — a new signing secret;
- ``/api/v1/webhooks/{id}/test`` and ``/api/v1/webhook-tests`` — "Send a test event" to a saved
  subscription or to a URL and secret not saved yet;
- ``/api/v1/webhook-event-types`` — the event types (those not emitted yet are marked).

Rights: section ``integrations``. The signature scheme: docs/webhooks.md.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

import jobs.webhooks  # noqa: F401 — registers the delivery dispatcher in the web process
from esl_control.model.webhooks.events import EVENTS
from esl_control.model.webhooks.schemas import SECRET_MAX, SECRET_MIN, URL_MAX
from esl_control.model.webhooks.services import WebhookService, event_types
from pult.i18n import N_
from web.api_base import operation
from esl_control.model.common import TEXT_MAX
from web.api_fields import HTTP_URL_PATTERN, LOCAL_URL_EXTENSION, Omit, documented, opt
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import CollectionApi, Out, TelApi, crud, id_param, matches

SECTION = "integrations"
TAG = "integrations: webhooks"


# what the rules (esl_control/model/webhooks/schemas.py) take, as the document states it: the URL on a
# host name (an IP literal is judged by the SSRF guard: only a public one), known event types, a
# secret of printable ASCII without spaces, or empty
_URL = documented(pattern=HTTP_URL_PATTERN, maxLength=URL_MAX)
_SECRET = documented(pattern=rf"^([\x21-\x7e]{{{SECRET_MIN},{SECRET_MAX}}})?$")
_EVENTS = documented(items={"type": "string", "enum": list(EVENTS)})

# the property-based run must not connect to the internet: it sends its own receiver (fuzz_hooks.py)
_LOCAL = {LOCAL_URL_EXTENSION: ["url"]}


class WebhookIn(Strict):
    model_config = ConfigDict(**Strict.model_config, json_schema_extra=_LOCAL)

    url: str = Field(description="Where events are POSTed: http(s), a public address", json_schema_extra=_URL)
    events: list[str] = Field(description="Event types (GET /api/v1/webhook-event-types)",
                              json_schema_extra=documented(items={"type": "string", "enum": list(EVENTS)}, minItems=1))
    secret: str | Omit = Field(None, description="The signing secret (16-200 printable characters); "
                               "empty: keep the current one, or generate one on create", json_schema_extra=_SECRET)
    active: bool | Omit = opt("Deliver events (default true)")
    description: str | Omit = Field(None, json_schema_extra=documented(maxLength=TEXT_MAX))


class WebhookOut(Out):
    id: str
    url: str
    events: list[str]
    active: bool
    description: str = ""
    secret: str | None = Field(None, description="The signing secret (in answers about one subscription)")
    consecutive_failures: int = 0
    disabled_reason: str | None = Field(None, description="Why Pult switched it off (failed deliveries)")
    disabled_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class DeliveryOut(Out):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending | retrying | delivered | failed | cancelled")
    attempts: int
    round: int = Field(0, description="How many times it was redelivered by hand")
    last_status_code: int | None = None
    last_error: str | None = None
    response_ms: int | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    delivered_at: UtcDatetime | None = None
    body: str | None = Field(None, description="The exact JSON sent (one delivery only)")


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    total: int


class TestIn(Strict):
    model_config = ConfigDict(**Strict.model_config, json_schema_extra=_LOCAL)

    url: str | Omit = Field(None, description="The receiver (for a saved subscription: its own when left out)",
                            json_schema_extra=_URL)
    secret: str | Omit = Field(None, description="The secret to sign with (empty: the saved one, else a new one)",
                               json_schema_extra=_SECRET)
    events: list[str] | Omit = Field(None, json_schema_extra=_EVENTS)


class NewTestIn(TestIn):
    """A test before saving: the receiver is required."""

    model_config = ConfigDict(**Strict.model_config, json_schema_extra={**_LOCAL, "required": ["url"]})


class TestOut(BaseModel):
    ok: bool
    status_code: int | None = None
    error: str | None = None
    response_ms: int
    secret: str = Field(description="The secret the test event was signed with")
    event_id: str


class EventTypeOut(BaseModel):
    type: str
    description: str
    emitted: bool = Field(description="False: declared, emitted once its feature lands")


class EventTypeList(BaseModel):
    items: list[EventTypeOut]
    total: int


class WebhookCollection(CollectionApi):
    async def filter_items(self, items):
        q = self.text_arg("q")
        return [i for i in items if matches(i, q, ("url", "description"))]


crud("/api/v1/webhooks", "Webhook", section=SECTION, tag=TAG, service_cls=WebhookService, in_model=WebhookIn,
     out_model=WebhookOut, id_name="Webhook id", collection_base=WebhookCollection,
     summaries={"list": N_("Webhook subscriptions of the PBX"), "create": N_("Subscribe a URL to events"),
                "get": N_("One webhook subscription with its secret"), "put": N_("Replace a webhook subscription"),
                "patch": N_("Change some fields of a webhook subscription"),
                "delete": N_("Delete a webhook subscription and its delivery log")})

_ID = id_param("id", "Webhook id")
_DID = id_param("delivery_id", "Delivery id")


@route("/api/v1/webhooks/{id}/deliveries", access="tenant", section=SECTION)
class WebhookDeliveriesApi(TelApi):
    @operation(N_("The delivery log of a webhook (newest first, at most 100)"), response=DeliveryList, tags=[TAG],
               params=[_ID], errors=(401, 403, 404))
    async def get(self, id: str) -> None:
        items = await self.service(WebhookService).deliveries(id)
        self.reply_model(DeliveryList, {"items": items, "total": len(items)})


@route("/api/v1/webhooks/{id}/deliveries/{delivery_id}", access="tenant", section=SECTION)
class WebhookDeliveryApi(TelApi):
    @operation(N_("One delivery of a webhook, with the body sent"), response=DeliveryOut, tags=[TAG],
               params=[_ID, _DID], errors=(401, 403, 404))
    async def get(self, id: str, delivery_id: str) -> None:
        self.reply_model(DeliveryOut, await self.service(WebhookService).delivery(id, delivery_id))


@route("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", access="tenant", section=SECTION)
class WebhookRedeliverApi(TelApi):
    @operation(N_("Deliver a logged event again (same body and ids, new attempts)"), response=DeliveryOut,
               tags=[TAG], params=[_ID, _DID], errors=(401, 403, 404))
    async def post(self, id: str, delivery_id: str) -> None:
        self.reply_model(DeliveryOut, await self.service(WebhookService).redeliver(id, delivery_id))


@route("/api/v1/webhooks/{id}/secret", access="tenant", section=SECTION)
class WebhookSecretApi(TelApi):
    @operation(N_("Generate a new signing secret for a webhook"), response=WebhookOut, tags=[TAG], params=[_ID],
               errors=(401, 403, 404))
    async def post(self, id: str) -> None:
        self.reply_model(WebhookOut, await self.service(WebhookService).rotate_secret(id))


@route("/api/v1/webhooks/{id}/test", access="tenant", section=SECTION)
class WebhookSavedTestApi(TelApi):
    @operation(N_("Send a test event to a saved webhook (a typed URL or secret overrides, nothing is saved)"),
               request=TestIn, response=TestOut, tags=[TAG], params=[_ID], errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        self.reply_model(TestOut, await self.service(WebhookService).test(self.payload(TestIn), id=id))


@route("/api/v1/webhook-tests", access="tenant", section=SECTION)
class WebhookTestApi(TelApi):
    @operation(N_("Send a test event to a URL before saving a subscription"), request=NewTestIn, response=TestOut,
               tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        self.reply_model(TestOut, await self.service(WebhookService).test(self.payload(NewTestIn)))


@route("/api/v1/webhook-event-types", access="tenant", section=SECTION)
class WebhookEventTypesApi(TelApi):
    @operation(N_("The event types a webhook can subscribe to"), response=EventTypeList, tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        items = [{**e, "description": self._(e["description"])} for e in event_types()]
        self.reply_model(EventTypeList, {"items": items, "total": len(items)})
