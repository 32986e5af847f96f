"""The channel protocol: intent-level verbs the engine's steps speak to a call.

Steps never build FreeSWITCH strings; they say *what* should happen (answer, play a phrase,
collect digits, ring these people, record a message, receive a fax, hang up) and a
:class:`Channel` does it. Two implementations: :class:`esl_control.flow.live.LiveChannel` over
the outbound Event Socket, and :class:`FakeChannel` here, which plays a script (digits, who
answers) and records what it was told — the dry run and the unit tests use it.

Nothing here imports gevent or FreeSWITCH code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

__all__ = ["Media", "Collected", "Leg", "LegResult", "RingResult", "Recorded", "FaxReceived",
           "Channel", "FakeChannel", "ChannelFailed", "ANSWERED", "NO_ANSWER", "BUSY", "FAILED",
           "CALLER_GONE"]

# ring outcomes
ANSWERED = "answered"
NO_ANSWER = "no_answer"
BUSY = "busy"
FAILED = "failed"
CALLER_GONE = "caller_gone"


class ChannelFailed(Exception):
    """The switch refused or could not run a command (the engine moves on to the next step)."""


@dataclass(frozen=True)
class Media:
    """Something the caller hears. ``kind``: ``phrase`` (a prompt id of the prompt catalogue),
    ``sound`` (a sound file of the PBX or a built-in melody: ``value`` = its id), ``file`` (a
    path or URL FreeSWITCH can play), ``silence`` (``value`` = milliseconds). ``label`` names it
    in the path (a sound's name)."""

    kind: str
    value: str
    label: str | None = None

    @classmethod
    def phrase(cls, phrase_id: str) -> "Media":
        return cls("phrase", phrase_id)

    @classmethod
    def sound(cls, sound_id: str, label: str | None = None) -> "Media":
        return cls("sound", sound_id, label)

    @classmethod
    def file(cls, path: str, label: str | None = None) -> "Media":
        return cls("file", path, label)

    def describe(self) -> str:
        return f"{self.kind}:{self.label or self.value}"


@dataclass(frozen=True)
class Collected:
    """Digits the caller entered. ``reason``: ``digits`` (max reached or inter-digit timeout after
    some digits), ``terminator`` (``#`` ended the input), ``timeout`` (nothing entered),
    ``fax`` (a fax tone was detected), ``hangup`` (the caller left)."""

    digits: str
    reason: str


@dataclass(frozen=True)
class Leg:
    """One destination to ring. ``kind``: ``sip_user`` (``address`` = ``login@domain``),
    ``external`` (a phone number through the platform gateways), ``trunk`` (``address`` = the
    number, ``gateway`` = the trunk's gateway name), ``sip_uri`` (``user@host``). ``timeout``:
    seconds to ring (0 = until the caller hangs up). ``label`` says who it is in the path
    (``employee:<id>/<method id>``, ``external:<number>``). ``dtmf`` is sent after answer
    (a number's extension suffix). ``caller_id``: the number this leg's phone shows, when it is
    not the one the whole ring shows (the PBX's "caller id on incoming calls")."""

    kind: str
    address: str
    timeout: int
    label: str
    gateway: str | None = None
    dtmf: str | None = None
    caller_id: str | None = None


@dataclass(frozen=True)
class LegResult:
    leg: Leg
    result: str  # answered | no_answer | busy | failed
    cause: str
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = {"target": self.leg.label, "kind": self.leg.kind, "address": self.leg.address,
               "timeout": self.leg.timeout, "result": self.result, "cause": self.cause}
        if self.leg.caller_id:  # what this phone showed, when not the ring's own caller id
            out["caller_id"] = self.leg.caller_id
        return out


@dataclass(frozen=True)
class RingResult:
    """``status``: answered (``answered_by`` the leg), no_answer, busy, failed, caller_gone."""

    status: str
    legs: tuple[LegResult, ...] = ()
    answered_by: Leg | None = None
    cause: str = ""

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED


@dataclass(frozen=True)
class Recorded:
    path: str | None
    seconds: float = 0.0


@dataclass(frozen=True)
class FaxReceived:
    path: str | None
    ok: bool
    pages: int = 0
    detail: str = ""


class Channel(Protocol):
    """What a step can do to a call (see the module docstring)."""

    uuid: str
    caller: str | None
    destination: str | None

    @property
    def gone(self) -> bool: ...

    async def answer(self) -> None: ...

    async def play(self, media: Media, *, interruptible: bool = False) -> str:
        """Play ``media``; with ``interruptible`` a key stops it and the key(s) are returned
        (they count as the start of the next input), else ``""``."""

    async def collect(self, prompt: Media | None, *, min_digits: int, max_digits: int,
                      timeout: float, terminators: str = "#", digit_timeout: float = 3.0) -> Collected: ...

    async def ring(self, legs: Sequence[Leg], *, simultaneous: bool, ringback: Media | None = None,
                   caller_id_number: str | None = None, caller_id_name: str | None = None,
                   announce: Media | None = None) -> RingResult: ...

    async def pause(self, seconds: float, media: Media | None = None) -> None: ...

    async def conference(self, room: str, pin: str | None = None) -> None:
        """Join the conference room ``room`` (its id) until the caller leaves."""

    async def record(self, name: str, max_seconds: int) -> Recorded: ...

    async def receive_fax(self, name: str) -> FaxReceived: ...

    async def watch_fax(self) -> None:
        """Listen for a calling fax machine's tone (CNG) from now on: a tone stops what is being
        played (:meth:`play`, the prompt of :meth:`collect`), :meth:`collect` answers ``"fax"``
        and :attr:`fax_detected` is true. Idempotent."""

    async def unwatch_fax(self) -> None:
        """Stop listening for the fax tone (before the call goes anywhere else). Idempotent."""

    @property
    def fax_detected(self) -> bool:
        """A fax tone was heard while watching."""

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

    async def set_data(self, name: str, value: str) -> None: ...

    def get_data(self, name: str) -> str | None: ...


# ------------------------------------------------------------------------------ the fake
Answers = Callable[[Leg, int], str]


def _answers_from(spec: Any) -> Answers:
    """``answers`` of a script: a callable ``(leg, attempt) -> result``, or a mapping from a leg
    label / address to a result or to a list of results by attempt (missing: no answer)."""
    if callable(spec):
        return spec
    table: Mapping[str, Any] = dict(spec or {})

    def pick(leg: Leg, attempt: int) -> str:
        for key in (leg.label, leg.address, leg.address.split("@", 1)[0]):
            if key in table:
                value = table[key]
                if isinstance(value, (list, tuple)):
                    return value[attempt] if attempt < len(value) else NO_ANSWER
                return value
        return NO_ANSWER
    return pick


class FakeChannel:
    """A channel that plays a script and records every intent (the dry run, unit tests).

    ``digits``: what the caller presses, in order: each item is one input (``"1"``, ``"123#"``),
    ``""`` or ``None`` for "nothing" (a timeout), ``"fax"`` for a fax tone. Items beginning with
    ``"!"`` are pressed during the next interruptible prompt (``"!1"``). When the script runs
    out the caller enters nothing; after ``max_timeouts`` timeouts in a row the caller hangs up
    (a dry run always ends). ``answers``: see :func:`_answers_from`.
    """

    def __init__(self, *, caller: str | None = "79990000000", destination: str | None = None,
                 uuid: str = "dry-run", digits: Iterable[str | None] = (), answers: Any = None,
                 talk_seconds: float = 60.0, max_timeouts: int = 6) -> None:
        self.uuid = uuid
        self.caller = caller
        self.destination = destination
        self.script: list[str | None] = list(digits)
        self.answers = _answers_from(answers)
        self.talk_seconds = talk_seconds
        self.max_timeouts = max_timeouts
        self.actions: list[dict] = []
        self.data: dict[str, str] = {}
        self.answered = False
        self.hangup_cause: str | None = None
        self.clock = 0.0
        self._attempts: dict[str, int] = {}
        self._timeouts = 0
        #: fax-tone watching: on/off, and how often it was switched on (a script's ``"fax"`` is
        #: heard by :meth:`collect`, watching or not: the dry run shows the rule's decision)
        self.watching_fax = False
        self.fax_watches = 0

    @property
    def gone(self) -> bool:
        return self.hangup_cause is not None

    def _log(self, verb: str, **kw: Any) -> None:
        self.actions.append({"verb": verb, "t": round(self.clock, 1), **kw})

    def verbs(self) -> list[str]:
        return [a["verb"] for a in self.actions]

    def heard(self) -> list[str]:
        """What the caller heard, in order (media descriptions)."""
        return [a["media"] for a in self.actions if a["verb"] in ("play", "collect", "pause") and a.get("media")]

    async def answer(self) -> None:
        if not self.answered:
            self.answered = True
            self._log("answer")

    async def play(self, media: Media, *, interruptible: bool = False) -> str:
        pressed = ""
        if interruptible and self.script and isinstance(self.script[0], str) and self.script[0].startswith("!"):
            pressed = self.script.pop(0)[1:]
        self._log("play", media=media.describe(), interrupted_by=pressed or None)
        self.clock += 2.0
        return pressed

    async def collect(self, prompt: Media | None, *, min_digits: int, max_digits: int,
                      timeout: float, terminators: str = "#", digit_timeout: float = 3.0) -> Collected:
        if self.gone:
            return Collected("", "hangup")
        item = self.script.pop(0) if self.script else None
        if isinstance(item, str) and item.startswith("!"):
            item = item[1:]
        if item == "fax":
            result = Collected("", "fax")
        elif not item:
            self._timeouts += 1
            self.clock += timeout
            result = Collected("", "timeout")
        else:
            self._timeouts = 0
            digits, reason = item, "digits"
            for i, ch in enumerate(item):
                if ch in terminators:
                    digits, reason = item[:i], "terminator"
                    break
            digits = digits[:max_digits]
            result = Collected(digits, reason)
        self._log("collect", media=prompt.describe() if prompt else None, min=min_digits, max=max_digits,
                  timeout=timeout, digits=result.digits, reason=result.reason)
        if result.reason == "timeout" and self._timeouts >= self.max_timeouts:
            await self.hangup("ORIGINATOR_CANCEL", by="caller")
            return Collected("", "hangup")
        return result

    async def ring(self, legs: Sequence[Leg], *, simultaneous: bool, ringback: Media | None = None,
                   caller_id_number: str | None = None, caller_id_name: str | None = None,
                   announce: Media | None = None) -> RingResult:
        outcomes = []
        for leg in legs:
            n = self._attempts.get(leg.label, 0)
            self._attempts[leg.label] = n + 1
            outcomes.append((leg, self.answers(leg, n)))
        self._log("ring", legs=[{"target": leg.label, "address": leg.address, "kind": leg.kind,
                                 "timeout": leg.timeout, **({"caller_id": leg.caller_id} if leg.caller_id else {})}
                                for leg in legs],
                  simultaneous=simultaneous, ringback=ringback.describe() if ringback else None,
                  caller_id=caller_id_number, announce=announce.describe() if announce else None)
        results: list[LegResult] = []
        winner = None
        for leg, outcome in outcomes:
            if winner is not None:
                results.append(LegResult(leg, NO_ANSWER, "LOSE_RACE"))
                continue
            if outcome == ANSWERED:
                winner = leg
                results.append(LegResult(leg, ANSWERED, "NORMAL_CLEARING"))
            elif outcome == BUSY:
                results.append(LegResult(leg, BUSY, "USER_BUSY"))
            elif outcome == FAILED:
                results.append(LegResult(leg, FAILED, "CALL_REJECTED"))
            else:
                results.append(LegResult(leg, NO_ANSWER, "NO_ANSWER"))
        if simultaneous:
            self.clock += max((leg.timeout for leg in legs), default=0)
        else:
            self.clock += sum(leg.timeout for leg, _ in outcomes)
        self.actions[-1]["results"] = [r.to_dict() for r in results]
        if winner is not None:
            self._log("bridged", target=winner.label)
            self.clock += self.talk_seconds
            await self.hangup("NORMAL_CLEARING", by="far_end")
            return RingResult(ANSWERED, tuple(results), winner, "NORMAL_CLEARING")
        if results and all(r.result == BUSY for r in results):
            return RingResult(BUSY, tuple(results), None, "USER_BUSY")
        if results and all(r.result == FAILED for r in results):
            return RingResult(FAILED, tuple(results), None, "CALL_REJECTED")
        return RingResult(NO_ANSWER, tuple(results), None, "NO_ANSWER")

    async def pause(self, seconds: float, media: Media | None = None) -> None:
        self._log("pause", seconds=seconds, media=media.describe() if media else None)
        self.clock += seconds

    async def conference(self, room: str, pin: str | None = None) -> None:
        self._log("conference", room=room, pin=bool(pin))
        self.clock += self.talk_seconds
        await self.hangup("NORMAL_CLEARING", by="caller")

    async def record(self, name: str, max_seconds: int) -> Recorded:
        path = f"spool/{name}.wav"
        self._log("record", path=path, max_seconds=max_seconds)
        self.clock += min(max_seconds, 10)
        return Recorded(path, min(max_seconds, 10))

    async def receive_fax(self, name: str) -> FaxReceived:
        path = f"spool/{name}.tif"
        self._log("receive_fax", path=path)
        return FaxReceived(path, True, 1)

    async def watch_fax(self) -> None:
        if not self.watching_fax:
            self.watching_fax = True
            self.fax_watches += 1

    async def unwatch_fax(self) -> None:
        self.watching_fax = False

    @property
    def fax_detected(self) -> bool:
        return False

    async def hangup(self, cause: str = "NORMAL_CLEARING", *, by: str = "pult") -> None:
        if self.hangup_cause is None:
            self.hangup_cause = cause
            self._log("hangup", cause=cause, by=by)

    async def set_data(self, name: str, value: str) -> None:
        self.data[name] = value

    def get_data(self, name: str) -> str | None:
        return self.data.get(name)
