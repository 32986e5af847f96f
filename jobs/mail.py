"""E-mail: validation of recipients, message building, SMTP delivery and the ``jobs.mail.send`` job.

Callers use :func:`send_mail` (or :func:`send_mail_async` from the Tornado loop): it validates
everything a user can get wrong *before* queueing, so a bad address is a clear error at once, and
returns the Celery task id. The job then delivers through SMTP (``settings.smtp_*``):

- ``4xx`` replies, dropped connections and timeouts are :class:`MailTemporaryFailure` and are
  retried with backoff (:class:`jobs.app.PultTask`);
- ``5xx`` replies (a refused recipient, sender, message or login) are :class:`MailRefused` and
  fail at once, without retry, with the server's reply in the message;
- delivery runs under :func:`jobs.idempotency.once`, so a retried or twice-delivered job never
  sends twice; the Message-ID is fixed when the job is queued, so even the copy that could slip
  through a worker crash carries the same Message-ID and is recognisable as a duplicate.

The job returns ``{"message_id", "accepted", "refused", "duplicate"}``, readable through
``AsyncResult(task_id)`` or ``await jobs.client.result(task_id)``.
"""
from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from html.parser import HTMLParser
from typing import Any, Iterable, Sequence

from jobs import context
from jobs.app import TransientError, app
from jobs.idempotency import idempotent
from pult import clock
from pult.settings import Settings

#: At most this many recipients (to + cc + bcc) in one message.
MAX_RECIPIENTS = 100
#: Attachments carried inside the job message (base64 in Redis): keep them small; larger files
#: go through the media store and are referenced by id.
MAX_INLINE_ATTACHMENTS = 10 * 1024 * 1024
#: Total size of all attachments of one message.
MAX_TOTAL_ATTACHMENTS = 25 * 1024 * 1024


class MailError(Exception):
    """A mail job cannot be done as asked (bad input or configuration); not retried."""


class InvalidAddress(MailError, ValueError):
    """An e-mail address is malformed; the message names it."""


class MailRefused(MailError):
    """The SMTP server refused permanently (5xx): recipient, sender, message or login."""


class MailTemporaryFailure(TransientError):
    """The SMTP server said "try later" (4xx), dropped the connection or timed out."""


