"""The PBX state as the cabinet shows it: the banner text of ``storage.repos.tenants.pbx_state``
in the user's language (the same pure function the call side uses)."""
from __future__ import annotations

from datetime import datetime

from pult.i18n import N_
from storage.repos.tenants import PbxState
from web.formats import iso

REASON_LABELS = {
    "balance": N_("Balance below zero"),
    "demo_expired": N_("Demo period over"),
    "operator": N_("Blocked by the operator"),
    "archived": N_("Archived"),
    "deleted": N_("Deleted"),
}
#: the banner messages of ``storage.repos.tenants.pbx_state`` (storage has no i18n marks: they
#: are marked here, where they are translated, so the catalog check sees them)
BANNER_MESSAGES = (
    N_("This PBX has been deleted."),
    N_("This PBX is archived. Calls are not handled."),
    N_("The demo period has ended and the PBX is blocked. It will be deleted in %(days)s day(s)."),
    N_("Demo version: %(days)s day(s) left."),
    N_("Outgoing calls are restricted by the operator until %(until)s."),
    N_("The PBX is blocked by the operator."),
    N_("The account balance is below zero: the services are blocked until the account is topped up."),
)
STATUS_LABELS = {"active": N_("In work"), "demo": N_("Demo"), "archived": N_("Archived"),
                 "deleted": N_("Deleted")}


def banner_text(handler, state: PbxState) -> str | None:
    """The banner of ``state`` translated, dates in the user's time zone (pages) or ISO (API)."""
    if state.banner is None:
        return None
    values = dict(state.banner.values)
    until = values.get("until")
    if isinstance(until, datetime):
        values["until"] = handler.fmt_dt(until) if hasattr(handler, "fmt_dt") else iso(until)
    text = handler._(state.banner.message, **values)
    reason = values.get("reason")
    if reason and state.banner.message.startswith(("Outgoing calls are restricted", "The PBX is blocked")):
        text = f"{text} {handler._('Reason:')} {reason}"
    return text


def state_out(handler, state: PbxState) -> dict:
    """The state as JSON: ``{blocked, reasons, banner: {level, text} | None}``."""
    return {"blocked": state.blocked, "reasons": list(state.reasons),
            "banner": None if state.banner is None else {"level": state.banner.level,
                                                         "text": banner_text(handler, state)}}
