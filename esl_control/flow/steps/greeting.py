"""Greeting: play the scheme's sound; with "wait for end" off a key stops it and is kept for the
menu that follows (PRODUCT.md §4.2). Before a menu whose fax rule is in effect the channel
listens for a fax tone already during the greeting (a fax machine's tone stops it; the menu
then takes its fax rule at once)."""
from __future__ import annotations

from ..engine import NEXT, CallContext
from .menu import fax_rule


async def run(step: dict, ctx: CallContext) -> str:
    media = ctx.sound(step.get("sound_id"), "greeting")
    if media is None:
        ctx.note("greeting", played=False, reason="no_sound")
        return NEXT
    await ctx.channel.answer()
    following = ctx.following[0] if ctx.following else None
    if following is not None and following.get("kind") == "menu" and fax_rule(following, ctx) is not None:
        await ctx.channel.watch_fax()
    pressed = await ctx.channel.play(media, interruptible=not step.get("wait_end"))
    ctx.last_prompt = media
    ctx.pending += pressed
    ctx.note("greeting", sound=media.label, wait_end=bool(step.get("wait_end")), pressed=pressed or None,
             fax_tone=True if ctx.channel.fax_detected else None)
    return NEXT
