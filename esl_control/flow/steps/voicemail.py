"""Voice mail: the PBX's voice-mail prompt (or the catalogue's greeting), the beep, a recording of
at most the PBX's limit into the spool; a job imports the spool file (nothing is lost)."""
from __future__ import annotations

from ..engine import NEXT, CallContext


async def run(step: dict, ctx: CallContext) -> str:
    snap = ctx.snapshot
    await ctx.channel.answer()
    prompt = ctx.sound(snap.voicemail_prompt, "voicemail_prompt") or ctx.phrase("voicemail_greeting")
    await ctx.channel.play(prompt)
    emails = list(step.get("emails") or [])
    entry = ctx.note("voicemail", max_seconds=snap.voicemail_max_length, emails=emails or None)
    recorded = await ctx.channel.record(ctx.spool_name("vm"), snap.voicemail_max_length)
    entry["path"] = recorded.path
    entry["seconds"] = recorded.seconds
    await ctx.channel.set_data("pult_voicemail", recorded.path or "")
    return NEXT
