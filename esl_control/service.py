"""The ESL side of a Pult server process, started and stopped as one piece.

    service = EslService(settings, store)          # store: storage.client.Store (or None in tests)
    await service.start()
    service.nodes.snapshot(); service.outbound.port; service.cdr.pending
    await service.stop()

It owns the one gevent thread, the :class:`~esl_control.nodes.NodeManager` (inbound ESL to every
configured node), the :class:`~esl_control.outbound_server.OutboundServer` (calls from the
dialplan ``socket`` application) and the :class:`~esl_control.cdr.CdrWriter` that both feed with
CHANNEL_HANGUP_COMPLETE. Which FreeSWITCH it talks to is decided by settings alone
(``FREESWITCH_ESL``, ``PULT_OUTBOUND_HOST``/``PORT``).
"""
from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable

from esl_control.model import vocabulary as vocab
from esl_control.model.webhooks import services as webhook_services
from pult.observability import get_logger
from pult.settings import Settings

from .cdr import NODE_LOST, CdrWriter, record_from_headers, record_from_json_cdr
from .nodes import NodeManager
from .outbound_server import FlowRunner, OutboundServer
from .transport.hub import GeventThread

log = get_logger(__name__)

__all__ = ["EslService"]


async def _store_and_notify(db, on_stored: Callable[[dict], None] | None, record: dict) -> bool:
    """Store a call record once and, when this call stored it, hand it to ``on_stored`` (the
    composition root passes billing's ``jobs.billing.tasks.on_call_record``, which only enqueues a
    rating job: it never blocks or raises; a sweeper rates anything it missed)."""
    from storage.repos.calls import save_call_record

    inserted = await save_call_record(db, record)
    if inserted and on_stored is not None:
        # a leg that ends after its call's record was stored: the call is rated again (billing
        # waits for the answered legs it knows of, and a rated call is never charged twice)
        on_stored(record)
    return inserted


def bridged_call(h: Any) -> dict | None:
    """What ``call.answered`` tells, from a CHANNEL_BRIDGE's headers (None: not a tenant call)."""
    from .cdr import _int

    pbx_id = _int(h.get(vocab.event_header(vocab.PBX_ID)))
    uuid = h.get("Bridge-A-Unique-ID") or h.get("Unique-ID")
    if not pbx_id or pbx_id <= 0 or not uuid:
        return None
    return {"pbx_id": pbx_id, "call_id": uuid, "caller": h.get("Caller-Caller-ID-Number"),
            "callee": h.get("Caller-Destination-Number"),
            "answered_by": h.get("Other-Leg-Destination-Number") or h.get("Other-Leg-Caller-ID-Number"),
            "employee_id": h.get(vocab.event_header(vocab.EMPLOYEE_ID)) or None}


