"""Gateway and trunk status from ESL onto the tenants' documents: the store writer against the
embedded store (numbers and trunks made through the services, read back through them as the
cabinet/API does), and the watcher against the FreeSWITCH simulator over a real ESL connection
(subscription on connect, resync from ``sofia xmlstatus gateway``, events, reconnect)."""
from __future__ import annotations

import asyncio
import functools
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from esl_control.gateway_status import GATEWAY_EVENTS, GatewayReport, GatewayStatusStore, GatewayStatusWatcher
from esl_control.nodes import NodeState
from esl_control.service import EslService
from tests.fsim import FreeSwitchSimulator
from tests.fsim.events import Event
from esl_control.model.numbers.services import NumberService
from esl_control.model.trunks.services import TrunkService
from tests.integration.harness import two_pbxes, wait_for

ADMIN = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now

    def tick(self, seconds: float = 60):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def tenants(store):
    db = store.db
    ids = {}
    await two_pbxes(db)
    ids["trunk"] = (await TrunkService(db, 101, ADMIN).create({"name": "HQ", "host": "10.0.0.1"}))["id"]
    ids["quiet_trunk"] = (await TrunkService(db, 202, ADMIN).create(
        {"name": "No ping", "host": "10.0.0.2", "options_ping": False}))["id"]
    ids["number"] = (await NumberService(db, 101, ADMIN).connect_active({"number": "78122223344", "gateway": {
        "host": "sip.operator.ru", "login": "user1", "password": "op-secret"}}))["id"]
    ids["passive"] = (await NumberService(db, 101, ADMIN).connect_passive({"number": "73432628900"}))["id"]
    return db, ids


async def test_status_since_and_error_are_written_and_shown_by_the_services(tenants):
    db, ids = tenants
    clock = Clock()
    writer = GatewayStatusStore(db, clock=clock)
    trunks, numbers = TrunkService(db, 101, ADMIN), NumberService(db, 101, ADMIN)
    trunk_gw, number_gw = f"pult_trunk_{ids['trunk']}", f"pult_num_{ids['number']}"
    assert (await trunks.get(ids["trunk"]))["status"] == "unknown"

    assert await writer.apply("fs1", GatewayReport(trunk_gw, state="NOREG", ping_status="DOWN", sip_status=408,
                                                   phrase="Request Timeout"))
    trunk = await trunks.get(ids["trunk"])
    assert (trunk["status"], trunk["status_error"], trunk["status_since"], trunk["status_node"]) == (
        "down", "OPTIONS ping unanswered (408 Request Timeout)", T0, "fs1")
    clock.tick()
    await writer.apply("fs2", GatewayReport(trunk_gw, state="NOREG", ping_status="DOWN"))
    trunk = await trunks.get(ids["trunk"])
    assert trunk["status_since"] == T0 and trunk["status_at"] == T0 + timedelta(seconds=60)  # still down since T0
    clock.tick()
    await writer.apply("fs1", GatewayReport(trunk_gw, state="NOREG", ping_status="UP"))
    trunk = await trunks.get(ids["trunk"])
    assert (trunk["status"], trunk["status_error"], trunk["status_since"], trunk["status_detail"]) == (
        "up", None, T0 + timedelta(seconds=120), "NOREG, ping UP")

    await writer.apply("fs1", GatewayReport(number_gw, state="TRYING"))
    number = await numbers.get(ids["number"])
    assert number["status"] == "unknown" and number["status_detail"] == "TRYING"  # a step, not a verdict
    await writer.apply("fs1", GatewayReport(number_gw, state="FAIL_WAIT", sip_status=403, phrase="Forbidden"))
    number = await numbers.get(ids["number"])
    assert (number["status"], number["status_error"]) == ("down", "registration fail wait (403 Forbidden)")
    await writer.apply("fs1", GatewayReport(number_gw, state="REGED", ping_status="UP"))
    assert (await numbers.get(ids["number"]))["status"] == "up"
    # a trunk without OPTIONS ping cannot be judged; a removed gateway is unknown
    await writer.apply("fs1", GatewayReport(f"pult_trunk_{ids['quiet_trunk']}", state="NOREG", ping_status="UP"))
    assert (await TrunkService(db, 202, ADMIN).get(ids["quiet_trunk"]))["status"] == "unknown"
    await writer.apply("fs1", GatewayReport(number_gw, profile="external", removed=True))
    assert (await numbers.get(ids["number"]))["status"] == "unknown"
    # not ours, a passive number (no gateway) or a deleted trunk: nothing is written
    assert not await writer.apply("fs1", GatewayReport("example.com", state="REGED"))
    assert not await writer.apply("fs1", GatewayReport(f"pult_num_{ids['passive']}", state="REGED"))
    assert "status" not in await numbers.get(ids["passive"])
    assert not await writer.apply("fs1", GatewayReport("pult_trunk_deadbeef", state="NOREG", ping_status="UP"))
    # a trunk edited in the cabinet keeps the status ESL wrote
    edited = await trunks.update(ids["trunk"], {"name": "HQ main", "host": "10.0.0.1"})
    assert edited["status"] == "up" and edited["status_since"] == T0 + timedelta(seconds=120)


