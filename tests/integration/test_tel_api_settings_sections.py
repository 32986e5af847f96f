"""The PBX settings sections added by the completeness audit over the REST API: voice mail, fax,
call recording and what internal calls show — their defaults (3 min voice mail, 365 days of
recordings), partial changes, RU/EN field errors, and the rights of a role without the section."""
from __future__ import annotations

import pytest

from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)

pytestmark = pytest.mark.asyncio(loop_scope="module")
S = "/api/v1/telephony/settings"


async def test_voicemail_fax_recording_and_sip_display_sections(st):
    async with st.client("101/admin") as c:
        vm = (await c.get(f"{S}/voicemail")).json()
        assert vm == {"max_length": 180, "default_email": "", "duplicate_to_default": False,
                      "delivery": "cabinet_attachment", "prompt": "builtin:voicemail_warning"}
        r = await c.api("PATCH", f"{S}/voicemail", json={"max_length": 60, "default_email": "a@b.ru; c@d.ru"})
        assert r.status_code == 200, r.text
        assert r.json()["max_length"] == 60 and r.json()["default_email"] == "a@b.ru, c@d.ru"
        assert r.json()["delivery"] == "cabinet_attachment"
        r = await c.api("PATCH", f"{S}/voicemail", json={"max_length": 5})
        assert r.status_code == 422
        fields = r.json()["error"]["fields"]
        assert fields == {"max_length": "Must be a whole number from 10 to 600"}, fields
        assert (await c.api("PATCH", f"{S}/voicemail", json={"prompt": "no-such-sound"})).status_code == 409
        assert (await c.get(f"{S}/voicemail")).json()["max_length"] == 60   # nothing half-saved

        assert (await c.get(f"{S}/fax")).json() == {"in_call": True, "auto_detect": True, "copy_to_employee": False,
                                                      "delivery": "cabinet_attachment"}
        r = await c.api("PUT", f"{S}/fax", json={"delivery": "post"})
        assert r.status_code == 422
        assert (await c.api("PUT", f"{S}/fax", json={"auto_detect": False})).json()["auto_detect"] is False

        assert (await c.get(f"{S}/recording")).json() == {"retention_days": 365, "channels": "mono", "storage": "cabinet"}
        assert (await c.api("PATCH", f"{S}/recording", json={"retention_days": 0})).status_code == 422
        assert (await c.api("PATCH", f"{S}/recording", json={"retention_days": 30})).json()["retention_days"] == 30

        assert (await c.get(f"{S}/sip-display")).json() == {"name": "employee", "number": "extension"}
        assert (await c.api("PATCH", f"{S}/sip-display", json={"name": "login"})).json()["name"] == "login"
    async with st.client("101/adminru", lang="ru") as c:
        r = await c.api("PATCH", f"{S}/recording", json={"channels": "stereo"})
        assert r.status_code == 422 and "stereo" in r.text and "недопустимо" in r.text
    async with st.client("101/emp") as c:   # an employee has no right to the PBX settings
        assert (await c.api("PATCH", f"{S}/recording", json={"retention_days": 1})).status_code == 403
        assert (await c.api("PATCH", f"{S}/voicemail", json={"max_length": 600})).status_code == 403