# ------------------------------------------------------------------------------ addresses
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _split_list(value: str) -> list[str]:
    """Split on ``,`` and ``;`` that are outside quotes and angle brackets."""
    parts, buf, quoted, angle = [], [], False, 0
    for ch in value:
        if ch == '"' and (not buf or buf[-1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            angle += 1
        elif not quoted and ch == ">":
            angle = max(0, angle - 1)
        if ch in ",;" and not quoted and not angle:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def _ascii_domain(domain: str, original: str) -> str:
    """The ASCII (IDNA) form of a domain, e.g. ``пример.рф`` -> ``xn--e1afmkfd.xn--p1ai``."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"invalid e-mail address {original!r}: bad domain {domain!r}") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) \
            or labels[-1].isdigit() or len(ascii_domain) > 253:
        raise InvalidAddress(f"invalid e-mail address {original!r}: bad domain {domain!r}")
    return ascii_domain.lower()


def parse_address(item: str) -> Address:
    """Validate one address (``user@host`` or ``Name <user@host>``) into an ``Address``.

    The domain may be internationalised (converted to IDNA); the local part must be ASCII
    (SMTPUTF8 mailboxes are rare and many servers refuse them).
    """
    original = item
    name, addr = parseaddr(item)
    if not addr or "@" not in addr:
        raise InvalidAddress(f"invalid e-mail address {original!r}: expected name@domain")
    local, _, domain = addr.rpartition("@")
    if not local or not domain:
        raise InvalidAddress(f"invalid e-mail address {original!r}: expected name@domain")
    if not local.isascii():
        raise InvalidAddress(f"invalid e-mail address {original!r}: the part before @ must be "
                             "Latin letters, digits or . _ % + -")
    if not _LOCAL.match(local) or len(local) > 64:
        raise InvalidAddress(f"invalid e-mail address {original!r}: bad name {local!r} before @")
    return Address(display_name=name, username=local, domain=_ascii_domain(domain, original))


def parse_recipients(value: str | Iterable[str] | None) -> list[Address]:
    """Parse a comma- or semicolon-separated list (or a list of such strings) of addresses.

    Duplicates (same mailbox, case-insensitive) are dropped; order is kept.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    result: list[Address] = []
    seen: set[str] = set()
    for chunk in items:
        if not isinstance(chunk, str):
            raise InvalidAddress(f"invalid e-mail address {chunk!r}: expected a string")
        for item in _split_list(chunk):
            address = parse_address(item)
            mailbox = address.addr_spec.lower()
            if mailbox not in seen:
                seen.add(mailbox)
                result.append(address)
    return result


# ------------------------------------------------------------------------------ attachments
@dataclass(frozen=True)
class Attachment:
    """A file to attach: bytes carried in the job, or a media-store file fetched by the worker."""

    filename: str
    content_type: str | None = None
    data: bytes | None = None
    media_owner: int | str | None = None
    media_id: str | None = None

    @classmethod
    def from_bytes(cls, filename: str, data: bytes, content_type: str | None = None) -> "Attachment":
        return cls(filename=filename, data=bytes(data), content_type=content_type)

    @classmethod
    def from_media(cls, owner_id: int | str, file_id: str, filename: str | None = None,
                   content_type: str | None = None) -> "Attachment":
        """A file of the media store (``store.media``); name and type default to the stored ones."""
        return cls(filename=filename or "", content_type=content_type, media_owner=owner_id,
                   media_id=str(file_id))

    def to_payload(self) -> dict[str, Any]:
        """The JSON form carried in the job message."""
        if self.data is not None:
            return {"filename": self.filename, "content_type": self.content_type,
                    "data_b64": base64.b64encode(self.data).decode("ascii")}
        return {"filename": self.filename, "content_type": self.content_type,
                "media_owner": self.media_owner, "media_id": self.media_id}


def _attachment_payload(item: Any) -> dict[str, Any]:
    if isinstance(item, Attachment):
        att = item
    elif isinstance(item, tuple) and len(item) in (2, 3):
        att = Attachment.from_bytes(*item)
    elif isinstance(item, dict):
        att = Attachment(**item)
    else:
        raise MailError(f"attachment {item!r}: expected Attachment, (filename, bytes[, type]) "
                        "or a dict")
    if att.data is None and (att.media_owner in (None, "") or not att.media_id):
        raise MailError(f"attachment {att.filename!r}: give its bytes or a media owner and id")
    if att.data is not None and not att.filename:
        raise MailError("an attachment given as bytes needs a file name")
    if att.content_type and not re.match(r"^[\w.+-]+/[\w.+-]+$", att.content_type):
        raise MailError(f"attachment {att.filename!r}: bad content type {att.content_type!r}")
    return att.to_payload()


def _load_attachment(payload: dict[str, Any]) -> tuple[str, str, bytes]:
    """Resolve an attachment payload to (filename, content type, bytes) in the worker."""
    filename = payload.get("filename") or ""
    ctype = payload.get("content_type")
    if payload.get("data_b64") is not None:
        data = base64.b64decode(payload["data_b64"])
    else:
        filename, ctype, data = _load_media(payload["media_owner"], payload["media_id"],
                                            filename, ctype)
    if not ctype:
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return filename or "attachment", ctype, data


def _load_media(owner: int | str, file_id: str, filename: str, ctype: str | None) -> tuple[str, str | None, bytes]:
    """Read a media-store file (through the worker's store, :mod:`jobs.context`)."""
    async def read(store):
        info = await store.media.info(owner, file_id)
        if not info:
            return None, b""
        chunks, size = [], 0
        async for chunk in store.media.stream(owner, file_id):
            size += len(chunk)
            if size > MAX_TOTAL_ATTACHMENTS:
                raise MailError(f"attachment media file {file_id}: larger than "
                                f"{MAX_TOTAL_ATTACHMENTS // 2**20} MB")
            chunks.append(chunk)
        return info, b"".join(chunks)

    try:
        info, data = context.call_store(read)
    except (LookupError, FileNotFoundError) as exc:
        raise MailError(f"attachment media file {file_id} of {owner} not found: {exc}") from None
    except MailError:
        raise
    except Exception as exc:  # the store itself is unavailable (MongoDB failover...)
        from storage.client import StoreUnavailable

        if isinstance(exc, StoreUnavailable) or \
                type(exc).__module__.startswith(("pymongo", "gridfs")):
            raise TransientError(f"media store unavailable reading {file_id}: {exc}") from exc
        raise
    if info is None:
        raise MailError(f"attachment media file {file_id} of {owner} not found")
    get = info.get if isinstance(info, dict) else (lambda k, d=None: getattr(info, k, d))
    return (filename or get("filename") or "attachment", ctype or get("content_type"), data)


# ------------------------------------------------------------------------------ message
class _TextExtractor(HTMLParser):
    """Plain-text rendering of simple HTML for the text/plain alternative."""

    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
              "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """A readable text version of an HTML body (tags dropped, blocks on their own lines)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def make_message_id(sender: Address, idempotency_key: str | None = None) -> str:
    """``<...@sender-domain>``: derived from the idempotency key when given, else random."""
    seed = idempotency_key or uuid.uuid4().hex
    digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
    return f"<pult.{digest}@{sender.domain}>"


def build_message(payload: dict[str, Any], settings: Settings) -> tuple[EmailMessage, str, list[str]]:
    """The MIME message, envelope sender and envelope recipients of a job payload."""
    sender = parse_address(payload.get("from") or settings.mail_from)
    to = parse_recipients(payload.get("to"))
    cc = parse_recipients(payload.get("cc"))
    bcc = parse_recipients(payload.get("bcc"))
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = payload["subject"]
    msg["From"] = sender
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if payload.get("reply_to"):
        msg["Reply-To"] = parse_recipients(payload["reply_to"])
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = payload["message_id"]
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to notifications
    for name, value in (payload.get("headers") or {}).items():
        msg[name] = value
    text, html = payload.get("text"), payload.get("html")
    # quoted-printable keeps the message 7-bit clean: no reliance on the server's 8BITMIME
    msg.set_content(text if text is not None else html_to_text(html or ""),
                    cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    total = 0
    for att in payload.get("attachments") or []:
        filename, ctype, data = _load_attachment(att)
        total += len(data)
        if total > MAX_TOTAL_ATTACHMENTS:
            raise MailError(f"attachments are larger than {MAX_TOTAL_ATTACHMENTS // 2**20} MB "
                            "in total")
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    rcpts = [a.addr_spec for a in (*to, *cc, *bcc)]
    return msg, sender.addr_spec, rcpts


# ------------------------------------------------------------------------------ SMTP
def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {text}".strip()


def _open_smtp(settings: Settings) -> smtplib.SMTP:
    context_ = ssl.create_default_context()
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    if settings.smtp_ssl:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context_)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=context_)
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def smtp_send(msg: EmailMessage, sender: str, rcpts: Sequence[str], settings: Settings) -> dict[str, str]:
    """Send one message; returns refused recipients (``{addr: reply}``) when others were accepted.

    Raises :class:`MailRefused` for permanent refusals and :class:`MailTemporaryFailure` for
    temporary ones, each naming the server and its reply.
    """
    where = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    try:
        smtp = _open_smtp(settings)
        try:
            refused = smtp.send_message(msg, from_addr=sender, to_addrs=list(rcpts))
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPRecipientsRefused as exc:
        replies = {addr: _reply(code, text) for addr, (code, text) in exc.recipients.items()}
        detail = "; ".join(f"{addr}: {r}" for addr, r in replies.items())
        if any(400 <= code < 500 for code, _ in exc.recipients.values()):
            raise MailTemporaryFailure(f"{where} deferred all recipients: {detail}") from None
        raise MailRefused(f"{where} refused all recipients: {detail}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise MailRefused(f"{where} refused the login of {settings.smtp_user!r}: "
                          f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailRefused(f"{where} does not support what the settings ask for "
                          f"(STARTTLS or AUTH): {exc}") from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, helo...
        what = "sender" if isinstance(exc, smtplib.SMTPSenderRefused) else "message"
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            raise MailTemporaryFailure(f"{where} deferred the {what}: {reply}") from None
        raise MailRefused(f"{where} refused the {what}: {reply}") from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError,
            socket.timeout, TimeoutError, OSError) as exc:
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise MailRefused(f"{where}: TLS certificate not trusted: {exc}") from None
        raise MailTemporaryFailure(f"{where} unreachable: {exc}") from None
    return {addr: _reply(code, text) for addr, (code, text) in refused.items()}


def deliver(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Build and send the message of a job payload; the job's result (without ``duplicate``)."""
    msg, sender, rcpts = build_message(payload, settings)
    refused = smtp_send(msg, sender, rcpts, settings)
    return {"message_id": payload["message_id"],
            "accepted": [r for r in rcpts if r not in refused],
            "refused": refused}


@app.task(bind=True, name="jobs.mail.send")
@idempotent("mail")
def send(self, message: dict[str, Any]) -> dict[str, Any]:
    """The e-mail job: deliver ``message`` (built by :func:`prepare`) once."""
    return deliver(message, context.delivery_settings())


# ------------------------------------------------------------------------------ callers
def prepare(to: str | Iterable[str] | None, subject: str, text: str | None = None,
            html: str | None = None, *, cc: str | Iterable[str] | None = None,
            bcc: str | Iterable[str] | None = None, reply_to: str | None = None,
            attachments: Sequence[Any] = (), headers: dict[str, str] | None = None,
            sender: str | None = None, idempotency_key: str | None = None,
            settings: Settings | None = None) -> dict[str, Any]:
    """Validate a message and return its job payload (raises :class:`MailError` / ``InvalidAddress``)."""
    settings = settings or context.settings()
    if not isinstance(subject, str) or not subject.strip():
        raise MailError("the e-mail subject is empty")
    if "\n" in subject or "\r" in subject:
        raise MailError("the e-mail subject must be one line")
    if text is None and html is None:
        raise MailError("the e-mail has no body: give text, html or both")
    to_list, cc_list, bcc_list = (parse_recipients(to), parse_recipients(cc),
                                  parse_recipients(bcc))
    count = len(to_list) + len(cc_list) + len(bcc_list)
    if count == 0:
        raise InvalidAddress("the e-mail has no recipients")
    if count > MAX_RECIPIENTS:
        raise MailError(f"too many recipients ({count}); at most {MAX_RECIPIENTS} per message")
    from_addr = parse_address(sender or settings.mail_from)
    if reply_to:
        parse_recipients(reply_to)
    for name, value in (headers or {}).items():
        if not re.match(r"^[A-Za-z0-9-]+$", name) or "\n" in str(value) or "\r" in str(value):
            raise MailError(f"bad extra header {name!r}")
    payloads = [_attachment_payload(a) for a in attachments]
    inline = sum(len(p.get("data_b64", "")) * 3 // 4 for p in payloads)
    if inline > MAX_INLINE_ATTACHMENTS:
        raise MailError(f"attachments given as bytes exceed {MAX_INLINE_ATTACHMENTS // 2**20} MB; "
                        "store large files in the media store and attach them by id")
    return {
        "to": [str(a) for a in to_list], "cc": [str(a) for a in cc_list],
        "bcc": [str(a) for a in bcc_list], "reply_to": reply_to,
        "from": str(from_addr) if sender else None,
        "subject": subject.strip(), "text": text, "html": html,
        "attachments": payloads, "headers": dict(headers or {}),
        "message_id": make_message_id(from_addr, idempotency_key),
    }


def send_mail(to: str | Iterable[str], subject: str, text: str | None = None,
              html: str | None = None, *, cc: str | Iterable[str] | None = None,
              bcc: str | Iterable[str] | None = None, reply_to: str | None = None,
              attachments: Sequence[Any] = (), headers: dict[str, str] | None = None,
              sender: str | None = None, idempotency_key: str | None = None,
              countdown: float | None = None) -> str:
    """Validate and queue an e-mail; returns the job (task) id.

    ``to``/``cc``/``bcc``: addresses separated by ``,`` or ``;`` (or a list). ``attachments``:
    :class:`Attachment` items or ``(filename, bytes[, content_type])`` tuples.
    ``idempotency_key``: the same key never sends twice (e.g. ``"balance-low:<pbx>:<date>"``).
    Raises :class:`InvalidAddress`/:class:`MailError` for bad input and
    :class:`jobs.app.JobsUnavailable` when Redis cannot be reached.
    """
    from jobs.client import submit

    payload = prepare(to, subject, text, html, cc=cc, bcc=bcc, reply_to=reply_to,
                      attachments=attachments, headers=headers, sender=sender,
                      idempotency_key=idempotency_key)
    return submit(send, kwargs={"message": payload, "idempotency_key": idempotency_key},
                  countdown=countdown, what="the e-mail")


async def send_mail_async(*args: Any, **kwargs: Any) -> str:
    """:func:`send_mail` for the Tornado loop: validation inline, the Redis publish in a thread."""
    from jobs.client import submit_async

    idempotency_key = kwargs.get("idempotency_key")
    countdown = kwargs.pop("countdown", None)
    payload = prepare(*args, **kwargs)
    return await submit_async(send, kwargs={"message": payload,
                                            "idempotency_key": idempotency_key},
                              countdown=countdown, what="the e-mail")
