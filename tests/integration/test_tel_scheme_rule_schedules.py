"""A time period on each processing rule of a voice menu (inventory A §4.4.2.1): an optional
``schedule_id`` per rule in the scheme tree — kept through the API and the editor's
configuration, checked to exist in the PBX, guarding the schedule against deletion while a rule
uses it, cleared when the scheme moves to another PBX as a skeleton."""
from __future__ import annotations

import pytest
import pytest_asyncio

from esl_control.routing.errors import RuleError
from tests.integration.tel_api_harness import tel_stack
from tests.integration.test_scheme_pages import page_config
from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.model.common import InUse
from esl_control.model.schemes.schemas import skeleton
from esl_control.model.schemes.services import SchemeService

pytestmark = pytest.mark.asyncio(loop_scope="module")
ACTOR = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        days = await DayGroupService(stack.db, 101, ACTOR).create({"name": "Weekdays", "weekdays": [1, 2, 3, 4, 5]})
        stack.lunch = await ScheduleService(stack.db, 101, ACTOR).create(
            {"name": "Lunch", "intervals": [{"day_group": days["id"], "start": "13:00", "end": "14:00"}]})
        yield stack


def menu_scheme(name: str, rule_schedule: str | None, fax_schedule: str | None = None) -> dict:
    menu = {"kind": "menu", "children": {"1": {"steps": [{"kind": "voicemail"}, {"kind": "hangup"}]}},
            "rules": {"no_input": {"timeout": 8, "schedule_id": rule_schedule, "steps": [{"kind": "hangup"}]},
                      "fax_detect": {"emails": [], "schedule_id": fax_schedule},
                      "wrong_input": {"count": 2, "steps": [{"kind": "hangup"}]}}}
    return {"name": name, "blocks": [{"schedule_id": None, "steps": [menu, {"kind": "hangup"}]}]}


async def test_a_rule_keeps_its_own_time_period_and_the_schedule_must_exist(st):
    schemes = SchemeService(st.db, 101, ACTOR)
    doc = await schemes.create(menu_scheme("Lunch break", st.lunch["id"]))
    rules = doc["blocks"][0]["steps"][0]["rules"]
    assert rules["no_input"]["schedule_id"] == st.lunch["id"] and rules["no_input"]["timeout"] == 8
    assert rules["wrong_input"]["schedule_id"] is None            # no period: the rule applies at any time
    with pytest.raises(RuleError) as err:
        await schemes.create(menu_scheme("Ghost", "0123456789abcdef01234567"))
    assert err.value.code == "ref.unknown" and "no_input.schedule_id" in err.value.field
    with pytest.raises(RuleError) as err:
        await schemes.create(menu_scheme("Bad", None, fax_schedule=42))
    assert err.value.field == "blocks[0].steps[0].rules.fax_detect.schedule_id"
    # another PBX's schedule is unknown here
    other_days = await DayGroupService(st.db, 202, ACTOR).create({"name": "All", "weekdays": [1, 2, 3, 4, 5, 6, 7]})
    theirs = await ScheduleService(st.db, 202, ACTOR).create(
        {"name": "Theirs", "intervals": [{"day_group": other_days["id"], "start": "09:00", "end": "18:00"}]})
    with pytest.raises(RuleError) as err:
        await schemes.create(menu_scheme("Foreign", theirs["id"]))
    assert err.value.code == "ref.unknown"
    # the schedule cannot be deleted while a rule uses it; a skeleton drops the period
    with pytest.raises(InUse) as err:
        await ScheduleService(st.db, 101, ACTOR).delete(st.lunch["id"])
    assert "Lunch break" in err.value.message("en")
    stored = await schemes._doc(doc["id"])
    assert skeleton(stored)["blocks"][0]["steps"][0]["rules"]["no_input"]["schedule_id"] is None


async def test_the_editor_carries_the_rule_period_and_the_api_saves_it(st):
    schemes = SchemeService(st.db, 101, ACTOR)
    doc = await schemes.create(menu_scheme("Editor round trip", None))
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        cfg = page_config((await en.get(f"/telephony/schemes/{doc['id']}")).text)
        assert cfg["texts"]["rule_schedule"] == "Time period" and cfg["texts"]["rule_any_time"] == "— at any time —"
        assert {"id": st.lunch["id"], "name": "Lunch"} in [{k: p[k] for k in ("id", "name")}
                                                           for p in cfg["pickers"]["schedule"]]
        assert page_config((await ru.get(f"/telephony/schemes/{doc['id']}")).text)["texts"]["rule_schedule"] == "Период времени"
        blocks = cfg["scheme"]["blocks"]
        blocks[0]["steps"][0]["rules"]["wrong_input"]["schedule_id"] = st.lunch["id"]   # what the picker does
        r = await en.api("PUT", f"/api/v1/telephony/schemes/{doc['id']}", json={
            "name": "Editor round trip", "description": "", "blocks": blocks})
        assert r.status_code == 200, r.text
        saved = (await en.get(f"/api/v1/telephony/schemes/{doc['id']}")).json()
        rules = saved["blocks"][0]["steps"][0]["rules"]
        assert rules["wrong_input"]["schedule_id"] == st.lunch["id"] and rules["no_input"]["schedule_id"] is None
