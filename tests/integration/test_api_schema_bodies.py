"""The bodies the OpenAPI document now states (issue 9 item 5, the operations that were exempt
from the property-based run's positive_data_acceptance): each statement pinned by requests made
as the document says, and the refusals it announces.

- The sound upload: a multipart form (name, description, filename, file) or the raw file
  (audio/wav, audio/mpeg) with the fields in the query, the name then required
  (``x-pult-raw-body-query``).
- The operator's PBXs: an edition, tariff, account, PBX or pool number that names nothing stored,
  or a number taken, is a 409 conflict with the console's message (a body valid in itself); the
  time zone is one of the zone database's (an enum); a block's end is later than now
  (``x-pult-future``).
- Tariffs: the priced zones, prices in roubles, the destinations (an international one with its
  country), a new tariff's code; platform gateways with or without credentials (a password needs
  its user name), an id that names no stored gateway a 409.
- Schemes: each step by its kind (``oneOf`` with a discriminator), menus level by level (at most
  4, a level-4 menu without rules), the final step last and the last block without a schedule
  (``x-pult-last``); a reference to a stored object that names nothing is a 409.
- Finance documents: the fields by kind (``oneOf`` with a discriminator); a period's order and
  length (``x-pult-period`` on the kind's schema), a receipt's payment date from today to a year
  ahead in the account's time zone (``x-pult-from-today``); without the operator's requisites an
  invoice, a receipt or an act is a 409 conflict with the message saying where to enter them; a
  document is e-mailed to one address at least.
"""
from __future__ import annotations

import io
import re
import wave
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio

from pult.clock import FixedClock, use_clock
from storage.repos.users import create_operator_admin
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from web.testing import WebClient

pytestmark = pytest.mark.asyncio(loop_scope="module")
SOUNDS = "/api/v1/telephony/sounds"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def op(st):
    await create_operator_admin(st.store, "bodies-root", "operator-pass-1", "root@bodies.example", language="en")
    async with WebClient(st.url) as c:
        await c.login("bodies-root", "operator-pass-1")
        yield c


def _schema(doc: dict, method: str, path: str) -> dict:
    ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def doc(st):
    async with st.client("101/admin") as c:
        r = await c.get("/api/v1/openapi.json")
        assert r.status_code == 200
        return r.json()


def _wav(seconds: float = 0.2, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(int(rate * seconds) * 2))
    return out.getvalue()


