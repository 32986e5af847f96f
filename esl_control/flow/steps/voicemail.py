"""Voice mail: prompt, beep, a recording of at most the PBX's limit into the spool
(:func:`esl_control.flow.mailbox.leave_voicemail`), then the next step (the final hang-up)."""
from __future__ import annotations

from ..engine import NEXT, CallContext
from ..mailbox import leave_voicemail


async def run(step: dict, ctx: CallContext) -> str:
    await leave_voicemail(ctx, step.get("emails") or [])
    return NEXT
