"""Webhook subscriptions of a PBX and the log of their deliveries (issue 13; the domain is
:mod:`esl_control.model.webhooks`).

- ``webhook_subscriptions``: ``{_id, pbx_id, url, events: [type], secret_enc, active, description,
  consecutive_failures, disabled_reason, disabled_at, created_at, updated_at}``;
- ``webhook_deliveries``: one document per (event, subscription), its ``_id`` derived from both,
  so emitting the same event twice stores one delivery: ``{_id, pbx_id, subscription_id,
  event_id, event_type, body (the exact JSON sent), status: pending | retrying | delivered |
  failed | cancelled, round (manual redeliveries), attempts, last_status_code, last_error,
  response_ms, created_at, updated_at, delivered_at}``.
"""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from .base import ScopedRepo


class WebhookSubscriptions(ScopedRepo):
    collection = "webhook_subscriptions"
    # the emitters' lookup: the active subscriptions of a PBX to one event type
    indexes = [IndexModel([("pbx_id", ASCENDING), ("active", ASCENDING), ("events", ASCENDING)],
                          name="webhooks_active_events")]


class WebhookDeliveries(ScopedRepo):
    collection = "webhook_deliveries"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("subscription_id", ASCENDING), ("created_at", DESCENDING)],
                          name="webhook_deliveries_log"),
               # the sweeper: deliveries still waiting for their first attempt
               IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="webhook_deliveries_status")]
