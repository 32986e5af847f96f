"""Cabinet pages of the PBX settings sections that first existed only in the API (inventory D
§4.6.1.2, §4.6.5.1-2, PRODUCT §7-§8): voice mail, fax and call recording (tabs of "Voice mail,
fax, recording"), what internal calls show (a tab of the SIP pages), and a number's own warning
before the connection (A §4.4.1.2) on the number page — over real HTTP, in both languages."""
from __future__ import annotations

import pytest

from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.integration.test_tel_pages_forms import field_error
from tests.unit.test_tel_schemas import wav_bytes
from esl_control.model.crypto import SecretBox
from esl_control.model.numbers.services import NumberService
from esl_control.model.sounds.services import SoundService

pytestmark = pytest.mark.asyncio(loop_scope="module")
ADMIN = {"kind": "system", "login": "test", "ip": None}


async def test_the_new_settings_pages_render_in_both_languages_with_their_defaults(st):
    pages = {"/telephony/settings/voicemail": ("Voice mail", "Голосовая почта", "Default: 180."),
             "/telephony/settings/fax": ("Fax", "Факс", "Default: on."),
             "/telephony/settings/recording": ("Call recording", "Запись разговоров", "Default: 365."),
             "/telephony/sip/display": ("What internal calls show", "Что показывают внутренние звонки",
                                        "Default: The employee&#x27;s name.")}
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        for path, (title_en, title_ru, default) in pages.items():
            r = await en.get(path)
            assert r.status_code == 200 and title_en in r.text and default in r.text, path
            assert f'href="{path}" class="active"' in r.text, path     # its tab is the current one
            r = await ru.get(path)
            assert r.status_code == 200 and title_ru in r.text, path
        assert "/telephony/settings/voicemail" in (await en.get("/")).text   # the menu links the tabs
        call = (await en.get("/telephony/settings")).text
        assert 'name="announce_caller"' in call and 'name="line_warnings"' in call


async def test_saving_the_sections_through_the_forms_and_errors_next_to_the_field(st):
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        r = await en.post_form("/telephony/settings/voicemail", {
            "max_length": "120", "default_email": "office@example.com; boss@example.com",
            "duplicate_to_default": "on", "delivery": "email_link", "prompt": ""})
        assert r.status_code == 302, r.text[:2000]
        r = await ru.post_form("/telephony/settings/voicemail", {"max_length": "5", "default_email": "not-an-email",
                                                                 "delivery": "cabinet", "prompt": ""})
        assert r.status_code == 422
        assert field_error(r.text, "max_length") == "Должно быть целым числом от 10 до 600"
        assert 'value="5"' in r.text                                 # what was typed stays in the form
        assert (await en.post_form("/telephony/settings/fax", {"in_call": "on", "delivery": "cabinet"})).status_code == 302
        assert (await en.post_form("/telephony/settings/recording", {"retention_days": "30", "channels": "per_party",
                                                                     "storage": "email_only"})).status_code == 302
        r = await en.post_form("/telephony/settings/recording", {"retention_days": "0", "channels": "mono", "storage": "cabinet"})
        assert r.status_code == 422 and field_error(r.text, "retention_days") == "Must be a whole number from 1 to 3650"
        assert (await en.post_form("/telephony/sip/display", {"name": "extension", "number": "login"})).status_code == 302
        api = (await en.get("/api/v1/telephony/settings/voicemail")).json()
        assert api == {"max_length": 120, "default_email": "office@example.com, boss@example.com",
                       "duplicate_to_default": True, "delivery": "email_link", "prompt": None}
        fax = (await en.get("/api/v1/telephony/settings/fax")).json()
        assert fax == {"in_call": True, "auto_detect": False, "copy_to_employee": False, "delivery": "cabinet"}
        rec = (await en.get("/api/v1/telephony/settings/recording")).json()
        assert rec == {"retention_days": 30, "channels": "per_party", "storage": "email_only"}
        assert (await en.get("/api/v1/telephony/settings/sip-display")).json() == {"name": "extension", "number": "login"}
        page = (await en.get("/telephony/settings/fax")).text
        assert 'id="auto_detect" name="auto_detect" checked' not in page and 'id="in_call" name="in_call" checked' in page


async def test_rights_employee_refused_viewer_reads_only(st):
    async with st.client("101/emp") as c:
        for path in ("/telephony/settings/voicemail", "/telephony/settings/fax", "/telephony/sip/display"):
            assert (await c.get(path)).status_code == 403, path
    async with st.client("101/viewer") as c:
        page = (await c.get("/telephony/settings/recording")).text
        assert "<fieldset disabled>" in page and 'id="save"' not in page
        assert (await c.post_form("/telephony/settings/recording", {"retention_days": "7"})).status_code == 403


async def test_a_numbers_own_warning_is_picked_on_its_page_only_while_the_pbx_allows_it(st):
    numbers = NumberService(st.db, 101, ADMIN, box=SecretBox.from_settings(st.ctx.settings))
    line = await numbers.connect_passive({"number": "74957770011", "comment": "office"})
    wav = await SoundService(st.db, 101, ADMIN, media=st.store.media).upload(wav_bytes(), {"name": "Call is recorded"})
    async with st.client("101/admin", "en") as en:
        page = (await en.get(f"/telephony/numbers/{line['id']}")).text
        assert 'id="warning-off"' in page and 'name="warning_sound"' not in page
        # a save while the picker is hidden leaves the warning alone
        assert (await en.post_form(f"/telephony/numbers/{line['id']}", {"comment": "front desk"})).status_code == 302
        r = await en.post_form("/telephony/settings", {**(await _call_handling_form(en)), "line_warnings": "on"})
        assert r.status_code == 302, r.text[:2000]
        page = (await en.get(f"/telephony/numbers/{line['id']}")).text
        assert 'name="warning_sound"' in page and "Call is recorded" in page
        assert "builtin:" not in page.split('name="warning_sound"')[1].split("</select>")[0]  # uploaded files only
        r = await en.post_form(f"/telephony/numbers/{line['id']}", {"comment": "front desk", "warning_sound": wav["id"]})
        assert r.status_code == 302
        assert (await numbers.get(line["id"]))["warning_sound"] == wav["id"]
        r = await en.post_form(f"/telephony/numbers/{line['id']}", {"comment": "front desk", "warning_sound": "builtin:abba"})
        assert r.status_code == 422 and field_error(r.text, "warning_sound")
        assert (await en.post_form(f"/telephony/numbers/{line['id']}", {"comment": "x", "warning_sound": ""})).status_code == 302
        assert (await numbers.get(line["id"]))["warning_sound"] is None                       # «No»


async def _call_handling_form(client) -> dict:
    """The call-handling form as the page fills it (current values)."""
    api = (await client.get("/api/v1/telephony/settings/call-handling")).json()
    form = {k: str(v) for k, v in api.items() if isinstance(v, (int, str)) and not isinstance(v, bool)}
    form.update({f"queue.{k}": str(v) for k, v in api["queue"].items() if not isinstance(v, bool) and v is not None})
    form.update({f"dial_extensions.{k}": str(v) for k, v in api["dial_extensions"].items() if not isinstance(v, bool)})
    form["home_area_codes"] = ", ".join(api["home_area_codes"])
    for k in ("queue.enabled", "dial_extensions.enabled"):
        form[k] = "on"
    return form