def xml_listing(*gateways: tuple) -> str:
    """``sofia xmlstatus gateway`` for (name, state, ping status[, proxy]) tuples."""
    blocks = "".join(f"  <gateway>\n    <name>{g[0]}</name>\n    <profile>external</profile>\n"
                     + (f"    <proxy>{g[3]}</proxy>\n" if len(g) > 3 else "")
                     + f"    <state>{g[1]}</state>\n    <status>{g[2]}</status>\n  </gateway>\n" for g in gateways)
    return f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateways>\n{blocks}</gateways>\n'


class Sofia:
    """``api sofia …`` of a node that has ``gateways`` loaded (as :func:`xml_listing` takes them);
    every other sofia command is answered +OK and kept in ``sent``."""

    def __init__(self, *gateways: tuple):
        self.gateways = list(gateways)
        self.sent: list[str] = []

    async def __call__(self, arg: str) -> str:
        if arg == "xmlstatus gateway":
            return xml_listing(*self.gateways)
        self.sent.append(f"sofia {arg}")
        return "+OK\n"


@asynccontextmanager
async def node_with(settings, hostname: str, **apis):
    """A simulated node whose ``api <name> …`` commands ``apis`` answer (``sofia=…``) and an ESL
    service connected to it (no outbound server, call records dropped): ``(sim, service)``."""
    sim = FreeSwitchSimulator(hostname=hostname)
    for name, answer in apis.items():
        setattr(sim, f"_api_{name}", answer)
    await sim.start()
    esl_settings = settings.model_copy(update={"esl_nodes": f"fs1=127.0.0.1:{sim.port}:ClueCon",
                                               "esl_reconnect_min": 0.05, "esl_reconnect_max": 0.3})
    service = EslService(esl_settings, save_record=lambda record: asyncio.sleep(0, True), outbound=False)
    try:
        await service.start()
        await service.nodes.wait_for_state("fs1", NodeState.UP)
        yield sim, service
    finally:
        await service.stop()
        await sim.stop()


#: what the switch simulator does shows up within milliseconds
wait_until = functools.partial(wait_for, timeout=5.0, every=0.02)


