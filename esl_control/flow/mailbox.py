"""Voice mail as the engine leaves it: the PBX's voice-mail prompt (the catalogue's greeting if
its file cannot play; nothing when the PBX chose «none»), the beep, a recording of at most the
PBX's limit into the spool (a job imports the spool file; nothing is lost). Used by the
``voicemail`` step, the PBX's "if unavailable" handling and the no-scheme route."""
from __future__ import annotations

from esl_control.model import vocabulary as vocab

from .engine import CallContext

__all__ = ["leave_voicemail"]


async def leave_voicemail(ctx: CallContext, emails: list[str] | None = None) -> None:
    snap = ctx.snapshot
    await ctx.channel.answer()
    if snap.voicemail_prompt:  # the PBX's prompt (the catalogue's greeting if its file cannot play)
        await ctx.channel.play(ctx.sound(snap.voicemail_prompt, "voicemail_prompt") or ctx.phrase("voicemail_greeting"))
    # «none» (D §4.6.5.1): the beep alone
    entry = ctx.note("voicemail", max_seconds=snap.voicemail_max_length, emails=list(emails or []) or None)
    recorded = await ctx.channel.record(ctx.spool_name("vm"), snap.voicemail_max_length)
    entry["path"] = recorded.path
    entry["seconds"] = recorded.seconds
    await ctx.channel.set_data(vocab.VOICEMAIL, recorded.path or "")
