"""Call records: every CHANNEL_HANGUP_COMPLETE becomes one stored record, exactly once.

The same event can arrive more than once — on the inbound connection and again on the outbound
lingering socket, or twice around a reconnect — and Pult may run several server processes.
Exactly-once is therefore two layers: a bounded in-memory set of recently seen uuids drops
repeats cheaply here, and ``storage.repos.calls.save_call_record`` is idempotent on the uuid
(unique index + ``$setOnInsert``) for everything else.

A storage failure must not lose a record: records wait in memory (keyed by uuid) and are retried
with exponential back-off until stored. A record that fails goes to the back of the queue, so one
record the store keeps refusing (a poison record) never holds up the records behind it; the
back-off grows only while nothing at all can be stored (the store is down). The first time a
record fails it is also appended to a spool file in the data directory (in a thread, fsynced), so
a crash while the store is down loses nothing; at shutdown the spool is rewritten with whatever
is still unstored and picked up again at the next start (the file is replaced only at the next
clean shutdown, so a crash in between loses nothing; storing is idempotent, so a record found in
the spool twice is stored once).

Nothing here blocks: :meth:`CdrWriter.handle_event` only builds the record and queues it.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Awaitable, Callable

from pult.observability import CALL_RECORDS, get_logger

from .model import vocabulary as vocab
from .transport.protocol import EslEvent

log = get_logger(__name__)

__all__ = ["NODE_LOST", "CdrWriter", "record_from_event", "record_from_json_cdr", "record_from_headers", "KEPT_VARIABLES",
           "leg_of"]

#: ``variable_*`` billing fields worth keeping with the record (beyond the columns).
KEPT_VARIABLES: tuple[str, ...] = (
    "hangup_cause_q850", "sip_hangup_disposition", "sip_term_status", "sip_term_cause",
    "endpoint_disposition", "originate_disposition", "bridge_uepoch", "progress_uepoch",
    "progress_media_uepoch", "mduration", "billmsec", "progresssec", "answersec", "waitsec",
    "progress_mediasec", "flow_billsec", "progressmsec", "answermsec", "waitmsec",
    "last_app", "last_arg", "last_bridge_to", "bridge_channel", "bridge_uuid",
    "signal_bond", "originating_leg_uuid", "other_loopback_leg_uuid", "origination_uuid",
    "read_codec", "write_codec", "sip_from_user", "sip_to_user", "sip_from_host",
    "sip_network_ip", "sip_user_agent", "sip_call_id", "effective_caller_id_number",
    "effective_caller_id_name", "outbound_caller_id_number", "caller_id", "digits_dialed",
    "record_seconds", "record_file_size", "fax_success", "fax_result_code", "fax_result_text",
    "fax_document_transferred_pages", "accountcode", "user_name", "domain_name",
)


#: The cause of a call that vanished with its node (crashed or restarted while Pult was not
#: connected): closed by Pult at reconnect with what it knew.
NODE_LOST = "NODE_LOST"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _uepoch(value: str | None) -> datetime | None:
    """A FreeSWITCH microsecond epoch as an aware UTC datetime; ``0``/missing → ``None``."""
    micros = _int(value)
    if not micros:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)


def _safe_key(name: str) -> str:
    # MongoDB field names may not contain "." or start with "$"
    return name.replace(".", "_").lstrip("$")


def record_from_event(event: EslEvent, node: str) -> dict:
    """The call record a CHANNEL_HANGUP_COMPLETE describes (see the storage repository)."""
    return record_from_headers(event.headers, node)


def _text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def record_from_json_cdr(doc: dict, node: str) -> dict:
    """The call record of one mod_json_cdr document (the switch's own CDR delivery, which covers
    calls that end while Pult is down): the same fields as from CHANNEL_HANGUP_COMPLETE, read
    from ``variables`` and the latest ``callflow`` entry's ``caller_profile`` / ``times``."""
    if not isinstance(doc, dict):
        raise ValueError("a JSON CDR must be an object")
    variables = doc.get("variables")
    if not isinstance(variables, dict):
        raise ValueError("JSON CDR without variables")
    flows = doc.get("callflow") or []
    if isinstance(flows, dict):
        flows = [flows]
    flow = flows[0] if flows and isinstance(flows[0], dict) else {}
    profile = flow.get("caller_profile") if isinstance(flow.get("caller_profile"), dict) else {}
    times = flow.get("times") if isinstance(flow.get("times"), dict) else {}
    channel = doc.get("channel_data") if isinstance(doc.get("channel_data"), dict) else {}
    h: dict[str, str] = {}
    for key, value in variables.items():
        text = _text(value)
        if text is not None:
            h["variable_" + key] = text
    pairs = {
        "Unique-ID": variables.get("uuid") or profile.get("uuid"),
        "Core-UUID": doc.get("core-uuid"),
        "Channel-Call-UUID": variables.get("call_uuid"),
        "Call-Direction": variables.get("direction") or channel.get("direction"),
        "Caller-Caller-ID-Number": profile.get("caller_id_number"),
        "Caller-Caller-ID-Name": profile.get("caller_id_name"),
        "Caller-Destination-Number": profile.get("destination_number"),
        "Caller-Context": profile.get("context"),
        "Channel-Name": variables.get("channel_name") or profile.get("chan_name"),
        "Hangup-Cause": variables.get("hangup_cause"),
        "Caller-Channel-Created-Time": times.get("created_time"),
        "Caller-Channel-Answered-Time": times.get("answered_time"),
        "Caller-Channel-Hangup-Time": times.get("hangup_time"),
    }
    for key, value in pairs.items():
        text = _text(value)
        if text:
            h[key] = text
    return record_from_headers(h, node)


