"""The live channel: the engine's intents as FreeSWITCH 1.10 applications on an outbound socket.

Every application and argument here is one mod_dptools / mod_spandsp of FreeSWITCH 1.10.12
accepts (``src/mod/applications/mod_dptools/mod_dptools.c``, ``switch_ivr_play_say.c``,
``switch_ivr_originate.c``):

==============  ===============================================================================
intent          what the switch is told
==============  ===============================================================================
answer          ``answer``
play            ``set playback_terminators=any|none`` (once per change), ``playback <file>``;
                the key that stopped it is ``variable_playback_terminator_used``
collect         ``play_and_get_digits <min> <max> 1 <timeout ms> <terminators> <file>
                silence_stream://150 menu_digits \\d+ <digit timeout ms>``; the digits are
                ``variable_menu_digits`` (cleared by the switch at the start, set on success)
ring            ``set call_timeout=N``, ``set ringback=…``/``transfer_ringback=…`` (an answered
                channel hears ``transfer_ringback``), ``set continue_on_fail=true``, ``set
                hangup_after_bridge=false`` (once), then ``bridge {origination_caller_id_number=…}
                [leg_timeout=N,origination_uuid=U,pult_target=<label>]ep1,[…]ep2`` (``,`` rings
                together; a trunk leg also ``pult_via_trunk=<trunk id>``: the leg's record says who
                it was and where it went, see esl_control/cdr.py; ``|``: the next platform gateway,
                with ``fail_on_single_reject=USER_BUSY:…`` for one leg); the result
                is ``variable_originate_disposition`` and which ``origination_uuid`` was bridged;
                per leg also ``origination_caller_id_number=…`` when that phone shows another
                number (the PBX's "caller id on incoming calls"; ``[]`` takes precedence over
                ``{}`` in switch_ivr_originate), ``execute_on_answer=send_dtmf W<ext>`` (a number's extension
                suffix) and, to announce the caller, ``group_confirm_key=exec`` with
                ``group_confirm_file=say <lang> number iterated <caller>`` (the answering leg
                runs mod_say before it is bridged: ``collect_thread_run`` in
                switch_ivr_originate.c)
pause           ``set playback_timeout_sec=N`` + ``playback <melody>`` (then ``sleep`` for what
                is left), or ``sleep <ms>``
record          a beep (``playback tone_stream://…``), ``record <path> <max s> 200 5``
receive fax     ``rxfax <path>`` (mod_spandsp); ``variable_fax_success``
fax tone        ``event plain DETECTED_TONE`` (once per call: ``myevents`` does not include it),
                ``spandsp_start_fax_detect set pult_fax_tone=true`` (mod_spandsp: ``<app> <arg>
                [<timeout>] [<tone type>]``, CNG by default; on a hit it fires DETECTED_TONE with
                ``Detected-Fax-Tone: true`` and queues ``set pult_fax_tone=true``, which runs after
                the current application); on that event ``api uuid_break <uuid>`` stops the
                playback (or the prompt of ``play_and_get_digits``: its digit wait does not
                look at the break flag and ends at its timeout); ``spandsp_stop_fax_detect``
                when the menu is left (also after a hit: the detector's slot stays taken
                until stopped — "Max Tones Reached!" otherwise)
conference      ``conference <room id>@pult_room_<room id>[+<pin>]`` (mod_conference reads the
                pin after ``+``, the profile after ``@``; Pult answers the profile's xml_curl)
hang up         ``hangup`` (``sendmsg call-command: hangup``)
call data       ``set pult_<name>=<value>`` (kept in the call record: ``pult_*`` variables)
==============  ===============================================================================

Sounds (greetings, melodies) are played as ``http_cache://<signed URL>`` (the URL maker is
injected: ``web.media.signing.sound_url``); prompts come from the injected prompt catalogue.

Endpoints: a SIP account ``user/<login>@<domain>`` (Pult's directory answers it), an external
number ``sofia/gateway/pult_platform_<id>/<number>`` through each enabled platform gateway in the
operator's order, ``|`` between them (failover; :func:`dial_string`), a trunk ``sofia/gateway/pult_trunk_<id>/
<number>``, a SIP URI ``sofia/external/<user@host>``.

This module does not import gevent: it only uses the :class:`~esl_control.outbound_server.Call`
object it is given.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid as uuidlib
from typing import Any, Callable, Iterator, Protocol, Sequence

from esl_control.model import vocabulary as vocab

from .channel import (ANSWERED, BUSY, CALLER_GONE, FAILED, NO_ANSWER, ChannelFailed, Collected, FaxReceived,
                      Leg, LegResult, Media, Recorded, RingResult)

log = logging.getLogger(__name__)

__all__ = ["LiveChannel", "PromptSource", "RU_RINGBACK", "BEEP", "endpoint", "endpoints", "dial_string",
           "NO_FAILOVER_CAUSES"]

#: the Russian ringback (425 Hz, 1 s on, 4 s off) when no melody is set
RU_RINGBACK = "%(1000,4000,425)"
BEEP = "tone_stream://%(500,0,1000)"
#: what a missing prompt is replaced by: a short tone, never silence
MISSING_PROMPT = "tone_stream://%(250,250,425);loops=2"
DIGITS_VAR = "menu_digits"
#: mod_spandsp's fax detector (CNG, no time limit: stopped when the menu is left); what it runs
#: on a hit only marks the call (the record's variables), the event does the rest
FAX_DETECT = f"set {vocab.FAX_TONE}=true"
NO_ANSWER_CAUSES = {"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE",
                    "ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF", "SUCCESS"}
BUSY_CAUSES = {"USER_BUSY", "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION"}
MAX_PATH_CHARS = 6000
_SAFE = re.compile(r"^[^\s{}\[\],|$']+$")


class PromptSource(Protocol):
    """The prompt catalogue the composition root injects (issue 12's "prompts" work)."""

    def sound_prefix(self, lang: str) -> str: ...

    def phrase_file(self, phrase_id: str, lang: str) -> str: ...

    def has(self, phrase_id: str, lang: str) -> bool: ...


def _retrieve(fut: "asyncio.Future") -> None:
    """Mark a background future's outcome as seen (no "exception was never retrieved")."""
    if not fut.cancelled():
        fut.exception()


def _safe(value: str, what: str) -> str:
    if not value or not _SAFE.match(value):
        raise ChannelFailed(f"{what} {value!r} cannot be dialled")
    return value


def endpoints(leg: Leg, platform_gateways: Sequence[str]) -> list[str]:
    """The dial strings of one leg (without its ``[...]`` variables): one, or for an external
    number one per platform gateway in the operator's order (the failover alternatives; none
    enabled: ChannelFailed)."""
    if leg.kind == "sip_user":
        return ["user/" + _safe(leg.address, "SIP account")]
    if leg.kind == "external":
        number = _safe(leg.address, "number")
        if not platform_gateways:
            raise ChannelFailed("no platform gateway is enabled: an external number cannot be dialled")
        return [f"sofia/gateway/{_safe(gw, 'gateway')}/{number}" for gw in platform_gateways]
    if leg.kind == "trunk":
        return [f"sofia/gateway/{_safe(leg.gateway or '', 'gateway')}/{_safe(leg.address, 'number')}"]
    if leg.kind == "sip_uri":
        return ["sofia/external/" + _safe(leg.address, "SIP address")]
    raise ChannelFailed(f"unknown leg kind {leg.kind!r}")


def endpoint(leg: Leg, platform_gateways: Sequence[str] | str) -> str:
    """The first dial string of one leg (:func:`endpoints`)."""
    gateways = (platform_gateways,) if isinstance(platform_gateways, str) else platform_gateways
    return endpoints(leg, gateways)[0]


def _gone_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "CallGone"


@contextlib.contextmanager
def _channel_failure(app: str) -> Iterator[None]:
    """A command that failed while the call is still there is the channel's failure
    (:class:`ChannelFailed`, naming the application); the caller gone stays what it is."""
    try:
        yield
    except Exception as exc:
        if _gone_error(exc):
            raise
        raise ChannelFailed(f"{app}: {exc}") from exc


def _var(event: Any, name: str) -> str | None:
    if event is None:
        return None
    value = event.peek("variable_" + name) if hasattr(event, "peek") else event.get("variable_" + name)
    return value if value not in (None, "") else None


def _array(value: str | None) -> list[str]:
    if not value:
        return []
    if value.startswith("ARRAY::"):
        return [v for v in value[len("ARRAY::"):].split("|:") if v]
    return [v for v in value.split("|") if v]


#: a leg that ends with one of these was answered "no" by the callee, not failed by the carrier:
#: the next platform gateway is not tried (``fail_on_single_reject``; a timeout is not either,
#: as ``originate_continue_on_timeout`` stays off)
NO_FAILOVER_CAUSES = ("USER_BUSY", "NO_ANSWER", "NO_USER_RESPONSE", "CALL_REJECTED", "ORIGINATOR_CANCEL")


def dial_string(legs: Sequence[Leg], platform_gateways: Sequence[str], *, caller_id_number: str | None = None,
                announce: Media | None = None, caller: str = "", language: str = "ru", prompts: Any = None,
                log_context: str = "") -> tuple[str, dict[str, Leg]]:
    """The ``bridge`` argument for ringing ``legs`` — the one place it is built — and which
    ``origination_uuid`` is which leg.

    Legs ring together (``,``). An external number goes out through the platform gateways in
    the operator's order: the first ``|`` group rings every leg, an external one through the
    first gateway; each next group rings the external legs again through the next gateway,
    when the group before ended without an answer and not by the ring time (FreeSWITCH's
    failover). With one leg, a "no" from the callee (:data:`NO_FAILOVER_CAUSES`) ends it there.
    A leg that cannot be dialled is left out (logged); no leg left: ``("", {})``."""
    ids: dict[str, Leg] = {}
    groups: list[list[str]] = []
    single = len(legs) == 1
    for leg in legs:
        try:
            eps = endpoints(leg, platform_gateways)
        except ChannelFailed as exc:
            log.warning("call %s: leg %s skipped: %s", log_context, leg.label, exc)
            continue
        timeout = leg.timeout or 3600
        base: list[str] = []  # after leg_timeout and each attempt's origination_uuid
        # the leg's own call record names who it is, and a trunk leg its trunk (a leg of the
        # call's one record; billing does not charge a call into the tenant's own trunk)
        if _SAFE.match(leg.label or ""):
            base.append(f"{vocab.LEG_TARGET}={leg.label}")
        trunk_id = (leg.gateway or "")[len(vocab.GATEWAY_TRUNK_PREFIX):] \
            if leg.kind == "trunk" and (leg.gateway or "").startswith(vocab.GATEWAY_TRUNK_PREFIX) else ""
        if trunk_id and _SAFE.match(trunk_id):
            base.append(f"{vocab.LEG_TRUNK}={trunk_id}")
        if leg.dtmf and leg.dtmf.isdigit():  # a number's extension suffix, dialled after answer
            base.append(f"execute_on_answer=send_dtmf W{leg.dtmf}")
        if leg.caller_id and leg.caller_id != caller_id_number and _SAFE.match(leg.caller_id):
            # what this phone shows (a [leg] variable overrides the {global} one for its leg)
            base.append(f"origination_caller_id_number={leg.caller_id}")
        if announce is not None and caller.isdigit():
            # the member who answers hears the caller's own number (whatever the phones show)
            # before being connected (mod_say over the prompt set's digits: its sound_prefix,
            # enforced, on that leg)
            base += ["group_confirm_key=exec", f"group_confirm_file=say {language} number iterated {caller}"]
            channel_variables = getattr(prompts, "channel_variables", None)
            if channel_variables is not None:
                base += [f"{k}={v}" for k, v in channel_variables(language).items() if _SAFE.match(str(v))]
        for attempt, ep in enumerate(eps):
            leg_id = str(uuidlib.uuid4())
            ids[leg_id] = leg
            while len(groups) <= attempt:
                groups.append([])
            leg_vars = [f"leg_timeout={timeout}", f"origination_uuid={leg_id}"] + base
            groups[attempt].append("[" + ",".join(leg_vars) + "]" + ep)
    if not ids:
        return "", {}
    globals_ = []
    if caller_id_number and _SAFE.match(caller_id_number):
        globals_.append(f"origination_caller_id_number={caller_id_number}")
    if single and len(groups) > 1:
        # a list of causes (the switch looks the leg's cause up in it; ":" as "," ends a variable)
        globals_.append("fail_on_single_reject=" + ":".join(NO_FAILOVER_CAUSES))
    dial = ("{" + ",".join(globals_) + "}" if globals_ else "") + "|".join(",".join(g) for g in groups)
    return dial, ids


class LiveChannel:
    """A :class:`~esl_control.flow.channel.Channel` over an outbound-socket ``Call``."""

    def __init__(self, call: Any, *, prompts: PromptSource | None = None, language: str = "ru",
                 spool_dir: str = "/var/spool/pult", platform_gateways: Sequence[str] = (),
                 sound_url: Callable[[int, str], str] | None = None, pbx_id: int | None = None,
                 path_source: Callable[[], list[dict]] | None = None) -> None:
        self.call = call
        self.uuid = call.uuid
        self.caller = call.caller
        self.destination = call.destination
        self.prompts = prompts
        self.language = language
        self.spool_dir = spool_dir.rstrip("/")
        self.platform_gateways = tuple(platform_gateways)
        self.sound_url = sound_url
        self.pbx_id = pbx_id
        self.path_source = path_source
        self.data: dict[str, str] = {}
        self._answered = False
        self._terminators: str | None = None
        self._bridge_vars_set = False
        self._vars: dict[str, str] = {}
        self._hungup = False
        self._terminator_used = False
        self._fax_watch = False
        self._fax_subscribed = False

    @property
    def gone(self) -> bool:
        return self._hungup or self.call.hungup.is_set() or self.call.gone

    # --- plumbing
    @contextlib.contextmanager
    def _busy(self, what: str) -> Iterator[None]:
        """While the switch runs ``what`` for the caller (a conference, a recording, a fax), a
        clean stop of this instance leaves the call to the switch rather than handing it off
        (``Call.busy_with``; a bridge is seen by its CHANNEL_BRIDGE event instead)."""
        self.call.busy_with = what
        try:
            yield
        finally:
            self.call.busy_with = None

    async def _exec(self, app: str, arg: str | None = None, *, wait: bool = True) -> Any:
        with _channel_failure(app):
            return await self.call.execute(app, arg, wait=wait)

    def _exec_now(self, app: str, arg: str | None = None) -> Any:
        """:meth:`_exec` with the command handed over now (see ``Call.execute_now``); the
        awaitable of its completion."""
        with _channel_failure(app):
            pending = self.call.execute_now(app, arg)

        async def completed() -> Any:
            with _channel_failure(app):
                return await pending
        return completed()

    async def _set(self, name: str, value: str) -> None:
        if self._vars.get(name) == value:
            return
        # not waiting for the completion: the switch runs a channel's applications in the order
        # sent (event-lock), so the next command sees the variable; a refusal is still an error
        await self._exec("set", f"{name}={value}", wait=False)
        self._vars[name] = value

    def media_path(self, media: Media) -> str:
        if media.kind == "phrase":
            if self.prompts is not None and self.prompts.has(media.value, self.language):
                return self.prompts.phrase_file(media.value, self.language)
            log.warning("prompt %s (%s) missing: a tone instead", media.value, self.language)
            return MISSING_PROMPT
        if media.kind == "silence":
            return f"silence_stream://{int(media.value)}"
        if media.kind == "sound":  # fetched from Pult over HTTP, cached by mod_http_cache
            if self.sound_url is None or self.pbx_id is None:
                log.warning("no sound URL maker: sound %s replaced by a tone", media.value)
                return MISSING_PROMPT
            return "http_cache://" + self.sound_url(self.pbx_id, media.value)
        return media.value

    async def _flush_path(self) -> None:
        """Keep the engine's path on the channel (``pult_path``): the call record takes it from
        CHANNEL_HANGUP_COMPLETE, also when this Pult process is gone by then."""
        if self.path_source is None or self.gone:
            return
        entries = list(self.path_source())
        text = json.dumps(entries, separators=(",", ":"), ensure_ascii=True, default=str)
        while len(text) > MAX_PATH_CHARS and len(entries) > 1:
            entries = entries[:1] + [{"step": "truncated"}] + entries[len(entries) // 2:]
            text = json.dumps(entries, separators=(",", ":"), ensure_ascii=True, default=str)
        text = text.replace("$", "\\u0024")
        try:
            await self._set(vocab.PATH, text)
        except ChannelFailed as exc:
            log.warning("could not keep the path on call %s: %s", self.uuid, exc)

    # --- verbs
    async def answer(self) -> None:
        if not self._answered:
            # like set: the next application runs after it (event-lock), no need to wait here
            await self._exec("answer", wait=False)
            self._answered = True

    async def play(self, media: Media, *, interruptible: bool = False) -> str:
        await self._set("playback_terminators", "any" if interruptible else "none")
        if interruptible and self._terminator_used:
            # the switch sets playback_terminator_used only when a key stops a file: clear the last one
            await self._exec("unset", "playback_terminator_used", wait=False)
            self._terminator_used = False
        done = await self._exec_watched("playback", self.media_path(media))
        if not interruptible:
            return ""
        pressed = _var(done, "playback_terminator_used") or ""
        self._terminator_used = bool(pressed)
        return pressed

    async def collect(self, prompt: Media | None, *, min_digits: int, max_digits: int,
                      timeout: float, terminators: str = "#", digit_timeout: float = 3.0) -> Collected:
        # the path so far is kept on the switch before waiting for the caller, so a call that
        # ends in a menu while Pult is away still has it in its record (mod_json_cdr)
        await self._flush_path()
        file = self.media_path(prompt) if prompt is not None else "silence_stream://250"
        arg = (f"{min_digits} {max(max_digits, min_digits)} 1 {int(timeout * 1000)} {terminators or 'none'} "
               f"{file} silence_stream://150 {DIGITS_VAR} \\d+ {int(digit_timeout * 1000)}")
        try:
            done = await self._exec_watched("play_and_get_digits", arg)
        except Exception as exc:
            if _gone_error(exc):
                return Collected("", "hangup")
            raise
        if self.gone:
            return Collected("", "hangup")
        digits = _var(done, DIGITS_VAR) or ""
        if not digits:
            return Collected("", "timeout")
        return Collected(digits, "terminator" if _var(done, "read_terminator_used") else "digits")

    async def ring(self, legs: Sequence[Leg], *, simultaneous: bool, ringback: Media | None = None,
                   caller_id_number: str | None = None, caller_id_name: str | None = None,
                   announce: Media | None = None) -> RingResult:
        if not legs:
            return RingResult(FAILED, (), None, "NO_ROUTE_DESTINATION")
        await self._flush_path()
        dial, ids = dial_string(legs, self.platform_gateways, caller_id_number=caller_id_number,
                                announce=announce, caller=self.caller or "", language=self.language,
                                prompts=self.prompts,
                                log_context=self.uuid)
        if not ids:
            return RingResult(FAILED, tuple(LegResult(leg, FAILED, "INVALID_NUMBER_FORMAT") for leg in legs),
                              None, "INVALID_NUMBER_FORMAT")
        call_timeout = max(leg.timeout or 3600 for leg in legs)
        if not self._bridge_vars_set:
            await self._set("continue_on_fail", "true")
            await self._set("hangup_after_bridge", "false")
            self._bridge_vars_set = True
        await self._set("call_timeout", str(call_timeout))
        tone = self.media_path(ringback) if ringback is not None else RU_RINGBACK
        await self._set("ringback", tone)
        await self._set("transfer_ringback", tone)
        started = time.monotonic()
        try:
            done = await self._exec("bridge", dial)
        except Exception as exc:
            if _gone_error(exc):
                return RingResult(CALLER_GONE, tuple(LegResult(leg, NO_ANSWER, "ORIGINATOR_CANCEL") for leg in legs),
                                  None, "ORIGINATOR_CANCEL")
            raise
        seconds = time.monotonic() - started
        disposition = _var(done, "originate_disposition") or _var(done, "DIALSTATUS") or ""
        bridged = _var(done, "bridge_uuid") or _var(done, "last_bridge_to")
        causes = {}
        for item in _array(_var(done, "originate_causes")):
            leg_uuid, _, cause = item.partition(";")
            causes[leg_uuid] = cause
        # a leg dialled through several platform gateways has one uuid per attempt: its cause is
        # the last attempt's
        per_leg: dict[int, list[str]] = {}
        for leg_id, leg in ids.items():
            per_leg.setdefault(id(leg), []).append(leg_id)
        rung = list({id(leg): leg for leg in ids.values()}.values())

        def cause_of(leg: Leg, default: str) -> str:
            found = [causes[u] for u in per_leg[id(leg)] if causes.get(u)]
            return found[-1] if found else default

        if disposition == "SUCCESS" and bridged in ids:
            winner = ids[bridged]
            results = tuple(LegResult(leg, ANSWERED if leg is winner else NO_ANSWER,
                                      "NORMAL_CLEARING" if leg is winner else cause_of(leg, "LOSE_RACE"),
                                      seconds) for leg in rung)
            return RingResult(ANSWERED, results, winner, "NORMAL_CLEARING")
        if self.gone:
            return RingResult(CALLER_GONE, tuple(LegResult(leg, NO_ANSWER, "ORIGINATOR_CANCEL", seconds)
                                                 for leg in legs), None, "ORIGINATOR_CANCEL")
        results = []
        for leg in rung:
            cause = cause_of(leg, disposition or "NO_ANSWER")
            kind = BUSY if cause in BUSY_CAUSES else NO_ANSWER if cause in NO_ANSWER_CAUSES else FAILED
            results.append(LegResult(leg, kind, cause, seconds))
        statuses = {r.result for r in results}
        status = BUSY if statuses == {BUSY} else FAILED if statuses == {FAILED} else NO_ANSWER
        return RingResult(status, tuple(results), None, disposition or "NO_ANSWER")

    async def pause(self, seconds: float, media: Media | None = None) -> None:
        if seconds <= 0:
            return
        started = time.monotonic()
        if media is not None:
            await self._set("playback_terminators", "none")
            await self._set("playback_timeout_sec", str(int(seconds)))
            try:
                await self._exec("playback", self.media_path(media))
            finally:
                if not self.gone:
                    await self._exec("unset", "playback_timeout_sec")
                    self._vars.pop("playback_timeout_sec", None)
        left = seconds - (time.monotonic() - started)
        if left >= 0.5 and not self.gone:
            await self._exec("sleep", str(int(left * 1000)))

    async def conference(self, room: str, pin: str | None = None) -> None:
        name = _safe(room, "room")
        arg = f"{name}@{vocab.room_profile_name(room)}" + (f"+{pin}" if pin and pin.isdigit() else "")
        await self._flush_path()
        await self.answer()
        try:
            with self._busy("conference"):
                await self._exec("conference", arg)
        except Exception as exc:
            if not _gone_error(exc):
                raise

    async def record(self, name: str, max_seconds: int) -> Recorded:
        path = f"{self.spool_dir}/{name}.wav"
        await self._flush_path()
        await self._set("playback_terminators", "none")
        await self._exec("playback", BEEP)
        try:
            with self._busy("record"):
                done = await self._exec("record", f"{path} {int(max_seconds)} 200 5")
        except Exception as exc:
            if _gone_error(exc):  # the caller hung up while recording: the file is still there
                return Recorded(path, 0.0)
            raise
        seconds = _var(done, "record_seconds")
        return Recorded(path, float(seconds) if seconds else 0.0)

    async def watch_fax(self) -> None:
        if self._fax_watch or self.gone:
            return
        if not self._fax_subscribed:
            try:
                await self.call.subscribe("DETECTED_TONE")
            except Exception as exc:
                if _gone_error(exc):
                    raise
                raise ChannelFailed(f"event DETECTED_TONE: {exc}") from exc
            self._fax_subscribed = True
        self.call.fax_tone.clear()
        await self._exec("spandsp_start_fax_detect", FAX_DETECT, wait=False)
        self._fax_watch = True

    async def unwatch_fax(self) -> None:
        if not self._fax_watch:
            return
        self._fax_watch = False
        if not self.gone:
            await self._exec("spandsp_stop_fax_detect", wait=False)

    @property
    def fax_detected(self) -> bool:
        return self._fax_watch and self.call.fax_tone.is_set()

    async def _exec_watched(self, app: str, arg: str) -> Any:
        """Run ``app`` and wait for it; while the fax tone is watched for, a tone heard meanwhile
        breaks it (``uuid_break``) and the application's completion is returned as usual."""
        if not self._fax_watch:
            return await self._exec(app, arg)
        tone = self.call.fax_tone
        if tone.is_set():
            return None
        # handed over now, with the commands sent without waiting before it (answer, the sets,
        # the fax detection): one write; its completion is awaited by a task of its own
        run = asyncio.ensure_future(self._exec_now(app, arg))
        heard = asyncio.ensure_future(tone.wait())
        try:
            await asyncio.wait({run, heard}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the flow is cancelled (a stop, a hand-off): so is the application's wait
            run.cancel()
            run.add_done_callback(_retrieve)  # it may have ended on its own meanwhile (the socket closed)
            raise
        finally:
            heard.cancel()
        if not run.done():
            log.info("call %s: fax tone during %s: stopping it", self.uuid, app)
            try:
                await self.call.api(f"uuid_break {self.uuid}")
            except Exception as exc:  # the application then ends on its own
                if not _gone_error(exc):
                    log.warning("uuid_break of call %s failed: %s", self.uuid, exc)
        return await run

    async def receive_fax(self, name: str) -> FaxReceived:
        path = f"{self.spool_dir}/{name}.tif"
        await self._flush_path()
        try:
            with self._busy("fax"):
                done = await self._exec("rxfax", path)
        except Exception as exc:
            if _gone_error(exc):
                return FaxReceived(path, False, 0, "caller hung up")
            raise
        ok = _var(done, "fax_success") == "1"
        pages = _var(done, "fax_document_transferred_pages")
        return FaxReceived(path, ok, int(pages) if pages and pages.isdigit() else 0,
                           _var(done, "fax_result_text") or "")

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self._hungup:
            return
        await self._flush_path()
        self._hungup = True
        try:
            await self.call.hangup(cause)
        except Exception as exc:
            if not _gone_error(exc):
                log.warning("hangup of call %s failed: %s", self.uuid, exc)

    async def set_data(self, name: str, value: str) -> None:
        if not (name.startswith(vocab.VARIABLE_PREFIX) and re.fullmatch(r"[a-z0-9_]+", name)) or "\n" in value:
            raise ValueError(f"call data {name!r}: expected pult_<name> and a one-line value")
        self.data[name] = value
        if not self.gone:
            await self._set(name, value.replace("$", ""))

    def get_data(self, name: str) -> str | None:
        return self.data.get(name) or self.call.variable(name)
