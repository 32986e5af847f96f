"""Tenant isolation for EVERY endpoint, driven from the route table (PRODUCT.md §2).

For each route with a path parameter (an object id) and each of its methods, a user of PBX A
(signed in, administrator) and an API key of PBX A (administrator role) ask for an object of
PBX B: the answer is 404 (403 for a key on a personal route, which no key may use), and B's
object is unchanged afterwards. Every list endpoint and page read by A never shows B's objects.

A new endpoint is covered automatically: a tenant route with a path parameter and no way to
create B's object registered here FAILS with "add a fixture for <route>". Register one with::

    @isolation_fixture("/api/v1/groups/{group_id}", "/groups/{group_id}")
    async def b_group(env: Env) -> BObject:
        r = await env.b.api("POST", "/api/v1/groups", json={"name": "B-secret-group"})
        gid = r.json()["id"]
        return BObject(params={"group_id": gid},
                       read=lambda: env.db["ring_groups"].find_one({"_id": gid}),
                       markers=("B-secret-group",),
                       bodies={"PATCH": {"name": "hacked"}})   # a VALID body: the 404 must come
                                                               # from the scope, not validation

``env.b`` is B's administrator (a :class:`web.testing.WebClient`), ``env.db`` the store's
database, ``env.b_user`` B's user document. ``read`` returns B's object as stored; it is compared
before and after A's attempts. ``markers`` are strings that must never appear in A's lists.
Operator-only routes need no fixture (a tenant gets 403 there, checked too); public routes are
addressed by unguessable tokens, not by tenant object ids, and are left to their own tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import pytest

from storage.repos.calls import save_call_record
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.routes import RouteInfo, all_routes
from web.testing import WebClient, web_stack

A_PBX, B_PBX = 101, 102


@dataclass
class Env:
    url: str
    ctx: Any
    db: Any
    a: WebClient            # PBX A's administrator, signed in
    b: WebClient            # PBX B's administrator, signed in
    a_key: str              # secret of an API key of PBX A (administrator role, loopback allowed)
    b_user: dict
    b_account: dict         # B's account (PBX B belongs to it)


@dataclass
class BObject:
    params: dict[str, str]
    read: Callable[[], Awaitable[Any]]
    markers: tuple[str, ...] = ()
    bodies: dict[str, dict] = field(default_factory=dict)
    # a route that refuses a kind of caller whatever the object (e.g. payments: the operator only)
    # may expect 403 for it: {"session": 403}; everything else is 404
    expect: dict[str, int] = field(default_factory=dict)


FIXTURES: dict[str, Callable[[Env], Awaitable[BObject]]] = {}


def isolation_fixture(*paths: str):
    """Register how to create PBX B's object for the routes ``paths`` (see the module docstring)."""
    def register(fn):
        for p in paths:
            if p in FIXTURES:
                raise ValueError(f"two isolation fixtures for {p}")
            FIXTURES[p] = fn
        return fn
    return register


# --- fixtures of the current routes -------------------------------------------------------------
@isolation_fixture("/api/v1/calls/{uuid}", "/calls/{uuid}")
async def b_call(env: Env) -> BObject:
    uuid = "b-call-secret-0001"
    await save_call_record(env.db, {"uuid": uuid, "pbx_id": B_PBX, "caller": "+79990002020",
                                    "callee": "74950002020", "start": datetime.now(timezone.utc),
                                    "billsec": 12, "direction": "inbound"})
    return BObject({"uuid": uuid}, lambda: env.db["call_records"].find_one({"uuid": uuid}),
                   markers=(uuid, "+79990002020"))


@isolation_fixture("/api/v1/calls/{uuid}/media", "/api/v1/calls/{uuid}/media/{media_id}")
async def b_call_media(env: Env) -> BObject:
    uuid = "b-call-secret-0002"
    fid = await env.ctx.store.media.put(B_PBX, "vm.wav", b"RIFF B-secret-voice", "audio/wav", {"kind": "voicemail"})
    await save_call_record(env.db, {"uuid": uuid, "pbx_id": B_PBX, "caller": "+79990003030", "callee": "74950003030",
                                    "start": datetime.now(timezone.utc), "billsec": 0, "direction": "inbound",
                                    "media": [{"kind": "voicemail", "id": fid, "spool": f"vm-{uuid}-1.wav",
                                               "content_type": "audio/wav", "size": 19}],
                                    "voicemail_ids": [fid]})
    return BObject({"uuid": uuid, "media_id": fid}, lambda: env.db["call_records"].find_one({"uuid": uuid}),
                   markers=(uuid, "+79990003030", "B-secret-voice"))


@isolation_fixture("/api/v1/sessions/{session_id}", "/account/sessions/{session_id}/end")
async def b_session(env: Env) -> BObject:
    sessions = (await env.b.get("/api/v1/sessions")).json()["items"]
    sid = sessions[0]["id"]

    async def read():
        return sorted(s["id"] for s in (await env.b.get("/api/v1/sessions")).json()["items"])
    return BObject({"session_id": sid}, read, markers=(sid,))


