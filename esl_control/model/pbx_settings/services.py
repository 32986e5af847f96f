"""PBX call-handling and security settings: one ``tel_settings`` document per PBX (``_id`` = PBX
id). Each section is written with ``$set`` on its own path, so saving call handling never
overwrites a concurrent save of security or of the mask list."""
from __future__ import annotations

from typing import Any, Mapping

from esl_control.model.pbx_settings.schemas import SECTION_CLEANERS, defaults, merged, refs_of_settings
from esl_control.model.quotas import require_feature
from esl_control.model.references import check_refs_exist
from esl_control.model.service import TenantService
from pult.i18n import N_
from storage.repos.telephony import TelSettings

# Sections that exist only with an edition feature (PRODUCT.md §2, D §4.6.3.3): flag, message.
SECTION_FEATURES = {
    "fax": ("fax", N_("Fax reception is not included in your PBX edition, so its settings cannot be changed.")),
    "recording": ("call_recording",
                  N_("Call recording is not included in your PBX edition, so its settings cannot be changed.")),
}


class PbxSettingsService(TenantService):
    repo_cls = TelSettings
    object_type = "settings"
    section = "telephony.settings"

    async def get(self) -> dict:
        """Every section, stored values over the defaults."""
        doc = await self.repo.find_one({"_id": self.pbx_id}) or {}
        out = defaults()
        for key in out:
            if key in doc:
                out[key] = merged(out[key], doc[key]) if isinstance(out[key], dict) else doc[key]
        return out

    async def _save(self, section: str, clean: dict) -> dict:
        before = (await self.get())[section]
        await check_refs_exist(self.db, self.scope, refs_of_settings({section: clean}))
        await self.repo.update_one({"_id": self.pbx_id}, {"$set": {section: clean}}, upsert=True)
        await self._audit("update", {"_id": self.pbx_id, "name": section, **before},
                          {"_id": self.pbx_id, "name": section, **clean})
        return clean

    async def update_call_handling(self, data: Mapping[str, Any]) -> dict:
        return await self.update_section("call_handling", data)

    async def update_security(self, data: Mapping[str, Any]) -> dict:
        return await self.update_section("security", data)

    async def update_section(self, section: str, data: Mapping[str, Any]) -> dict:
        """Change some fields of a settings section (a key of ``SECTION_CLEANERS``: ``call_handling``,
        ``security``, ``sip_display``, ``voicemail``, ``fax``, ``recording``, ``prompts``; the rest
        keep their current values). ``fax`` and ``recording`` are refused (409 ``edition_feature``)
        when the edition lacks the feature: after validation, before the write."""
        clean = SECTION_CLEANERS[section]
        current = (await self.get())[section]
        cleaned = clean(merged(current, data))
        if section in SECTION_FEATURES:
            await require_feature(self.db, self.pbx_id, *SECTION_FEATURES[section])
        return await self._save(section, cleaned)
