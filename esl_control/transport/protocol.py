"""The FreeSWITCH event-socket wire format: framing and parsing, with no I/O and no gevent.

A message on the socket is a block of ``Header: value`` lines, a blank line, and then a body of
exactly ``Content-Length`` bytes when that header is present (see
``/work/shared/freeswitch/traces``). A ``text/event-plain`` message carries the event in its
body as a second header block — URL-encoded values — optionally followed by its own blank line
and an inner body (the output of a ``BACKGROUND_JOB``). ``text/event-json`` carries one JSON
object whose ``_body`` key is the inner body.

Why not greenswitch's parser: greenswitch URL-decodes the *whole* block before splitting it into
lines, so an encoded newline inside a value (``%0A`` in a caller name a SIP peer chose) becomes a
line break and can forge a header such as ``variable_pult_pbx_id``; it also merges the inner body
of an event into its headers, reads one line per call, and spends most of its time there. This
module splits first and decodes each value on its own, reads in large chunks, and is shared by
the gevent transport and the pure-asyncio parser the benchmark compares against.
"""
from __future__ import annotations

import json
from urllib.parse import unquote

__all__ = ["EslMessage", "EslEvent", "FrameParser", "parse_headers", "event_from_message",
           "ProtocolError", "format_command"]


class ProtocolError(Exception):
    """The peer sent bytes that are not an event-socket message."""


def parse_headers(block: str, decode: bool = True) -> dict[str, str]:
    """Parse ``Key: value`` lines into a dict; values are URL-decoded one by one when ``decode``.

    Lines are split *before* decoding, so a decoded ``%0A`` stays inside its value. A line
    without ``": "`` is accepted as ``Key:`` with an empty value (FreeSWITCH sends such headers
    for empty variables); an empty line is skipped. A repeated key keeps its last value.
    This is the ingest hot path: measured against regular-expression and whole-block variants,
    this plain loop was the fastest on the recorded events (see tests/bench/bench_esl_ingest.py).
    """
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if not line:
                continue
            key, _, value = line.partition(":")
            value = value.lstrip(" ")
        if decode and "%" in value:
            value = unquote(value)
        headers[key] = value
    return headers


class EslMessage:
    """One framed message as received: outer headers and raw body (text).

    ``data`` mirrors greenswitch's attribute of the same name so greenswitch's own command
    code keeps working on these objects: the ``Reply-Text`` of a ``command/reply``, the body of
    an ``api/response``.
    """

    __slots__ = ("headers", "body", "data")

    def __init__(self, headers: dict[str, str], body: str = "") -> None:
        self.headers = headers
        self.body = body
        ctype = headers.get("Content-Type")
        if ctype == "command/reply":
            self.data = headers.get("Reply-Text", "")
        else:
            self.data = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def __repr__(self) -> str:
        return f"EslMessage({self.content_type!r}, {len(self.body)} bytes of body)"


def _first_value(raw: str, key: str) -> str | None:
    """The value of header ``key`` in a plain header block, found without parsing the block.

    Matches only at a line start; values cannot contain a raw line break (FreeSWITCH encodes
    them), so a value can never pose as a header here either.
    """
    tag = key + ": "
    if raw.startswith(tag):
        start = len(tag)
    else:
        at = raw.find("\n" + tag)
        if at < 0:
            return None
        start = at + 1 + len(tag)
    end = raw.find("\n", start)
    value = raw[start:] if end < 0 else raw[start:end]
    return unquote(value) if "%" in value else value


