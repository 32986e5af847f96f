"""Load the recorded FreeSWITCH traces and compare messages with them.

Used by the conformance tests (tests/integration/test_fsim_traces.py) and by
``replay.py``. A message is compared on what is not machine-specific: header
names and order, Content-Type, Reply-Text, event header names and order, and
values except ids, times, host names, addresses and counters (``VOLATILE``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .protocol import url_decode


def traces_dir() -> Path:
    """``$FSIM_TRACES``, else ``shared/freeswitch/traces`` beside the repository."""
    env = os.environ.get("FSIM_TRACES")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[2].parent / "shared" / "freeswitch" / "traces"
    return beside if beside.is_dir() else Path("/work/shared/freeswitch/traces")


@dataclass
class Frame:
    t_ms: int
    dir: str  # "send" (to FreeSWITCH) or "recv" (from it)
    data: str


@dataclass
class Trace:
    name: str
    description: str
    frames: list[Frame]

    @property
    def sends(self) -> list[Frame]:
        return [f for f in self.frames if f.dir == "send"]

    @property
    def recvs(self) -> list[Frame]:
        return [f for f in self.frames if f.dir == "recv"]


def load_trace(name: str, directory: Path | None = None) -> Trace:
    path = (directory or traces_dir()) / f"{name}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"empty trace file {path}")
    meta = json.loads(lines[0])
    frames = [Frame(**json.loads(line)) for line in lines[1:] if line.strip()]
    return Trace(meta.get("trace", name), meta.get("description", ""), frames)


@dataclass
class Parsed:
    """One FreeSWITCH message split into its parts."""

    headers: list[tuple[str, str]]
    body: str
    event: list[tuple[str, str]] | None = None  # decoded event headers (plain/json/CHANNEL_DATA)
    event_body: str | None = None
    errors: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    @property
    def event_name(self) -> str | None:
        if self.event is None:
            return None
        return next((v for k, v in self.event if k == "Event-Name"), None)


def parse_message(data: str | bytes) -> Parsed:
    """Parse one message; framing problems (Content-Length) go to ``errors``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    head, sep, rest = raw.partition(b"\n\n")
    errors: list[str] = []
    if not sep:
        errors.append("no blank line after the header block")
    headers = []
    for line in head.decode("utf-8").split("\n"):
        name, colon, value = line.partition(": ")
        if not colon:
            errors.append(f"malformed header line {line!r}")
        headers.append((name, value))
    hmap = dict(headers)
    body = b""
    if "Content-Length" in hmap and hmap["Content-Length"] != "0":
        n = int(hmap["Content-Length"])
        body = rest[:n]
        if len(rest) != n:
            errors.append(f"Content-Length {n} but {len(rest)} bytes follow")
    elif rest:
        errors.append(f"{len(rest)} bytes after a header block without Content-Length")
    text = body.decode("utf-8")
    parsed = Parsed(headers, text, errors=errors)
    ctype = hmap.get("Content-Type")
    if ctype == "text/event-plain":
        ehead, _, ebody = text.partition("\n\n")
        pairs = []
        for line in ehead.split("\n"):
            name, _, value = line.partition(": ")
            pairs.append((name, url_decode(value)))
        inner = dict(pairs).get("Content-Length")
        if inner is not None:
            pairs = [p for p in pairs if p[0] != "Content-Length"]
            parsed.event_body = ebody
            if len(ebody.encode("utf-8")) != int(inner):
                errors.append(f"event Content-Length {inner} but body has {len(ebody.encode())} bytes")
        parsed.event = pairs
    elif ctype == "text/event-json":
        pairs = json.loads(text, object_pairs_hook=list)
        body_pairs = [p for p in pairs if p[0] == "_body"]
        parsed.event = [p for p in pairs if p[0] not in ("_body", "Content-Length")]
        parsed.event_body = body_pairs[0][1] if body_pairs else None
    elif "Event-Name" in hmap:  # CHANNEL_DATA in the connect reply
        parsed.event = [(k, url_decode(v)) for k, v in headers
                        if k not in ("Content-Type", "Reply-Text", "Socket-Mode", "Control")]
    return parsed


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUM = re.compile(r"\d+")

