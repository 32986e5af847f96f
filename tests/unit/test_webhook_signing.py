"""The webhook signature a receiver checks (docs/webhooks.md): HMAC-SHA256 over ``t.body``,
a timestamp tolerance that refuses replays, and the envelope's exact bytes."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest

from esl_control.model.webhooks import events
from esl_control.model.webhooks.schemas import clean_subscription
from esl_control.routing.errors import RuleError

SECRET = "whsec_0123456789abcdef"


def test_the_documented_receiver_check_accepts_pults_signature():
    body = events.envelope("call.ended:u1", "call.ended", 101, {"caller": "Ёжик"}, datetime(2026, 12, 7, 5, tzinfo=timezone.utc)).encode()
    header = events.signature_header(SECRET, 1_800_000_000, body)
    t, v1 = (p.split("=", 1)[1] for p in header.split(","))
    # the snippet of docs/webhooks.md, by hand
    assert hmac.compare_digest(hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest(), v1)
    assert events.verify(SECRET, header, body, now=1_800_000_000 + 299)
    assert json.loads(body)["data"] == {"caller": "Ёжик"} and json.loads(body)["created_at"] == "2026-12-07T05:00:00Z"


@pytest.mark.parametrize("change", ["body", "secret", "old", "future", "garbage"])
def test_a_changed_body_wrong_secret_replay_or_garbage_is_refused(change):
    body = b'{"id":"x"}'
    header = events.signature_header(SECRET, 1_800_000_000, body)
    now = 1_800_000_000
    if change == "body":
        body = b'{"id":"y"}'
    elif change == "secret":
        header = events.signature_header("whsec_another-secret-000", now, body)
    elif change == "old":
        now += events.TOLERANCE + 1  # a captured request replayed six minutes later
    elif change == "future":
        now -= events.TOLERANCE + 1
    else:
        header = "v1=abc"
    assert not events.verify(SECRET, header, body, now=now)


def test_every_attempt_carries_the_ids_and_type():
    h = events.headers(SECRET, 1, b"{}", event_id="e", delivery_id="d", event_type="call.ended")
    assert h["Pult-Event-Id"] == "e" and h["Pult-Delivery-Id"] == "d" and h["Pult-Event-Type"] == "call.ended"
    assert h["Pult-Signature"].startswith("t=1,v1=")


@pytest.mark.parametrize("data, field", [
    ({"url": "https://crm.example.ru/h", "events": []}, "events"),
    ({"url": "https://crm.example.ru/h", "events": ["call.exploded"]}, "events"),
    ({"url": "https://crm.example.ru/h", "events": ["call.ended"], "secret": "short"}, "secret"),
    ({"url": "https://crm.example.ru/h", "events": ["call.ended"], "secret": "has spaces in it 1234567"}, "secret"),
    ({"url": "http://[::ffff:169.254.169.254]/", "events": ["call.ended"]}, "url"),
    ({"url": "http://127.0.0.1:8080/", "events": ["call.ended"]}, "url"),
])
def test_bad_subscriptions_name_the_field(data, field):
    with pytest.raises(RuleError) as err:
        clean_subscription(data, allow_private=False)
    assert err.value.field == field
    assert err.value.message("ru") != err.value.message("en")  # both languages


def test_declared_types_can_be_subscribed_and_the_order_is_the_catalogues():
    clean = clean_subscription({"url": "https://crm.example.ru/h", "events": ["fax.delivered", "call.started"]},
                               allow_private=False)
    assert clean["events"] == ["call.started", "fax.delivered"] and clean["active"] is True and clean["secret"] is None