class EslEvent:
    """A FreeSWITCH event: its headers (decoded) and its inner body (``""`` when it has none).

    ``name`` is ``Event-Name``; for ``CUSTOM`` events handlers are usually keyed by
    ``subclass`` (``Event-Subclass``, e.g. ``conference::maintenance``).

    A plain event is parsed lazily: ``name``/``key`` are read straight from the raw block and
    the full ``headers`` dict (≈90 decoded headers for a channel event) is built on first use.
    Most events are only routed by name and dropped, so most never pay for the full parse.
    """

    __slots__ = ("_headers", "_raw", "_name", "body")

    def __init__(self, headers: dict[str, str] | None = None, body: str = "", *,
                 raw: str | None = None) -> None:
        if headers is None and raw is None:
            raise TypeError("EslEvent needs headers or a raw header block")
        self._headers = headers
        self._raw = raw
        self._name: str | None = None
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        headers = self._headers
        if headers is None:
            headers = self._headers = parse_headers(self._raw)
            self._raw = None
        return headers

    def peek(self, key: str) -> str | None:
        """One header's value, without building the full dict if it is not built yet."""
        if self._headers is not None:
            return self._headers.get(key)
        return _first_value(self._raw, key)

    @property
    def name(self) -> str:
        name = self._name
        if name is None:
            name = self._name = self.peek("Event-Name") or ""
        return name

    @property
    def subclass(self) -> str | None:
        return self.peek("Event-Subclass")

    @property
    def key(self) -> str:
        """The name handlers are registered under: the subclass of a CUSTOM event, else its name."""
        name = self.name
        if name == "CUSTOM":
            return self.peek("Event-Subclass") or name
        return name

    @property
    def uuid(self) -> str | None:
        """The channel the event is about (``Unique-ID``), if any."""
        return self.peek("Unique-ID")

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def __contains__(self, key: str) -> bool:
        return key in self.headers

    def __repr__(self) -> str:
        return f"EslEvent({self.key!r}, uuid={self.uuid!r})"


def event_from_message(msg: EslMessage) -> EslEvent | None:
    """The event a ``text/event-plain`` / ``text/event-json`` message carries, else ``None``."""
    ctype = msg.headers.get("Content-Type")
    if ctype == "text/event-plain":
        head, _, inner = msg.body.partition("\n\n")
        return EslEvent(raw=head, body=inner)
    if ctype == "text/event-json":
        try:
            obj = json.loads(msg.body)
        except ValueError as exc:
            raise ProtocolError(f"text/event-json body is not JSON: {exc}") from None
        body = obj.pop("_body", "")
        return EslEvent({k: v if isinstance(v, str) else str(v) for k, v in obj.items()}, body)
    return None


class FrameParser:
    """Incremental framer: feed it bytes as they arrive, get complete messages back.

    Works on a ``bytearray`` and only decodes what it returns, so a 64 KiB read holding twenty
    events costs twenty searches and twenty decodes, not thousands of ``readline`` calls.
    Outer header values are URL-decoded too (the outbound ``connect`` reply carries the whole
    channel data there, encoded).
    """

    __slots__ = ("_buf", "_pending", "_need", "max_header_bytes")

    def __init__(self, max_header_bytes: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._pending: dict[str, str] | None = None
        self._need = 0
        self.max_header_bytes = max_header_bytes

    def feed(self, data: bytes) -> list[EslMessage]:
        """Add ``data``; return the messages it completed (possibly none)."""
        buf = self._buf
        buf += data
        out: list[EslMessage] = []
        pos = 0
        size = len(buf)
        while True:
            if self._pending is None:
                # skip stray blank lines between messages
                while pos < size and buf[pos] == 10:
                    pos += 1
                end = buf.find(b"\n\n", pos)
                if end < 0:
                    if size - pos > self.max_header_bytes:
                        raise ProtocolError("header block larger than "
                                            f"{self.max_header_bytes} bytes without a blank line")
                    break
                headers = parse_headers(buf[pos:end].decode("utf-8", "replace"))
                pos = end + 2
                length = headers.get("Content-Length")
                if not length:
                    out.append(EslMessage(headers))
                    continue
                try:
                    self._need = int(length)
                except ValueError:
                    raise ProtocolError(f"bad Content-Length {length!r}") from None
                if self._need < 0:
                    raise ProtocolError(f"bad Content-Length {length!r}")
                self._pending = headers
            if size - pos < self._need:
                break
            stop = pos + self._need
            out.append(EslMessage(self._pending, buf[pos:stop].decode("utf-8", "replace")))
            pos = stop
            self._pending = None
        if pos:
            del buf[:pos]
        return out



def format_command(command: str, headers: dict[str, str] | None = None) -> str:
    """An outgoing command as text: the command line and its header lines (no final blank line).

    Refuses a line break inside the command or a header — it would end the command early and
    let the rest be read as another command (protocol injection from, say, a file name).
    """
    if "\n" in command or "\r" in command:
        raise ValueError(f"ESL command must be one line: {command!r}")
    if not headers:
        return command
    lines = [command]
    for key, value in headers.items():
        value = str(value)
        if not key or any(c in key for c in "\r\n:") or "\n" in value or "\r" in value:
            raise ValueError(f"bad ESL header {key!r}: {value!r}")
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
