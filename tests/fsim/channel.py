"""The channel model: state, caller profile, variables, and the events it fires.

Field sets and their order follow the recorded events
(/work/shared/freeswitch/traces): the channel block (Channel-State … Answer-State,
codecs), the caller profile (``Caller-*``; ``Channel-*`` in CHANNEL_DATA;
``Other-Leg-*`` once bridged) and the channel variables (``variable_*``).

Variables keep FreeSWITCH's ordering rule: setting a variable removes it and
appends it at the end, which is what makes ``variable_current_application``
move around in the traces.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .events import Event, local_stamp

if TYPE_CHECKING:  # pragma: no cover
    from .server import FreeSwitchSimulator

STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9,
    "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12,
}

#: Q.850 codes of the hangup causes a PBX flow meets.
HANGUP_CAUSES = {
    "UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22, "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28,
    "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42, "REQUESTED_CHAN_UNAVAIL": 44,
    "BEARERCAPABILITY_NOTAVAIL": 58, "INCOMPATIBLE_DESTINATION": 88, "RECOVERY_ON_TIMER_EXPIRE": 102,
    "ORIGINATOR_CANCEL": 487, "ALLOTTED_TIMEOUT": 602, "MANAGER_REQUEST": 503, "LOSE_RACE": 502,
    "ATTENDED_TRANSFER": 601, "USER_NOT_REGISTERED": 606, "MEDIA_TIMEOUT": 604,
}

#: Events that carry no ``variable_*`` headers (as recorded).
EVENTS_WITHOUT_VARIABLES = {"DTMF", "CHANNEL_STATE", "CHANNEL_CALLSTATE"}

DTMF_DIGITS = set("0123456789*#ABCDabcd")

_session_ids = itertools.count(1)
_hangup_order = itertools.count(1)


class HangupError(Exception):
    """Raised inside an application when the channel hangs up under it."""


@dataclass
class Profile:
    """The caller profile (what ``Caller-*`` headers show)."""

    direction: str
    logical_direction: str
    caller_id_number: str
    destination_number: str
    caller_id_name: str | None = None
    orig_caller_id_number: str | None = None
    orig_caller_id_name: str | None = None
    callee_id_name: str | None = "Outbound Call"
    callee_id_number: str | None = "default"
    ani: str | None = None
    source: str = "mod_loopback"
    context: str = "default"
    dialplan: str = "xml"
    username: str | None = None       # SIP legs: the authenticated user (``Caller-Username``)
    network_addr: str | None = None   # SIP legs: the phone's address (``Caller-Network-Addr``)
    transfer_source: str | None = None  # set on the profile a transfer creates
    rdnis: str | None = None          # the destination before a transfer
    index: int = 1                    # ``Caller-Profile-Index``: 2 after one transfer
    created_us: int = 0               # ``Caller-Profile-Created-Time`` (0: when the channel was created)


class Channel:
    """One call leg inside the simulator."""

    def __init__(
        self,
        sim: "FreeSwitchSimulator",
        *,
        name: str,
        profile: Profile,
        uuid: str | None = None,
        direction: str = "inbound",
        variables: list[tuple[str, str]] | None = None,
    ):
        self.sim = sim
        self.uuid = uuid or str(uuidlib.uuid4())
        self.name = name
        self.profile = profile
        self.direction = direction
        self.session_id = next(_session_ids)
        self.created_us = sim.clock.now_us()
        self.answered_us = 0
        self.progress_us = 0
        self.progress_media_us = 0
        self.hangup_us = 0
        self.transfer_us = 0
        self.bridged_us = 0
        self.end_us = 0
        self.state = "CS_INIT"
        self.state_number = 2
        self.call_state = "DOWN"
        self.answer_state = "ringing"
        self.hit_dialplan = direction == "inbound"
        self.hangup_cause: str | None = None
        self.hangup_seq = 0  # order of hangups across the node (who hung up first in a bridge)
        self.other_leg: Channel | None = None
        self.other_type = "originatee"
        # ``Other-Leg-*`` is a copy of the other leg's profile taken when the legs were
        # linked (the originator's with zero times at CREATE, the originatee's at BRIDGE)
        self.other_leg_block: list[tuple[str, str]] | None = None
        self.cid_flipped = False
        self.fax_rx: str | None = None     # rxfax running: the path it writes
        self.fax_session: Any = None       # fax.FaxSession once a txfax found this receiver
        self.fax_done = False              # the receiver got every page
        self.fax_detect: Any = None        # fax.FaxDetect: spandsp_start_fax_detect armed
        self.caller_fax: Any = None        # fax.RemoteFax: the far end is a fax machine (CNG)
        self.sip: Any = None               # sip.SipCall for a leg from a registered phone
        self.loopback_peer: Channel | None = None  # the other half of a loopback/ pair
        self.socket_controlled = False  # an outbound socket drives it: keep DTMF queued for its apps
        self.socket_lost = False  # that socket closed while the call was up (park then ends)
        self.talk_seconds = sim.record_talk_seconds
        self.app_queue: list[tuple[str, str, str | None]] = []
        self.transfer_request: tuple[str, str, str] | None = None
        self.vars: dict[str, str] = {}
        for k, v in variables or []:
            self.set_var(k, v)
        self.digits_dialed = ""
        self.last_app: str | None = None
        self.last_arg: str | None = None
        self.current_app: str | None = None
        self.dtmf_queue: list[str] = []
        self._wakeup = asyncio.Event()
        self._break = False
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.answered = asyncio.Event()
        self.history: list[Event] = []  # every event fired for this channel
        self.destroyed = False

    # -- variables ------------------------------------------------------------
    def set_var(self, name: str, value: Any) -> None:
        """Set like ``switch_channel_set_variable``: remove, then append (None removes)."""
        self.vars.pop(name, None)
        if value is not None:
            self.vars[name] = str(value)

    def push_var(self, name: str, value: str) -> None:
        """Append to an array variable in place (``ARRAY::a|:b``), like switch_channel_add_variable_var_check push."""
        old = self.vars.get(name)
        if old is None:
            self.vars[name] = value
        elif old.startswith("ARRAY::"):
            self.vars[name] = f"{old}|:{value}"
        else:
            self.vars[name] = f"ARRAY::{old}|:{value}"

    def get_var(self, name: str, default: str | None = None) -> str | None:
        return self.vars.get(name, default)

    @property
    def hungup(self) -> bool:
        return self.hangup_cause is not None

    # -- header blocks --------------------------------------------------------
    def channel_block(self) -> list[tuple[str, str]]:
        h = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Call-UUID", self.vars.get("call_uuid", self.uuid)),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            h.append(("Hangup-Cause", self.hangup_cause))
        codec = self.vars.get("read_codec", "L16")
        rate = self.vars.get("read_rate", "8000")
        bit_rate = str(int(rate) * 16) if codec == "L16" else "64000"
        h += [
            ("Channel-Read-Codec-Name", codec),
            ("Channel-Read-Codec-Rate", rate),
            ("Channel-Read-Codec-Bit-Rate", bit_rate),
            ("Channel-Write-Codec-Name", codec),
            ("Channel-Write-Codec-Rate", rate),
            ("Channel-Write-Codec-Bit-Rate", bit_rate),
        ]
        return h

    def profile_block(self, prefix: str, with_index: bool = True, *, zero_times: bool = False,
                      profile: Profile | None = None) -> list[tuple[str, str]]:
        """``Caller-*`` (or ``Channel-*``/``Other-Leg-*``) in switch_caller_profile_event_set_data order."""
        p = profile or self.profile
        h = [
            (f"{prefix}-Direction", p.direction),
            (f"{prefix}-Logical-Direction", p.logical_direction),
        ]
        if p.username is not None:
            h.append((f"{prefix}-Username", p.username))
        h.append((f"{prefix}-Dialplan", p.dialplan))
        if p.caller_id_name is not None:
            h.append((f"{prefix}-Caller-ID-Name", p.caller_id_name))
        h.append((f"{prefix}-Caller-ID-Number", p.caller_id_number))
        if p.orig_caller_id_name is not None:
            h.append((f"{prefix}-Orig-Caller-ID-Name", p.orig_caller_id_name))
        h.append((f"{prefix}-Orig-Caller-ID-Number", p.orig_caller_id_number or p.caller_id_number))
        if p.callee_id_name is not None:
            h.append((f"{prefix}-Callee-ID-Name", p.callee_id_name))
        if p.callee_id_number is not None:
            h.append((f"{prefix}-Callee-ID-Number", p.callee_id_number))
        if p.network_addr is not None:
            h.append((f"{prefix}-Network-Addr", p.network_addr))
        h += [
            (f"{prefix}-ANI", p.ani or p.caller_id_number),
            (f"{prefix}-Destination-Number", p.destination_number),
            (f"{prefix}-Unique-ID", self.uuid),
            (f"{prefix}-Source", p.source),
        ]
        if p.transfer_source is not None:
            h.append((f"{prefix}-Transfer-Source", p.transfer_source))
        h.append((f"{prefix}-Context", p.context))
        if p.rdnis is not None:
            h.append((f"{prefix}-RDNIS", p.rdnis))
        h.append((f"{prefix}-Channel-Name", self.name))
        if with_index:
            h.append((f"{prefix}-Profile-Index", str(p.index)))

        def t(value: int) -> str:
            return "0" if zero_times else str(value)

        h += [
            (f"{prefix}-Profile-Created-Time", t(p.created_us or self.created_us)),
            (f"{prefix}-Channel-Created-Time", t(self.created_us)),
            (f"{prefix}-Channel-Answered-Time", t(self.answered_us)),
            (f"{prefix}-Channel-Progress-Time", t(self.progress_us)),
            (f"{prefix}-Channel-Progress-Media-Time", t(self.progress_media_us)),
            (f"{prefix}-Channel-Hangup-Time", t(self.hangup_us)),
            (f"{prefix}-Channel-Transfer-Time", t(self.transfer_us)),
            (f"{prefix}-Channel-Resurrect-Time", "0"),
            (f"{prefix}-Channel-Bridged-Time", t(self.bridged_us)),
            (f"{prefix}-Channel-Last-Hold", "0"),
            (f"{prefix}-Channel-Hold-Accum", "0"),
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        ]
        return h

    def link_other_leg(self, other: "Channel", other_type: str, *, zero_times: bool = False) -> None:
        """Point ``Other-Leg-*`` at ``other``: a snapshot of its profile, as FreeSWITCH clones it."""
        self.other_leg, self.other_type = other, other_type
        clone = Profile(**{**other.profile.__dict__, "logical_direction": "inbound"})  # as the clone shows
        self.other_leg_block = other.profile_block("Other-Leg", with_index=False, zero_times=zero_times,
                                                   profile=clone)

    def flip_cid(self) -> None:
        """``switch_channel_flip_cid``: an outbound leg entering its dialplan shows the callee as caller."""
        if self.cid_flipped:
            return
        self.cid_flipped = True
        p = self.profile
        old_name, old_number = p.caller_id_name, p.caller_id_number
        p.orig_caller_id_number = p.orig_caller_id_number or old_number  # these stay the original caller
        p.ani = p.ani or old_number
        if p.callee_id_name:
            self.set_var("pre_transfer_caller_id_name", old_name)
            p.caller_id_name = p.callee_id_name
        p.callee_id_name = None
        if p.callee_id_number:
            self.set_var("pre_transfer_caller_id_number", old_number)
            p.caller_id_number = p.callee_id_number
        p.callee_id_number = old_number
        self.set_var("channel_cid_flipped", "yes")

    def enter_dialplan(self) -> None:
        """An originated (outbound) leg starts its application or extension."""
        if self.direction == "outbound" and not self.cid_flipped:
            self.flip_cid()
            self.set_var("call_uuid", self.uuid)
        self.hit_dialplan = True

    def new_profile_for_transfer(self, dest: str, dialplan: str, context: str) -> None:
        """``switch_ivr_session_transfer``: max_forwards, transfer_* variables, a new caller profile."""
        now = self.sim.clock.now_us()
        forwards = self.get_var("max_forwards")
        self.set_var("max_forwards", int(forwards) - 1 if forwards and forwards.isdigit() else 70)
        source = f"{now // 1_000_000}:{uuidlib.uuid4()}:bl_xfer:{dest}/{context}/{dialplan}"
        self.push_var("transfer_history", source)
        self.set_var("transfer_source", source)
        old = self.profile
        self.profile = Profile(**{**old.__dict__, "destination_number": dest, "dialplan": dialplan,
                                  "context": context, "transfer_source": source, "rdnis": old.destination_number,
                                  "index": old.index + 1, "created_us": now})

    def variable_block(self) -> list[tuple[str, str]]:
        return [(f"variable_{k}", v) for k, v in self.vars.items()]

    def build_event(
        self,
        name: str,
        extra: list[tuple[str, str]] | None = None,
        *,
        pre: list[tuple[str, str]] | None = None,
        subclass: str | None = None,
        site: tuple[str, str, str] | None = None,
        with_vars: bool | None = None,
    ) -> Event:
        """Common block, [pre], channel block, Caller-*, [Other-Leg-*], variables, extra."""
        headers = self.sim.factory.common(name, subclass=subclass, site=site)
        headers += pre or []
        headers += self.channel_block()
        headers += self.profile_block("Caller")
        if self.other_leg is not None:
            headers.append(("Other-Type", self.other_type))
            headers += self.other_leg_block or self.other_leg.profile_block("Other-Leg", with_index=False)
        if with_vars if with_vars is not None else name not in EVENTS_WITHOUT_VARIABLES:
            headers += self.variable_block()
        headers += extra or []
        return Event(headers)

    def channel_data_headers(self) -> list[tuple[str, str]]:
        """The header block of CHANNEL_DATA (the outbound ``connect`` reply)."""
        headers = self.sim.factory.common("CHANNEL_DATA")
        headers += self.profile_block("Channel")
        headers += self.channel_block()
        headers += self.profile_block("Caller")
        headers += self.variable_block()
        return headers

    def fire(self, name: str, extra: list[tuple[str, str]] | None = None, **kw: Any) -> Event:
        event = self.build_event(name, extra, **kw)
        self.history.append(event)
        self.sim.dispatch(event)
        return event

    # -- waiting primitives used by the applications --------------------------
    def _poke(self) -> None:
        self._wakeup.set()

    async def wait_input(self, sim_seconds: float | None, *, dtmf: bool = True,
                         queue: bool = False, until: Callable[[], bool] | None = None) -> tuple[str, str | None]:
        """Wait up to ``sim_seconds`` for a DTMF digit, a hangup or a break.

        Returns ``("dtmf", digit)``, ``("timeout", None)``, ``("hangup", None)``
        or ``("break", None)``. A digit is dequeued (and its DTMF event fired)
        only when ``dtmf`` is true, as FreeSWITCH only dequeues when an
        application reads input.
        """
        loop = asyncio.get_running_loop()
        deadline = None if sim_seconds is None else loop.time() + max(0.0, sim_seconds) * self.sim.clock.time_scale
        while True:
            if self.hungup:
                return "hangup", None
            if self._break:
                self._break = False
                return "break", None
            if dtmf and self.dtmf_queue:
                return "dtmf", self._dequeue_dtmf()
            if queue and (self.app_queue or self.transfer_request):
                return "queued", None
            if until is not None and until():
                return "until", None
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return "timeout", None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def _dequeue_dtmf(self) -> str:
        digit = self.dtmf_queue.pop(0)
        self.digits_dialed += digit
        self.fire("DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN")])
        return digit

    def queue_dtmf(self, digits: str) -> None:
        """DTMF arriving on this leg (the caller pressing keys)."""
        bad = [d for d in digits if d not in DTMF_DIGITS]
        if bad:
            raise ValueError(f"invalid DTMF digits {''.join(bad)!r} (allowed: 0-9 * # A-D)")
        if self.hungup:
            return
        self.dtmf_queue.extend(d.upper() for d in digits)
        self._poke()

    def enqueue_app(self, app: str, arg: str = "", app_uuid: str | None = None) -> None:
        """Queue an application for the park loop (sendmsg execute, uuid_broadcast)."""
        self.app_queue.append((app, arg, app_uuid))
        self._poke()

    def request_break(self) -> None:
        """``uuid_break``: stop the running application."""
        self._break = True
        self._poke()

    # -- state changes ----------------------------------------------------------
    def mark_answered(self) -> bool:
        if self.answered_us or self.hungup:
            return False
        peer = self.loopback_peer
        if peer is not None and self.direction == "inbound" and not peer.answered_us:
            peer.mark_answered()  # loopback: the A leg is answered first, as recorded
        self.answered_us = self.sim.clock.now_us()
        self.answer_state = "answered"
        if self.sip is not None:  # the 200 OK's SDP and the RTP session
            from .sip import answer_variables

            for k, v in answer_variables(self.sip):
                self.set_var(k, v)
        self.fire("CHANNEL_ANSWER")
        self.call_state = "ACTIVE"
        self.set_var("endpoint_disposition", "ANSWER")
        self.answered.set()
        self._poke()  # an originate waiting on this leg
        if self.other_leg is not None:
            self.other_leg._poke()  # a bridge waiting for its leg to answer
        return True

    def mark_pre_answered(self) -> None:
        if self.progress_media_us or self.answered_us or self.hungup:
            return
        self.progress_media_us = self.sim.clock.now_us()
        self.answer_state = "early"
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.call_state = "EARLY"
        self.set_var("endpoint_disposition", "EARLY MEDIA")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """Start hanging up: fire CHANNEL_HANGUP and wake the running application.

        The rest of the teardown (EXECUTE_COMPLETE of the interrupted app,
        UNPARK, CHANNEL_STATE, HANGUP_COMPLETE, DESTROY) is done by the task that
        runs the channel once the application returns, like the session thread
        does in FreeSWITCH.
        """
        if self.hungup:
            return False
        cause = cause.upper()
        self.hangup_cause = cause
        self.hangup_seq = next(_hangup_order)
        self.state_number = 10
        self.answer_state = "hangup"
        self.fire("CHANNEL_HANGUP")
        self._poke()
        if self.other_leg is not None:
            self.other_leg._poke()  # a bridge waiting on us must notice
        self.sim._on_hangup(self)
        if self.loopback_peer is not None and not self.loopback_peer.hungup:
            # the other half of a loopback pair follows a moment later (as recorded)
            asyncio.get_running_loop().call_soon(self.loopback_peer.hangup, cause)
        return True

    def billing_variables(self) -> None:
        """Add the CDR variables CHANNEL_HANGUP_COMPLETE carries (as recorded)."""
        start, ans, end, bridge = self.created_us, self.answered_us, self.end_us, self.bridged_us
        prog, prog_media = self.progress_us, self.progress_media_us

        def sec(t: int) -> int:
            return t // 1_000_000

        def diff(a: int, b: int, unit: int) -> int:
            return (a // unit - b // unit) if a and b else 0

        cause = self.hangup_cause or "NORMAL_CLEARING"
        s = self.set_var
        s("hangup_cause", cause)
        s("hangup_cause_q850", HANGUP_CAUSES.get(cause, 16))
        s("digits_dialed", self.digits_dialed or "none")
        s("start_stamp", local_stamp(start))
        s("profile_start_stamp", local_stamp(start))
        if ans:
            s("answer_stamp", local_stamp(ans))
        if bridge:
            s("bridge_stamp", local_stamp(bridge))
        if prog:
            s("progress_stamp", local_stamp(prog))
        if prog_media:
            s("progress_media_stamp", local_stamp(prog_media))
        s("end_stamp", local_stamp(end))
        for label, t in (("start", start), ("profile_start", start), ("answer", ans), ("bridge", bridge),
                         ("last_hold", 0)):
            s(f"{label}_epoch", sec(t))
            s(f"{label}_uepoch", t)
        s("hold_accum_seconds", 0)
        s("hold_accum_usec", 0)
        s("hold_accum_ms", 0)
        for label, t in (("resurrect", 0), ("progress", prog), ("progress_media", prog_media), ("end", end)):
            s(f"{label}_epoch", sec(t))
            s(f"{label}_uepoch", t)
        if self.last_app:
            s("last_app", self.last_app)
            if self.last_arg:
                s("last_arg", self.last_arg)
        p = self.profile
        s("caller_id", f'"{p.caller_id_name}" <{p.caller_id_number}>' if p.caller_id_name else p.caller_id_number)
        for unit, suffix in ((1_000_000, "sec"), (1000, "msec"), (1, "usec")):
            dur = end // unit - start // unit
            first = {"sec": "duration", "msec": "mduration", "usec": "uduration"}[suffix]
            s(first, dur)
            s(f"bill{suffix}", diff(end, ans, unit))
            s(f"progress{suffix}", diff(prog, start, unit))
            s(f"answer{suffix}", diff(ans, start, unit))
            s(f"wait{suffix}", diff(bridge, start, unit))
            s(f"progress_media{suffix}", diff(prog_media, start, unit))
            s(f"flow_bill{suffix}", dur)
        if self.name.startswith("loopback/"):
            s("is_loopback", 1)

    async def finish(self, socket_app: tuple[str, str, str] | None = None, parked: bool = False) -> None:
        """Tear down after hangup: UNPARK, socket completion, states, HANGUP_COMPLETE, DESTROY."""
        if self.destroyed:
            return
        if parked:
            self.fire("CHANNEL_UNPARK")
        if socket_app is not None:
            app, arg, app_uuid = socket_app
            resp = self.get_var("current_application_response") or "_none_"
            self.fire("CHANNEL_EXECUTE_COMPLETE", [("Application", app), ("Application-Data", arg),
                                                   ("Application-Response", resp), ("Application-UUID", app_uuid)])
        await asyncio.sleep(0)  # let the other leg of a pair run its hangup first, as FreeSWITCH threads do
        self.state = "CS_HANGUP"
        self.fire("CHANNEL_STATE")
        self.end_us = self.sim.clock.now_us()
        self.hangup_us = self.end_us
        self.state = "CS_REPORTING"
        self.state_number = 11
        self.call_state = "HANGUP"
        self.fire("CHANNEL_STATE")
        self.billing_variables()
        self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.hangup_cause or "NORMAL_CLEARING")])
        self.sim._json_cdr(self)
        await self.sim._before_destroy(self)
        peer = self.loopback_peer
        if peer is not None and self.direction == "outbound" and not peer.destroyed:
            try:  # the A leg of a loopback pair is destroyed after its B leg
                await asyncio.wait_for(asyncio.shield(peer.ended), 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        self.state_number = 12
        self.fire("CHANNEL_DESTROY")
        self.destroyed = True
        self.sim._forget(self)
        if not self.ended.done():
            self.ended.set_result(self.hangup_cause or "NORMAL_CLEARING")

    def expand(self, text: str) -> str:
        """``${name}`` → the channel variable (``uuid`` and the rest), as switch_channel_expand_variables."""
        if "${" not in text:
            return text
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: self.vars.get(m.group(1), ""), text)

    # -- application execution --------------------------------------------------
    async def execute(self, app: str, arg: str = "", app_uuid: str | None = None, *, loops: bool = False) -> str:
        """Run one dialplan application with CHANNEL_EXECUTE / _COMPLETE around it.

        ``loops`` marks an application sent as a message (sendmsg, uuid_broadcast):
        those set current_loop/total_loops. Returns the Application-Response. An unknown application hangs the
        channel up with DESTINATION_OUT_OF_ORDER, as FreeSWITCH does.
        """
        from .apps import APPLICATIONS

        app_uuid = app_uuid or str(uuidlib.uuid4())
        arg = self.expand(arg)
        impl = APPLICATIONS.get(app)
        if impl is None:
            self.hangup("DESTINATION_OUT_OF_ORDER")
            return "_none_"
        if self.hungup:
            return "_none_"
        self.set_var("current_application_response", None)
        if loops:
            self.set_var("current_loop", "1")
            self.set_var("total_loops", "1")
        self.set_var("current_application", app)
        self.set_var("current_application_data", arg or None)
        head = [("Application", app)] + ([("Application-Data", arg)] if arg else [])
        self.fire("CHANNEL_EXECUTE", head + [("Application-UUID", app_uuid)])
        self.set_var("current_application_data", arg or None)
        self.set_var("current_application", app)
        self.last_app, self.last_arg = app, arg or None
        self._break = False  # switch_core_session_exec clears CF_BREAK before every application
        previous, self.current_app = self.current_app, app
        try:
            response = await impl(self, arg)
        finally:
            self.current_app = previous
        # an app that reports nothing (park) completes with what a nested app left (FILE PLAYED)
        response = response or self.get_var("current_application_response") or "_none_"
        self.fire("CHANNEL_EXECUTE_COMPLETE", head + [("Application-Response", response),
                                                      ("Application-UUID", app_uuid)])
        if loops:  # the message loop is over
            self.set_var("current_loop", None)
            self.set_var("total_loops", None)
        return response

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Channel {self.name} {self.uuid} {self.answer_state} {self.hangup_cause or ''}>"
