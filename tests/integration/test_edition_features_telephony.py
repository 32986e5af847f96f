"""Edition feature flags in the telephony configuration (PRODUCT.md §2 "Editions carry quotas and
feature flags", inventory D §4.6.3.3), through the REST API: a scheme with a voice menu needs
``voice_menu``; a scheme's fax step or fax detection, a group's in-call fax and the fax settings
need ``fax``; a group's recording and the recording settings need ``call_recording``; a new
conference room needs ``conferences``. Each refusal is 409 ``edition_feature`` with a message in
the user's language, and nothing is written; with the flag on the same request succeeds; a PBX
without an edition has every feature.
"""
from __future__ import annotations

import pytest

from storage.repos.base import Scope
from storage.repos.tenants import FEATURES, Editions, Pbxes
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = "/api/v1/telephony"

MENU_BLOCKS = [{"schedule_id": None, "steps": [
    {"kind": "menu", "children": {"1": {"steps": [{"kind": "hangup"}]}}}, {"kind": "hangup"}]}]
FAX_BLOCKS = [{"schedule_id": None, "steps": [{"kind": "fax", "emails": []}, {"kind": "hangup"}]}]
FAX_DETECT_BLOCKS = [{"schedule_id": None, "steps": [
    {"kind": "menu", "children": {"1": {"steps": [{"kind": "hangup"}]}}, "rules": {"fax_detect": {"emails": []}}},
    {"kind": "hangup"}]}]

EN = {
    "voice_menu": "Voice menus are not included in your PBX edition, so a scheme cannot have a voice menu step.",
    "scheme_fax": "Fax reception is not included in your PBX edition, so a scheme cannot have a fax step or "
                  "fax detection.",
    "conferences": "Conferences are not included in your PBX edition, so conference rooms cannot be created.",
    "group_record": "Call recording is not included in your PBX edition, so a group's calls cannot be recorded.",
    "group_fax": "Fax reception is not included in your PBX edition, so a group cannot receive a fax during a call.",
    "fax_settings": "Fax reception is not included in your PBX edition, so its settings cannot be changed.",
    "recording_settings": "Call recording is not included in your PBX edition, so its settings cannot be changed.",
}
RU = {
    "voice_menu": "Голосовое меню не входит в версию вашей ВАТС, поэтому в схеме не может быть шага "
                  "«Голосовое меню».",
    "scheme_fax": "Приём факсов не входит в версию вашей ВАТС, поэтому в схеме не может быть шага «Приём факса» "
                  "и распознавания факса.",
    "conferences": "Конференц-связь не входит в версию вашей ВАТС, поэтому комнаты конференций создать нельзя.",
    "group_record": "Запись разговоров не входит в версию вашей ВАТС, поэтому записывать звонки группы нельзя.",
    "group_fax": "Приём факсов не входит в версию вашей ВАТС, поэтому группа не может принимать факс во время "
                 "разговора.",
    "fax_settings": "Приём факсов не входит в версию вашей ВАТС, поэтому его настройки изменить нельзя.",
    "recording_settings": "Запись разговоров не входит в версию вашей ВАТС, поэтому её настройки изменить нельзя.",
}


async def set_features(st, **off: bool) -> None:
    """Put PBX 101 on the edition «Lean»: every feature on except those passed as False."""
    features = {f: off.get(f, True) for f in FEATURES}
    await Editions(st.db, Scope.platform()).update_one(
        {"_id": "lean"}, {"$set": {"name": "Lean", "quotas": {}, "features": features, "monthly_fee": 0,
                                   "active": True}}, upsert=True)
    await Pbxes(st.db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"edition": "lean"}})


def refused(r, text: str) -> None:
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "edition_feature" and err["message"] == text, err


async def count(st, collection: str, pbx_id: int = 101) -> int:
    return await st.db[collection].count_documents({"pbx_id": pbx_id})


