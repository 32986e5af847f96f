"""Who may use Finance: the account administrator, accountants and administrators only (issue 5).

The rights model (web/rights.py) gives the Finance section to more roles than that — the
Company head has every section but the technical ones by default, and a custom role may switch
Finance on over any base role. Finance routes therefore add a rule of their own, checked after the
section right (so a role without the section still hears which section it lacks): the user's role
must be the account administrator, an Accountant or an Administrator, or a custom role derived
from Accountant or Administrator (whose Finance toggle the section check has already verified).
Operators (platform staff) pass, and so does an operator's integration key on the one method its
capability opens (recording a payment). A PBX's API key acts with its role, so the same rule applies
to it.
"""
from __future__ import annotations

from pult.errors import AppError
from pult.i18n import N_

FINANCE_BASES = frozenset({"account_admin", "accountant", "administrator"})
#: who may change the PBX's tariff (inventory A §4.1.1: the account or the PBX administrator)
TARIFF_BASES = frozenset({"account_admin", "administrator"})

REFUSED = N_("Finance is open to the account administrator, accountants and administrators only.")


async def check_finance_role(handler, bases: frozenset = FINANCE_BASES, message: str = REFUSED) -> None:
    """Raise 403 unless the request's user has a role of ``bases`` (see the module docstring)."""
    from web.enforce import request_rights

    user = handler.current_user
    if user is None or user.get("kind") in ("operator", "integration"):
        return  # an integration key got here only through its capability (web.enforce.integration)
    rights = await request_rights(handler)
    if rights.role.base not in bases:
        raise AppError(403, "forbidden", message)


class FinanceRoleMixin:
    """Handler mixin: after the usual authentication and section check, the Finance role rule."""

    async def prepare(self) -> None:
        await super().prepare()  # type: ignore[misc]
        await check_finance_role(self)
