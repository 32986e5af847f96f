"""Event Socket wire format, exactly as FreeSWITCH 1.10 writes it.

Every message FreeSWITCH sends is a block of ``Name: value`` lines, a blank line,
and a body of exactly ``Content-Length`` bytes (when that header is present).
The header *order* differs by message kind and is part of what the recorded
traces pin down, so builders here take headers as an ordered list.

Commands from a client are a first line (``api status``), optional header lines
(``Job-UUID: …``, ``call-command: execute`` …), a blank line, and, if the client
sent ``Content-Length``, a body.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass, field

#: Characters FreeSWITCH's ``switch_url_encode`` escapes (``SWITCH_URL_UNSAFE``),
#: in addition to control characters and bytes above ``~``.
URL_UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""
_HEX = "0123456789ABCDEF"

DISCONNECT_TEXT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


class ProtocolError(ValueError):
    """The peer sent something that is not an Event Socket message."""


#: what ``switch_url_encode`` escapes, as one pattern over the UTF-8 bytes; group 1 is a ``%`` that
#: already starts an escape (left alone)
_ENCODE_RE = re.compile(b"(%(?=[0-9A-F]{2}))|[\\x00-\\x1f\\x7f-\\xff" + re.escape(URL_UNSAFE.encode()) + b"]")
_NEEDS_ENCODING = re.compile("[^\\x20-\\x7e]|[" + re.escape(URL_UNSAFE) + "]")


def _escape(m: re.Match) -> bytes:
    return b"%" if m.group(1) else b"%%%02X" % m.group(0)[0]


@functools.lru_cache(maxsize=65536)  # an event repeats its channel's values: most are encoded before
def url_encode(value: str) -> str:
    """Encode like ``switch_url_encode`` (no double encoding of ``%XX``).

    FreeSWITCH leaves an existing ``%`` followed by two hex digits alone, so
    ``a%20b`` stays ``a%20b`` while ``%(1000`` becomes ``%25(1000``. (One pattern over the
    bytes: the stand-in encodes every header of every event it sends, so this must not be a
    Python loop per character.)
    """
    if _NEEDS_ENCODING.search(value) is None:
        return value
    return _ENCODE_RE.sub(_escape, value.encode("utf-8")).decode("ascii")


def url_decode(value: str) -> str:
    """Decode ``%XX`` sequences (FreeSWITCH does not use ``+`` for space)."""
    raw = value.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw):
            try:
                out.append(int(raw[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(raw[i])
        i += 1
    return out.decode("utf-8", errors="replace")


def format_message(headers: list[tuple[str, str]], body: str | None = None) -> bytes:
    """Render one ESL message.

    ``headers`` may contain ``("Content-Length", None)`` to place the length
    header at a precise position (FreeSWITCH puts it first for events and
    second for ``api/response``); otherwise it is appended when there is a body.
    """
    body_bytes = body.encode("utf-8") if body is not None else b""
    lines: list[str] = []
    placed = False
    for name, value in headers:
        if name == "Content-Length" and value is None:
            lines.append(f"Content-Length: {len(body_bytes)}")
            placed = True
        else:
            lines.append(f"{name}: {value}")
    if body is not None and not placed:
        lines.append(f"Content-Length: {len(body_bytes)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body_bytes


def auth_request() -> bytes:
    return format_message([("Content-Type", "auth/request")])


def command_reply(reply_text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    """``command/reply`` as sent for auth, event, bgapi, sendmsg, myevents, …"""
    return format_message([("Content-Type", "command/reply"), ("Reply-Text", reply_text)] + (extra or []))


def api_response(body: str) -> bytes:
    """``api/response``: Content-Type first, then Content-Length, then the output."""
    return format_message([("Content-Type", "api/response"), ("Content-Length", None)], body)


def disconnect_notice() -> bytes:
    """The notice sent before FreeSWITCH closes an inbound connection."""
    return format_message([("Content-Type", "text/disconnect-notice"), ("Content-Length", None)], DISCONNECT_TEXT)


def linger_disconnect_notice(uuid: str, channel_name: str, linger_time: int = -1) -> bytes:
    """The notice an outbound (lingering) socket gets once its channel is gone (``Linger-Time``:
    the seconds of ``linger N``, -1 for a plain ``linger``)."""
    return format_message(
        [
            ("Content-Type", "text/disconnect-notice"),
            ("Controlled-Session-UUID", uuid),
            ("Content-Disposition", "linger"),
            ("Channel-Name", channel_name),
            ("Linger-Time", str(linger_time)),
            ("Content-Length", "0"),
        ]
    )


@dataclass
class Command:
    """One command received from a client."""

    line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0].lower() if self.line else ""

    @property
    def arg(self) -> str:
        parts = self.line.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


async def read_command(reader: asyncio.StreamReader) -> Command | None:
    """Read one client command; ``None`` at end of stream.

    Blank lines before a command are skipped (FreeSWITCH does the same), and
    ``\\r\\n`` line ends are accepted.
    """
    lines: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text == "":
            if lines:
                break
            continue
        lines.append(text)
    cmd = Command(line=lines[0].strip())
    for hline in lines[1:]:
        name, sep, value = hline.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line in command: {hline!r}")
        cmd.headers[name.strip()] = value.strip()
    length = cmd.headers.get("Content-Length") or cmd.headers.get("content-length")
    if length:
        try:
            n = int(length)
        except ValueError as exc:
            raise ProtocolError(f"bad Content-Length {length!r}") from exc
        cmd.body = (await reader.readexactly(n)).decode("utf-8", errors="replace")
    return cmd


@dataclass
class Message:
    """One message as received from FreeSWITCH (used by the tests' own client)."""

    headers: dict[str, str]
    header_order: list[str]
    body: str
    raw: bytes


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """Read one FreeSWITCH→client message (header block + Content-Length body)."""
    head = b""
    while True:
        line = await reader.readline()
        if not line:
            return None
        if line in (b"\n", b"\r\n"):
            if head:
                break
            continue
        head += line
    headers: dict[str, str] = {}
    order: list[str] = []
    for hline in head.decode("utf-8").splitlines():
        name, _, value = hline.partition(": ")
        headers[name] = value
        order.append(name)
    body = b""
    if "Content-Length" in headers:
        body = await reader.readexactly(int(headers["Content-Length"]))
    return Message(headers, order, body.decode("utf-8"), head + b"\n" + body)