async def test_the_sound_upload_is_documented_as_a_form_or_the_raw_file(st, doc):
    op = doc["paths"][SOUNDS]["post"]
    content = op["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "audio/wav", "audio/mpeg"}
    form = content["multipart/form-data"]
    assert set(form["schema"]["required"]) == {"name", "file"}
    assert form["schema"]["properties"]["file"]["format"] == "binary"
    assert content["audio/wav"]["schema"]["format"] == "binary"
    assert op["x-pult-raw-body-query"] == ["name"]
    assert not next(p for p in op["parameters"] if p["name"] == "name")["required"]  # a form carries it
    async with st.client("101/admin") as c:
        # the form, as documented (and as the cabinet sends it)
        r = await c.api("POST", SOUNDS, data={"name": "Greeting form", "description": "From the form"},
                        files={"file": ("hello.wav", _wav(), "audio/wav")})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "Greeting form" and r.json()["format"] == "wav"
        # the raw file with the name in the query
        r = await c.api("POST", SOUNDS, params={"name": "Greeting raw", "filename": "raw.wav"},
                        content=_wav(), headers={"Content-Type": "audio/wav"})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "Greeting raw" and r.json()["filename"] == "raw.wav"
        # a raw file without the name: what x-pult-raw-body-query announces
        r = await c.api("POST", SOUNDS, content=_wav(), headers={"Content-Type": "audio/wav"})
        assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
        # the content decides, not the type: text sent as audio/mpeg is refused
        r = await c.api("POST", SOUNDS, params={"name": "Not audio"}, content=b"hello " * 100,
                        headers={"Content-Type": "audio/mpeg"})
        assert r.status_code == 422 and "file" in r.json()["error"]["fields"]
        names = {s["name"] for s in (await c.get(SOUNDS)).json()["items"]}
        assert {"Greeting form", "Greeting raw"} <= names and "Not audio" not in names
        # the reference page shows the upload's media types and the form's fields
        page = (await c.get("/api/v1/docs")).text
        section = page[page.index('id="SoundsApi_post"'):][:8000]
        assert "multipart/form-data, audio/wav, audio/mpeg" in section and "filename" in section


async def test_an_operator_pbx_body_that_names_nothing_stored_is_a_409(st, op, doc):
    account = (await op.get("/api/v1/operator/pbxes/101")).json()["account_id"]
    pbx_in = _schema(doc, "post", "/api/v1/operator/pbxes")
    assert "Europe/Moscow" in pbx_in["properties"]["time_zone"]["enum"]
    assert "Mars/Olympus" not in pbx_in["properties"]["time_zone"]["enum"]
    assert pbx_in["properties"]["edition"]["pattern"] == "^([a-z][a-z0-9_]{1,31})$"
    new = {"account_id": account, "name": "Branch", "edition": "basic", "time_zone": "Asia/Yekaterinburg"}
    for body, field, message in (({**new, "edition": "gold"}, "edition", "There is no such edition."),
                                 ({**new, "tariff": "nope"}, "tariff", "There is no such tariff."),
                                 ({**new, "account_id": 999999}, "account_id", "There is no such account.")):
        r = await op.api("POST", "/api/v1/operator/pbxes", json=body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
        assert r.json()["error"]["fields"] == {field: message}
    # wrong in itself: still 422
    r = await op.api("POST", "/api/v1/operator/pbxes", json={**new, "time_zone": "Mars/Olympus"})
    assert r.status_code == 422 and "time_zone" in r.json()["error"]["fields"]
    r = await op.api("POST", "/api/v1/operator/pbxes", json=new)
    assert r.status_code == 201 and r.json()["time_zone"] == "Asia/Yekaterinburg", r.text
    pbx = r.json()["pbx_id"]
    r = await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"edition": "gold"})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"edition": "There is no such edition."}
    r = await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"number_fees": {"74950009999": "100"}})
    assert r.status_code == 409 and "number_fees.74950009999" in r.json()["error"]["fields"]
    r = await op.api("POST", f"/api/v1/operator/pbxes/{pbx}/convert", json={"edition": "gold"})
    assert r.status_code == 409  # not a demo (and no such edition): a clash either way
    # the console's form keeps its message for the same clash
    page = await op.get("/operator/pbxes/new")
    r = await op.post_form("/operator/pbxes/new", {"account_id": "999999", "name": "Branch", "edition": "basic",
                                                   "time_zone": "Europe/Moscow"})
    assert page.status_code == 200 and r.status_code == 409 and "There is no such account." in r.text


async def test_a_pool_number_that_names_nothing_or_is_taken_is_a_409(st, op):
    r = await op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74959990001"})
    assert r.status_code == 201, r.text
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74959990001", "pbx_id": 999999})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"pbx_id": "There is no such PBX."}
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74959990002", "pbx_id": 101})
    assert r.status_code == 409 and "number" in r.json()["error"]["fields"]  # not in the pool
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74959990001", "pbx_id": 101})
    assert r.status_code == 200, r.text
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74959990001", "pbx_id": 202})
    assert r.status_code == 409 and "number" in r.json()["error"]["fields"]  # taken by 101
    listing = (await op.get("/api/v1/operator/did-pool", params={"q": "74959990001"})).json()["items"]
    assert [(i["number"], i["pbx_id"]) for i in listing] == [("74959990001", 101)]


async def test_a_block_ends_in_the_future_as_the_document_says(st, op, doc):
    base = "/api/v1/operator/pbxes/{pbx_id}/block"
    assert doc["paths"][base]["post"]["x-pult-future"] == ["until"]
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    r = await op.api("POST", "/api/v1/operator/pbxes/202/block", json={"until": past, "reason": "abuse"})
    assert r.status_code == 422 and "until" in r.json()["error"]["fields"]
    later = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    r = await op.api("POST", "/api/v1/operator/pbxes/202/block", json={"until": later.isoformat(), "reason": "abuse"})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["operator_block"]["until"]) == later
    assert (await op.api("POST", "/api/v1/operator/pbxes/202/unblock")).status_code == 200