async def test_watcher_against_the_simulator(tenants, settings, tmp_path):
    db, ids = tenants
    trunk_gw, number_gw = f"pult_trunk_{ids['trunk']}", f"pult_num_{ids['number']}"
    listing = {"xml": xml_listing((trunk_gw, "NOREG", "DOWN"), (number_gw, "REGED", "UP"), ("other", "REGED", "UP"))}

    async def sofia(arg: str) -> str:  # the node's gateways, as mod_sofia lists them
        if arg == "xmlstatus gateway":
            return listing["xml"]
        if arg == "status gateway":
            return listing["text"]
        return "-ERR Usage\n"

    async with node_with(settings, "fsim-gw", sofia=sofia) as (sim, service):
        watcher = GatewayStatusWatcher(db, service.nodes)
        watcher.attach()  # the node is already up: synced at once
        try:

            async def status(kind: str, key: str) -> str | None:
                doc = await db["trunks" if kind == "trunk" else "numbers"].find_one({"_id": ids[key]})
                return doc.get("status")

            async def synced():
                return await status("trunk", "trunk") == "down" and await status("number", "number") == "up"

            await wait_until(synced, what="resync from sofia xmlstatus gateway")
            subscribed = [c.line for c in sim.received_commands if c.line.startswith("event plain CUSTOM sofia::")]
            assert subscribed == ["event plain CUSTOM " + " ".join(GATEWAY_EVENTS)]

            # the trunk answers its OPTIONS again: FreeSWITCH fires gateway_state
            sim.dispatch(Event(sim.factory.common("CUSTOM", subclass="sofia::gateway_state") + [
                ("Gateway", trunk_gw), ("State", "NOREG"), ("Ping-Status", "UP")]))

            async def trunk_up():
                return await status("trunk", "trunk") == "up"

            await wait_until(trunk_up, what="gateway_state event")
            # the node restarts; meanwhile the registration failed: the reconnect resync sees it, now
            # through the text listing because the XML one is unreadable
            listing["xml"] = "-ERR sofia xmlstatus failed\n"
            listing["text"] = ("Profile::Gateway-Name\tData\tState\tPing Time\tIB Calls(F/T)\tOB Calls(F/T)\n"
                               "=====\n"
                               f"external::{number_gw}\tsip:user1@sip.operator.ru\tFAILED\t0.00\t0/0\t"
                               "0/0 (retry: 30s)\n"
                               "=====\n1 gateway: Inbound(Failed/Total): 0/0,Outbound(Failed/Total):0/0\n")
            await sim.drop_clients()

            async def number_down():
                return await status("number", "number") == "down"

            await wait_until(number_down, what="resync after reconnect")
            doc = await db["numbers"].find_one({"_id": ids["number"]})
            assert doc["status_error"] == "registration failed" and doc["status_node"] == "fs1"
            resubscribed = [c.line for c in sim.received_commands if c.line.startswith("event plain CUSTOM sofia::")]
            assert len(resubscribed) == 2
        finally:
            await watcher.close()


async def test_reconcile_brings_the_node_in_line_with_the_cabinet(tenants, settings):
    db, ids = tenants
    trunk_gw, quiet_gw, number_gw = (f"pult_trunk_{ids['trunk']}", f"pult_trunk_{ids['quiet_trunk']}",
                                     f"pult_num_{ids['number']}")
    sofia = Sofia((trunk_gw, "NOREG", "UP", "sip:10.0.0.1:5060"),
                  (number_gw, "REGED", "UP", "sip:sip.operator.ru:5060"), ("stock_gw", "REGED", "UP"))
    sent = sofia.sent

    async def reloadacl(arg: str) -> str:
        sent.append("reloadacl")
        return "+OK acl reloaded\n"

    async with node_with(settings, "fsim-rec", sofia=sofia, reloadacl=reloadacl) as (sim, service):
        watcher = GatewayStatusWatcher(db, service.nodes, reconcile_interval=None)
        watcher.attach()
        try:

            async def first_round_done():
                return "reloadacl" in sent

            await wait_until(first_round_done, what="reconcile after connect")
            # the trunk without ping was never loaded: rescan; the node's ACLs are reloaded once
            assert sent == ["sofia profile external rescan", "reloadacl"]
            sofia.gateways.append((quiet_gw, "NOREG", "UP", "sip:10.0.0.2:5060"))
            assert await watcher.reconcile("fs1") == []  # in line: nothing is sent
            # the cabinet deletes a trunk, changes a password and moves a trunk to another port
            await TrunkService(db, 202, ADMIN).delete(ids["quiet_trunk"])
            await NumberService(db, 101, ADMIN).update(ids["number"], {"gateway": {"password": "new-secret"}})
            await TrunkService(db, 101, ADMIN).update(ids["trunk"], {"name": "HQ", "host": "10.0.0.1", "port": 5070})
            assert await watcher.reconcile("fs1") == [
                f"sofia profile external killgw {quiet_gw}", f"sofia profile external killgw {number_gw}",
                f"sofia profile external killgw {trunk_gw}", "sofia profile external rescan", "reloadacl"]
            # FreeSWITCH's own gateways ("stock_gw") are never touched
            assert not any("stock_gw" in c for c in sent)
        finally:
            await watcher.close()


