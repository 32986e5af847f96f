"""Pure parts of the job system: addresses, messages, phone numbers, providers, config."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from celery.schedules import crontab

from jobs import schedules
from jobs.app import QUEUES, app, backoff_delay, celery_config, queue_for, redact_url, task_modules
from jobs.mail import (InvalidAddress, MailError, build_message, html_to_text, make_message_id,
                       parse_address, parse_recipients, prepare)
from jobs.runner import _select_queues
from jobs.sms import (HttpGatewayProvider, InvalidPhone, SmsRejected, SmsTemporaryFailure,
                      normalize_phone)
from pult.settings import load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path, mail_from="Пульт <noreply@pult.example>")


# ------------------------------------------------------------------ addresses
def test_recipients_split_on_commas_and_semicolons_but_not_inside_quotes():
    got = parse_recipients('"Петров, Иван" <ivan@example.com>; buh@example.org,ops@example.net')
    assert [a.addr_spec for a in got] == ["ivan@example.com", "buh@example.org",
                                          "ops@example.net"]
    assert got[0].display_name == "Петров, Иван"


def test_recipients_drop_duplicates_case_insensitively_and_accept_lists():
    got = parse_recipients(["A@Example.com", "a@example.com; b@example.com"])
    assert [a.addr_spec for a in got] == ["A@example.com", "b@example.com"]


def test_idn_domain_becomes_punycode():
    assert parse_address("Отдел <info@пример.рф>").addr_spec == "info@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize("bad", ["plainaddress", "@example.com", "a@b", "a..b@example.com",
                                 "a@-example.com", "a@example.123", "иван@example.com"])
def test_bad_address_names_itself(bad):
    with pytest.raises(InvalidAddress) as err:
        parse_recipients(f"ok@example.com, {bad}")
    assert repr(bad) in str(err.value)


# ------------------------------------------------------------------ messages
def test_message_id_is_stable_for_an_idempotency_key(settings):
    sender = parse_address(settings.mail_from)
    assert make_message_id(sender, "k1") == make_message_id(sender, "k1")
    assert make_message_id(sender, "k1") != make_message_id(sender, "k2")
    assert make_message_id(sender).endswith("@pult.example>")


def test_built_message_is_7bit_with_encoded_cyrillic_headers_and_bcc_hidden(settings):
    payload = prepare("Иван <ivan@example.com>", "Акт сверки за I квартал", "Текст",
                      "<p>Текст</p>", cc="cc@example.com", bcc="hidden@example.com",
                      attachments=[("акт.xlsx", b"PK\x03\x04data")], idempotency_key="act:1",
                      settings=settings)
    msg, sender, rcpts = build_message(payload, settings)
    raw = msg.as_bytes()
    assert raw.isascii()
    assert sender == "noreply@pult.example"
    assert rcpts == ["ivan@example.com", "cc@example.com", "hidden@example.com"]
    assert b"hidden@example.com" not in raw
    assert msg["Auto-Submitted"] == "auto-generated"
    (att,) = msg.iter_attachments()
    assert att.get_filename() == "акт.xlsx"
    assert att.get_content_type() == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_prepare_refuses_what_a_user_can_get_wrong(settings):
    with pytest.raises(MailError, match="one line"):
        prepare("a@example.com", "Тема\r\nBcc: x@example.com", "т", settings=settings)
    with pytest.raises(MailError, match="bad extra header"):
        prepare("a@example.com", "Тема", "т", headers={"X-Bad": "a\nb"}, settings=settings)
    with pytest.raises(MailError, match="too many recipients"):
        prepare([f"u{i}@example.com" for i in range(101)], "Тема", "т", settings=settings)
    with pytest.raises(MailError, match="needs a file name"):
        prepare("a@example.com", "Тема", "т", attachments=[("", b"x")], settings=settings)
    with pytest.raises(MailError, match="media store"):
        prepare("a@example.com", "Тема", "т", attachments=[("big.bin", b"x" * (11 * 2**20))],
                settings=settings)


def test_html_to_text_keeps_blocks_and_drops_scripts():
    text = html_to_text("<style>p{}</style><h1>Счёт</h1><p>Сумма: <b>1&nbsp;100</b> ₽</p>"
                        "<ul><li>один</li><li>два</li></ul><script>alert(1)</script>")
    assert text == "Счёт\n\nСумма: 1 100 ₽\n\nодин\n\nдва\n"


# ------------------------------------------------------------------ SMS
@pytest.mark.parametrize("raw", ["+79123456789", "+7 912 345-67-89", "+7 (912) 345.67.89"])
def test_phone_normalisation(raw):
    assert normalize_phone(raw) == "+79123456789"


@pytest.mark.parametrize("raw", ["89123456789", "+74951234567", "79123456789", "+7912345678"])
def test_non_mobile_or_unprefixed_numbers_are_refused(raw):
    with pytest.raises(InvalidPhone, match=r"\+79xxxxxxxxx"):
        normalize_phone(raw)


def _provider(handler):
    return HttpGatewayProvider("http://gw.invalid/send", "t", timeout=1,
                               transport=httpx.MockTransport(handler))


def test_gateway_answers_are_classified():
    assert _provider(lambda r: httpx.Response(200, json={"message_id": 7})).send(
        "+79123456789", "x") == "7"
    with pytest.raises(SmsTemporaryFailure, match="500: queue full"):
        _provider(lambda r: httpx.Response(500, json={"error": "queue full"})).send("+7", "x")
    with pytest.raises(SmsTemporaryFailure, match="429"):
        _provider(lambda r: httpx.Response(429, text="slow down")).send("+7", "x")
    with pytest.raises(SmsRejected, match="401 bad token"):
        _provider(lambda r: httpx.Response(401, json={"message": "bad token"})).send("+7", "x")
    with pytest.raises(SmsRejected, match="without a message id"):
        _provider(lambda r: httpx.Response(200, json={"ok": True})).send("+7", "x")

    def timeout(request):
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(SmsTemporaryFailure, match="timed out"):
        _provider(timeout).send("+7", "x")


# ------------------------------------------------------------------ app configuration
def test_celery_config_makes_jobs_durable_json_and_utc(settings):
    conf = celery_config(settings, "p:")
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["accept_content"] == ["json"]
    assert conf["timezone"] == "UTC" and conf["enable_utc"]
    assert conf["broker_transport_options"]["global_keyprefix"] == "p:"
    assert conf["broker_transport_options"]["visibility_timeout"] > conf["pult_retry_max"]
    assert {q.name for q in conf["task_queues"]} == set(QUEUES)


def test_tasks_are_routed_by_module():
    assert queue_for("jobs.mail.send") == "mail"
    assert queue_for("jobs.sms.send") == "sms"
    assert queue_for("jobs.billing.close.monthly") == "billing"
    assert queue_for("jobs.ldap_sync.run") == "ldap"
    assert queue_for("something.else") == "default"


def test_task_modules_are_found_on_disk_without_infrastructure():
    modules = task_modules()
    assert "jobs.mail" in modules and "jobs.sms" in modules
    assert not {"jobs.app", "jobs.client", "jobs.runner", "jobs.testing"} & set(modules)
    assert {"jobs.mail.send", "jobs.sms.send"} <= set(app.tasks)


def test_backoff_grows_with_full_jitter_and_a_cap():
    for attempt, ceiling in [(0, 5), (1, 10), (3, 40), (20, 1800)]:
        delays = [backoff_delay(attempt, 5, 1800) for _ in range(200)]
        assert all(ceiling / 10 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not a fixed step


def test_redis_password_is_redacted():
    assert redact_url("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


def test_unknown_queue_is_a_clear_error():
    assert _select_queues("mail, sms") == ["mail", "sms"]
    with pytest.raises(ValueError, match="unknown queue.*mial.*known: default"):
        _select_queues(["mial"])


def test_schedule_registry_validates_and_reaches_beat_config():
    try:
        schedules.register("billing.monthly-close", "jobs.billing.close_month",
                           crontab(minute=5, hour=0, day_of_month=1))
        schedules.register("media.import-spool", "jobs.media.import_spool", 30,
                           options={"expires": 25})
        beat = app.conf.beat_schedule
        assert beat["media.import-spool"]["schedule"] == timedelta(seconds=30)
        assert beat["media.import-spool"]["options"] == {"expires": 25}
        assert isinstance(beat["billing.monthly-close"]["schedule"], crontab)
        for bad, match in [(("Bad Name", "t", 1), "schedule name"),
                           (("x", "", 1), "task must be"), (("x", "t", 0), "positive"),
                           (("x", "t", "daily"), "expected seconds")]:
            with pytest.raises(ValueError, match=match):
                schedules.register(*bad)
    finally:
        schedules.unregister("billing.monthly-close")
        schedules.unregister("media.import-spool")
    assert "media.import-spool" not in app.conf.beat_schedule
