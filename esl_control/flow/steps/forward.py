"""Forward to a group / an employee / an external number / a trunk / an extension. Answered: the
call ends when that conversation ends; not answered, busy, failed: the next step."""
from __future__ import annotations

from ..engine import END, NEXT, CallContext
from ..targets import forward


async def run(step: dict, ctx: CallContext) -> str:
    target = step.get("target")
    if not target:
        ctx.note("forward", skipped=True, reason="no_target")
        return NEXT
    result = await forward(ctx, target, step.get("ring_time"))
    return END if result is not None and result.answered else NEXT
