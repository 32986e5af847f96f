"""``/fs/cdr``: the switch's own call-record delivery (mod_json_cdr). A record is stored once
whether it comes this way or as CHANNEL_HANGUP_COMPLETE; the answer tells the switch to retry
(503) while the store is down, and refuses callers and bodies it must."""
from __future__ import annotations

import json
import socket

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application

from esl_control.cdr import CdrWriter, record_from_event, record_from_json_cdr
from esl_control.transport.protocol import EslEvent
from fs_config import cdr_routes
from storage.repos.calls import save_call_record
from tests.integration.test_xml_curl_http import SECRET, basic, make_settings

UUID = "5466360b-5c68-409f-9f54-778819fd06c8"


def json_cdr(**variables) -> dict:
    """A mod_json_cdr document of the shape switch_ivr_generate_json_cdr() writes (1.10.12)."""
    return {
        "core-uuid": "17c07682-cb41-405e-a928-094c2ddca25a", "switchname": "fs1",
        "channel_data": {"state": "CS_REPORTING", "direction": "inbound", "state_number": "11"},
        "variables": {"direction": "inbound", "uuid": UUID, "call_uuid": UUID,
                      "channel_name": "loopback/74951234567-b", "pult_pbx_id": "101",
                      "start_uepoch": "1795316899024012", "answer_uepoch": "1795316899104007",
                      "end_uepoch": "1795316905284041", "duration": "6", "billsec": "6",
                      "hangup_cause": "NORMAL_CLEARING", "hangup_cause_q850": "16", **variables},
        "app_log": {"applications": [{"app_name": "socket", "app_data": "127.0.0.1:8084 async full"}]},
        "callflow": [{"dialplan": "XML", "profile_index": "1",
                      "caller_profile": {"caller_id_name": "Ivan", "caller_id_number": "79161234567",
                                         "destination_number": "74951234567", "context": "public",
                                         "uuid": UUID, "chan_name": "loopback/74951234567-b"},
                      "times": {"created_time": "1795316899024012", "answered_time": "1795316899104007",
                                "hangup_time": "1795316905284041"}}],
    }


def test_a_json_cdr_gives_the_same_record_as_the_hangup_event():
    doc = json_cdr()
    headers = {"Unique-ID": UUID, "Core-UUID": doc["core-uuid"], "Channel-Call-UUID": UUID,
               "Call-Direction": "inbound", "Caller-Caller-ID-Number": "79161234567",
               "Caller-Caller-ID-Name": "Ivan", "Caller-Destination-Number": "74951234567",
               "Caller-Context": "public", "Channel-Name": "loopback/74951234567-b",
               "Hangup-Cause": "NORMAL_CLEARING",
               **{f"variable_{k}": v for k, v in doc["variables"].items()}}
    event = EslEvent(headers)
    assert record_from_json_cdr(doc, "fs1") == record_from_event(event, "fs1")
    rec = record_from_json_cdr(doc, "fs1")
    assert rec["pbx_id"] == 101 and rec["caller"] == "79161234567" and rec["billsec"] == 6
    assert rec["start"].isoformat() == "2026-11-22T03:08:19.024012+00:00"


class CdrServer:
    def __init__(self, accept, settings):
        self.app = Application(cdr_routes(settings, accept))
        sockets = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.server = HTTPServer(self.app)
        self.server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/fs/cdr?uuid={UUID}"
        self.client = AsyncHTTPClient(force_instance=True)

    async def post(self, body, auth=True):
        headers = {"Content-Type": "application/json", "User-Agent": "freeswitch-json/1.0"}
        if auth:
            headers["Authorization"] = basic("freeswitch", SECRET)
        return await self.client.fetch(HTTPRequest(self.url, "POST", body=body, headers=headers),
                                       raise_error=False)

    async def close(self):
        self.client.close()
        self.server.stop()


