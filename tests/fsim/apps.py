"""Dialplan applications the simulator can execute (``sendmsg`` execute, dialplan, originate).

Each application is ``async def app(channel, arg) -> Application-Response``.
They fire the events and set the variables the recorded FreeSWITCH does
(playback_*, read_result, originate_disposition, record_*, …). Media is not
real: a prompt "plays" for its simulated length (see
``FreeSwitchSimulator.media_seconds``), the caller is simulated by DTMF pushed
into the channel's queue.
"""

from __future__ import annotations

import asyncio
import re
import struct
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from .channel import Channel, Profile

App = Callable[[Channel, str], Awaitable[str | None]]


@dataclass
class BridgeOutcome:
    """What the far end of a ``bridge`` does.

    ``cause`` None means it answers after ``answer_after`` simulated seconds and
    hangs up by itself after ``talk_seconds`` (None: stays until the caller or
    the app ends the call). Otherwise the attempt fails with that cause
    (``NO_ANSWER`` waits for ``call_timeout`` first, like a phone ringing out).
    """

    cause: str | None = None
    answer_after: float = 1.0
    talk_seconds: float | None = 5.0


def _terminators(channel: Channel, default: str = "") -> str:
    value = channel.get_var("playback_terminators")
    if value is None:
        return default
    if value.lower() == "any":
        return "0123456789*#"
    if value.lower() == "none":
        return ""
    return value


