"""The outbound server's FlowRunner: every call FreeSWITCH hands to Pult runs the engine.

    flow = EngineFlow(store.db, prompts=catalogue, spool_dir="/var/spool/pult")
    OutboundServer(hub, flow)     # the composition root wires this

Per call: read what the dialplan put on the channel (``pult_pbx_id``, ``pult_source``,
``pult_number_id``, ``pult_scheme_id``; see :mod:`fs_config.tenant_providers`), get the PBX
snapshot (kept per PBX while its change counters stand still:
:class:`~esl_control.model.effective.SnapshotCache`), then run PRODUCT.md §4.1 (a number) or an
internal call (a tenant phone).
Nothing escapes as an exception that leaves the caller in silence: a call whose PBX cannot be
loaded hears "the call failed" and is hung up, with the reason logged and in ``pult_path``.
"""
from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from datetime import datetime
from typing import Any, Callable

from esl_control.model import vocabulary as vocab
from esl_control.model.effective import PbxSnapshot, SnapshotCache
from esl_control.model.webhooks import services as webhook_services
from pult import clock as pult_clock

from .channel import Media
from .engine import CallContext, Engine
from .inbound import run_inbound, run_internal
from .live import MISSING_PROMPT, LiveChannel, PromptSource
from .shared import LocalCallState

log = logging.getLogger(__name__)

__all__ = ["EngineFlow"]

SNAPSHOT_TIMEOUT = 5.0
#: what may stand in a transfer's extension and context (``uuid_transfer`` splits at spaces)
_TRANSFER_WORD = re.compile(r"^[0-9A-Za-z_.@+*#-]{1,128}$")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