def leg_of(h) -> str | None:
    """The uuid of the call a channel is a leg of: a leg the switch originated from another
    channel (a ``bridge`` the engine ran, an ``originate`` from a call) carries its originator's
    uuid in ``originator`` / ``originating_leg_uuid`` (set by switch_core_session_outgoing_channel
    on every leg it creates, answered or not) and, in the event, ``Other-Type: originator`` with
    ``Other-Leg-Unique-ID``. ``None`` for the channel that started the call (the A-leg)."""
    uuid = h.get("Unique-ID") or h.get("variable_uuid")
    for value in (h.get("variable_originator"), h.get("variable_originating_leg_uuid"),
                  h.get("Other-Leg-Unique-ID") if h.get("Other-Type") == "originator" else None):
        if value and value != uuid:
            return value
    return None


def record_from_headers(h, node: str) -> dict:
    """The call record of a CHANNEL_HANGUP_COMPLETE's headers (or the same fields from a CDR).

    A leg the switch originated from another channel (:func:`leg_of`) is not a call of its own:
    its record carries ``leg_of`` (the A-leg's uuid) and is stored as one of that call's
    ``legs`` (``storage.repos.calls.save_call_record``)."""
    uuid = h.get("Unique-ID") or h.get("variable_uuid")
    if not uuid:
        raise ValueError("CHANNEL_HANGUP_COMPLETE without Unique-ID")
    start = _uepoch(h.get("variable_start_uepoch")) or _uepoch(h.get("Caller-Channel-Created-Time"))
    answer = _uepoch(h.get("variable_answer_uepoch")) or _uepoch(h.get("Caller-Channel-Answered-Time"))
    end = _uepoch(h.get("variable_end_uepoch")) or _uepoch(h.get("Caller-Channel-Hangup-Time"))
    duration = _int(h.get("variable_duration"))
    if duration is None and start and end:
        duration = int((end - start).total_seconds())
    billsec = _int(h.get("variable_billsec"))
    if billsec is None:
        billsec = int((end - answer).total_seconds()) if answer and end else 0
    raw_pbx = h.get(vocab.event_header(vocab.PBX_ID))
    pbx_id = _int(raw_pbx)
    if pbx_id is not None and pbx_id <= 0:
        pbx_id = None
    variables: dict[str, str] = {}
    for name in KEPT_VARIABLES:
        value = h.get("variable_" + name)
        if value not in (None, ""):
            variables[name] = value
    for key, value in h.items():  # everything Pult itself set on the channel
        if (key.startswith(vocab.event_header(vocab.VARIABLE_PREFIX))
                and key != vocab.event_header(vocab.PATH)):
            variables[_safe_key(key[len("variable_"):])] = value
    record = {
        "uuid": uuid,
        "call_uuid": h.get("Channel-Call-UUID") or h.get("variable_call_uuid"),
        "node": node,
        "core_uuid": h.get("Core-UUID"),
        "pbx_id": pbx_id,
        "direction": h.get("Call-Direction") or h.get("variable_direction"),
        # a tenant's phone presents its SIP login; the directory gives it the number colleagues
        # see (the extension): that is the caller of the record
        "caller": (h.get("variable_user_name") and h.get("variable_effective_caller_id_number"))
        or h.get("Caller-Caller-ID-Number"),
        "caller_name": (h.get("variable_user_name") and h.get("variable_effective_caller_id_name"))
        or h.get("Caller-Caller-ID-Name"),
        "callee": h.get("Caller-Destination-Number"),
        "channel": h.get("Channel-Name") or h.get("variable_channel_name"),
        "context": h.get("Caller-Context"),
        "start": start,
        "answer": answer,
        "end": end,
        "duration": duration or 0,
        "billsec": billsec,
        "hangup_cause": h.get("Hangup-Cause") or h.get("variable_hangup_cause"),
        "vars": variables,
        "path": _engine_path(h.get(vocab.event_header(vocab.PATH))),
    }
    parent = leg_of(h)
    if parent:
        record["leg_of"] = parent
    return record


