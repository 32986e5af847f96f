"""Return to the main menu (the last step of a nested block)."""
from __future__ import annotations

from ..engine import RETURN_MAIN, CallContext


async def run(step: dict, ctx: CallContext) -> str:
    return RETURN_MAIN
