"""Bad input never gets a 5xx (issue 9, item 4): what the property-based run and a hostile tester
found — the session state asked with an API key, day groups and schedules with values of the
wrong JSON type, the action log and its export with dates at the calendar's edges, and a login
while Redis is down (503 with a clear message, not 500). Each answer is a specific error and
changes nothing."""
from __future__ import annotations

import pytest

from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from web.context import make_redis
from web.testing import WebClient, free_closed_port, web_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
DG = "/api/v1/telephony/day-groups"
SC = "/api/v1/telephony/schedules"


async def test_session_state_with_an_api_key_names_the_key(st):
    key = await st.api_key()
    async with st.client(api_key=key) as c:
        r = await c.get("/api/v1/session")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["authenticated"] is True and body["session"] is None
    assert body["user"]["pbx_id"] == 101 and body["user"]["login"].startswith("api:")
    assert body["user"]["language"] in ("ru", "en")


@pytest.mark.parametrize("bad", [[None, None], 5.5, {"a": 1}, True])
async def test_day_group_and_schedule_with_values_of_the_wrong_type(st, bad):
    async with st.client("101/admin") as c:
        before = ((await c.get(DG)).json()["total"], (await c.get(SC)).json()["total"])
        cases = [
            (DG, {"name": bad, "weekdays": [1]}, "name"),
            (DG, {"name": "Days", "weekdays": [1], "special_dates": [{"date": bad, "name": "X"}]},
             "date"),
            (DG, {"name": "Days", "weekdays": [1], "special_dates": [{"date": "08.03.2027", "name": bad}]},
             "special_dates"),
            (SC, {"name": bad, "intervals": []}, "name"),
            (SC, {"name": "Hours", "intervals": [{"day_group": bad, "start": "09:00", "end": "18:00"}]},
             "day_group"),
            (SC, {"name": "Hours", "intervals": [{"day_group": "x", "start": bad, "end": "18:00"}]},
             "start"),
        ]
        for url, body, field in cases:
            r = await c.api("POST", url, json=body)
            assert r.status_code == 422, (body, r.status_code, r.text)
            fields = r.json()["error"]["fields"]
            assert any(f == field or f.startswith(field + ".") for f in fields), (body, fields)
            assert all(m for m in fields.values())
        after = ((await c.get(DG)).json()["total"], (await c.get(SC)).json()["total"])
    assert after == before  # nothing was created


@pytest.mark.parametrize("query,field", [("from=0001-01-01", "from"), ("to=9999-12-31", "to"),
                                         ("to=0001-01-01T00:00:00%2B14:00", "to"),
                                         ("from=9999-12-31T23:59:59-12:00", "from")])
async def test_action_log_and_export_refuse_dates_at_the_calendar_edges(st, query, field):
    async with st.client("101/admin") as c:
        for path in ("/api/v1/action-log", "/api/v1/action-log/export"):
            r = await c.get(f"{path}?{query}")
            assert r.status_code == 400, (path, query, r.status_code, r.text)
            assert r.json()["error"]["fields"] == {field: "Enter a year from 1970 to 9998."}
        assert (await c.get("/api/v1/action-log?from=2026-01-01&to=2026-12-31")).status_code == 200


async def test_login_while_redis_is_down_is_503_with_a_clear_message(settings, store):
    await create_tenant_user(store, 101, "anna", "secret-pass-1", "anna@example.com", language="en")
    dead = make_redis(f"redis://127.0.0.1:{free_closed_port()}/0")
    async with web_stack(settings, store, redis=dead) as (ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            r = await c.api("POST", "/api/v1/session", json={"login": "101/anna", "password": "secret-pass-1"})
            assert r.status_code == 503, r.text
            assert r.json()["error"] == {
                "code": "unavailable", "fields": {},
                "message": "The service is temporarily unavailable. Please try again in a minute."}
            assert r.headers["Retry-After"] == "30"
            page = await c.post_form("/login", {"login": "101/anna", "password": "secret-pass-1"})
            assert page.status_code == 503
            assert "temporarily unavailable" in page.text
            assert "pult_session" not in c.cookies


async def test_a_405_names_the_allowed_methods(st):
    async with st.client("101/admin") as c:
        r = await c.api("PUT", "/api/v1/session", json={})
        assert r.status_code == 405 and r.headers["Allow"] == "GET, POST, DELETE"
        assert r.json()["error"]["code"] == "method_not_allowed"
        r = await c.api("DELETE", "/api/v1/telephony/trunks", json={})
        assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"


async def test_an_edition_patch_with_nulls_changes_only_what_it_names(settings, store):
    """Found by the property-based run: PATCH /api/v1/operator/editions/{code} with
    ``"quotas": null`` answered 500; null now means "unchanged", like a field left out."""
    from tests.integration.harness import operator_stack

    async with operator_stack(settings, store) as (_ctx, _url, op):
        before = (await op.get("/api/v1/operator/editions")).json()["items"][0]
        r = await op.api("PATCH", f"/api/v1/operator/editions/{before['code']}",
                         json={"monthly_fee": 12345, "quotas": None, "active": None, "features": None, "name": None})
        assert r.status_code == 200, r.text
        after = r.json()
        assert after["monthly_fee"] == 12345
        assert {k: after[k] for k in ("name", "quotas", "features", "active")} == \
            {k: before[k] for k in ("name", "quotas", "features", "active")}
