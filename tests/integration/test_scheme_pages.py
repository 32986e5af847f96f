"""The call-scheme cabinet pages over real HTTP: the list (names, descriptions, numbers, the
active mark; create, copy, rename, bind, delete refused while bound), the editor page carrying
the whole tree and the pickers, RU/EN, tenant isolation (404) and rights (Employee 403, a
view-only role gets a read-only editor and cannot change anything)."""
from __future__ import annotations

import html
import json
import re

import pytest
import pytest_asyncio

from storage.repos.base import Scope
from storage.repos.telephony import Numbers, Schemes
from tests.integration.tel_api_harness import tel_stack
from esl_control.model.groups.services import GroupService
from esl_control.model.numbers.services import NumberService
from esl_control.model.schemes.services import SchemeService
from esl_control.model.trunks.services import TrunkService

pytestmark = pytest.mark.asyncio(loop_scope="module")
ADMIN = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}
PAGES = "/telephony/schemes"
API = "/api/v1/telephony/schemes"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        group = await GroupService(stack.db, 101, ADMIN).create({"name": "Sales desk", "extension": "21"})
        number = await NumberService(stack.db, 101, ADMIN).connect_passive({"number": "73432628900"})
        stack.group, stack.number = group, number
        yield stack


def tree(group_id: str) -> list[dict]:
    """Greeting, then a menu: 2 → a nested menu, 1 → forward to the group, 10 (with a password) →
    voice mail; no-input rule; the final hang-up."""
    nested = {"kind": "menu", "children": {"5": {"steps": [{"kind": "return_to_main"}]}}}
    return [{"schedule_id": None, "steps": [
        {"kind": "greeting", "sound_id": None, "wait_end": True},
        {"kind": "menu", "children": {
            "2": {"steps": [nested, {"kind": "hangup"}]},
            "1": {"steps": [{"kind": "forward", "target": {"type": "group", "id": group_id}, "ring_time": 30},
                            {"kind": "hangup"}]},
            "10": {"password": "4321", "steps": [{"kind": "voicemail", "emails": "boss@example.com"},
                                                  {"kind": "hangup"}]}},
         "rules": {"no_input": {"timeout": 7, "steps": [{"kind": "return_to_main"}]}}},
        {"kind": "hangup"}]}]