async def test_cdr_endpoint_stores_once_retries_and_refuses(store):
    settings = make_settings()
    down = {"now": False}

    async def save(record):
        if down["now"]:
            raise ConnectionError("store unreachable")
        return await save_call_record(store.db, record)

    writer = CdrWriter(save)

    async def accept(doc):
        return await writer.store_now(record_from_json_cdr(doc, "fs1"))

    server = CdrServer(accept, settings)
    try:
        body = json.dumps(json_cdr())
        down["now"] = True
        r = await server.post(body)
        assert r.code == 503  # the switch keeps it and retries
        assert await store.db["call_records"].count_documents({}) == 0
        down["now"] = False
        r = await server.post(body)
        assert (r.code, r.body) == (200, b"stored\n")
        r = await server.post(body)  # a retry after a lost answer, or the event came first
        assert (r.code, r.body) == (200, b"already stored\n")
        docs = await store.db["call_records"].find({"uuid": UUID}).to_list(None)
        assert len(docs) == 1 and docs[0]["hangup_cause"] == "NORMAL_CLEARING" and docs[0]["node"] == "fs1"
        # the same call's hang-up event is not a second record
        writer.handle_event("fs1", EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": UUID}))
        assert writer.duplicates >= 2
        assert (await server.post(b"{not json")).code == 400
        assert (await server.post(b"[1, 2]")).code == 400
        assert (await server.post(json.dumps({"variables": "x"}))).code == 400
        assert (await server.post(body, auth=False)).code == 401
        assert await store.db["call_records"].count_documents({}) == 1
    finally:
        await server.close()


LEG_1 = "a1b2c3d4-0000-4000-8000-000000000001"
LEG_2 = "a1b2c3d4-0000-4000-8000-000000000002"


def leg_cdr(leg_uuid: str, number: str, billsec: int) -> dict:
    """A mod_json_cdr document of a leg the call's ``bridge`` originated (``log-b-leg``)."""
    doc = json_cdr(uuid=leg_uuid, call_uuid=UUID, direction="outbound", originator=UUID,
                   originating_leg_uuid=UUID, channel_name=f"sofia/external/{number}", billsec=str(billsec),
                   pult_target=f"external:{number}")
    doc["variables"].pop("pult_pbx_id")
    doc["callflow"][0]["caller_profile"].update(uuid=leg_uuid, destination_number=number,
                                                chan_name=f"sofia/external/{number}")
    return doc


def leg_event(leg_uuid: str, number: str, billsec: int) -> EslEvent:
    """The same leg's CHANNEL_HANGUP_COMPLETE."""
    return EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": leg_uuid, "Call-Direction": "outbound",
                     "Caller-Destination-Number": number, "Channel-Name": f"sofia/external/{number}",
                     "Other-Type": "originator", "Other-Leg-Unique-ID": UUID, "Hangup-Cause": "NORMAL_CLEARING",
                     "variable_billsec": str(billsec), "variable_pult_target": f"external:{number}"})


async def test_the_legs_of_a_call_are_part_of_its_one_record_whichever_way_and_order_they_come(store):
    """A leg that ends before its call (as a JSON CDR) and one that ends after it (as an event),
    each delivered twice, by both paths: one record, two legs, nothing doubled."""
    writer = CdrWriter(lambda record: save_call_record(store.db, record))
    await writer.start()
    try:
        assert await writer.store_now(record_from_json_cdr(leg_cdr(LEG_1, "79160000101", 0), "fs1"))
        writer.handle_event("fs1", leg_event(LEG_1, "79160000101", 0))  # the same leg again
        await writer.drained()
        assert await store.db["call_records"].count_documents({}) == 1  # a stub the call completes
        assert await writer.store_now(record_from_json_cdr(json_cdr(bridge_uuid=LEG_2), "fs1"))
        writer.handle_event("fs1", leg_event(LEG_2, "79160000102", 42))
        await writer.drained()
        assert not await writer.store_now(record_from_json_cdr(leg_cdr(LEG_2, "79160000102", 42), "fs1"))
        assert not await writer.store_now(record_from_json_cdr(json_cdr(), "fs1"))  # the call again
    finally:
        await writer.stop()
    [rec] = await store.db["call_records"].find({}).to_list(None)
    assert rec["uuid"] == UUID and rec["pbx_id"] == 101 and rec["caller"] == "79161234567"
    assert [(leg["uuid"], leg["callee"], leg["billsec"], leg["vars"]["pult_target"]) for leg in rec["legs"]] == [
        (LEG_1, "79160000101", 0, "external:79160000101"), (LEG_2, "79160000102", 42, "external:79160000102")]
    assert "leg_of" not in rec and not any("leg_of" in leg for leg in rec["legs"])


async def test_a_call_is_rated_once_the_leg_it_was_bridged_to_is_in(store):
    """The call's record comes first: billing waits for the bridged leg, which rates it when it
    arrives; the leg is charged once as an outbound call, the call's own channel (inbound) is free."""
    from jobs.billing import services
    from jobs.billing.tariffs import seed_default_tariff

    await store.db["pbxes"].insert_one({"pbx_id": 101, "account_id": 7, "name": "T", "status": "active"})
    await seed_default_tariff(store.db)
    writer = CdrWriter(lambda record: save_call_record(store.db, record))
    assert await writer.store_now(record_from_json_cdr(json_cdr(bridge_uuid=LEG_2, pult_source="number"), "fs1"))
    assert (await services.rate_record(store.db, UUID))["status"] == "waiting"
    assert await writer.store_now(record_from_json_cdr(leg_cdr(LEG_2, "79160000102", 42), "fs1"))
    res = await services.rate_record(store.db, UUID)
    assert res["status"] == "rated" and res["charged"] and res["cost"] > 0
    assert (await services.rate_record(store.db, UUID))["status"] == "already"
    rec = await store.db["call_records"].find_one({"uuid": UUID})
    assert (rec["rated"]["direction"], rec["rated"]["zone"], rec["rated"]["leg"]) == ("outbound", "mobile", LEG_2)
    assert [p["direction"] for p in rec["rated"]["parts"]] == ["inbound", "outbound"]
    entries = await store.db["ledger_entries"].find({"kind": "call"}).to_list(None)
    assert [(e["key"], e["amount"]) for e in entries] == [(f"call:{UUID}/{LEG_2}", -res["cost"])]