class EngineFlow:
    """Implements :class:`esl_control.outbound_server.FlowRunner` with the call engine."""

    def __init__(self, db: Any, *, prompts: PromptSource | None = None, spool_dir: str = "/var/spool/pult",
                 sound_url: Callable[[int, str], str] | None = None,
                 load: Callable[..., Any] | None = None, clock: Callable[[], datetime] | None = None,
                 shared: Any = None) -> None:
        self.db = db
        self.prompts = prompts
        self.spool_dir = spool_dir
        self.sound_url = sound_url  # (pbx id, sound id) -> URL the switch fetches the sound from
        self.clock = clock or pult_clock.now
        #: the PBX snapshots, kept while their configuration is unchanged (two small reads a call)
        self.snapshots = SnapshotCache(db)
        self.load = load or (lambda pbx_id: self.snapshots.get(pbx_id, self.clock()))
        self.engine = Engine()
        #: current calls per PBX and the idle clock: RedisCallState with several Pult instances
        self.shared = shared or LocalCallState()
        self.random = random.Random()
        #: the live channels of the calls running now (by uuid): what a hand-off needs to know
        self._running: dict[str, LiveChannel] = {}
        #: this instance's outbound address, named in a handed-off call (set by the composition root)
        self.instance_name: str = ""

    def handoff_target(self, call: Any, others_live: bool) -> tuple[str, dict[str, str]]:
        """Where a call goes when this instance stops cleanly (``OutboundServer.hand_off``): the
        ``uuid_transfer`` target and the variables to set first.

        With another instance live: the call's own destination in its own context
        (``<destination> XML <context>``), so the dialplan lookup is answered again — by an
        instance still live, which runs the PBX's scheme from its start (FreeSWITCH's
        ``switch_ivr_session_transfer`` stops whatever plays, keeps the channel and its variables
        and routes it anew; ``pult_handed_off`` tells the next instance). Without one (or when the
        destination cannot be named): the switch's own goodbye, an ``inline`` dialplan that answers,
        plays "the call cannot be connected, please call later" in the PBX's language and hangs
        up — never silence."""
        channel = self._running.get(call.uuid)
        variables = {vocab.HANDED_OFF: self.instance_name or "unknown"}
        dest = call.destination or ""
        context = call.channel_data.get("Caller-Context") or call.variable(vocab.CONTEXT) or ""
        if others_live and _TRANSFER_WORD.match(dest) and _TRANSFER_WORD.match(context):
            return f"{dest} XML {context}", variables
        if channel is None:
            channel = self._channel(call, "ru", [])
        goodbye = channel.media_path(Media.phrase("call_failed"))
        if any(c.isspace() for c in goodbye) or ("," in goodbye and "^" in goodbye):
            log.warning("call %s: prompt path %r cannot be named in an inline dialplan: a tone instead",
                        call.uuid, goodbye)
            goodbye = MISSING_PROMPT
        apps = ["answer", f"playback:{goodbye}", "hangup:NORMAL_CLEARING"]
        # mod_dptools inline_dialplan_hunt: ``app:data`` separated by ``,``, or by the character
        # named in a leading ``m:<c>:`` (a tone_stream has commas)
        plan = ",".join(apps) if "," not in goodbye else "m:^:" + "^".join(apps)
        return f"{plan} inline", variables

    async def call_recorded(self, record: dict) -> None:
        """A call's record was stored (from the hang-up event, the switch's own CDR delivery or
        a NODE_LOST closing): it is over, so it no longer counts against its PBX's and trunks'
        limits. The flow counts its calls out itself when it ends; this covers the calls of a
        Pult instance that died mid-call (before :data:`~esl_control.flow.shared.STALE_AFTER`)."""
        uuid, pbx_id = record.get("uuid"), record.get("pbx_id")
        if not uuid or not isinstance(pbx_id, int):
            return
        trunk_id = (record.get("vars") or {}).get(vocab.TRUNK_ID)
        pairs: list[tuple[int | str, str]] = [(pbx_id, uuid)]
        if trunk_id:
            pairs.append((f"trunk:{trunk_id}", uuid))
        # the lines of the trunks it rang out through (an outbound call, a scheme's forward: the
        # engine's path names them), held as the call's uuid or, for the trunk it came in
        # through, as "<uuid>/out" (flow/targets.py trunk_line_member)
        rung = sorted({str(e["target"]) for e in record.get("path") or ()
                       if isinstance(e, dict) and e.get("step") == "ring"
                       and str(e.get("target") or "").startswith("trunk:")})
        for line in rung:
            pairs += [(line, uuid), (line, f"{uuid}/out")]
        await self.shared.leave_each(pairs)  # one round trip to Redis

    def _channel(self, call: Any, language: str, ctx_path: list[dict], pbx_id: int | None = None,
                 platform_gateways: tuple[str, ...] = ()) -> LiveChannel:
        return LiveChannel(call, prompts=self.prompts, language=language, spool_dir=self.spool_dir,
                           platform_gateways=platform_gateways, sound_url=self.sound_url, pbx_id=pbx_id,
                           path_source=lambda: ctx_path)

    async def run(self, call: Any) -> None:
        pbx_id = _int(call.variable(vocab.PBX_ID))
        source = call.variable(vocab.SOURCE) or vocab.SOURCE_NUMBER
        if pbx_id is None:
            log.warning("call %s has no PBX (pult_pbx_id): rejected", call.uuid)
            await call.hangup("UNALLOCATED_NUMBER")
            return
        path: list[dict] = []
        started = time.monotonic()
        try:
            # asyncio.timeout, not wait_for: no task of its own, so a kept snapshot (no store read)
            # does not give the loop away before the call's first command
            async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                snap: PbxSnapshot | None = await self.load(pbx_id)
        except Exception as exc:  # the store is down or slow: the caller is told, not left in silence
            log.exception("PBX %s could not be loaded for call %s", pbx_id, call.uuid)
            path.append({"step": "problem", "reason": "snapshot_failed", "detail": f"{type(exc).__name__}: {exc}"})
            channel = self._channel(call, "ru", path)
            await channel.answer()
            await channel.play(Media.phrase("call_failed"))
            await channel.hangup("NORMAL_TEMPORARY_FAILURE")
            return
        if snap is None:
            log.warning("call %s: PBX %s does not exist: rejected", call.uuid, pbx_id)
            await call.hangup("UNALLOCATED_NUMBER")
            return
        channel = self._channel(call, snap.language, path, pbx_id, snap.platform_gateways)
        handed_from = call.variable(vocab.HANDED_OFF)
        if handed_from:  # another instance stopped while this caller was in its scheme
            path.append({"step": "handed_off", "from": handed_from})
        # webhooks "call.started": stored and queued off the call's path, and only when a subscription
        # of the PBX wants it (the snapshot knows: no store read, and no store work competing with
        # the call's first command for the interpreter, for the PBXs nobody subscribed for)
        if self.db is not None and snap.wants_webhook("call.started"):
            webhook_services.emit_soon(self.db, pbx_id, "call.started", {
                "call_id": call.uuid, "caller": call.caller, "callee": call.destination,
                "direction": "internal" if source in (vocab.SOURCE_SIP_USER, vocab.SOURCE_INTERNAL) else "inbound",
                "started_at": self.clock()}, event_id=f"call.started:{call.uuid}")
        number = snap.number(call.variable(vocab.NUMBER_ID), call.variable(vocab.NUMBER) or call.destination)
        ctx = CallContext(snap, channel, self.clock(), call.caller, call.destination, path=path, number=number,
                          random=self.random, shared=self.shared,
                          caller_employee=snap.employee(call.variable(vocab.EMPLOYEE_ID)),
                          elapsed=lambda: time.monotonic() - started)
        trunk_id = call.variable(vocab.TRUNK_ID)  # a call from a customer's trunk uses one of its lines
        ctx.via_trunk = trunk_id or None
        counters: list[int | str] = [pbx_id, f"trunk:{trunk_id}"] if trunk_id else [pbx_id]
        # the PBX's and the trunk's current calls in one round trip (Redis: one pipeline)
        current, trunk_calls = (await self.shared.enter_all(counters, call.uuid) + [None])[:2]
        trunk_lines = int((snap.trunks.get(trunk_id) or {}).get("lines") or 0) if trunk_id else 0
        self._running[call.uuid] = channel
        try:
            if source in (vocab.SOURCE_SIP_USER, vocab.SOURCE_INTERNAL):
                await run_internal(ctx, self.engine)
            else:
                over = (lambda: (snap.max_calls is not None and current is not None and current > snap.max_calls)
                        or (trunk_lines > 0 and trunk_calls is not None and trunk_calls > trunk_lines))
                await run_inbound(ctx, self.engine, scheme_id=call.variable(vocab.SCHEME_ID), over_limit=over)
            if not channel.gone:  # every way out hangs up; this one keeps the path on the switch too
                await channel.hangup("NORMAL_CLEARING")
        except Exception as exc:
            if type(exc).__name__ == "CallGone":
                raise
            log.exception("call %s: the engine failed", call.uuid)
            ctx.note("problem", reason="engine_error", detail=f"{type(exc).__name__}: {exc}")
            if not channel.gone:
                try:
                    await channel.play(Media.phrase("call_failed"))
                finally:
                    await channel.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            self._running.pop(call.uuid, None)
            await self.shared.leave_all(counters, call.uuid)
            for entry in path:
                if entry.get("step") == "ring" and entry.get("answered_by"):
                    await self.shared.finished(pbx_id, entry["answered_by"].split("/")[0])