async def test_a_tariff_body_is_documented_as_the_checks_take_it(st, op, doc):
    new = _schema(doc, "post", "/api/v1/operator/tariffs")
    assert "code" in new["required"] and new["x-pult-unique"] == {"destinations": ["prefix"]}
    assert set(new["properties"]["prices"]["required"]) == {"local", "mobile", "long_distance", "international"}
    international = new["properties"]["destinations"]["items"]["oneOf"][1]
    assert international["properties"]["zone"] == {"const": "international"} and "country" in international["required"]
    body = {"code": "bodies", "name": "Bodies", "step": "1/1",
            "prices": {"local": "0,90", "mobile": 2, "long_distance": "2.50", "international": "15",
                       "international:DE": "9,90"},
            "destinations": [{"prefix": "7495", "zone": "local", "name": "Москва"},
                             {"prefix": "49", "zone": "international", "country": "DE"},
                             {"prefix": "112", "zone": "free", "exact": True}]}
    r = await op.api("POST", "/api/v1/operator/tariffs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["prices"]["international:DE"] == 990 and r.json()["prices"]["mobile"] == 200
    r = await op.api("POST", "/api/v1/operator/tariffs", json=body)
    assert r.status_code == 409 and "code" in r.json()["error"]["fields"]  # taken
    # what the document refuses, the server refuses: no code, an international prefix without country
    r = await op.api("POST", "/api/v1/operator/tariffs", json={k: v for k, v in body.items() if k != "code"})
    assert r.status_code == 422 and "code" in r.json()["error"]["fields"]
    r = await op.api("PUT", "/api/v1/operator/tariffs/bodies", json={**body, "destinations": [
        {"prefix": "49", "zone": "international"}]})
    assert r.status_code == 422 and "destinations.0.country" in r.json()["error"]["fields"]
    r = await op.api("PUT", "/api/v1/operator/tariffs/bodies", json={**body, "code": None, "step": "60/60"})
    assert r.status_code == 200 and r.json()["step"] == "60/60", r.text


async def test_platform_gateways_are_documented_with_or_without_credentials(st, op, doc):
    url = "/api/v1/operator/platform-gateways"
    gateways = _schema(doc, "put", url)["properties"]["gateways"]
    plain, with_credentials = gateways["items"]["oneOf"]
    assert plain["properties"]["register"] == {"const": False, "description": plain["properties"]["register"]["description"]}
    assert {"username", "password"} <= set(with_credentials["required"])
    r = await op.api("PUT", url, json={"gateways": [
        {"name": "Main", "proxy": "sip.main.example:5080", "username": "pult", "password": "s3cret", "register": True},
        {"name": "Backup", "proxy": "198.51.100.7"}]})
    assert r.status_code == 200, r.text
    main, backup = r.json()["gateways"]
    assert main["password_set"] and backup["proxy"] == "198.51.100.7:5060"
    # a password without its user name: the document's variants do not allow it, nor does the server
    r = await op.api("PUT", url, json={"gateways": [{"name": "Main", "proxy": "sip.main.example", "password": "x"}]})
    assert r.status_code == 422 and "0.username" in r.json()["error"]["fields"]
    # an id that names no stored gateway (deleted meanwhile): a clash, 409, nothing changed
    r = await op.api("PUT", url, json={"gateways": [{"id": main["id"], "name": "Main", "proxy": "sip.main.example",
                                                     "username": "pult"},
                                                    {"id": "deadbeef", "name": "Gone", "proxy": "gone.example"}]})
    assert r.status_code == 409 and "1.id" in r.json()["error"]["fields"]
    assert [g["name"] for g in (await op.get(url)).json()["gateways"]] == ["Main", "Backup"]


def _menu(depth: int) -> dict:
    """A menu nested ``depth`` levels deep (its item 1 holds the next one)."""
    inner = [{"kind": "hangup"}] if depth == 1 else [_menu(depth - 1), {"kind": "return_to_main"}]
    return {"kind": "menu", "children": {"1": {"steps": inner}, "2": {"password": "1234", "steps": []}}}


async def test_a_scheme_is_documented_step_by_step(st, doc):
    schemas = doc["components"]["schemas"]
    scheme_in = schemas["SchemeIn"]
    assert scheme_in["x-pult-last"] == {"blocks": {"schedule_id": [None, ""]},
                                        "steps": {"kind": ["hangup", "return_to_main"]}}
    top = schemas["SchemeSteps"]
    assert top["items"]["discriminator"]["propertyName"] == "kind"
    assert set(top["items"]["discriminator"]["mapping"]) == {"greeting", "menu", "forward", "voicemail", "fax", "hangup"}
    assert top["contains"]["properties"]["kind"] == {"enum": ["hangup"]} and top["maxContains"] == 1
    assert "menu" not in schemas["SchemeSteps4"]["anyOf"][1]["items"]["discriminator"]["mapping"]
    assert "rules" in schemas["SchemeMenuStep3"]["properties"]
    assert schemas["SchemeMenuStep4"]["properties"]["rules"]["anyOf"][1]["maxProperties"] == 0
    body = {"name": "Office hours", "description": "As documented", "blocks": [
        {"schedule_id": None, "steps": [
            {"kind": "greeting", "sound_id": None, "wait_end": True},
            {"kind": "menu", "children": {"1": {"steps": [
                {"kind": "forward", "target": {"type": "external", "value": "79161234567"}, "ring_time": 30},
                {"kind": "return_to_main"}]}},
             "rules": {"no_input": {"timeout": 7, "steps": []}, "disa": {"min_length": 3, "max_length": 4}}},
            {"kind": "voicemail", "emails": "office@example.com; boss@example.com"},
            {"kind": "hangup"}]},
        {"schedule_id": "", "steps": [{"kind": "forward", "target": None, "queue": None}, {"kind": "hangup"}]}]}
    async with st.client("101/admin") as c:
        r = await c.api("POST", "/api/v1/telephony/schemes", json=body)
        assert r.status_code == 201, r.text
        blocks = r.json()["blocks"]
        menu = blocks[0]["steps"][1]
        assert menu["rules"]["no_input"]["steps"] == [{"id": menu["rules"]["no_input"]["steps"][0]["id"],
                                                       "kind": "hangup"}]  # empty: hang up
        assert blocks[0]["steps"][2]["emails"] == ["office@example.com", "boss@example.com"]
        # four menu levels are documented and taken (the edition permitting), a fifth is not documented
        r = await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Deep", "blocks": [
            {"schedule_id": None, "steps": [_menu(4), {"kind": "hangup"}]}]})
        assert r.status_code in (201, 409), r.text  # 409: the PBX's edition limits the depth
        r = await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Too deep", "blocks": [
            {"schedule_id": None, "steps": [_menu(5), {"kind": "hangup"}]}]})
        assert r.status_code == 422, r.text
        # what x-pult-last states: a step after the final one, a last block with a schedule
        r = await c.api("POST", "/api/v1/telephony/schemes", json={"name": "After", "blocks": [
            {"schedule_id": None, "steps": [{"kind": "hangup"}, {"kind": "voicemail"}]}]})
        assert r.status_code == 422, r.text
        r = await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Scheduled", "blocks": [
            {"schedule_id": "0" * 24, "steps": [{"kind": "hangup"}]}]})
        assert r.status_code == 422 and "blocks[0].schedule_id" in r.json()["error"]["fields"], r.text
        # a reference that names nothing in the PBX: a clash with what is stored, 409
        r = await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Nowhere", "blocks": [
            {"schedule_id": "0" * 24, "steps": [{"kind": "hangup"}]},
            {"schedule_id": None, "steps": [{"kind": "greeting", "sound_id": "f" * 24}, {"kind": "hangup"}]}]})
        assert r.status_code == 409, r.text
        names = {x["name"] for x in (await c.get("/api/v1/telephony/schemes")).json()["items"]}
        assert "Office hours" in names and not names & {"Too deep", "After", "Scheduled", "Nowhere"}


