"""Fax reception into the spool (terminal: the call ends with it). Addresses: the step's, else
the PBX default fax address."""
from __future__ import annotations

from esl_control.model import vocabulary as vocab

from ..engine import END, CallContext


async def run(step: dict, ctx: CallContext) -> str:
    await ctx.channel.answer()
    emails = list(step.get("emails") or []) or ([ctx.snapshot.default_fax_email]
                                                 if ctx.snapshot.default_fax_email else [])
    entry = ctx.note("fax", emails=emails or None)
    received = await ctx.channel.receive_fax(ctx.spool_name("fax"))
    entry.update(path=received.path, ok=received.ok, pages=received.pages)
    await ctx.channel.set_data(vocab.FAX, received.path or "")
    await ctx.channel.hangup("NORMAL_CLEARING")
    return END