def page_config(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="scheme-config">(.*?)</script>', text, re.S)
    assert m, "the editor page carries its configuration"
    return json.loads(m.group(1))


async def make_scheme(st, name: str, description: str = "") -> dict:
    return await SchemeService(st.db, 101, ADMIN).create({"name": name, "description": description,
                                                           "blocks": tree(st.group["id"])})


async def test_editor_page_carries_the_whole_tree_and_the_pickers(st):
    scheme = await make_scheme(st, "Main line", "Office calls")
    async with st.client("101/admin") as c:
        r = await c.get(f"{PAGES}/{scheme['id']}")
        assert r.status_code == 200, r.text
        assert "Content-Security-Policy" in r.headers and "<script>" not in r.text  # no inline code
        cfg = page_config(r.text)
    assert cfg["api"] == f"{API}/{scheme['id']}" and cfg["readonly"] is False and cfg["max_level"] == 4
    steps = cfg["scheme"]["blocks"][0]["steps"]
    assert [s["kind"] for s in steps] == ["greeting", "menu", "hangup"]
    menu = steps[1]
    # items as a list, in the order the admin arranged them (not sorted by digits)
    assert [c["digits"] for c in menu["children"]] == ["2", "1", "10"]
    assert menu["children"][2]["password"] == "4321"
    assert menu["children"][0]["steps"][0]["kind"] == "menu"
    assert menu["children"][0]["steps"][0]["children"][0]["digits"] == "5"
    assert menu["children"][1]["steps"][0]["target"] == {"type": "group", "id": st.group["id"]}
    assert menu["rules"]["no_input"]["timeout"] == 7
    assert all(s.get("id") for s in steps), "every step keeps its id, so a save keeps it too"
    assert {"id": st.group["id"], "name": "Sales desk", "hint": "21"} in cfg["pickers"]["group"]
    assert set(cfg["pickers"]) == {"schedule", "sound", "group", "employee", "trunk"}
    assert cfg["depth_message"] == "Menus can be nested at most 4 levels"
    assert cfg["texts"]["save"] == "Save" and cfg["steps"]["hangup"] == "Hang up"
    # without JavaScript: a read-only outline of the same tree
    outline = [html.unescape(x) for x in re.findall(r'<li class="outline-line d\d">(.*?)</li>', r.text)]
    assert outline[:4] == ["At any other time", "Greeting", "Voice menu", "2"]
    assert "Forward: Group Sales desk" in outline and "10 · Password" in outline and "No input" in outline


async def test_the_trunk_picker_offers_switched_on_trunks_and_marks_a_switched_off_one_in_use(st):
    """D §5.5: a scheme forwards only to switched-on trunks (the engine skips a switched-off
    one), so the editor offers those; a switched-off trunk the scheme already forwards to stays
    in its picker, marked «switched off» (RU «отключён»), and in no other scheme's."""
    trunks = TrunkService(st.db, 101, ADMIN)
    on = await trunks.create({"name": "Branch office", "host": "10.7.0.1"})
    off = await trunks.create({"name": "Old PBX", "host": "10.7.0.2", "active": False})
    using = await SchemeService(st.db, 101, ADMIN).create({"name": "Via the old PBX", "blocks": [
        {"schedule_id": None, "steps": [
            {"kind": "forward", "target": {"type": "trunk", "id": off["id"], "value": "2001"}, "ring_time": 30},
            {"kind": "hangup"}]}]})
    other = await make_scheme(st, "No trunks")
    async with st.client("101/admin") as c:
        in_use = page_config((await c.get(f"{PAGES}/{using['id']}")).text)["pickers"]["trunk"]
        elsewhere = page_config((await c.get(f"{PAGES}/{other['id']}")).text)["pickers"]["trunk"]
    async with st.client("101/adminru", lang="ru") as c:
        in_use_ru = page_config((await c.get(f"{PAGES}/{using['id']}")).text)["pickers"]["trunk"]
    assert {"id": on["id"], "name": "Branch office", "hint": ""} in in_use
    assert {"id": off["id"], "name": "Old PBX", "hint": "switched off"} in in_use
    assert {"id": off["id"], "name": "Old PBX", "hint": "отключён"} in in_use_ru
    assert [p["id"] for p in elsewhere if p["id"] in (on["id"], off["id"])] == [on["id"]]


async def test_the_tree_the_editor_holds_saves_back_unchanged_through_the_api(st):
    """The editor's shape (items as a list, ids kept) is exactly what its PUT sends."""
    scheme = await make_scheme(st, "Round trip")
    async with st.client("101/admin") as c:
        cfg = page_config((await c.get(f"{PAGES}/{scheme['id']}")).text)
        body = {"name": "Round trip", "description": "", "blocks": [
            {"schedule_id": b["schedule_id"], "steps": b["steps"]} for b in cfg["scheme"]["blocks"]]}
        # the editor moves the voice-mail item first and the greeting after the menu
        menu = body["blocks"][0]["steps"][1]
        menu["children"] = [menu["children"][2], menu["children"][0], menu["children"][1]]
        steps = body["blocks"][0]["steps"]
        steps[0], steps[1] = steps[1], steps[0]
        r = await c.api("PUT", f"{API}/{scheme['id']}", json=body)
        assert r.status_code == 200, r.text
        after = page_config((await c.get(f"{PAGES}/{scheme['id']}")).text)["scheme"]
    assert [s["kind"] for s in after["blocks"][0]["steps"]] == ["menu", "greeting", "hangup"]
    assert [x["digits"] for x in after["blocks"][0]["steps"][0]["children"]] == ["10", "2", "1"]
    assert [s["id"] for s in after["blocks"][0]["steps"]] == [s["id"] for s in steps]


async def test_a_fifth_level_is_refused_with_the_message_the_editor_shows(st):
    scheme = await make_scheme(st, "Deep")
    async with st.client("101/adminru", lang="ru") as c:
        cfg = page_config((await c.get(f"{PAGES}/{scheme['id']}")).text)
        menu = {"kind": "menu", "children": [{"digits": "1", "steps": [{"kind": "hangup"}]}]}
        for _ in range(4):
            menu = {"kind": "menu", "children": [{"digits": "1", "steps": [menu, {"kind": "hangup"}]}]}
        r = await c.api("PUT", f"{API}/{scheme['id']}", json={"name": "Deep", "blocks": [
            {"schedule_id": None, "steps": [menu, {"kind": "hangup"}]}]})
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    path = "blocks[0].steps[0]" + ".children.1.steps[0]" * 4
    assert fields == {path: cfg["depth_message"]}
    assert cfg["depth_message"] == "Голосовое меню — не более 4 уровней"
    assert cfg["texts"]["save"] == "Сохранить" and cfg["steps"]["menu"] == "Голосовое меню"


async def test_list_shows_names_numbers_and_the_active_mark(st):
    active = await make_scheme(st, "Daytime", "Weekdays 9-18")
    idle = await make_scheme(st, "Spare")
    await SchemeService(st.db, 101, ADMIN).activate(active["id"], [st.number["id"]])
    try:
        async with st.client("101/admin") as c:
            r = await c.get(PAGES)
        assert r.status_code == 200
        row = re.search(rf'<tr id="scheme-{active["id"]}".*?</tr>', r.text, re.S).group(0)
        assert "Daytime" in row and "Weekdays 9-18" in row and "73432628900" in row and "Active" in row
        row = re.search(rf'<tr id="scheme-{idle["id"]}".*?</tr>', r.text, re.S).group(0)
        assert "Not active" in row and "73432628900" not in row.split("numbers-form")[0]
        assert 'href="/telephony/schemes"' in r.text and "Call schemes" in r.text  # the menu entry
    finally:
        await SchemeService(st.db, 101, ADMIN).deactivate(st.number["id"])


async def test_create_copy_rename_bind_and_delete_from_the_list(st):
    async with st.client("101/admin") as c:
        r = await c.post_form(PAGES, {"name": "  ", "description": ""})
        assert r.status_code == 422 and "Enter a name" in r.text
        r = await c.post_form(PAGES, {"name": "Night", "description": "After hours"})
        assert r.status_code == 302
        sid = r.headers["Location"].rsplit("/", 1)[1]
        assert (await c.get(r.headers["Location"])).status_code == 200
        doc = await Schemes(st.db, Scope.pbx(101)).find_one({"_id": sid})
        assert doc["description"] == "After hours" and doc["blocks"][-1]["steps"][-1]["kind"] == "hangup"

        r = await c.post_form(f"{PAGES}/{sid}/copy", {"name": "Night (copy)"})
        assert r.status_code == 302 and "done=copied" in r.headers["Location"]
        copy = await Schemes(st.db, Scope.pbx(101)).find_one({"name": "Night (copy)"})
        assert copy and copy["copied_from"] == sid
        r = await c.post_form(f"{PAGES}/{sid}/copy", {"name": "Night (copy)"})
        assert r.status_code == 422 and "The name &#x27;Night (copy)&#x27; is already used" in r.text

        r = await c.post_form(f"{PAGES}/{copy['_id']}/rename", {"name": "Weekend", "description": "Sat-Sun"})
        assert r.status_code == 302
        assert (await Schemes(st.db, Scope.pbx(101)).find_one({"_id": copy["_id"]}))["name"] == "Weekend"

        r = await c.post_form(f"{PAGES}/{sid}/numbers", {"number_id": st.number["id"]})
        assert r.status_code == 302
        assert (await Numbers(st.db, Scope.pbx(101)).find_one({"_id": st.number["id"]}))["scheme_id"] == sid
        # bound: deleting is refused and the page names the number
        r = await c.post_form(f"{PAGES}/{sid}/delete", {})
        assert r.status_code == 409
        assert "is used by: number '73432628900'. It cannot be deleted" in html.unescape(r.text)
        assert await Schemes(st.db, Scope.pbx(101)).find_one({"_id": sid})
        # moving the number to the copy leaves Night unbound; then it goes
        r = await c.post_form(f"{PAGES}/{copy['_id']}/numbers", {"number_id": st.number["id"]})
        assert (await Numbers(st.db, Scope.pbx(101)).find_one({"_id": st.number["id"]}))["scheme_id"] == copy["_id"]
        r = await c.post_form(f"{PAGES}/{sid}/delete", {})
        assert r.status_code == 302 and "done=deleted" in r.headers["Location"]
        assert await Schemes(st.db, Scope.pbx(101)).find_one({"_id": sid}) is None
        # unticking every number leaves the copy without numbers
        r = await c.post_form(f"{PAGES}/{copy['_id']}/numbers", {})
        assert r.status_code == 302
        assert (await Numbers(st.db, Scope.pbx(101)).find_one({"_id": st.number["id"]}))["scheme_id"] is None


async def test_russian_list_and_refusal(st):
    scheme = await make_scheme(st, "Bound RU")
    await SchemeService(st.db, 101, ADMIN).activate(scheme["id"], [st.number["id"]])
    try:
        async with st.client("101/adminru", lang="ru") as c:
            r = await c.get(PAGES)
            assert "Схемы обработки звонков" in r.text and "Действует" in r.text and "Создать и настроить" in r.text
            r = await c.post_form(f"{PAGES}/{scheme['id']}/delete", {})
            assert r.status_code == 409
            assert "используется: номер «73432628900». Удалить нельзя" in html.unescape(r.text)
    finally:
        await SchemeService(st.db, 101, ADMIN).deactivate(st.number["id"])


async def test_another_pbxs_scheme_is_not_found(st):
    scheme = await make_scheme(st, "Secret of 101")
    async with st.client("202/admin") as c:
        assert (await c.get(f"{PAGES}/{scheme['id']}")).status_code == 404
        for action, data in (("rename", {"name": "x"}), ("copy", {"name": "x"}), ("delete", {}),
                             ("numbers", {"number_id": st.number["id"]})):
            r = await c.post_form(f"{PAGES}/{scheme['id']}/{action}", data)
            assert r.status_code == 404, (action, r.status_code)
        assert "Secret of 101" not in (await c.get(PAGES)).text
    doc = await Schemes(st.db, Scope.pbx(101)).find_one({"_id": scheme["id"]})
    assert doc["name"] == "Secret of 101"


async def test_an_employee_gets_403_and_a_viewer_a_read_only_editor(st):
    scheme = await make_scheme(st, "Guarded")
    async with st.client("101/emp") as c:
        assert (await c.get(PAGES)).status_code == 403
        assert (await c.get(f"{PAGES}/{scheme['id']}")).status_code == 403
        assert (await c.post_form(f"{PAGES}/{scheme['id']}/rename", {"name": "x"})).status_code == 403
        assert 'href="/telephony/schemes"' not in (await c.get("/")).text
    async with st.client("101/viewer") as c:
        r = await c.get(f"{PAGES}/{scheme['id']}")
        assert r.status_code == 200 and page_config(r.text)["readonly"] is True
        assert 'id="save"' not in r.text
        listing = (await c.get(PAGES)).text
        assert "Guarded" in listing and 'action="/telephony/schemes"' not in listing
        assert (await c.post_form(PAGES, {"name": "Sneaky"})).status_code == 403
        assert (await c.post_form(f"{PAGES}/{scheme['id']}/delete", {})).status_code == 403
    assert await Schemes(st.db, Scope.pbx(101)).find_one({"_id": scheme["id"]})
    assert await Schemes(st.db, Scope.pbx(101)).find_one({"name": "Sneaky"}) is None