async def test_a_finance_document_is_documented_by_its_kind(st, doc):
    schemas = doc["components"]["schemas"]
    document_in = _schema(doc, "post", "/api/v1/finance/documents")
    assert document_in["discriminator"]["propertyName"] == "kind"
    assert set(document_in["discriminator"]["mapping"]) == {"invoice", "receipt", "reconciliation", "call_detail",
                                                            "expenses", "payments"}
    assert schemas["DocumentInvoiceIn"]["required"] == ["kind", "amount"]
    assert schemas["DocumentCallDetailIn"]["properties"]["format"]["enum"] == ["pdf", "xls", "xlsx", "txt"]
    by_months, by_destinations = schemas["DocumentExpensesIn"]["oneOf"]
    assert "pbx_id" not in by_months["properties"] and "pbx_id" in by_destinations["properties"]
    async with st.client("101/admin") as c:
        # one PBX needs «by destinations», as the variants say
        r = await c.api("POST", "/api/v1/finance/documents", json={
            "kind": "expenses", "since": "2026-01-01", "until": "2026-01-28", "by": "months", "pbx_id": 101})
        assert r.status_code == 422 and "pbx_id" in r.json()["error"]["fields"]
        r = await c.api("POST", "/api/v1/finance/documents", json={
            "kind": "expenses", "since": "2026-01-01", "until": "2026-01-28", "by": "destinations", "pbx_id": 101})
        assert r.status_code in (202, 503), r.text  # 503: the job queue of this stack may be down