#: Values that depend on the machine, the moment or the run.
VOLATILE_NAMES = {
    "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
    "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence", "Job-UUID",
    "Application-UUID", "Conference-Unique-ID", "Conference-Domain", "DTMF-Duration",
    "variable_session_id", "variable_socket_host", "Channel-Name", "Caller-Channel-Name",
    "variable_channel_name", "Other-Leg-Channel-Name", "variable_bridge_channel",
    "variable_last_dtmf_duration",
    # per SIP call/phone: Call-ID, tags, branch, the phone's source port, RTP ports and SSRC,
    # and the sequence number of the directory request the leg keeps
    "variable_sip_call_id", "variable_sip_from_tag", "variable_sip_full_from", "variable_sip_full_via",
    "variable_sip_network_port", "variable_sip_received_port", "variable_sip_contact_port",
    "variable_sip_contact_uri", "variable_sip_via_port", "variable_local_media_port", "variable_rtp_use_ssrc",
}
VOLATILE_PATTERNS = [
    re.compile(r".*-Time$"), re.compile(r".*(epoch|stamp)$"), re.compile(r"^variable_.*(sec|msec|usec|duration)$"),
    re.compile(r"^variable_(playback|record)_.*"), re.compile(r"^variable_(record_record_file_size)$"),
    re.compile(r".*Last-Hold$"), re.compile(r".*Hold-Accum$"),
]


def is_volatile(name: str) -> bool:
    if name.startswith("variable_") and name[len("variable_"):] in VOLATILE_NAMES:
        return True  # an event's common block kept as variables (SIP legs keep their REQUEST_PARAMS)
    return name in VOLATILE_NAMES or any(p.match(name) for p in VOLATILE_PATTERNS)


#: ``transfer_source``/``transfer_history`` start with the epoch second of the transfer.
_EPOCH_PREFIX = re.compile(r"^\d{10}:")


#: SDP lines that carry per-session numbers (origin session id/version, media port).
_SDP_NUMBERS = re.compile(r"(?m)^(o=\S+) \d+ \d+|^(m=audio) \d+")


def normalize(value: str) -> str:
    value = _EPOCH_PREFIX.sub("<epoch>:", _UUID.sub("<uuid>", value))
    if value.startswith("v=0\r\n"):
        value = _SDP_NUMBERS.sub(lambda m: (m.group(1) or m.group(2)) + " <n>", value)
    return value


#: Headers whose position FreeSWITCH does not fix: ``call_uuid`` of a loopback B leg is set
#: by its session thread while the originating thread sets the loopback variables.
MOVABLE = frozenset({"variable_call_uuid"})


def compare_headers(expected: list[tuple[str, str]], actual: list[tuple[str, str]], where: str) -> list[str]:
    """Differences in names/order (``MOVABLE`` names may sit anywhere), and in non-volatile values."""
    diffs: list[str] = []
    en = [k for k, _ in expected if k not in MOVABLE] + sorted(k for k, _ in expected if k in MOVABLE)
    an = [k for k, _ in actual if k not in MOVABLE] + sorted(k for k, _ in actual if k in MOVABLE)
    if en != an:
        missing = [k for k in en if k not in an]
        extra = [k for k in an if k not in en]
        if missing:
            diffs.append(f"{where}: missing headers {missing}")
        if extra:
            diffs.append(f"{where}: unexpected headers {extra}")
        if not missing and not extra and en != an:
            at = next(i for i, (x, y) in enumerate(zip(en, an)) if x != y)
            diffs.append(f"{where}: header order differs at {at}: {an[at:at + 3]}, recorded {en[at:at + 3]}")
    amap: dict[str, str] = {}
    for k, v in actual:
        amap.setdefault(k, v)
    for k, v in expected:
        if k in amap and not is_volatile(k) and normalize(v) != normalize(amap[k]):
            diffs.append(f"{where}: {k} = {amap[k]!r}, recorded {v!r}")
    return diffs


def compare_message(expected: str | bytes, actual: str | bytes, *, body_exact: bool = True) -> list[str]:
    """All differences between a recorded message and one the simulator sent."""
    e, a = parse_message(expected), parse_message(actual)
    diffs = [f"framing: {err}" for err in a.errors]
    where = e.event_name or e.content_type or "message"
    if [k for k, _ in e.headers] != [k for k, _ in a.headers]:
        diffs.append(f"{where}: message headers {[k for k, _ in a.headers]}, recorded {[k for k, _ in e.headers]}")
    for name in ("Content-Type", "Content-Disposition", "Socket-Mode", "Control", "Linger-Time"):
        if e.header(name) != a.header(name):
            diffs.append(f"{where}: {name} {a.header(name)!r}, recorded {e.header(name)!r}")
    if normalize(e.header("Reply-Text") or "") != normalize(a.header("Reply-Text") or ""):
        diffs.append(f"{where}: Reply-Text {a.header('Reply-Text')!r}, recorded {e.header('Reply-Text')!r}")
    if e.event is not None:
        if a.event is None:
            diffs.append(f"{where}: not an event")
        else:
            diffs += compare_headers(e.event, a.event, where)
            if (e.event_body is None) != (a.event_body is None):
                diffs.append(f"{where}: event body presence differs")
    elif body_exact and normalize(e.body) != normalize(a.body):
        diffs.append(f"{where}: body {a.body!r}, recorded {e.body!r}")
    return diffs