@isolation_fixture("/api/v1/roles/{role_id}", "/access/roles/{role_id}", "/access/roles/{role_id}/delete")
async def b_role(env: Env) -> BObject:
    r = await env.b.api("POST", "/api/v1/roles", json={"name": "B-secret-role", "base": "employee",
                                                        "sections": {"employees": {"level": "view"}}})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    return BObject({"role_id": rid}, lambda: env.db["roles"].find_one({"_id": rid}), markers=("B-secret-role",),
                   bodies={"PATCH": {"name": "A-was-here", "sections": {"finance": {"level": "edit"}}},
                           "POST": {"name": "A-was-here", "level.finance": "edit"}})


isolation_fixture("/api/v1/roles/{role_id}/copy", "/access/roles/{role_id}/copy")(b_role)


@isolation_fixture("/api/v1/access/users/{user_id}", "/access/users/{user_id}")
async def b_user(env: Env) -> BObject:
    u = await create_tenant_user(env.ctx.store, B_PBX, "bettina", "tenant-pass-9", language="en",
                                 display_name="B-secret-user", role="employee")
    return BObject({"user_id": u["_id"]}, lambda: env.db["users"].find_one({"_id": u["_id"]}),
                   markers=("B-secret-user", "bettina"),
                   bodies={"PATCH": {"role": "administrator"}, "POST": {"role": "administrator"}})


@isolation_fixture("/api/v1/api-keys/{key_id}", "/access/api-keys/{key_id}/revoke")
async def b_key(env: Env) -> BObject:
    r = await env.b.api("POST", "/api/v1/api-keys", json={"name": "B-secret-key", "role": "employee",
                                                           "whitelist": ["*"]})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    return BObject({"key_id": kid}, lambda: env.db["api_keys"].find_one({"_id": kid}),
                   markers=("B-secret-key", kid),
                   bodies={"PATCH": {"name": "A-was-here", "whitelist": ["*"]}})


