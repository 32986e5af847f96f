"""The "check a call" use case, shared by the dry-run API and the cabinet page (issue 12).

:func:`check_call` loads the PBX's snapshot, validates the request with the engine's own rules
(:func:`esl_control.flow.dryrun.parse_request`) and runs the engine over the recording fake
(:func:`esl_control.flow.dryrun.dry_run`) — one implementation for every caller.
:func:`what_now` is the cheap per-number variant of the scheme list and the number pages: one
snapshot, one dry run per number, no digits, at the current time.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable, Mapping

from esl_control.flow.dryrun import dry_run, parse_request
from esl_control.model.effective import PbxSnapshot, load_snapshot
from pult import clock

__all__ = ["check_call", "what_now", "run_checked"]

log = logging.getLogger(__name__)


async def run_checked(snapshot: PbxSnapshot, body: Mapping[str, Any], *, now: datetime | None = None) -> dict:
    """Validate ``body`` against the PBX (a ``RuleError`` names the bad field) and run it."""
    args = parse_request(snapshot, dict(body), now=now or clock.now())
    return await dry_run(snapshot, **args)


async def check_call(db, pbx_id: int, body: Mapping[str, Any], *, now: datetime | None = None
                     ) -> tuple[PbxSnapshot, dict]:
    """``(snapshot, {path, actions, ended})`` of one simulated call to a number of PBX ``pbx_id``."""
    snapshot = await load_snapshot(db, pbx_id)
    return snapshot, await run_checked(snapshot, body, now=now)


async def what_now(db, pbx_id: int, numbers: Iterable[str], *, now: datetime | None = None
                   ) -> tuple[PbxSnapshot | None, dict[str, dict]]:
    """``{number: dry-run result}`` of a call to each of ``numbers`` right now (no caller, no
    digits). A number the PBX does not have (a trunk's, one moved away meanwhile) is left out, and
    so is one whose dry run fails (logged): a page that lists numbers must show them anyway."""
    snapshot = await load_snapshot(db, pbx_id)
    out: dict[str, dict] = {}
    if snapshot is None:
        return None, out
    at = now or clock.now()
    for number in dict.fromkeys(numbers):
        if snapshot.number(number=number) is None:
            continue
        try:
            out[number] = await dry_run(snapshot, number=number, caller=None, at=at)
        except Exception:  # noqa: BLE001 — the engine notes its own faults; anything else is a bug
            log.exception("dry run of %s (PBX %s) failed", number, pbx_id)
    return snapshot, out