def _engine_path(text: str | None) -> list | None:
    """The call engine's decision path (``pult_path``, JSON kept on the channel by the engine):
    the steps taken and the legs rung with their results. ``None`` for a call the engine did
    not run; a value that does not parse is kept as text so nothing is lost."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return [{"step": "unparsed", "text": text}]
    return value if isinstance(value, list) else [{"step": "unparsed", "text": text}]


def _to_json(record: dict) -> str:
    return json.dumps({k: ({"$dt": v.isoformat()} if isinstance(v, datetime) else v)
                       for k, v in record.items()}, ensure_ascii=False)


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def _from_json(line: str) -> dict:
    data = json.loads(line)
    return {k: (datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) and "$dt" in v else v)
            for k, v in data.items()}


class CdrWriter:
    """Turns hang-up events into stored records; see the module docstring.

    ``save(record) -> bool`` is the storage call (``save_call_record`` bound to the store's db);
    it may raise on a storage failure, and is retried.
    """

    def __init__(self, save: Callable[[dict], Awaitable[bool]], *,
                 spool_path: Path | None = None, retry_min: float = 0.2, retry_max: float = 30.0,
                 seen_size: int = 100_000) -> None:
        self._save = save
        self.spool_path = spool_path
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._seen_size = seen_size
        self._pending: dict[str, dict] = {}  # uuid -> record, until stored
        self._attempts: dict[str, int] = {}  # uuid -> failed attempts, for records that failed
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.stored = 0
        self.duplicates = 0
        self.failures = 0

    # ------------------------------------------------------------------ intake
    def handle_event(self, node: str, event: EslEvent) -> None:
        """Take a CHANNEL_HANGUP_COMPLETE (others are ignored). Never blocks, never raises."""
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        try:
            record = record_from_event(event, node)
        except ValueError as exc:
            log.error("unusable CHANNEL_HANGUP_COMPLETE", node=node, error=str(exc))
            return
        self.add(record)

    def add(self, record: dict) -> bool:
        """Queue ``record`` unless its uuid was seen recently; returns whether it was queued."""
        uuid = record["uuid"]
        if uuid in self._seen or uuid in self._pending:
            self.duplicates += 1
            return False
        self._remember(uuid)
        self._pending[uuid] = record
        self._idle.clear()
        self._queue.put_nowait(uuid)
        return True

    async def store_now(self, record: dict) -> bool:
        """Store ``record`` before returning (the switch's CDR delivery waits for this answer and
        retries on an error, so nothing is kept in memory only); False if already stored."""
        uuid = record["uuid"]
        if uuid in self._seen and uuid not in self._pending:
            self.duplicates += 1
            return False
        inserted = await self._save(record)  # raises on a storage failure: the switch retries
        self._remember(uuid)
        if not inserted:
            self.duplicates += 1
        else:
            self.stored += 1
            CALL_RECORDS.labels(record.get("node") or "").inc()
        return bool(inserted)

    def _remember(self, uuid: str) -> None:
        self._seen[uuid] = None
        if len(self._seen) > self._seen_size:
            self._seen.popitem(last=False)

    @property
    def pending(self) -> int:
        """Records not stored yet (waiting, or retrying after a storage failure)."""
        return len(self._pending)

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until every queued record is stored (tests, shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._load_spool()
        self._task = asyncio.create_task(self._run(), name="cdr-writer")

    async def stop(self, timeout: float = 5.0) -> None:
        """Store what can be stored within ``timeout``; spool the rest to disk."""
        if self._task is None:
            return
        try:
            await self.drained(timeout)
        except asyncio.TimeoutError:
            pass
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self._write_spool()

    # ------------------------------------------------------------------ storing
    async def _run(self) -> None:
        consecutive = 0  # failures in a row with no success in between: the store is down
        while True:
            uuid = await self._queue.get()
            record = self._pending.get(uuid)
            if record is not None:
                if await self._store(record):
                    consecutive = 0
                else:
                    # to the back of the queue: the records behind it get their turn first
                    self._queue.put_nowait(uuid)
                    delay = min(self.retry_max, self.retry_min * 2 ** min(consecutive, 20))
                    consecutive += 1
                    await asyncio.sleep(random.uniform(delay / 2, delay))
            if not self._pending:
                self._idle.set()

    async def _store(self, record: dict) -> bool:
        """One attempt; True when the record is stored (or was already), False to retry it."""
        uuid = record["uuid"]
        try:
            inserted = await self._save(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store is down or refuses this record: keep it, retry
            self.failures += 1
            attempts = self._attempts.get(uuid, 0) + 1
            self._attempts[uuid] = attempts
            log.warning("call record not stored yet, retrying", uuid=uuid, error=str(exc),
                        attempt=attempts, pending=len(self._pending))
            if attempts == 1:
                await self._spool_append(record)
            return False
        self._pending.pop(uuid, None)
        self._attempts.pop(uuid, None)
        if inserted:
            self.stored += 1
            CALL_RECORDS.labels(record.get("node") or "").inc()
        else:
            self.duplicates += 1
        return True

    # ------------------------------------------------------------------ spool
    async def _spool_append(self, record: dict) -> None:
        """Append a record that could not be stored to the spool (fsynced, in a thread), so a
        crash before it is stored does not lose it. A spool that cannot be written is logged:
        the record still waits in memory."""
        if self.spool_path is None:
            return
        line = _to_json(record) + "\n"
        try:
            await asyncio.to_thread(_append_line, self.spool_path, line)
        except OSError as exc:
            log.error("call record could not be spooled to disk; it waits in memory only",
                      uuid=record["uuid"], path=str(self.spool_path), error=str(exc))

    def _write_spool(self) -> None:
        """Replace the spool with the records still pending (or remove it when none are).

        The spool read at start stays on disk until this point, so a crash in between loses
        nothing: it is read again, and storing is idempotent.
        """
        if not self._pending:
            if self.spool_path is not None and self.spool_path.exists():
                self.spool_path.unlink()
            return
        if self.spool_path is None:
            log.error("call records could not be stored and there is no spool file",
                      lost=len(self._pending))
            return
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.spool_path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for record in self._pending.values():
                f.write(_to_json(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.spool_path)
        log.warning("call records spooled to disk until the store is back",
                    count=len(self._pending), path=str(self.spool_path))

    def _load_spool(self) -> None:
        if self.spool_path is None or not self.spool_path.exists():
            return
        loaded = 0
        for line in self.spool_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    loaded += self.add(_from_json(line))
                except (ValueError, KeyError) as exc:
                    log.error("bad line in call record spool", error=str(exc))
        if loaded:
            log.info("call records from spool queued again", count=loaded)
