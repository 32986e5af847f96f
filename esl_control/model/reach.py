"""Role reach (PRODUCT.md §6, inventory D §4.6.3.3): how far a user's role reaches in the sections
that hold people — everyone, the user's own card, the groups the user is a member of, or the
groups the user supervises. The services apply it in their queries (a list reads only what the
user reaches; one object outside the reach is refused), so the cabinet page and the API, which
both call the services, agree; the web edge only turns the user's rights into a :class:`Reach`.

Employees reached: ``own`` — the user's card; ``groups`` — the members of the groups the user's
card is a member of, and the card; ``supervised`` — the members of the supervised groups, and the
card. Groups reached: ``supervised`` — the supervised groups; ``own`` / ``groups`` — the groups the
user's card is a member of.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.telephony import RingGroups

KINDS = ("all", "own", "groups", "supervised")


@dataclass(frozen=True)
class Reach:
    kind: str = "all"
    employee_id: str | None = None          # the user's own card
    supervised_groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def everything(self) -> bool:
        return self.kind not in ("own", "groups", "supervised")

    def require_everything(self, message: str) -> None:
        """Creating and deleting is for users who reach everything (403 otherwise)."""
        if not self.everything:
            raise AppError(403, "forbidden", message)


EVERYTHING = Reach()


async def reached_groups(db, scope: Scope, reach: Reach) -> set[str] | None:
    """The ids of the groups ``reach`` covers (None: every group)."""
    if reach.everything:
        return None
    if reach.kind == "supervised":
        return set(reach.supervised_groups)
    if not reach.employee_id:
        return set()
    docs = await RingGroups(db, scope).find({"members.employee_id": reach.employee_id}, projection={"_id": 1})
    return {g["_id"] for g in docs}


async def reached_employees(db, scope: Scope, reach: Reach) -> set[str] | None:
    """The ids of the employees ``reach`` covers (None: every employee)."""
    if reach.everything:
        return None
    own = {reach.employee_id} if reach.employee_id else set()
    if reach.kind == "own":
        return own
    groups = RingGroups(db, scope)
    if reach.kind == "supervised":
        docs = await groups.find({"_id": {"$in": sorted(reach.supervised_groups)}}, projection={"members": 1})
    else:
        docs = await groups.find({"members.employee_id": reach.employee_id}, projection={"members": 1}) \
            if reach.employee_id else []
    return {m["employee_id"] for g in docs for m in g.get("members", ()) if m.get("employee_id")} | own


OUTSIDE_EMPLOYEES = N_("This employee is outside the employees your role covers.")
OUTSIDE_GROUPS = N_("This group is outside the groups your role covers.")
MANAGE_EMPLOYEES = N_("Your role covers only some employees; creating and deleting employees needs access to all of them.")
MANAGE_GROUPS = N_("Your role covers only some groups; creating and deleting groups needs access to all of them.")