@isolation_fixture("/api/v1/telephony/day-groups/{id}", "/api/v1/telephony/day-groups/{id}/holidays")
async def b_day_group(env: Env) -> BObject:
    r = await env.b.api("POST", "/api/v1/telephony/day-groups", json={"name": "B-secret-days", "weekdays": [1, 2, 3]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    body = {"name": "A-was-here", "weekdays": [6, 7]}
    return BObject({"id": gid}, lambda: env.db["day_groups"].find_one({"_id": gid}), markers=("B-secret-days",),
                   bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/telephony/schedules/{id}")
async def b_schedule(env: Env) -> BObject:
    r = await env.b.api("POST", "/api/v1/telephony/day-groups", json={"name": "B-secret-weekdays", "weekdays": [1, 2]})
    gid = r.json()["id"]
    intervals = [{"day_group": gid, "start": "09:00", "end": "18:00"}]
    r = await env.b.api("POST", "/api/v1/telephony/schedules", json={"name": "B-secret-hours", "intervals": intervals})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    body = {"name": "A-was-here", "intervals": intervals}
    return BObject({"id": sid}, lambda: env.db["schedules"].find_one({"_id": sid}),
                   markers=("B-secret-hours", "B-secret-weekdays"), bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/accounts/{account_id}/payments")
async def b_account_payments(env: Env) -> BObject:
    aid = env.b_account["account_id"]

    async def read():
        return (await env.db["accounts"].find_one({"account_id": aid}),
                await env.db["payments"].count_documents({"account_id": aid}))
    return BObject({"account_id": str(aid)}, read,
                   bodies={"POST": {"amount": 1000, "kind": "topup", "comment": "A-was-here"}},
                   expect={"session": 403, "key": 403})  # payments come from the platform operator only


@isolation_fixture("/api/v1/account/pbxes/{pbx_id}/convert")
async def b_demo_pbx(env: Env) -> BObject:
    # B's PBX, a demo: A's PBX administrator is not an account administrator (403, and a key may not
    # use a personal route); A's account administrator gets 404 (tests/integration/test_account_api.py)
    await env.db["pbxes"].update_one({"pbx_id": B_PBX}, {"$set": {"status": "demo"}})
    return BObject({"pbx_id": str(B_PBX)}, lambda: env.db["pbxes"].find_one({"pbx_id": B_PBX}),
                   expect={"session": 403})


@isolation_fixture("/api/v1/finance/documents/{doc_id}", "/api/v1/finance/documents/{doc_id}/file",
                   "/api/v1/finance/documents/{doc_id}/email")
async def b_document(env: Env) -> BObject:
    from bson import ObjectId

    did = str(ObjectId())
    await env.db["billing_documents"].insert_one({
        "_id": did, "account_id": env.b_account["account_id"], "key": f"invoice:{did}", "kind": "invoice",
        "status": "ready", "title": "B-secret-invoice", "format": "pdf", "created_at": datetime.now(timezone.utc)})
    return BObject({"doc_id": did}, lambda: env.db["billing_documents"].find_one({"_id": did}),
                   markers=("B-secret-invoice",), bodies={"POST": {"emails": ["a@example.com"]}})


@isolation_fixture("/api/v1/telephony/sounds/{sound_id}", "/api/v1/telephony/sounds/{sound_id}/convert",
                   "/api/v1/telephony/sounds/{sound_id}/audio", "/telephony/sounds/{sound_id}",
                   "/telephony/sounds/{sound_id}/delete", "/telephony/sounds/{sound_id}/convert")
async def b_sound(env: Env) -> BObject:
    from tests.unit.test_tel_schemas import wav_bytes
    from esl_control.model.sounds.services import SoundService

    snd = await SoundService(env.db, B_PBX, media=env.ctx.store.media).upload(
        wav_bytes(), {"name": "B-secret-sound", "description": "B-secret-description"})
    sid = snd["id"]
    return BObject({"sound_id": sid}, lambda: env.db["sound_files"].find_one({"_id": sid}),
                   markers=("B-secret-sound", "B-secret-description"),
                   bodies={"PATCH": {"name": "A-was-here"}, "POST": {"name": "A-was-here"}})


@isolation_fixture("/telephony/schemes/{scheme_id}", "/telephony/schemes/{scheme_id}/copy",
                   "/telephony/schemes/{scheme_id}/rename", "/telephony/schemes/{scheme_id}/delete",
                   "/telephony/schemes/{scheme_id}/numbers")
async def b_scheme(env: Env) -> BObject:
    from esl_control.model.schemes.services import SchemeService

    doc = await SchemeService(env.db, B_PBX).create({"name": "B-secret-scheme", "description": "B-secret-desc"})
    return BObject({"scheme_id": doc["id"]}, lambda: env.db["schemes"].find_one({"_id": doc["id"]}),
                   markers=("B-secret-scheme", "B-secret-desc"),
                   bodies={"POST": {"name": "A-was-here", "description": "A-was-here"}})


# --- telephony REST API (web/telephony/<area>/http.py) ------------------------------------------
async def _b_create(env: Env, path: str, body: dict) -> str:
    r = await env.b.api("POST", path, json=body)
    assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
    return r.json()["id"]


def _stored(env: Env, collection: str, oid: str):
    return lambda: env.db[collection].find_one({"_id": oid})


@isolation_fixture("/api/v1/telephony/numbers/{id}", "/api/v1/telephony/numbers/{id}/comment")
async def b_number(env: Env) -> BObject:
    nid = await _b_create(env, "/api/v1/telephony/numbers/passive-sip",
                          {"number": "79990001111", "comment": "B-secret-number"})
    return BObject({"id": nid}, _stored(env, "numbers", nid), markers=("B-secret-number", "79990001111"),
                   bodies={"PUT": {"comment": "A-was-here"}, "PATCH": {"comment": "A-was-here"}})


@isolation_fixture("/api/v1/telephony/numbers/{id}/scheme")
async def b_number_scheme(env: Env) -> BObject:
    nid = await _b_create(env, "/api/v1/telephony/numbers/passive-sip",
                          {"number": "79990002222", "comment": "B-secret-line"})
    return BObject({"id": nid}, _stored(env, "numbers", nid), markers=("B-secret-line",),
                   bodies={"PUT": {"scheme_id": None}})


@isolation_fixture("/api/v1/telephony/sip/domains/{id}")
async def b_sip_domain(env: Env) -> BObject:
    did = await _b_create(env, "/api/v1/telephony/sip/domains", {"name": "bsecretdomain"})
    return BObject({"id": did}, _stored(env, "sip_domains", did), markers=("bsecretdomain",))


@isolation_fixture("/api/v1/telephony/sip/accounts/{id}", "/api/v1/telephony/sip/accounts/{id}/password",
                   "/api/v1/telephony/sip/accounts/{id}/password/generate")
async def b_sip_account(env: Env) -> BObject:
    aid = await _b_create(env, "/api/v1/telephony/sip/accounts", {"login": "bsecretlogin", "password": "Secret123x"})
    return BObject({"id": aid}, _stored(env, "sip_accounts", aid), markers=("bsecretlogin", "Secret123x"),
                   bodies={"PUT": {"password": "Another456Y"}, "PATCH": {"password": "Another456Y"}})


@isolation_fixture("/api/v1/telephony/employees/{id}")
async def b_employee(env: Env) -> BObject:
    eid = await _b_create(env, "/api/v1/telephony/employees", {"name": "B-secret-employee", "extension": "77"})
    body = {"name": "A-was-here", "extension": "78"}
    return BObject({"id": eid}, _stored(env, "employees", eid), markers=("B-secret-employee",),
                   bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/telephony/groups/{id}")
async def b_group(env: Env) -> BObject:
    gid = await _b_create(env, "/api/v1/telephony/groups", {"name": "B-secret-group", "extension": "66"})
    body = {"name": "A-was-here", "extension": "67"}
    return BObject({"id": gid}, _stored(env, "ring_groups", gid), markers=("B-secret-group",),
                   bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/telephony/groups/{id}/members", "/api/v1/telephony/groups/{id}/members/{member_id}")
async def b_group_members(env: Env) -> BObject:
    eid = await _b_create(env, "/api/v1/telephony/employees", {"name": "B-secret-member", "extension": "68"})
    gid = await _b_create(env, "/api/v1/telephony/groups", {"name": "B-secret-team", "extension": "69",
                                                            "members": [{"kind": "employee", "employee_id": eid}]})
    member = (await env.b.get(f"/api/v1/telephony/groups/{gid}/members")).json()["items"][0]["id"]
    return BObject({"id": gid, "member_id": member}, _stored(env, "ring_groups", gid),
                   markers=("B-secret-team", "B-secret-member"),
                   bodies={"PUT": {"members": []}, "POST": {"kind": "external", "value": "79160000000"}})


@isolation_fixture("/api/v1/telephony/schemes/{id}", "/api/v1/telephony/schemes/{id}/copy",
                   "/api/v1/telephony/schemes/{id}/rename", "/api/v1/telephony/schemes/{id}/numbers")
async def b_scheme_api(env: Env) -> BObject:
    sid = await _b_create(env, "/api/v1/telephony/schemes", {"name": "B-secret-tree", "description": "B-secret-about"})
    return BObject({"id": sid}, _stored(env, "schemes", sid), markers=("B-secret-tree", "B-secret-about"),
                   bodies={"PUT": {"name": "A-was-here"}, "PATCH": {"name": "A-was-here"}, "POST": {"name": "A-was-here"}})


@isolation_fixture("/api/v1/telephony/schemes/{id}/activate")
async def b_scheme_activate(env: Env) -> BObject:
    sid = await _b_create(env, "/api/v1/telephony/schemes", {"name": "B-secret-active"})
    nid = (await env.a.api("POST", "/api/v1/telephony/numbers/passive-sip", json={"number": "79990003333"})).json()["id"]
    return BObject({"id": sid}, _stored(env, "schemes", sid), markers=("B-secret-active",),
                   bodies={"POST": {"numbers": [nid]}})  # A's own number: only B's scheme is missing


@isolation_fixture("/api/v1/telephony/schemes/{id}/trunk-numbers")
async def b_scheme_trunk_numbers(env: Env) -> BObject:
    sid = await _b_create(env, "/api/v1/telephony/schemes", {"name": "B-secret-trunk-tree"})
    return BObject({"id": sid}, _stored(env, "schemes", sid), markers=("B-secret-trunk-tree",),
                   bodies={"PUT": {"trunk_numbers": []}})


@isolation_fixture("/api/v1/telephony/dry-run", "/telephony/check-call")
async def b_dry_run(env: Env) -> BObject:
    """B's number with an active scheme that forwards to B's secret number (the dry run and the
    "Check a call" page have no id in their path: :func:`test_dry_run_of_pbx_b_number_shows_pbx_a_nothing`
    and :func:`test_check_call_page_of_pbx_a_shows_nothing_of_pbx_b` use this)."""
    nid = await _b_create(env, "/api/v1/telephony/numbers/passive-sip",
                          {"number": "79990007777", "comment": "B-secret-dry-line"})
    sid = await _b_create(env, "/api/v1/telephony/schemes", {"name": "B-secret-dry-scheme", "blocks": [{"steps": [
        {"kind": "forward", "target": {"type": "external", "value": "79990008888"}}, {"kind": "hangup"}]}]})
    r = await env.b.api("POST", f"/api/v1/telephony/schemes/{sid}/activate", json={"numbers": [nid]})
    assert r.status_code == 200, r.text
    return BObject({}, _stored(env, "numbers", nid), markers=("B-secret-dry-scheme", "79990008888"),
                   bodies={"POST": {"number": "79990007777", "caller": "79031234567", "digits": ["1"]}})


async def test_dry_run_of_pbx_b_number_shows_pbx_a_nothing(env):
    obj = await b_dry_run(env)
    before = await obj.read()
    mine = await env.b.api("POST", "/api/v1/telephony/dry-run", json=obj.bodies["POST"])
    assert mine.status_code == 200 and "79990008888" in mine.text  # B sees its own path
    for body in (obj.bodies["POST"], {**obj.bodies["POST"], "internal": True}):
        r = await env.a.api("POST", "/api/v1/telephony/dry-run", json=body)
        k = await env.a.request("POST", "/api/v1/telephony/dry-run", json=body,
                                headers={"Authorization": f"Bearer {env.a_key}"})
        for resp in (r, k):
            assert resp.status_code in (200, 409), resp.text  # 409: a number this PBX does not have
            for marker in obj.markers:
                assert marker not in resp.text
            if resp.status_code == 200:  # an internal call to "79990007777": no such extension in A
                assert "ring" not in [p["step"] for p in resp.json()["path"]]
            else:
                assert list(resp.json()["error"]["fields"]) == ["number"]
    assert await obj.read() == before


async def test_check_call_page_of_pbx_a_shows_nothing_of_pbx_b(env):
    from urllib.parse import urlencode

    obj = await b_dry_run(env)
    before = await obj.read()
    query = urlencode({"run": "1", "number": "79990007777", "caller": "79031234567", "digits": "1"})
    mine = await env.b.get(f"/telephony/check-call?{query}")
    assert mine.status_code == 200 and "79990008888" in mine.text  # B sees its own path
    page = await env.a.get("/telephony/check-call")
    theirs = await env.a.get(f"/telephony/check-call?{query}")
    assert page.status_code == 200 and theirs.status_code == 422  # "This PBX has no number …"
    assert 'id="path"' not in theirs.text
    for resp in (page, theirs):
        for marker in (*obj.markers, "B-secret-dry-line"):
            assert marker not in resp.text
        assert '<option value="79990007777"' not in resp.text
    for listing in ("/telephony/schemes", "/telephony/numbers"):  # their "Now: …" lines
        text = (await env.a.get(listing)).text
        assert "79990007777" not in text and "79990008888" not in text
    assert "79990008888" in (await env.b.get("/telephony/schemes")).text  # B's own "Now:" names it
    assert await obj.read() == before


@isolation_fixture("/api/v1/telephony/lists/entries/{id}")
async def b_list_entry(env: Env) -> BObject:
    eid = await _b_create(env, "/api/v1/telephony/lists/entries",
                          {"list": "black", "value": "79990004444", "comment": "B-secret-spammer"})
    body = {"list": "white", "value": "79990004445"}
    return BObject({"id": eid}, _stored(env, "list_entries", eid), markers=("B-secret-spammer", "79990004444"),
                   bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/telephony/client-rules/{id}")
async def b_client_rule(env: Env) -> BObject:
    body = {"value": "79990005555", "target_kind": "external", "target": "79990006666", "comment": "B-secret-rule"}
    rid = await _b_create(env, "/api/v1/telephony/client-rules", body)
    change = {**body, "comment": "A-was-here"}
    return BObject({"id": rid}, _stored(env, "client_rules", rid), markers=("B-secret-rule", "79990006666"),
                   bodies={"PUT": change, "PATCH": change})


@isolation_fixture("/api/v1/telephony/conference-rooms/{id}")
async def b_room(env: Env) -> BObject:
    rid = await _b_create(env, "/api/v1/telephony/conference-rooms", {"name": "B-secret-room", "pin": "4321"})
    body = {"name": "A-was-here"}
    return BObject({"id": rid}, _stored(env, "conference_rooms", rid), markers=("B-secret-room",),
                   bodies={"PUT": body, "PATCH": body})


@isolation_fixture("/api/v1/telephony/trunks/{id}")
async def b_trunk(env: Env) -> BObject:
    tid = await _b_create(env, "/api/v1/telephony/trunks", {"name": "B-secret-trunk", "host": "10.99.0.1"})
    body = {"name": "A-was-here", "host": "10.99.0.2"}
    return BObject({"id": tid}, _stored(env, "trunks", tid), markers=("B-secret-trunk", "10.99.0.1"),
                   bodies={"PUT": body, "PATCH": body})


# --- telephony cabinet pages (web/telephony/<area>/pages.py) -------------------------------------
@isolation_fixture("/telephony/day-groups/{id}", "/telephony/day-groups/{id}/delete")
async def b_page_day_group(env: Env) -> BObject:
    from esl_control.model.calendars.services import DayGroupService

    dg = await DayGroupService(env.db, B_PBX).create({"name": "B-page-days", "weekdays": [1, 2]})
    return BObject({"id": dg["id"]}, _stored(env, "day_groups", dg["id"]), markers=("B-page-days",),
                   bodies={"POST": {"name": "A-was-here", "weekdays": "3"}})


@isolation_fixture("/telephony/schedules/{id}", "/telephony/schedules/{id}/delete")
async def b_page_schedule(env: Env) -> BObject:
    from esl_control.model.calendars.services import DayGroupService, ScheduleService

    dg = await DayGroupService(env.db, B_PBX).create({"name": "B-page-weekdays", "weekdays": [1]})
    sc = await ScheduleService(env.db, B_PBX).create(
        {"name": "B-page-hours", "intervals": [{"day_group": dg["id"], "start": "09:00", "end": "18:00"}]})
    return BObject({"id": sc["id"]}, _stored(env, "schedules", sc["id"]), markers=("B-page-hours",),
                   bodies={"POST": {"name": "A-was-here", "iv-0-day_group": dg["id"], "iv-0-start": "10:00",
                                    "iv-0-end": "11:00"}})


@isolation_fixture("/telephony/employees/{id}", "/telephony/employees/{id}/delete")
async def b_page_employee(env: Env) -> BObject:
    from esl_control.model.employees.services import EmployeeService

    e = await EmployeeService(env.db, B_PBX).create({"name": "B-secret-person", "extension": "501",
                                                      "email": "b-secret@example.com"})
    return BObject({"id": e["id"]}, _stored(env, "employees", e["id"]), markers=("B-secret-person", "b-secret@example.com"),
                   bodies={"POST": {"name": "A-was-here", "extension": "502"}})


@isolation_fixture("/telephony/groups/{id}", "/telephony/groups/{id}/delete")
async def b_page_group(env: Env) -> BObject:
    from esl_control.model.groups.services import GroupService

    g = await GroupService(env.db, B_PBX).create({"name": "B-secret-crew", "extension": "503"})
    return BObject({"id": g["id"]}, _stored(env, "ring_groups", g["id"]), markers=("B-secret-crew",),
                   bodies={"POST": {"name": "A-was-here", "extension": "504", "strategy": "random"}})


@isolation_fixture("/telephony/sip/accounts/{id}", "/telephony/sip/accounts/{id}/password",
                   "/telephony/sip/accounts/{id}/delete")
async def b_page_sip_account(env: Env) -> BObject:
    from esl_control.model.sip.services import SipAccountService

    a = await SipAccountService(env.db, B_PBX).create({"login": "bpagesecret", "password": "Secret987x"})
    return BObject({"id": a["id"]}, _stored(env, "sip_accounts", a["id"]), markers=("bpagesecret", "Secret987x"),
                   bodies={"POST": {"login": "awashere", "password": "Another456Y"}})


@isolation_fixture("/telephony/sip/domains/{id}/delete")
async def b_page_sip_domain(env: Env) -> BObject:
    from esl_control.model.sip.services import SipDomainService

    d = await SipDomainService(env.db, B_PBX).create({"name": "bpagesdomain"})
    return BObject({"id": d["id"]}, _stored(env, "sip_domains", d["id"]), markers=("bpagesdomain",),
                   bodies={"POST": {"confirm": "1"}})


@isolation_fixture("/telephony/sip/domains/{id}/rename")
async def b_page_sip_domain_rename(env: Env) -> BObject:
    from esl_control.model.sip.services import SipDomainService

    svc = SipDomainService(env.db, B_PBX)
    mine = [d for d in await svc.list() if not d.get("default")]   # B has at most 3 domains: reuse one
    d = mine[0] if len(mine) >= 2 else await svc.create({"name": "bpagesrename"})
    return BObject({"id": d["id"]}, _stored(env, "sip_domains", d["id"]), markers=(d["name"].split(".")[0],),
                   bodies={"POST": {"name": "awashere"}})


@isolation_fixture("/telephony/numbers/{id}", "/telephony/numbers/{id}/delete")
async def b_page_number(env: Env) -> BObject:
    from esl_control.model.numbers.services import NumberService

    n = await NumberService(env.db, B_PBX).connect_passive({"number": "79998001111", "comment": "B-secret-did"})
    return BObject({"id": n["id"]}, _stored(env, "numbers", n["id"]), markers=("B-secret-did", "79998001111"),
                   bodies={"POST": {"comment": "A-was-here"}})


@isolation_fixture("/telephony/trunks/{id}", "/telephony/trunks/{id}/delete")
async def b_page_trunk(env: Env) -> BObject:
    from esl_control.model.trunks.services import TrunkService

    t = await TrunkService(env.db, B_PBX).create({"name": "B-secret-link", "host": "10.98.0.1"})
    return BObject({"id": t["id"]}, _stored(env, "trunks", t["id"]), markers=("B-secret-link", "10.98.0.1"),
                   bodies={"POST": {"name": "A-was-here", "host": "10.98.0.2", "codecs": "PCMA", "lines": "5"}})


@isolation_fixture("/telephony/lists/entries/{id}/delete")
async def b_page_list_entry(env: Env) -> BObject:
    from esl_control.model.lists.services import ListService

    e = await ListService(env.db, B_PBX).create({"list": "black", "value": "79998002222", "comment": "B-secret-nuisance"})
    return BObject({"id": e["id"]}, _stored(env, "list_entries", e["id"]), markers=("B-secret-nuisance", "79998002222"))


@isolation_fixture("/telephony/client-rules/{id}", "/telephony/client-rules/{id}/delete")
async def b_page_client_rule(env: Env) -> BObject:
    from esl_control.model.lists.services import ClientRuleService

    r = await ClientRuleService(env.db, B_PBX).create({"value": "79998003333", "target_kind": "external",
                                                        "target": "79998004444", "comment": "B-secret-vip"})
    return BObject({"id": r["id"]}, _stored(env, "client_rules", r["id"]), markers=("B-secret-vip", "79998004444"),
                   bodies={"POST": {"value": "79998003333", "target_kind": "external", "target_external": "79998005555"}})


@isolation_fixture("/telephony/conferences/{id}", "/telephony/conferences/{id}/delete")
async def b_page_room(env: Env) -> BObject:
    from esl_control.model.conferences.services import ConferenceRoomService

    r = await ConferenceRoomService(env.db, B_PBX).create({"name": "B-secret-hall", "pin": "8765"})
    return BObject({"id": r["id"]}, _stored(env, "conference_rooms", r["id"]), markers=("B-secret-hall",),
                   bodies={"POST": {"name": "A-was-here", "seats": "5"}})


# --- webhooks (web/telephony/webhooks) -----------------------------------------------------------
@isolation_fixture("/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/deliveries", "/api/v1/webhooks/{id}/secret",
                   "/api/v1/webhooks/{id}/test", "/api/v1/webhooks/{id}/deliveries/{delivery_id}",
                   "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
                   "/integrations/webhooks/{id}", "/integrations/webhooks/{id}/delete",
                   "/integrations/webhooks/{id}/deliveries/{delivery_id}/redeliver")
async def b_webhook(env: Env) -> BObject:
    from esl_control.model.webhooks.services import WebhookService, delivery_id

    sub = await WebhookService(env.db, B_PBX).create({"url": "https://b-secret-hooks.example.com/in",
                                                      "events": ["call.ended"], "description": "B-secret-hook"})
    did = delivery_id("call.ended:b-secret-call", sub["id"])
    await env.db["webhook_deliveries"].insert_one({
        "_id": did, "pbx_id": B_PBX, "subscription_id": sub["id"], "event_id": "call.ended:b-secret-call",
        "event_type": "call.ended", "body": '{"B-secret-body": 1}', "status": "delivered", "round": 0, "attempts": 1,
        "created_at": datetime.now(timezone.utc), "updated_at": datetime.now(timezone.utc)})

    async def read():
        return (await env.db["webhook_subscriptions"].find_one({"_id": sub["id"]}),
                await env.db["webhook_deliveries"].find_one({"_id": did}))
    body = {"url": "https://a-was-here.example.com/x", "events": ["call.started"]}
    return BObject({"id": sub["id"], "delivery_id": did}, read,
                   markers=("b-secret-hooks.example.com", "B-secret-hook", sub["secret"], "B-secret-body"),
                   bodies={"PUT": body, "PATCH": body, "POST": {**body, "events": "call.started"}})


@isolation_fixture("/api/v1/integrations/ldap/incidents/{id}")
async def b_ldap_incident(env: Env) -> BObject:
    """B's LDAP settings and an incident of a sync that found B's server closed (a real run)."""
    from esl_control.model.ldap.services import LdapService, run_sync
    from web.testing import free_closed_port

    await LdapService(env.db, B_PBX).update({
        "host": "127.0.0.1", "port": free_closed_port(), "bind_dn": "cn=b-secret-reader,dc=example,dc=org",
        "password": "B-secret-ldap-pw", "base_dn": "ou=b-secret-people,dc=example,dc=org",
        "notify_email": "b-ldap-secret@example.com"})
    result = await run_sync(env.db, B_PBX)
    iid = (await env.db["ldap_incidents"].find_one({"run_id": result["run_id"]}))["_id"]

    async def read():
        return (await env.db["ldap_incidents"].find_one({"_id": iid}),
                await env.db["ldap_settings"].find_one({"_id": B_PBX}))
    return BObject({"id": iid}, read, markers=("b-secret-reader", "b-secret-people", "b-ldap-secret@example.com",
                                               "B-secret-ldap-pw", result["run_id"]))


@isolation_fixture("/api/v1/integrations/ldap/links/{id}", "/integrations/ldap/links/{id}")
async def b_ldap_link(env: Env) -> BObject:
    """B's employee matched to B's directory entry (as the sync links a card it creates)."""
    from esl_control.model.employees.services import EmployeeService

    emp = await EmployeeService(env.db, B_PBX).create(
        {"name": "B-secret-ldap-employee", "extension": "79"},
        ldap={"uid": "b-secret-entry-uuid", "dn": "uid=b-secret-ldap-dn,dc=example,dc=org", "managed": True,
              "sync": True})
    return BObject({"id": emp["id"]}, _stored(env, "employees", emp["id"]),
                   markers=("B-secret-ldap-employee", "b-secret-entry-uuid", "b-secret-ldap-dn"),
                   bodies={"PATCH": {"sync": False}, "POST": {"action": "stop"}})

# --- the environment ------------------------------------------------------------------------------


@pytest.fixture
async def env(settings, store):
    accounts = [await create_account(store.db, name, f"{name.lower()}@example.com") for name in ("Alpha", "Beta")]
    pbxes = [await create_pbx(store.db, acc["account_id"], acc["name"], settings.sip_base_domain) for acc in accounts]
    assert [p["pbx_id"] for p in pbxes] == [A_PBX, B_PBX]
    await create_tenant_user(store, A_PBX, "alice", "tenant-pass-1", language="en", display_name="Alice A",
                             account_id=accounts[0]["account_id"])
    b = await create_tenant_user(store, B_PBX, "bob", "tenant-pass-2", language="en", display_name="Bob B",
                                 account_id=accounts[1]["account_id"])
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as ca, \
                WebClient(url, headers={"Accept-Language": "en"}) as cb:
            await ca.login(f"{A_PBX}/alice", "tenant-pass-1")
            await cb.login(f"{B_PBX}/bob", "tenant-pass-2")
            r = await ca.api("POST", "/api/v1/api-keys", json={"name": "A key", "role": "administrator",
                                                                "whitelist": ["127.0.0.1"]})
            assert r.status_code == 201, r.text
            yield Env(url, ctx, store.db, ca, cb, r.json()["secret"], b, accounts[1])


def _routes_with_ids() -> list[RouteInfo]:
    return [r for r in all_routes() if "{" in r.path]


def _fill(path: str, params: dict[str, str]) -> str:
    def sub(m):
        name = m.group(1)
        if name not in params:
            raise AssertionError(f"the isolation fixture for {path} gives no value for {{{name}}}")
        return params[name]
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, path)


def sample_path(info: RouteInfo) -> str:
    """The route's path with values its parameter patterns accept (ids of nothing)."""
    path = info.path
    for name in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", info.path):
        start = info.pattern.index(f"(?P<{name}>") + len(f"(?P<{name}>")
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(info.pattern[end], 0)
            end += 1
        group = info.pattern[start:end - 1]
        candidates = ["1", "0123456789ab", "0123456789abcdef01234567", "abc"]
        first = group.split("|")[0]
        if re.fullmatch(r"[A-Za-z0-9_-]+", first):
            candidates.insert(0, first)
        value = next((c for c in candidates if re.fullmatch(group, c)), None)
        assert value is not None, f"no sample value fits {{{name}}} in {info.pattern}"
        path = path.replace("{" + name + "}", value, 1)
    return path


def _is_personal(r: RouteInfo) -> bool:
    from web.enforce import PERSONAL, required_right

    return all(required_right(r.handler, m) == PERSONAL for m in r.methods)


def test_every_tenant_route_with_an_object_id_has_an_isolation_fixture():
    missing = [f"add a fixture for {r.path}" for r in _routes_with_ids()
               if r.access in ("user", "tenant") and r.path not in FIXTURES]
    assert not missing, "; ".join(missing)


@pytest.mark.parametrize("info", [r for r in _routes_with_ids() if r.access in ("user", "tenant")],
                         ids=lambda r: r.path)
async def test_pbx_a_cannot_read_change_or_delete_pbx_b_objects(env, info):
    if info.path not in FIXTURES:
        pytest.fail(f"add a fixture for {info.path}")
    obj = await FIXTURES[info.path](env)
    url = _fill(info.path, obj.params)
    before = await obj.read()
    assert before is not None, f"the fixture for {info.path} did not create B's object"
    token = await env.a.ensure_xsrf()
    for method in info.methods:
        body = obj.bodies.get(method, {})
        if info.kind == "api":
            r = await env.a.api(method, url, json=body if method != "GET" else None)
        else:
            data = {**body, "_xsrf": token} if method != "GET" else None
            r = await env.a.request(method, url, data=data)
        expected = obj.expect.get("session", 404)
        assert r.status_code == expected, f"A's user: {method} {url} → {r.status_code} {r.text[:200]}"
        if info.kind == "api" and expected == 404:
            assert r.json()["error"]["code"] == "not_found"
            # the same with PBX A's API key
            k = await env.a.request(method, url, json=body if method != "GET" else None,
                                    headers={"Authorization": f"Bearer {env.a_key}"})
            expected = 403 if _is_personal(info) else obj.expect.get("key", 404)
            assert k.status_code == expected, f"A's key: {method} {url} → {k.status_code} {k.text[:200]}"
        for marker in obj.markers:  # (the id A typed may be echoed back; nothing else may)
            if marker not in url:
                assert marker not in r.text, f"{method} {url} leaked {marker!r}"
    assert await obj.read() == before, f"B's object behind {info.path} changed"


async def test_lists_and_pages_of_pbx_a_never_show_pbx_b_objects(env):
    markers: list[str] = []
    seen = set()
    for path, make in FIXTURES.items():
        if make in seen:
            continue
        seen.add(make)
        markers += (await make(env)).markers
    # B's own action log now holds entries about B's role and key: A must not see them either
    lists = [r for r in all_routes() if "{" not in r.path and "GET" in r.methods
             and r.access in ("user", "tenant") and r.kind in ("api", "page")]
    assert {"/api/v1/roles", "/api/v1/api-keys", "/api/v1/action-log", "/api/v1/calls", "/access/log",
            "/access/roles", "/access/users", "/access/api-keys", "/api/v1/integrations/ldap",
            "/api/v1/integrations/ldap/incidents", "/api/v1/integrations/ldap/runs", "/integrations/ldap",
            "/api/v1/integrations/ldap/links"} <= {r.path for r in lists}
    for r in lists:
        resp = await env.a.get(r.path)
        # (some lists need query arguments: a 4xx answer still must not show B's data)
        assert resp.status_code < 500 and resp.status_code != 401, f"{r.path} → {resp.status_code}"
        for marker in markers:
            assert marker not in resp.text, f"A's {r.path} shows B's {marker!r}"
        if r.kind == "api" and not _is_personal(r):
            k = await env.a.get(r.path, headers={"Authorization": f"Bearer {env.a_key}"})
            assert k.status_code == resp.status_code, f"key {r.path} → {k.status_code} {k.text[:200]}"
            for marker in markers:
                assert marker not in k.text, f"A's key reading {r.path} sees B's {marker!r}"
    # and B really has them (the markers are not just absent everywhere)
    assert "B-secret-role" in (await env.b.get("/api/v1/roles")).text
    assert "B-secret-key" in (await env.b.get("/api/v1/action-log?per_page=100")).text
    assert "b-secret-people" in (await env.b.get("/api/v1/integrations/ldap")).text
    assert "b-secret-people" in (await env.b.get("/integrations/ldap")).text
    assert "b-secret-ldap-dn" in (await env.b.get("/api/v1/integrations/ldap/links")).text
    # matching by hand names B's employee in the body: A gets "not found" and B's card stays as it was
    eid = (await env.db["employees"].find_one({"pbx_id": B_PBX, "name": "B-secret-ldap-employee"}))["_id"]
    r = await env.a.api("POST", "/api/v1/integrations/ldap/links", json={"employee_id": eid,
                                                                          "dn": "uid=x,dc=example,dc=org"})
    assert r.status_code == 404 and "B-secret" not in r.text


async def test_a_tenant_gets_403_on_operator_routes_with_ids(env):
    # every operator route, with ids or without (the platform gateways, the settings …)
    for info in [r for r in all_routes() if r.access == "operator"]:
        if info.access != "operator":
            continue
        url = sample_path(info)
        for method in info.methods:
            r = await env.a.api(method, url, json={} if method != "GET" else None) if info.kind == "api" \
                else await env.a.request(method, url, data={"_xsrf": await env.a.ensure_xsrf()} if method != "GET" else None)
            assert r.status_code == 403, f"{method} {url} → {r.status_code}"