class EslService:
    """See the module docstring. ``save_record`` overrides the storage call (tests);
    ``on_record_stored`` is called with each record this process stored (billing's rating hook,
    wired by :mod:`pult.cli`)."""

    def __init__(self, settings: Settings, store: Any = None, *, flow: FlowRunner | None = None,
                 save_record: Callable[[dict], Awaitable[bool]] | None = None,
                 outbound: bool = True,
                 on_record_stored: Callable[[dict], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.hub = GeventThread()
        if save_record is None:
            if store is None:
                raise ValueError("EslService needs a store (or save_record) to keep call records")
            save_record = functools.partial(_store_and_notify, store.db, on_record_stored)
        self.cdr = CdrWriter(save_record, spool_path=settings.data_dir / "cdr_spool.jsonl",
                             retry_max=settings.esl_reconnect_max)
        self._flow = flow
        self._outbound_enabled = outbound
        self.nodes: NodeManager | None = None
        self.outbound: OutboundServer | None = None
        self._started = False

    def _node_of_call(self, data: dict, peer: Any) -> str:
        """Which configured node an outbound socket came from: by Core-UUID, then address."""
        assert self.nodes is not None
        return (self.nodes.node_for_core_uuid(data.get("Core-UUID"))
                or self.nodes.node_for_host(peer[0] if peer else None)
                or data.get("FreeSWITCH-Switchname") or data.get("FreeSWITCH-Hostname") or "unknown")

    async def store_json_cdr(self, doc: dict) -> bool:
        """Store one call record the switch delivered itself (mod_json_cdr, ``/fs/cdr``): the
        calls that ended while Pult was down or not connected. Stored once per call whichever
        way it arrives; raises ValueError for a document that is not a call record."""
        names = {n.name for n in self.settings.nodes}
        switchname = doc.get("switchname") if isinstance(doc.get("switchname"), str) else None
        node = (switchname if switchname in names else None) \
            or (self.nodes.node_for_core_uuid(doc.get("core-uuid")) if self.nodes else None) \
            or switchname or "unknown"
        return await self.cdr.store_now(record_from_json_cdr(doc, node))

    def _close_lost_calls(self, node: str, calls: list[dict]) -> None:
        """Calls that vanished with a crashed node: one record each, with what was known and the
        cause NODE_LOST (stored once: a record that arrives otherwise for the same call wins)."""
        for info in calls:
            headers = {k: v for k, v in info.items() if isinstance(v, str)}
            headers["Hangup-Cause"] = NODE_LOST
            created = int(headers.get("Caller-Channel-Created-Time") or 0) if \
                (headers.get("Caller-Channel-Created-Time") or "").isdigit() else 0
            # when Pult lost the node (never before the call's start on the switch's clock)
            headers["Caller-Channel-Hangup-Time"] = str(max(int(info["lost_at"]), created))
            try:
                record = record_from_headers(headers, node)
            except ValueError:
                continue
            record["vars"]["lost_state"] = info.get("Channel-Call-State") or info.get("Channel-State") or ""
            self.cdr.add(record)

    def _bridged(self, node: str, event: Any) -> None:
        """A tenant call was answered (CHANNEL_BRIDGE of its leg): the webhook ``call.answered``,
        emitted once per call (its event id is the call's) and off the event path."""
        call = bridged_call(event.headers)
        if call is not None:
            webhook_services.emit_soon(self.store.db, call.pop("pbx_id"), "call.answered", call,
                                       event_id=f"call.answered:{call['call_id']}")

    async def start(self) -> None:
        """Start the gevent thread, the record writer, the outbound server, then the nodes."""
        if self._started:
            return
        if self.hub._thread is not None:  # started before: a thread runs once, take a new one
            self.hub = GeventThread()
        self.hub.start()
        try:
            await self.cdr.start()
            self.nodes = NodeManager(self.settings, self.hub)
            self.nodes.on_event("CHANNEL_HANGUP_COMPLETE", self.cdr.handle_event)
            if self.store is not None:
                self.nodes.on_event("CHANNEL_BRIDGE", self._bridged)
            self.nodes.on_calls_lost(self._close_lost_calls)
            if self._outbound_enabled:
                self.outbound = OutboundServer.from_settings(self.settings, self.hub, self._flow,
                                                             resolve_node=self._node_of_call)
                self.outbound.on_event("CHANNEL_HANGUP_COMPLETE", self.cdr.handle_event)
                await self.outbound.start()
            await self.nodes.start()
        except BaseException:
            await self._shutdown()
            raise
        self._started = True
        log.info("ESL service started", nodes=len(self.nodes.nodes),
                 outbound_port=self.outbound.port if self.outbound else None)

    async def stop(self) -> None:
        """Stop calls and connections, store (or spool) pending call records, end the thread."""
        await self._shutdown()
        self._started = False
        log.info("ESL service stopped")

    async def _shutdown(self) -> None:
        if self.outbound is not None:
            await self.outbound.stop()
        if self.nodes is not None:
            await self.nodes.stop()
        await self.cdr.stop()
        await self.hub.stop()
