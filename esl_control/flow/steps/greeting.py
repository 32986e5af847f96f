"""Greeting: play the scheme's sound; with "wait for end" off a key stops it and is kept for the
menu that follows (PRODUCT.md §4.2)."""
from __future__ import annotations

from ..engine import NEXT, CallContext


async def run(step: dict, ctx: CallContext) -> str:
    media = ctx.sound(step.get("sound_id"), "greeting")
    if media is None:
        ctx.note("greeting", played=False, reason="no_sound")
        return NEXT
    await ctx.channel.answer()
    pressed = await ctx.channel.play(media, interruptible=not step.get("wait_end"))
    ctx.last_prompt = media
    ctx.pending += pressed
    ctx.note("greeting", sound=media.label, wait_end=bool(step.get("wait_end")), pressed=pressed or None)
    return NEXT
