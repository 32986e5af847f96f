"""Edition quotas refuse creation through the telephony API (PRODUCT.md §2): employees (also by
the wizard), numbers (passive and active SIP), groups, schemes (create and copy), voice-menu
levels (scheme depth), conference seats and sound storage. Each refusal is 409
``quota_exceeded`` whose message names the edition and the limit, in the user's language, and
nothing is written. A PBX without an edition has no limits (the rest of the suite relies on it).
"""
from __future__ import annotations

import pytest

from storage.repos.base import Scope
from storage.repos.tenants import FEATURES, Editions, Pbxes
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.unit.test_tel_schemas import wav_bytes
from esl_control.model.quotas import menu_depth
from esl_control.model.sounds.services import SoundService

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = "/api/v1/telephony"
EDITION = "Tiny"


async def set_quotas(st, **quotas) -> None:
    """Put PBX 101 on the edition «Tiny» with these quotas (the others unlimited)."""
    await Editions(st.db, Scope.platform()).update_one(
        {"_id": "tiny"}, {"$set": {"name": EDITION, "quotas": quotas, "features": {f: True for f in FEATURES}, "monthly_fee": 0,
                                   "active": True}}, upsert=True)
    await Pbxes(st.db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"edition": "tiny"}})


async def total(c, path: str) -> int:
    r = await c.get(f"{T}/{path}", params={"per_page": 100})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def refused(r, text: str) -> None:
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "quota_exceeded" and err["message"] == text, err


async def test_employees_beyond_the_quota_are_refused_by_the_api_and_the_wizard(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        have = await total(c, "employees")
        await set_quotas(st, employees=have + 1)
        r = await c.api("POST", f"{T}/employees", json={"name": "Within quota", "extension": "301"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"{T}/employees", json={"name": "One too many", "extension": "302"})
        refused(r, f"Edition «Tiny» allows at most {have + 1} employees.")
        r = await ru.api("POST", f"{T}/employees/wizard", json={"name": "Лишний", "reception": "none",
                                                                 "send_email": False})
        refused(r, f"Версия «Tiny» позволяет не больше {have + 1} сотрудников.")
        assert await total(c, "employees") == have + 1
        # bad input still gets its field message first
        r = await c.api("POST", f"{T}/employees", json={"name": "", "extension": "303"})
        assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
        # a better edition lifts the limit at once
        await set_quotas(st, employees=None)
        r = await c.api("POST", f"{T}/employees", json={"name": "Unlimited now", "extension": "304"})
        assert r.status_code == 201, r.text


async def test_numbers_groups_and_schemes_beyond_the_quota(st):
    async with st.client("101/admin") as c:
        numbers, groups, schemes = await total(c, "numbers"), await total(c, "groups"), await total(c, "schemes")
        await set_quotas(st, numbers=numbers + 1, groups=groups + 1, schemes=schemes + 1)
        r = await c.api("POST", f"{T}/numbers/passive-sip", json={"number": "73432629001"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"{T}/numbers/passive-sip", json={"number": "73432629002"})
        refused(r, f"Edition «Tiny» allows at most {numbers + 1} numbers.")
        r = await c.api("POST", f"{T}/numbers/active-sip", json={"number": "73432629003", "gateway": {
            "host": "sip.other.example", "login": "acme", "password": "s3cret"}})
        refused(r, f"Edition «Tiny» allows at most {numbers + 1} numbers.")
        assert await total(c, "numbers") == numbers + 1

        r = await c.api("POST", f"{T}/groups", json={"name": "Quota group", "extension": "401"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", f"{T}/groups", json={"name": "Extra group", "extension": "402"})
        refused(r, f"Edition «Tiny» allows at most {groups + 1} groups.")
        assert await total(c, "groups") == groups + 1

        r = await c.api("POST", f"{T}/schemes", json={"name": "Quota scheme"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = await c.api("POST", f"{T}/schemes", json={"name": "Extra scheme"})
        refused(r, f"Edition «Tiny» allows at most {schemes + 1} schemes.")
        r = await c.api("POST", f"{T}/schemes/{sid}/copy", json={"name": "Copied scheme"})
        refused(r, f"Edition «Tiny» allows at most {schemes + 1} schemes.")
        assert await total(c, "schemes") == schemes + 1
        # changing an existing scheme is not creating one
        r = await c.api("PATCH", f"{T}/schemes/{sid}", json={"description": "still fine"})
        assert r.status_code == 200, r.text
        await set_quotas(st)


def _menu(inner_steps: list) -> dict:
    return {"kind": "menu", "children": {"1": {"steps": inner_steps}}}


async def test_voice_menu_levels_beyond_the_quota(st):
    one = [{"schedule_id": None, "steps": [_menu([{"kind": "hangup"}]), {"kind": "hangup"}]}]
    two = [{"schedule_id": None, "steps": [_menu([_menu([{"kind": "hangup"}]), {"kind": "hangup"}]),
                                           {"kind": "hangup"}]}]
    assert (menu_depth(one), menu_depth(two), menu_depth([{"steps": [{"kind": "hangup"}]}])) == (1, 2, 0)
    async with st.client("101/admin") as c:
        await set_quotas(st, ivr_levels=1)
        r = await c.api("POST", f"{T}/schemes", json={"name": "One level", "blocks": one})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = await c.api("POST", f"{T}/schemes", json={"name": "Two levels", "blocks": two})
        refused(r, "Edition «Tiny» allows at most 1 voice menu levels.")
        r = await c.api("PATCH", f"{T}/schemes/{sid}", json={"blocks": two})
        refused(r, "Edition «Tiny» allows at most 1 voice menu levels.")
        stored = await st.db["schemes"].find_one({"_id": sid})
        assert menu_depth(stored["blocks"]) == 1
        await set_quotas(st)


async def test_conference_seats_beyond_the_quota(st):
    async with st.client("101/admin") as c:
        await set_quotas(st, conference_seats=5)
        r = await c.api("POST", f"{T}/conference-rooms", json={"name": "Small room", "seats": 5})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        r = await c.api("POST", f"{T}/conference-rooms", json={"name": "Big room", "seats": 6})
        refused(r, "Edition «Tiny» allows at most 5 conference participants.")
        r = await c.api("PATCH", f"{T}/conference-rooms/{rid}", json={"seats": 6})
        refused(r, "Edition «Tiny» allows at most 5 conference participants.")
        assert (await st.db["conference_rooms"].find_one({"_id": rid}))["seats"] == 5
        await set_quotas(st)


async def test_sound_storage_beyond_the_quota(st):
    half_mb = wav_bytes(seconds=33)  # 16-bit 8 kHz mono: ~528 KB
    assert 500_000 < len(half_mb) < 1_048_576
    async with st.client("101/admin") as c:
        await set_quotas(st, storage_mb=1)
        await SoundService(st.db, 101, media=st.store.media).upload(half_mb, {"name": "First half"})
        before = await st.db["sound_files"].count_documents({"pbx_id": 101})
        r = await c.api("POST", f"{T}/sounds", params={"name": "Second half"}, content=half_mb,
                        headers={"Content-Type": "application/octet-stream"})
        refused(r, "Edition «Tiny» allows at most 1 MB of storage.")
        assert await st.db["sound_files"].count_documents({"pbx_id": 101}) == before
        await set_quotas(st)