async def play_media(channel: Channel, path: str, *, stop_on: str, stop_on_any: bool = False) -> tuple[str, str | None]:
    """Play ``path`` with PLAYBACK_START/STOP and playback_* variables.

    Returns (status, digit): status "done", "break" (terminator or any digit
    when ``stop_on_any``; digit says which) or "hangup".
    """
    sim = channel.sim
    total = sim.media_seconds(path)
    cap = channel.get_var("playback_timeout_sec")  # switch_ivr_play_file stops the file there
    if cap and cap.isdigit() and int(cap) > 0:
        total = min(total, float(cap))
    channel.fire("PLAYBACK_START", [("Playback-File-Path", path)])
    start = sim.clock.now_us()
    status, digit = "done", None
    while True:
        elapsed = (sim.clock.now_us() - start) / 1_000_000
        kind, got = await channel.wait_input(total - elapsed)
        if kind == "timeout":
            break
        if kind == "hangup":
            status = "hangup"
            break
        if kind == "break":
            status = "break"
            break
        if got is not None and (stop_on_any or got in stop_on):
            status, digit = "break", got
            break
    played_ms = min(int(total * 1000), (sim.clock.now_us() - start) // 1000)
    if status == "break" and digit is not None and not stop_on_any:
        channel.set_var("playback_terminator_used", digit)
    channel.set_var("playback_last_offset_pos", played_ms * 8)
    channel.set_var("playback_seconds", played_ms // 1000)
    channel.set_var("playback_ms", played_ms)
    channel.set_var("playback_samples", played_ms * 8)
    channel.fire("PLAYBACK_STOP", [("Playback-File-Path", path),
                                   ("Playback-Status", "done" if status == "done" else "break")])
    return status, digit


async def app_playback(channel: Channel, arg: str) -> str:
    if not arg:
        return "FILE NOT FOUND"
    status, _ = await play_media(channel, arg, stop_on=_terminators(channel))
    response = "PLAYBACK ERROR" if status == "hangup" else "FILE PLAYED"
    channel.set_var("current_application_response", response)
    return response


async def _collect(channel: Channel, prompt: str | None, min_d: int, max_d: int, timeout_s: float,
                   terminators: str, digit_timeout_s: float) -> tuple[str, str | None, str]:
    """Play an interruptible prompt then collect digits. Returns (digits, terminator, end)."""
    digits, term = "", None
    if prompt:
        status, first = await play_media(channel, prompt, stop_on="", stop_on_any=True)
        if status == "hangup":
            return digits, None, "hangup"
        if first is not None:
            if first in terminators:
                return digits, first, "terminator"
            digits += first
    loop = asyncio.get_running_loop()
    while len(digits) < max_d:
        # the digit wait (switch_ivr_collect_digits_count) does not look at the break flag: a
        # uuid_break now only takes effect at the next application (which clears it)
        wait = timeout_s if not digits else digit_timeout_s
        deadline = loop.time() + wait * channel.sim.clock.time_scale
        kind, got = await channel.wait_input(wait)
        while kind == "break" and channel.transfer_request is None:
            kind, got = await channel.wait_input(max(0.0, deadline - loop.time()) / channel.sim.clock.time_scale)
        if kind == "hangup" or channel.transfer_request is not None:
            # a transfer (CF_TRANSFER) makes the channel not ready: the wait ends at once
            return digits, None, "hangup"
        if kind != "dtmf" or got is None:
            return digits, None, "timeout"
        if got in terminators:
            return digits, got, "terminator"
        digits += got
    return digits, term, "max"


def _ints(values: list[str], names: list[str]) -> list[int]:
    out = []
    for value, name in zip(values, names):
        try:
            out.append(int(value))
        except ValueError as exc:
            raise ValueError(f"{name} must be a number, got {value!r}") from exc
    return out


async def app_play_and_get_digits(channel: Channel, arg: str) -> str:
    """``min max tries timeout_ms terminators file invalid_file var regexp [digit_timeout_ms]``."""
    parts = arg.split()
    if len(parts) < 9:
        channel.set_var("read_result", "failure")
        return "_none_"
    min_d, max_d, tries, timeout_ms = _ints(parts[:4], ["min", "max", "tries", "timeout"])
    terminators, prompt, invalid, var, regexp = parts[4:9]
    digit_timeout_ms = int(parts[9]) if len(parts) > 9 and parts[9].isdigit() else timeout_ms
    if terminators.lower() == "none":
        terminators = ""
    for _ in range(max(1, tries)):
        digits, term, end = await _collect(channel, prompt, min_d, max_d, timeout_ms / 1000, terminators,
                                           digit_timeout_ms / 1000)
        if end == "hangup":
            return "_none_"
        if len(digits) >= min_d and digits and re.search(regexp, digits):
            if term:
                channel.set_var("read_terminator_used", term)
            channel.set_var("read_result", "success")
            channel.set_var(var, digits)
            return "_none_"
        channel.set_var("read_result", "failure")
        if invalid and invalid.lower() != "silence_stream://0":
            status, _ = await play_media(channel, invalid, stop_on="")
            if status == "hangup":
                return "_none_"
    return "_none_"


async def app_read(channel: Channel, arg: str) -> str:
    """``min max sound_file var timeout_ms terminators``."""
    parts = arg.split()
    if len(parts) < 4:
        return "_none_"
    min_d, max_d = _ints(parts[:2], ["min", "max"])
    prompt, var = parts[2], parts[3]
    timeout_ms = int(parts[4]) if len(parts) > 4 else 5000
    terminators = parts[5] if len(parts) > 5 else "#"
    digits, term, end = await _collect(channel, prompt, min_d, max_d, timeout_ms / 1000, terminators,
                                       timeout_ms / 1000)
    if end == "hangup":
        return "_none_"
    if term:
        channel.set_var("read_terminator_used", term)
    ok = len(digits) >= min_d
    channel.set_var("read_result", "success" if ok else ("timeout" if end == "timeout" else "failure"))
    if ok:
        channel.set_var(var, digits)
    return "_none_"


async def app_answer(channel: Channel, arg: str) -> None:
    """Answer. The A half of a loopback pair is answered by its B half: until then it waits."""
    peer = channel.loopback_peer
    if peer is not None and channel.direction == "outbound" and not channel.answered_us:
        await channel.wait_input(None, dtmf=False, until=lambda: bool(peer.answered_us))
        if channel.hungup:
            return None
    channel.mark_answered()
    return None


async def app_pre_answer(channel: Channel, arg: str) -> None:
    channel.mark_pre_answered()
    return None


async def app_ring_ready(channel: Channel, arg: str) -> None:
    if not channel.progress_us and not channel.answered_us:
        channel.progress_us = channel.sim.clock.now_us()
        channel.fire("CHANNEL_PROGRESS")
    return None


def _split_assignment(arg: str) -> tuple[str, str | None]:
    name, sep, value = arg.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"set needs name=value, got {arg!r}")
    return name, (value if sep and value != "" else None)


async def app_set(channel: Channel, arg: str) -> None:
    name, value = _split_assignment(arg)
    channel.set_var(name, value)
    return None


async def app_export(channel: Channel, arg: str) -> None:
    name, value = _split_assignment(arg)
    channel.set_var(name, value)
    exported = [v for v in (channel.get_var("export_vars") or "").split(",") if v]
    if name not in exported:
        exported.append(name)
    channel.set_var("export_vars", ",".join(exported))
    return None


async def app_multiset(channel: Channel, arg: str) -> None:
    for item in arg.split():
        name, value = _split_assignment(item)
        channel.set_var(name, value)
    return None


async def app_unset(channel: Channel, arg: str) -> None:
    channel.set_var(arg.strip(), None)
    return None


async def app_noop(channel: Channel, arg: str) -> None:
    return None


async def app_sleep(channel: Channel, arg: str) -> None:
    try:
        ms = int(arg.strip() or "0")
    except ValueError as exc:
        raise ValueError(f"sleep needs milliseconds, got {arg!r}") from exc
    await channel.wait_input(ms / 1000, dtmf=False)
    return None


async def app_hangup(channel: Channel, arg: str) -> None:
    channel.hangup(arg.strip() or "NORMAL_CLEARING")
    return None


#: a ``sendmsg`` ``call-command: hangup`` queued behind applications not yet run: in async
#: socket mode FreeSWITCH queues every sendmsg as one private event of the session
#: (mod_event_socket ``switch_core_session_queue_private_event``) and parses them in order
#: (``switch_ivr_parse_event``), so a hangup sent right after ``set``s runs after them
HANGUP_COMMAND = "\x00sendmsg-hangup"


async def park_loop(channel: Channel, *, fire_park: bool = True, read_dtmf: bool = True) -> str | None:
    """Park: stay until hangup, running queued applications (sendmsg, uuid_broadcast).

    Returns early on a transfer request (and on ``uuid_break`` unless an
    outbound socket drives the channel). DTMF is read (DTMF events fired)
    except while an outbound socket controls the channel: then digits stay
    queued for the next input application, so a test can press keys ahead.
    """
    if fire_park:
        channel.fire("CHANNEL_PARK")
    while True:
        if channel.socket_lost and not channel.app_queue:
            return None  # the controlling socket closed: CF_CONTROLLED is cleared, park ends
        kind, _ = await channel.wait_input(None, dtmf=read_dtmf and not channel.socket_controlled, queue=True,
                                           until=lambda: channel.socket_lost)
        if kind == "hangup":
            return None
        if kind == "break" and not channel.socket_controlled:
            return None
        if kind == "queued":
            if channel.transfer_request is not None:
                return None
            app, arg, app_uuid = channel.app_queue.pop(0)
            if app == HANGUP_COMMAND:  # a sendmsg hangup sent behind queued applications
                channel.hangup(arg)
                return None
            await channel.execute(app, arg, app_uuid, loops=True)


async def app_park(channel: Channel, arg: str) -> None:
    await park_loop(channel)
    return None


async def app_echo(channel: Channel, arg: str) -> None:
    """Echo media back; DTMF is echoed too, not read (no DTMF events, as recorded)."""
    await park_loop(channel, fire_park=False, read_dtmf=False)
    return None


async def app_transfer(channel: Channel, arg: str) -> None:
    parts = arg.split()
    if not parts:
        raise ValueError("transfer needs a destination")
    channel.sim._request_transfer(channel, parts[0], parts[1] if len(parts) > 1 else "XML",
                                  parts[2] if len(parts) > 2 else channel.profile.context)
    return None


def _write_silence_wav(path: str, ms: int) -> int:
    """Write a valid 8 kHz 16-bit mono WAV of silence; returns its size (bytes)."""
    samples = ms * 8
    data_len = samples * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", data_len)
    target = Path(path)
    if target.parent.is_dir():  # path is already local (see FreeSwitchSimulator.local_path)
        target.write_bytes(header + b"\x00" * data_len)
    return len(header) + data_len


async def app_record(channel: Channel, arg: str) -> None:
    """``path [time_limit_secs] [silence_thresh] [silence_hits]``.

    The simulated caller talks for ``channel.talk_seconds`` and is then silent;
    with silence detection on, recording ends ``silence_hits`` seconds into the
    silence. A ``#``/``*`` (or playback_terminators) stops it too.
    """
    parts = arg.split()
    if not parts:
        raise ValueError("record needs a file path")
    path = parts[0]
    limit = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) > 0 else None
    hits = float(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
    talk = channel.talk_seconds
    end_by_silence = hits is not None
    planned = talk + hits if end_by_silence else None
    candidates = [x for x in (limit, planned) if x is not None]
    duration = min(candidates) if candidates else None
    sim = channel.sim
    channel.set_var("playback_terminator_used", None)
    channel.fire("RECORD_START", [("Record-File-Path", path)])
    start = sim.clock.now_us()
    cause = "success-maxtime"
    terminators = _terminators(channel, "*#")
    while True:
        elapsed = (sim.clock.now_us() - start) / 1_000_000
        kind, got = await channel.wait_input(None if duration is None else duration - elapsed)
        if kind == "timeout":
            if end_by_silence and (limit is None or planned <= limit):  # type: ignore[operator]
                cause = "success-silence"
            break
        if kind in ("hangup", "break"):
            break
        if got is not None and got in terminators:
            channel.set_var("playback_terminator_used", got)
            cause = "success-terminator"
            break
    elapsed_ms = (sim.clock.now_us() - start) // 1000
    voiced_ms = min(elapsed_ms, int(talk * 1000))
    size = _write_silence_wav(str(sim.local_path(path)), voiced_ms) if sim.write_recordings else 44 + voiced_ms * 16
    if cause == "success-silence":
        channel.set_var("silence_hits_exhausted", "true")
        channel.set_var("record_record_file_size", size)
    channel.set_var("record_file_size", size)
    channel.set_var("record_seconds", voiced_ms // 1000)
    channel.set_var("record_ms", voiced_ms)
    channel.set_var("record_samples", voiced_ms * 8)
    channel.set_var("read_codec", channel.get_var("read_codec", "L16"))
    channel.set_var("read_rate", channel.get_var("read_rate", "8000"))
    channel.fire("RECORD_STOP", [("Record-File-Path", path), ("Record-Completion-Cause", cause)])
    return None


_ENDPOINT_VARS = re.compile(r"^\{([^}]*)\}(.*)$")
_LEG_VARS = re.compile(r"^\[([^\]]*)\](.*)$")


def _vars(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        k, _, v = item.partition("=")
        if k.strip():
            out[k.strip()] = v
    return out


def parse_dial_groups(dial: str) -> tuple[dict[str, str], list[list[tuple[dict[str, str], str]]]]:
    """``{a=1}[t=5]ep1,[t=9]ep2|ep3`` → ({a: 1}, [[({t: 5}, ep1), ({t: 9}, ep2)], [({}, ep3)]]):
    ``|`` separates endpoints dialled one after the other, ``,`` endpoints dialled at once (as
    switch_ivr_originate reads a dial string); ``[...]`` are one leg's variables."""
    variables: dict[str, str] = {}
    rest = dial.strip()
    match = _ENDPOINT_VARS.match(rest)
    if match:
        variables = _vars(match.group(1))
        rest = match.group(2)
    groups = []
    for part in rest.split("|"):
        group = []
        for item in re.split(r",(?![^\[]*\])", part):
            item = item.strip()
            if not item:
                continue
            leg_match = _LEG_VARS.match(item)
            leg_vars = _vars(leg_match.group(1)) if leg_match else {}
            endpoint = leg_match.group(2).strip() if leg_match else item
            if endpoint:
                group.append((leg_vars, endpoint))
        if group:
            groups.append(group)
    return variables, groups


def parse_dial_string(dial: str) -> tuple[dict[str, str], list[str]]:
    """``{a=1,b=2}ep1|ep2`` → ({a: 1, b: 2}, [ep1, ep2]) (``,`` also separates; ``[..]`` dropped)."""
    variables, groups = parse_dial_groups(dial)
    return variables, [endpoint for group in groups for _, endpoint in group]


def leg_name(endpoint: str) -> str:
    """Channel name FreeSWITCH gives an originated leg (loopback/9196/default → loopback/9196-a)."""
    if endpoint.startswith("loopback/"):
        return f"loopback/{endpoint.split('/')[1]}-a"
    return endpoint


def _bridge_leg(channel: Channel, endpoint: str, variables: dict[str, str]) -> Channel:
    """Originate the leg ``bridge`` dials; ``loopback/EXT[/ctx]`` also makes its B half and runs EXT."""
    sim = channel.sim
    is_loop = endpoint.startswith("loopback/")
    dest = endpoint.split("/")[1] if is_loop else endpoint.rsplit("/", 1)[-1]
    leg_uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
    caller = channel.profile
    name = leg_name(endpoint)
    # switch_ivr_originate: origination_caller_id_number ({} or [], [] first) is the new leg's caller id
    shown = variables.get("origination_caller_id_number") or caller.caller_id_number
    leg = sim.new_channel(
        name=name, uuid=leg_uuid, direction="outbound", layout="bridge",
        profile=Profile(direction="outbound", logical_direction="outbound",
                        caller_id_name=caller.caller_id_name, caller_id_number=shown,
                        orig_caller_id_number=caller.orig_caller_id_number or caller.caller_id_number,
                        ani=caller.ani or caller.caller_id_number, destination_number=dest,
                        source="mod_loopback" if is_loop else "mod_sofia"))
    if is_loop:
        leg.set_var("loopback_from_uuid", channel.uuid)
    for k, v in [("channel_name", name), ("max_forwards", "70"),
                 ("originator_codec", f"{channel.get_var('read_codec', 'L16')}@{channel.get_var('read_rate', '8000')}h@20i"),
                 ("originator", channel.uuid), ("signal_bond", channel.uuid), ("call_uuid", channel.uuid)]:
        leg.set_var(k, v)
    for k, v in variables.items():
        leg.set_var(k, v)
    leg.set_var("originate_early_media", "true")
    leg.set_var("originating_leg_uuid", channel.uuid)
    leg.set_var("originate_endpoint", endpoint.split("/")[0])
    leg.link_other_leg(channel, "originator", zero_times=True)
    peer: Channel | None = None
    if is_loop:
        peer = sim.new_channel(
            name=f"loopback/{dest}-b", direction="inbound", layout="loopback_b",
            profile=Profile(direction="inbound", logical_direction="inbound",
                            caller_id_name=leg.profile.caller_id_name, caller_id_number=leg.profile.caller_id_number,
                            orig_caller_id_number=leg.profile.orig_caller_id_number, ani=leg.profile.ani,
                            destination_number=dest, context=endpoint.split("/")[2] if endpoint.count("/") > 1
                            else "default"))
        peer.set_var("other_loopback_leg_uuid", leg.uuid)
        peer.set_var("other_loopback_from_uuid", channel.uuid)
        peer.set_var("loopback_leg", "B")
        peer.set_var("call_uuid", peer.uuid)
        leg.set_var("other_loopback_leg_uuid", peer.uuid)
        leg.set_var("loopback_leg", "A")
        leg.loopback_peer, peer.loopback_peer = peer, leg
    leg.fire("CHANNEL_CREATE")
    leg.state, leg.state_number = "CS_CONSUME_MEDIA", 7
    if peer is not None:
        peer.fire("CHANNEL_CREATE")
        plan = sim.route(dest)
        if plan is None:  # no such extension: the B half fails, its A half follows
            peer.hangup("NO_ROUTE_DESTINATION")
            sim.spawn(peer.finish())
        else:
            sim.spawn(sim._run_channel(peer, plan))
    return leg


def _leg_failed(channel: Channel, leg: Channel, cause: str) -> None:
    """A leg that did not answer: hang it up and leave the originate variables the switch leaves."""
    sim = channel.sim
    leg_uuid = leg.uuid
    if not leg.hungup:
        leg.hangup(cause)
    sim.spawn(leg.finish())
    if channel.hungup:
        return
    channel.set_var("originate_signal_bond", leg_uuid)
    channel.push_var("originated_legs", f"{leg_uuid};Outbound Call;default")
    channel.set_var("last_bridge_hangup_cause", cause)
    channel.set_var("originate_disposition", cause)
    channel.set_var("DIALSTATUS", {"NO_ANSWER": "NOANSWER", "USER_BUSY": "BUSY"}.get(cause, cause))
    channel.push_var("originate_causes", f"{leg_uuid};{cause}")
    channel.set_var("originate_failed_cause", cause)


async def _leg_answered(channel: Channel, leg: Channel, outcome: BridgeOutcome | None) -> None:
    """Bridge ``channel`` to the answered ``leg`` until one side hangs up."""
    sim = channel.sim
    leg_uuid = leg.uuid
    leg.mark_answered()
    channel.mark_answered()
    channel.set_var("originate_signal_bond", None)
    channel.push_var("originated_legs", f"{leg_uuid};Outbound Call;default")
    channel.set_var("originate_disposition", "SUCCESS")
    channel.set_var("DIALSTATUS", "SUCCESS")
    channel.push_var("originate_causes", f"{leg_uuid};NONE")
    channel.set_var("signal_bond", leg_uuid)
    now = sim.clock.now_us()
    channel.bridged_us = leg.bridged_us = now
    leg.state, leg.state_number = "CS_EXCHANGE_MEDIA", 5
    # the originator learns the callee id the far end sent
    channel.profile.callee_id_name = leg.profile.callee_id_name
    channel.profile.callee_id_number = leg.profile.callee_id_number
    channel.link_other_leg(leg, "originatee")
    bridge_ids = [("Bridge-A-Unique-ID", channel.uuid), ("Bridge-B-Unique-ID", leg_uuid)]
    channel.fire("CHANNEL_BRIDGE", pre=bridge_ids)
    far_end_task = None
    if outcome is not None and outcome.talk_seconds is not None:
        far_end_task = sim.spawn(_hangup_later(leg, outcome.talk_seconds))
    await channel.wait_input(None, dtmf=False, until=lambda: leg.hungup)
    if far_end_task is not None:
        far_end_task.cancel()
    leg_cause = leg.hangup_cause or "NORMAL_CLEARING"
    if not leg.hungup:
        leg.hangup(channel.hangup_cause or "NORMAL_CLEARING")
    _bridge_ended(channel, leg, leg_cause)
    sim.spawn(leg.finish())
    channel.fire("CHANNEL_UNBRIDGE", pre=bridge_ids)
    if not channel.hungup and (channel.get_var("hangup_after_bridge") or "").lower() in ("true", "1", "yes"):
        channel.hangup(leg_cause)


def _leg_timeout(variables: dict[str, str], default: float) -> float:
    value = variables.get("leg_timeout")
    try:
        return float(value) if value else default
    except ValueError:
        return default


async def _ring_together(channel: Channel, group: list[tuple[dict[str, str], str]], timeout: float) -> bool:
    """Endpoints joined by ``,`` ring at once; the first to answer is bridged, the others are
    cancelled (LOSE_RACE). Each leg rings at most its ``leg_timeout`` (else ``call_timeout``).
    Returns whether one answered."""
    sim = channel.sim
    ringing = []
    for variables, endpoint in group:
        if endpoint.startswith("loopback/"):
            raise ValueError("fsim: loopback endpoints ring alone (use '|'), not together")
        outcome = sim.bridge_policy(endpoint)
        leg = _bridge_leg(channel, endpoint, variables)
        limit = min(timeout, _leg_timeout(variables, timeout))
        if outcome.cause is None and outcome.answer_after <= limit:
            at = outcome.answer_after
        elif outcome.cause in (None, "NO_ANSWER"):
            at = limit
        else:
            at = 0.0
        ringing.append((at, leg, outcome, outcome.cause is None and outcome.answer_after <= limit))
    start = sim.clock.now_us()
    winner = None
    for at, leg, outcome, answers in sorted(ringing, key=lambda r: r[0]):
        elapsed = (sim.clock.now_us() - start) / 1_000_000
        if at > elapsed:
            kind, _ = await channel.wait_input(at - elapsed, dtmf=False)
            if channel.hungup:
                break
        if answers:
            winner = (leg, outcome)
            break
        _leg_failed(channel, leg, outcome.cause or "NO_ANSWER")
    for at, leg, outcome, answers in ringing:
        if winner is not None and leg is winner[0]:
            continue
        if not leg.hungup:
            _leg_failed(channel, leg, "ORIGINATOR_CANCEL" if channel.hungup else
                        ("LOSE_RACE" if winner is not None else outcome.cause or "NO_ANSWER"))
    if winner is None or channel.hungup:
        return False
    await _leg_answered(channel, winner[0], winner[1])
    return True


async def app_bridge(channel: Channel, arg: str) -> None:
    """Dial the endpoints: ``|`` one after the other, ``,`` at once; bridge to the first that answers.

    ``{vars}`` apply to every leg, ``[vars]`` before an endpoint to that leg (``leg_timeout``).
    ``loopback/EXT`` legs are real pairs running EXT's dialplan (9196 answers,
    9197 rings until ``call_timeout``); other endpoints follow ``bridge_policy``.
    """
    sim = channel.sim
    variables, groups = parse_dial_groups(arg)
    if not groups:
        raise ValueError(f"bridge needs an endpoint, got {arg!r}")
    timeout = float(channel.get_var("call_timeout") or channel.get_var("originate_timeout") or 60)
    # after a group fails, the next ``|`` group is dialled unless the ring time ran out
    # (``originate_continue_on_timeout`` off) or a leg ended with a cause named in
    # ``fail_on_single_reject`` (switch_ivr_originate.c; a list is matched by substring)
    reject = variables.get("fail_on_single_reject") or channel.get_var("fail_on_single_reject") or ""
    go_on_timeout = (variables.get("originate_continue_on_timeout") or "").lower() in ("true", "1", "yes")

    def stop_after(cause: str, timed_out: bool) -> bool:
        if timed_out and not go_on_timeout:
            return True
        return bool(reject) and reject.lower() not in ("true", "false") and cause.upper() in reject.upper()

    for group in groups:
        if len(group) > 1:
            started = sim.clock.now_us()
            if await _ring_together(channel, [({**variables, **v}, e) for v, e in group], timeout):
                return None
            if channel.hungup:
                return None
            if stop_after("", (sim.clock.now_us() - started) / 1_000_000 >= timeout):
                return None
            continue
        leg_vars, endpoint = group[0]
        leg_vars = {**variables, **leg_vars}
        limit = min(timeout, _leg_timeout(leg_vars, timeout))
        is_loop = endpoint.startswith("loopback/")
        outcome = None if is_loop else sim.bridge_policy(endpoint)
        leg = _bridge_leg(channel, endpoint, leg_vars)
        if is_loop:
            kind, _ = await channel.wait_input(limit, dtmf=False,
                                               until=lambda: bool(leg.answered_us) or leg.hungup)
            answered = bool(leg.answered_us) and not channel.hungup
            failure = leg.hangup_cause or "NO_ANSWER"
        else:
            assert outcome is not None
            wait = limit if outcome.cause in (None, "NO_ANSWER") else 0.0
            if outcome.cause is None:
                wait = min(limit, outcome.answer_after)
            kind, _ = await channel.wait_input(wait, dtmf=False)
            answered = kind == "timeout" and outcome.cause is None and outcome.answer_after <= limit
            failure = outcome.cause or "NO_ANSWER"
        if not answered:
            _leg_failed(channel, leg, "ORIGINATOR_CANCEL" if channel.hungup else failure)
            if channel.hungup:
                return None
            if not is_loop and stop_after(failure, failure == "NO_ANSWER" and limit >= timeout):
                return None
            continue
        await _leg_answered(channel, leg, outcome)
        return None
    return None


def _bridge_ended(channel: Channel, leg: Channel, leg_cause: str) -> None:
    """Variables both sides get when a bridge ends (as recorded).

    The side still up when the other hung up gets ``last_sent_callee_id_*``; a
    side that is hung up by then gets ``last_bridge_role``; only the originator
    gets ``last_bridge_hangup_cause`` (the originatee's cause).
    """
    channel_first = channel.hungup and channel.hangup_seq < leg.hangup_seq
    for me, other, role in ((channel, leg, "originator"), (leg, channel, "originatee")):
        me.set_var("last_bridge_to", other.uuid)
        me.set_var("bridge_channel", other.name)
        me.set_var("bridge_uuid", other.uuid)
        other_first = (not channel_first) if me is channel else channel_first
        me.set_var("signal_bond", other.uuid)
        if other_first:
            me.set_var("last_sent_callee_id_name", "Outbound Call")
            me.set_var("last_sent_callee_id_number", "default")
        if me is channel:
            me.set_var("last_bridge_hangup_cause", leg_cause)
        if me.hungup:
            me.set_var("last_bridge_role", role)
        me.set_var("bridge_hangup_cause", leg_cause)
        if me is leg:
            me.set_var("call_uuid", me.uuid)


async def _hangup_later(leg: Channel, seconds: float) -> None:
    kind, _ = await leg.wait_input(seconds, dtmf=False)
    if kind == "timeout":
        leg.hangup("NORMAL_CLEARING")


async def app_conference(channel: Channel, arg: str) -> None:
    """Join ``name[@profile][+flags]``: add-member, stay until hangup/kick, del-member."""
    name = arg.split("@", 1)[0].split("+", 1)[0].strip()
    if not name:
        raise ValueError("conference needs a name")
    channel.mark_answered()
    conf = channel.sim.conference(name)
    member = conf.add(channel)
    try:
        while True:
            kind, _ = await channel.wait_input(None)
            if kind in ("hangup", "break"):
                break
    finally:
        conf.remove(member)
    return None


from .fax import (app_rxfax, app_spandsp_start_fax_detect, app_spandsp_stop_fax_detect,  # noqa: E402
                  app_txfax)  # (fax.py builds on the helpers above)

APPLICATIONS: dict[str, App] = {
    "answer": app_answer,
    "pre_answer": app_pre_answer,
    "ring_ready": app_ring_ready,
    "set": app_set,
    "export": app_export,
    "multiset": app_multiset,
    "unset": app_unset,
    "log": app_noop,
    "info": app_noop,
    "respond": app_noop,
    "playback": app_playback,
    "play_and_get_digits": app_play_and_get_digits,
    "read": app_read,
    "sleep": app_sleep,
    "record": app_record,
    "bridge": app_bridge,
    "hangup": app_hangup,
    "transfer": app_transfer,
    "park": app_park,
    "echo": app_echo,
    "conference": app_conference,
    "txfax": app_txfax,
    "rxfax": app_rxfax,
    "spandsp_start_fax_detect": app_spandsp_start_fax_detect,
    "spandsp_stop_fax_detect": app_spandsp_stop_fax_detect,
}
