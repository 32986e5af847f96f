"""The engine: walks a scheme's steps over a :class:`~esl_control.flow.channel.Channel`.

Like Kazoo's ``cf_exe``: the engine knows nothing of the step kinds. A kind is one module
``esl_control.flow.steps.<kind>`` with one entry point ``async def run(step, ctx) -> outcome``;
adding a kind means adding a file. Outcomes:

- :data:`NEXT` — go on with the next step of the current block (not answered, busy, failed,
  a greeting played, a step that could not run);
- :data:`END` — the call is over (answered and finished, hung up, fax received);
- :data:`RETURN_MAIN` — back to the start of the time block's main menu;
- :class:`Enter` — run a nested block (a menu item, a processing rule); its own outcome
  (END / RETURN_MAIN) is passed up.

Every decision is appended to ``ctx.path`` (what the dry run shows and the call record keeps).
A step that raises does not drop the caller: the failure is logged and noted in the path, and
the engine goes on with the next step.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from esl_control.model.effective import PbxSnapshot

from .channel import Channel, ChannelFailed, Media

log = logging.getLogger(__name__)

__all__ = ["NEXT", "END", "RETURN_MAIN", "Enter", "CallContext", "Engine", "step_runner", "MAX_RETURNS"]

NEXT = "next"
END = "end"
RETURN_MAIN = "return_to_main"
#: "return to main menu" at most this many times in one call (a scheme cannot loop forever)
MAX_RETURNS = 10
#: at most this many steps in one call (belt and braces against a loop)
MAX_STEPS_RUN = 1000


@dataclass(frozen=True)
class Enter:
    steps: Sequence[dict]
    label: str = ""


@dataclass
class CallContext:
    """One call as the steps see it."""

    snapshot: PbxSnapshot
    channel: Channel
    at: datetime
    caller: str | None
    destination: str | None = None
    path: list[dict] = field(default_factory=list)
    number: dict | None = None           # the PBX number the call came in on
    last_prompt: Media | None = None     # what a menu replays
    pending: str = ""                    # digits pressed during an interruptible prompt
    from_menu: bool = False              # a menu ran: ringback is the PBX's menu melody
    steps_run: int = 0
    engine: "Engine | None" = None
    spool_names: int = 0
    random: Any = None                   # random.Random of the "random" strategy (seeded in tests)
    shared: Any = None                   # state shared with other calls (esl_control.flow.shared)
    caller_employee: dict | None = None  # the employee whose phone places an internal/outbound call
    via_trunk: str | None = None         # the tenant trunk the call came in through (one of its lines)
    elapsed: Callable[[], float] | None = None  # seconds since the call reached Pult (stage timings)
    following: Sequence[dict] = ()       # the steps after the running one in its block (a greeting
                                         # before a menu with a fax rule listens for the fax tone)

    def note(self, step: str, /, **fields: Any) -> dict:
        entry = {"step": step, **{k: v for k, v in fields.items() if v is not None}}
        if self.elapsed is not None:  # when it happened: the stage timings of the call record
            entry["t"] = round(self.elapsed(), 2)
        self.path.append(entry)
        return entry

    def phrase(self, phrase_id: str) -> Media:
        return Media.phrase(phrase_id)

    def sound(self, sound_id: str | None, what: str = "sound") -> Media | None:
        """The media of a stored sound file; ``None`` (and a note) if it is gone or not ready."""
        if not sound_id:
            return None
        if not self.snapshot.sound_playable(sound_id):
            self.note("problem", what=what, reason="sound_unavailable", sound_id=sound_id)
            return None
        return Media.sound(sound_id, self.snapshot.sound_name(sound_id) or sound_id)

    def spool_name(self, kind: str) -> str:
        self.spool_names += 1
        return f"{kind}-{self.channel.uuid}-{self.spool_names}"

    async def say(self, phrase_id: str) -> None:
        """Play a prompt of the catalogue; a failure to play is noted, never raised."""
        try:
            await self.channel.play(self.phrase(phrase_id))
        except ChannelFailed as exc:
            self.note("problem", what="play", phrase=phrase_id, reason=str(exc))


Step = Callable[[dict, CallContext], Awaitable[Any]]
_STEPS: dict[str, Step] = {}


def step_runner(kind: str) -> Step | None:
    """The entry point of a step kind (``esl_control.flow.steps.<kind>.run``), ``None`` if unknown."""
    fn = _STEPS.get(kind)
    if fn is None:
        if not kind or not kind.replace("_", "").isalnum():
            return None
        try:
            module = importlib.import_module(f"esl_control.flow.steps.{kind}")
        except ModuleNotFoundError:
            return None
        fn = _STEPS[kind] = module.run
    return fn


class Engine:
    """Runs blocks of steps (see the module docstring)."""

    async def run_block(self, steps: Sequence[dict], ctx: CallContext, *, level: int = 0) -> str:
        """Run ``steps`` in order; returns END, RETURN_MAIN or NEXT (the block ran out)."""
        ctx.engine = self
        for i, step in enumerate(steps):
            ctx.following = steps[i + 1:]
            if ctx.channel.gone:
                return END
            ctx.steps_run += 1
            if ctx.steps_run > MAX_STEPS_RUN:
                ctx.note("problem", reason="too_many_steps")
                return END
            kind = step.get("kind", "")
            run = step_runner(kind)
            if run is None:
                ctx.note("problem", reason="unknown_step", kind=kind)
                continue
            try:
                outcome = await run(step, ctx)
            except ChannelFailed as exc:
                log.warning("step %s failed on call %s: %s", kind, ctx.channel.uuid, exc)
                ctx.note("problem", kind=kind, reason="channel_failed", detail=str(exc))
                outcome = NEXT
            except Exception as exc:  # a bug or bad data: never leave the caller in silence
                if type(exc).__name__ == "CallGone":
                    return END
                log.exception("step %s raised on call %s", kind, ctx.channel.uuid)
                ctx.note("problem", kind=kind, reason="step_error", detail=f"{type(exc).__name__}: {exc}")
                outcome = NEXT
            while isinstance(outcome, Enter):
                outcome = await self.run_block(outcome.steps, ctx, level=level + 1)
                if outcome == NEXT:  # a nested block that ran out: treat as hang-up
                    outcome = END
            if outcome == END or ctx.channel.gone:
                return END
            if outcome == RETURN_MAIN:
                return RETURN_MAIN
        return NEXT

    async def run_scheme_block(self, steps: Sequence[dict], ctx: CallContext) -> str:
        """A time block: "return to main menu" restarts it at its first menu."""
        returns = 0
        start = 0
        while True:
            outcome = await self.run_block(steps[start:], ctx)
            if outcome != RETURN_MAIN:
                return outcome
            returns += 1
            if returns > MAX_RETURNS:
                ctx.note("problem", reason="too_many_returns")
                return NEXT
            menu_at = next((i for i, s in enumerate(steps) if s.get("kind") == "menu"), 0)
            # replay the prompt of the menu: start at the greeting just before it, if any
            start = menu_at - 1 if menu_at > 0 and steps[menu_at - 1].get("kind") == "greeting" else menu_at
            ctx.note("return_to_main")
