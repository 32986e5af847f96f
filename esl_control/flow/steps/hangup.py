"""Hang up: the final step of every top-level block."""
from __future__ import annotations

from ..engine import END, CallContext


async def run(step: dict, ctx: CallContext) -> str:
    ctx.note("hangup", cause="NORMAL_CLEARING")
    await ctx.channel.hangup("NORMAL_CLEARING")
    return END