async def test_a_finance_documents_rules_of_time_and_state_are_stated(st, doc):
    """The rules a schema cannot say are stated as extensions, and the server keeps them: a period in
    order and of at most 400 days, a receipt paid from today (the account's time zone, Moscow here)
    to a year ahead. A body that keeps them but needs the operator's requisites, which this stack
    has not entered, is a 409 conflict whose message says where the operator enters them."""
    schemas = doc["components"]["schemas"]
    period = {"since": "since", "until": "until", "max_days": 400}
    for name in ("DocumentReconciliationIn", "DocumentCallDetailIn", "DocumentPaymentsIn", "DocumentExpensesIn"):
        assert schemas[name]["x-pult-period"] == period, name
    assert schemas["DocumentReceiptIn"]["x-pult-from-today"] == {"pay_date": [0, 365]}
    post = doc["paths"]["/api/v1/finance/documents"]["post"]
    assert "409" in post["responses"] and "requisites_missing" in post["description"]
    receipt = {"kind": "receipt", "payer_name": "Иванов Иван", "payer_address": "Казань", "amount": "100"}
    # 23:30 UTC on the 14th is already the 15th in Moscow: "today" is the account's date
    with use_clock(FixedClock("2026-06-14T23:30:00Z")):
        async with st.client("101/admin") as c:
            for body, field in (({"kind": "reconciliation", "since": "2026-02-01", "until": "2026-01-28"}, "until"),
                                ({"kind": "payments", "since": "2025-01-01", "until": "2026-02-05"}, "until"),
                                ({**receipt, "pay_date": "2026-06-14"}, "pay_date"),
                                ({**receipt, "pay_date": "2027-06-16"}, "pay_date")):
                r = await c.api("POST", "/api/v1/finance/documents", json=body)
                assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
            # the edges are kept: 400 days, a receipt paid today or a year from today
            for body in ({"kind": "reconciliation", "since": "2025-01-01", "until": "2026-02-04"},
                         {**receipt, "pay_date": "2026-06-15"}, {**receipt, "pay_date": "2027-06-15"}):
                r = await c.api("POST", "/api/v1/finance/documents", json=body)
                assert r.status_code == 409, (body, r.text)
                error = r.json()["error"]
                assert error["code"] == "requisites_missing"
                assert "«Platform settings» → «The operator's requisites»" in error["message"]
            listed = (await c.get("/api/v1/finance/documents")).json()
            assert not [d for d in listed["items"] if d["kind"] in ("reconciliation", "receipt")]
    to = schemas["EmailIn"]["properties"]["to"]["anyOf"]
    text, many = (next(s for s in to if s["type"] == t) for t in ("string", "array"))
    assert not re.fullmatch(text["pattern"], "") and re.fullmatch(text["pattern"], "a@example.com, b@example.com")
    assert many["minItems"] == 1 and many["maxItems"] == 10
