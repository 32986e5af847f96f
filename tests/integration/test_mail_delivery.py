"""E-mail jobs end to end: real Redis, a real Celery worker, a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import asyncio
import email.utils

import pytest
from celery import signals
from celery.result import AsyncResult, allow_join_result

from jobs import client, idempotency
from jobs.app import app
from jobs.mail import Attachment, InvalidAddress, MailError, send, send_mail, send_mail_async
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker
from pult.settings import load_settings

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n\x00\xff\xfe binary tail"


@pytest.fixture(scope="module")
def worker(sink, tmp_path_factory):
    settings = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path_factory.mktemp("mail"),
                             smtp_port=sink.port, mail_from="Пульт <noreply@pult.example>",
                             log_level="WARNING")
    prefix = configure_for_tests(settings)
    with running_worker(settings) as handle:
        yield handle
    cleanup(prefix)


@pytest.fixture(autouse=True)
def fresh_sink(sink):
    sink.reset()
    yield sink


async def test_message_reaches_smtp_with_cyrillic_subject_html_and_attachment(worker, sink):
    task_id = send_mail("Иван Петров <ivan@example.com>; buh@example.org, ivan@EXAMPLE.com",
                        "Счёт на оплату №15 за март",
                        "Здравствуйте! Счёт во вложении.",
                        "<p>Здравствуйте! <b>Счёт</b> во вложении.</p>",
                        attachments=[Attachment.from_bytes("Счёт №15.pdf", PDF,
                                                           "application/pdf"),
                                     ("calls.csv", "номер;длительность\n".encode())])
    result = await client.result(task_id, timeout=10)

    (got,) = sink.wait_for(1)
    assert sorted(got.rcpt_tos) == ["buh@example.org", "ivan@example.com"]  # duplicate dropped
    assert got.mail_from == "noreply@pult.example"
    msg = got.message
    assert msg["Subject"] == "Счёт на оплату №15 за март"
    assert b"Subject: =?utf-8?" in got.data  # RFC 2047 encoded on the wire, 7-bit clean
    assert got.data.isascii()
    assert msg["From"].addresses[0].display_name == "Пульт"
    assert msg["To"].addresses[0].display_name == "Иван Петров"
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg["Message-ID"] == result["message_id"]
    assert result["message_id"].endswith("@pult.example>")
    assert msg.get_body(("plain",)).get_content().strip() == "Здравствуйте! Счёт во вложении."
    assert "<b>Счёт</b>" in msg.get_body(("html",)).get_content()
    attachments = {part.get_filename(): part for part in msg.iter_attachments()}
    assert attachments["Счёт №15.pdf"].get_content_type() == "application/pdf"
    assert attachments["Счёт №15.pdf"].get_payload(decode=True) == PDF
    assert attachments["calls.csv"].get_payload(decode=True) == "номер;длительность\n".encode()

    assert result["accepted"] == ["ivan@example.com", "buh@example.org"]
    assert result["refused"] == {}
    assert result["duplicate"] is False
    # the same result through Celery's own API (get() is refused by default in a process that
    # runs a worker, to keep tasks from waiting on tasks; this test is not a task)
    with allow_join_result():
        assert AsyncResult(task_id, app=app).get(timeout=5)["message_id"] == result["message_id"]


async def test_html_only_mail_gets_a_text_alternative(worker, sink):
    task_id = await send_mail_async("a@example.com", "Пропущенный вызов",
                                    html="<h1>Пропущенный</h1><p>от +7&nbsp;495 123-45-67</p>"
                                         "<script>x()</script>")
    await client.result(task_id, timeout=10)
    msg = sink.wait_for(1)[0].message
    text = msg.get_body(("plain",)).get_content()
    assert "Пропущенный" in text and "от +7 495 123-45-67" in text and "x()" not in text


async def test_same_idempotency_key_sends_once(worker, sink):
    key = "balance-low:pbx-1:2026-03-01"
    first = send_mail("a@example.com", "Низкий баланс", "Пополните счёт", idempotency_key=key)
    r1 = await client.result(first, timeout=10)
    second = send_mail("a@example.com", "Низкий баланс", "Пополните счёт", idempotency_key=key)
    r2 = await client.result(second, timeout=10)
    assert first != second
    assert len(sink.wait_for(1)) == 1
    assert r1["duplicate"] is False and r2["duplicate"] is True
    assert r2["message_id"] == r1["message_id"]
    assert idempotency.state("mail", key)["state"] == "done"
    await asyncio.sleep(0.3)
    assert len(sink.received) == 1


async def test_message_delivered_twice_to_workers_sends_once(worker, sink):
    """The broker hands the same message (same task id) out again, as after a lost ack."""
    payload_args = dict(to="twice@example.com", subject="Факс получен", text="1 страница")
    from jobs.mail import prepare

    runs = []

    def record(sender=None, result=None, **_):
        if sender.request.id == first.id:
            runs.append(result)

    signals.task_success.connect(record, weak=False)
    try:
        kwargs = {"message": prepare(**payload_args), "idempotency_key": None}
        first = send.apply_async(kwargs=kwargs)
        stored = await client.result(first.id, timeout=10)
        again = send.apply_async(kwargs=kwargs, task_id=first.id)
        assert again.id == first.id
        for _ in range(200):  # the worker (in this process) runs the second copy
            if len(runs) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        signals.task_success.disconnect(record)
    assert [r["duplicate"] for r in runs] == [False, True]
    assert runs[1]["message_id"] == runs[0]["message_id"]
    assert len(sink.received) == 1
    # the backend keeps the first success (Celery never overwrites a SUCCESS)
    assert (await client.status(first.id)).result == stored


async def test_permanent_refusal_fails_at_once_with_server_reply(worker, sink):
    sink.on_rcpt = lambda addr: "550 5.1.1 <nobody@example.com>: user unknown"
    task_id = send_mail("nobody@example.com", "Тест", "текст")
    with pytest.raises(client.JobFailed) as err:
        await client.result(task_id, timeout=10)
    assert err.value.exc_type == "MailRefused"
    assert "refused all recipients" in str(err.value)
    assert "550 5.1.1 <nobody@example.com>: user unknown" in str(err.value)
    meta = app.backend.get_task_meta(task_id)
    assert meta["retries"] == 0  # not retried
    assert sink.received == []
    # the claim was released: a corrected retry of the same key may send
    assert idempotency.state("mail", task_id) is None


async def test_partly_refused_recipients_are_reported(worker, sink):
    sink.on_rcpt = lambda addr: "550 5.1.1 no such mailbox" if addr.startswith("gone") else None
    task_id = send_mail("ok@example.com, gone@example.com", "Тест", "текст")
    result = await client.result(task_id, timeout=10)
    assert result["accepted"] == ["ok@example.com"]
    assert result["refused"] == {"gone@example.com": "550 5.1.1 no such mailbox"}
    assert sink.wait_for(1)[0].rcpt_tos == ["ok@example.com"]


async def test_temporary_failure_is_retried_then_delivered(worker, sink):
    calls = []

    def greylist(item):
        calls.append(item)
        return "451 4.7.1 Greylisted, try again later" if len(calls) < 3 else None

    sink.on_data = greylist
    task_id = send_mail("late@example.com", "Голосовое сообщение", "00:42")
    result = await client.result(task_id, timeout=20)
    assert sink.attempts == 3
    assert len(sink.wait_for(1)) == 1
    assert result["accepted"] == ["late@example.com"]
    assert app.backend.get_task_meta(task_id)["retries"] == 2


async def test_bad_addresses_are_refused_before_queueing(worker, sink):
    for bad, hint in [("ivan@", "expected name@domain"), ("ivan", "expected name@domain"),
                      ("a b@example.com", "bad name"), ("ivan@localhost", "bad domain"),
                      ("иван@пример.рф", "before @"), ("a@exa_mple.com", "bad domain")]:
        with pytest.raises(InvalidAddress) as err:
            send_mail(f"ok@example.com; {bad}", "Тема", "текст")
        assert repr(bad) in str(err.value) and hint in str(err.value), str(err.value)
    with pytest.raises(InvalidAddress, match="no recipients"):
        send_mail(" ; , ", "Тема", "текст")
    with pytest.raises(MailError, match="subject is empty"):
        send_mail("ok@example.com", "  ", "текст")
    with pytest.raises(MailError, match="no body"):
        send_mail("ok@example.com", "Тема")
    await asyncio.sleep(0.2)
    assert sink.attempts == 0


async def test_internationalised_domain_is_sent_as_punycode(worker, sink):
    task_id = send_mail("info@пример.рф", "Тема", "текст")
    result = await client.result(task_id, timeout=10)
    assert result["accepted"] == ["info@xn--e1afmkfd.xn--p1ai"]
    assert sink.wait_for(1)[0].rcpt_tos == ["info@xn--e1afmkfd.xn--p1ai"]


async def test_unfinished_job_times_out_for_the_caller(worker):
    with pytest.raises(client.JobTimeout, match="not finished after 0.2s"):
        await client.result("no-such-task", timeout=0.2)


async def test_media_store_attachment_in_embedded_mode(worker, sink):
    """The server's store is handed to the in-process worker (one writer of the data dir)."""
    from jobs import context
    from storage.client import open_store

    store = open_store(context.settings())
    await store.start()
    try:
        file_id = await store.media.put(7, "Запись разговора.mp3", b"ID3\x03" + bytes(range(256)),
                                        "audio/mpeg")
        context.bind_store(store, asyncio.get_running_loop())
        task_id = send_mail("rec@example.com", "Запись разговора", "Во вложении",
                            attachments=[Attachment.from_media(7, file_id)])
        await client.result(task_id, timeout=10)
        (part,) = sink.wait_for(1)[0].message.iter_attachments()
        assert part.get_filename() == "Запись разговора.mp3"
        assert part.get_content_type() == "audio/mpeg"
        assert part.get_payload(decode=True) == b"ID3\x03" + bytes(range(256))

        missing = send_mail("rec@example.com", "Нет файла", "т",
                            attachments=[Attachment.from_media(7, "0123456789abcdef01234567",
                                                               "x.mp3")])
        with pytest.raises(client.JobFailed, match="not found") as err:
            await client.result(missing, timeout=10)
        assert err.value.exc_type == "MailError"
    finally:
        context.unbind_store()
        await store.close()