async def test_a_voice_menu_needs_the_voice_menu_flag_on_create_update_and_copy(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        await set_features(st)
        r = await c.api("POST", f"{T}/schemes", json={"name": "Menu made earlier", "blocks": MENU_BLOCKS})
        assert r.status_code == 201, r.text
        with_menu = r.json()["id"]
        r = await c.api("POST", f"{T}/schemes", json={"name": "Plain"})
        assert r.status_code == 201, r.text
        plain = r.json()["id"]

        await set_features(st, voice_menu=False)
        schemes = await count(st, "schemes")
        refused(await c.api("POST", f"{T}/schemes", json={"name": "IVR", "blocks": MENU_BLOCKS}), EN["voice_menu"])
        refused(await ru.api("POST", f"{T}/schemes", json={"name": "IVR", "blocks": MENU_BLOCKS}), RU["voice_menu"])
        refused(await c.api("PATCH", f"{T}/schemes/{plain}", json={"blocks": MENU_BLOCKS}), EN["voice_menu"])
        refused(await ru.api("POST", f"{T}/schemes/{with_menu}/copy", json={"name": "Copy"}), RU["voice_menu"])
        assert await count(st, "schemes") == schemes
        stored = await st.db["schemes"].find_one({"_id": plain})
        assert [s["kind"] for s in stored["blocks"][-1]["steps"]] == ["hangup"]   # nothing half-saved
        # a scheme without a menu is still saved; bad input still gets its field message first
        r = await c.api("PATCH", f"{T}/schemes/{plain}", json={"description": "no menu here"})
        assert r.status_code == 200, r.text
        r = await c.api("POST", f"{T}/schemes", json={"name": "", "blocks": MENU_BLOCKS})
        assert r.status_code == 422 and "name" in r.json()["error"]["fields"], r.text

        await set_features(st)
        r = await c.api("PATCH", f"{T}/schemes/{plain}", json={"blocks": MENU_BLOCKS})
        assert r.status_code == 200, r.text
        r = await c.api("POST", f"{T}/schemes/{with_menu}/copy", json={"name": "Copy"})
        assert r.status_code == 201, r.text


async def test_a_scheme_fax_step_or_fax_detection_needs_the_fax_flag(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        await set_features(st, fax=False)
        schemes = await count(st, "schemes")
        refused(await c.api("POST", f"{T}/schemes", json={"name": "Fax line", "blocks": FAX_BLOCKS}), EN["scheme_fax"])
        refused(await ru.api("POST", f"{T}/schemes", json={"name": "Fax line", "blocks": FAX_BLOCKS}),
                RU["scheme_fax"])
        r = await c.api("POST", f"{T}/schemes", json={"name": "Detector", "blocks": FAX_DETECT_BLOCKS})
        refused(r, EN["scheme_fax"])
        assert await count(st, "schemes") == schemes
        # a voice menu without fax detection is fine when only fax is missing
        r = await c.api("POST", f"{T}/schemes", json={"name": "Menu, no fax", "blocks": MENU_BLOCKS})
        assert r.status_code == 201, r.text

        await set_features(st)
        for name, blocks in (("Fax line", FAX_BLOCKS), ("Detector", FAX_DETECT_BLOCKS)):
            r = await c.api("POST", f"{T}/schemes", json={"name": name, "blocks": blocks})
            assert r.status_code == 201, r.text


async def test_a_conference_room_needs_the_conferences_flag(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        await set_features(st, conferences=False)
        rooms = await count(st, "conference_rooms")
        refused(await c.api("POST", f"{T}/conference-rooms", json={"name": "Board", "seats": 5}), EN["conferences"])
        refused(await ru.api("POST", f"{T}/conference-rooms", json={}), RU["conferences"])
        assert await count(st, "conference_rooms") == rooms
        await set_features(st)
        r = await c.api("POST", f"{T}/conference-rooms", json={"name": "Board", "seats": 5})
        assert r.status_code == 201, r.text


async def test_group_recording_and_in_call_fax_need_their_flags(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        await set_features(st)
        r = await c.api("POST", f"{T}/groups", json={"name": "Recorded earlier", "extension": "471", "record": True})
        assert r.status_code == 201, r.text
        recorded = r.json()["id"]

        await set_features(st, call_recording=False, fax=False)
        groups = await count(st, "ring_groups")
        refused(await c.api("POST", f"{T}/groups", json={"name": "Sales", "extension": "472", "record": True}),
                EN["group_record"])
        refused(await ru.api("POST", f"{T}/groups", json={"name": "Sales", "extension": "472", "record": True}),
                RU["group_record"])
        refused(await c.api("POST", f"{T}/groups", json={"name": "Sales", "extension": "472",
                                                          "features": {"fax": True}}), EN["group_fax"])
        refused(await ru.api("POST", f"{T}/groups", json={"name": "Sales", "extension": "472",
                                                           "features": {"fax": True}}), RU["group_fax"])
        assert await count(st, "ring_groups") == groups
        # in-call fax is on by default: an edition without fax makes a new group without it
        r = await c.api("POST", f"{T}/groups", json={"name": "Sales", "extension": "472"})
        assert r.status_code == 201, r.text
        sales = r.json()["id"]
        assert r.json()["features"] == {"transfer": True, "conference": True, "fax": False}
        refused(await c.api("PATCH", f"{T}/groups/{sales}", json={"record": True}), EN["group_record"])
        refused(await c.api("PATCH", f"{T}/groups/{sales}", json={"features": {"fax": True}}), EN["group_fax"])
        stored = await st.db["ring_groups"].find_one({"_id": sales})
        assert stored["record"] is False and stored["features"]["fax"] is False
        # a group recorded before the edition changed keeps its recording on other changes
        r = await c.api("PATCH", f"{T}/groups/{recorded}", json={"name": "Recorded, renamed"})
        assert r.status_code == 200, r.text
        assert (await st.db["ring_groups"].find_one({"_id": recorded}))["record"] is True

        await set_features(st)
        r = await c.api("PATCH", f"{T}/groups/{sales}", json={"record": True, "features": {"fax": True}})
        assert r.status_code == 200, r.text
        stored = await st.db["ring_groups"].find_one({"_id": sales})
        assert stored["record"] is True and stored["features"]["fax"] is True


async def test_fax_and_recording_settings_need_their_flags(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        await set_features(st, call_recording=False, fax=False)
        before = {s: (await c.get(f"{T}/settings/{s}")).json() for s in ("fax", "recording")}
        refused(await c.api("PATCH", f"{T}/settings/fax", json={"in_call": False}), EN["fax_settings"])
        refused(await ru.api("PUT", f"{T}/settings/fax", json={"auto_detect": False}), RU["fax_settings"])
        refused(await c.api("PATCH", f"{T}/settings/recording", json={"retention_days": 30}),
                EN["recording_settings"])
        refused(await ru.api("PATCH", f"{T}/settings/recording", json={"retention_days": 30}),
                RU["recording_settings"])
        assert {s: (await c.get(f"{T}/settings/{s}")).json() for s in ("fax", "recording")} == before
        # bad input still gets its field message first; other sections are untouched by the flags
        assert (await c.api("PATCH", f"{T}/settings/recording", json={"retention_days": 0})).status_code == 422
        assert (await c.api("PATCH", f"{T}/settings/voicemail", json={"max_length": 60})).status_code == 200

        await set_features(st)
        r = await c.api("PATCH", f"{T}/settings/fax", json={"in_call": False})
        assert r.status_code == 200 and r.json()["in_call"] is False, r.text
        r = await c.api("PATCH", f"{T}/settings/recording", json={"retention_days": 30})
        assert r.status_code == 200 and r.json()["retention_days"] == 30, r.text


async def test_a_pbx_without_an_edition_has_every_feature(st):
    assert (await st.db["pbxes"].find_one({"pbx_id": 202})).get("edition") is None
    async with st.client("202/admin") as c:
        r = await c.api("POST", f"{T}/schemes", json={"name": "Everything", "blocks": FAX_DETECT_BLOCKS})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"{T}/conference-rooms", json={"name": "Room"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"{T}/groups", json={"name": "Rec", "extension": "481", "record": True})
        assert r.status_code == 201 and r.json()["features"]["fax"] is True, r.text
        assert (await c.api("PATCH", f"{T}/settings/recording", json={"retention_days": 7})).status_code == 200


async def test_the_new_group_form_does_not_offer_fax_the_edition_lacks(st):
    """The group page must not tick a box its own save would refuse."""
    async with st.client("101/admin") as c:
        await set_features(st, fax=False)
        page = await c.get("/telephony/groups/new")
        assert page.status_code == 200
        fax_box = page.text.split('name="features.fax"', 1)[1].split(">", 1)[0]
        assert "checked" not in fax_box
        await set_features(st)
        page = await c.get("/telephony/groups/new")
        assert "checked" in page.text.split('name="features.fax"', 1)[1].split(">", 1)[0]