async def test_the_simulators_empty_gateway_listings_parse_as_no_gateways(fsim):
    """A node with no gateways answers both listings; Pult reads them as "no gateways" (the
    reconcile does not fail every round on a healthy node)."""
    from esl_control.gateway_status import parse_text_status, parse_xml_status

    assert parse_xml_status(await fsim.api("sofia xmlstatus gateway")) == []
    assert parse_text_status(await fsim.api("sofia status gateway")) == []


async def test_platform_gateways_are_served_and_reconciled_like_trunk_gateways(tenants, settings):
    from esl_control.model.platform_gateways import save_platform_gateways
    from esl_control.model.provisioning import gateways as provisioning_gateways
    from fs_config.tenant_providers import sofia_gateway

    db, ids = tenants
    view = await save_platform_gateways(db, [
        {"name": "Main", "proxy": "sip.main.test", "username": "pult", "password": "pw", "register": True,
         "transport": "tcp", "realm": "main.test"},
        {"name": "Backup", "proxy": "198.51.100.7:5080", "caller_id_in_from": False}], ADMIN)
    main, backup = (g["gateway"] for g in view["gateways"])
    # sofia.conf: on the external profile, as mod_sofia takes it
    rows = {g["name"]: g for g in await provisioning_gateways(db) if g["kind"] == "platform"}
    gw = sofia_gateway(rows[main])
    params = dict(gw.params())
    assert (params["proxy"], params["register"], params["realm"], params["username"], params["password"],
            params["register-transport"], params["caller-id-in-from"]) == (
        "sip.main.test:5060", True, "main.test", "pult", "pw", "tcp", True)
    params = dict(sofia_gateway(rows[backup]).params())
    assert (params["proxy"], params["register"], params["caller-id-in-from"]) == ("198.51.100.7:5080", False, False)

    trunk_gw, quiet_gw, number_gw = (f"pult_trunk_{ids['trunk']}", f"pult_trunk_{ids['quiet_trunk']}",
                                     f"pult_num_{ids['number']}")
    sofia = Sofia((trunk_gw, "NOREG", "UP", "sip:10.0.0.1:5060"), (quiet_gw, "NOREG", "UP", "sip:10.0.0.2:5060"),
                  (number_gw, "REGED", "UP", "sip:sip.operator.ru:5060"))

    async with node_with(settings, "fsim-plat", sofia=sofia) as (sim, service):
        watcher = GatewayStatusWatcher(db, service.nodes, reconcile_interval=None)
        sofia.sent.clear()
        # the carriers are not on the node: a rescan loads them
        assert "sofia profile external rescan" in await watcher.reconcile("fs1")
        sofia.gateways += [(main, "REGED", "UP", "sip:sip.main.test:5060;transport=tcp"),
                             (backup, "NOREG", "UP", "sip:198.51.100.7:5080")]
        assert await watcher.reconcile("fs1") == []
        # the password changes and the backup is removed: killgw, then rescan
        view = await save_platform_gateways(db, [{**{k: v for k, v in view["gateways"][0].items()
                                                      if k in ("id", "name", "proxy", "realm", "username",
                                                               "register", "transport")},
                                                  "password": "new"}], ADMIN)
        assert await watcher.reconcile("fs1") == [f"sofia profile external killgw {backup}",
                                                  f"sofia profile external killgw {main}",
                                                  "sofia profile external rescan"]
