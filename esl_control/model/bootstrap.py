"""What every PBX starts with (call from the code that creates a PBX; idempotent):
its default SIP domain document, its settings document, and seed 000's default group
«По умолчанию» at extension 6, which takes the calls that chose nothing (PRODUCT.md §3)."""
from __future__ import annotations

from esl_control.model.common import SYSTEM_ACTOR
from esl_control.model.groups.services import GroupService
from esl_control.model.pbx_settings.schemas import defaults
from esl_control.model.sip.services import SipDomainService
from esl_control.routing.errors import RuleError
from storage.repos.base import Scope
from storage.repos.telephony import RingGroups, TelSettings

DEFAULT_GROUP = {"name": "По умолчанию", "extension": "6", "strategy": "simultaneous"}


async def ensure_pbx_defaults(db, pbx_id: int, *, base_domain: str | None = None) -> None:
    scope = Scope.pbx(pbx_id)
    await SipDomainService(db, pbx_id, SYSTEM_ACTOR, base_domain=base_domain).ensure_default()
    await TelSettings(db, scope).update_one({"_id": pbx_id}, {"$setOnInsert": defaults()}, upsert=True)
    if not await RingGroups(db, scope).find_one({"default": True}):
        try:
            group = await GroupService(db, pbx_id, SYSTEM_ACTOR).create(DEFAULT_GROUP)
        except RuleError as exc:  # extension 6 or the name already used by the tenant: keep theirs
            if exc.code not in ("extension.taken", "name.taken"):
                raise
            return
        await RingGroups(db, scope).update_one({"_id": group["id"]}, {"$set": {"default": True}})
