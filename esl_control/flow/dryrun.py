"""The dry run: the engine over the recording :class:`FakeChannel`, for "what would a call do".

    result = await dry_run(snapshot, number="74951234567", caller="79161234567",
                           at=datetime(...), digits=["1"], answers={"external:7916...": "answered"})
    result["path"]     # the decision path, step by step (what the call record would keep)
    result["actions"]  # what the channel was told: answer, play, collect, ring …
"""
from __future__ import annotations

import random
from datetime import datetime
from typing import Any, Iterable

from esl_control.model.effective import PbxSnapshot

from .channel import FakeChannel
from .engine import CallContext, Engine
from .inbound import run_inbound, run_internal

__all__ = ["dry_run"]


async def dry_run(snapshot: PbxSnapshot, *, number: str | None, caller: str | None, at: datetime,
                  digits: Iterable[str | None] = (), answers: Any = None, internal: bool = False,
                  seed: int = 0) -> dict:
    """Run one simulated call and return ``{path, actions, ended: {cause, by}}``."""
    channel = FakeChannel(caller=caller, destination=number, digits=digits, answers=answers)
    num = snapshot.number(number=number) if number and not internal else None
    ctx = CallContext(snapshot, channel, at, caller, number, number=num, random=random.Random(seed))
    engine = Engine()
    if internal:
        await run_internal(ctx, engine)
    else:
        await run_inbound(ctx, engine)
    ended = next((a for a in reversed(channel.actions) if a["verb"] == "hangup"), None)
    return {"path": ctx.path, "actions": channel.actions,
            "ended": {"cause": ended["cause"], "by": ended["by"]} if ended else None}
