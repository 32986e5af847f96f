"""The real-switch tier (marker ``freeswitch``): a real FreeSWITCH 1.10.12 running the project's
``deploy/freeswitch/`` kit and ``pult serve`` as its own process, once per session.

The switch is ``/opt/freeswitch/bin/freeswitch`` or the binary named by ``PULT_TEST_FREESWITCH``
(``scripts/test.sh`` builds it from ``../shared/freeswitch/real/`` when that is there). Where no
switch can be had every test here is skipped with the reason; SIP tests also need SIPp
(Debian ``sip-tester``) and are skipped with the reason without it.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.testing import TEST_REDIS_BASE
from tests.realfs.harness import (DEFAULT_BINARY, ESL_PASSWORD, SIPP, XML_CURL_SECRET, FreeSwitch,
                                  FsPorts, Pult, free_port, wait_until)
from tests.realfs.phones import Phone

NODE = "fs-real"
#: where `pult prompts generate` keeps the prompt set for the tier (synthesis takes ~40 s once)
PROMPTS_CACHE = Path(os.environ.get("PULT_TEST_PROMPTS_CACHE", "/var/tmp/pult-realfs-prompts"))


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.freeswitch)


def freeswitch_binary() -> tuple[str | None, str]:
    """The switch to run, or None and why not."""
    named = os.environ.get("PULT_TEST_FREESWITCH")
    binary = named or DEFAULT_BINARY
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        how = ("PULT_TEST_FREESWITCH names " if named else "") + binary
        return None, (f"no real FreeSWITCH: {how} is not an executable (build one with "
                      "../shared/freeswitch/real/build.sh, or name one with PULT_TEST_FREESWITCH)")
    return binary, ""


@dataclass
class Stack:
    fs: FreeSwitch
    pult: Pult
    creds: dict
    run: Path
    node: str = NODE

    @property
    def pbx_id(self) -> int:
        return self.creds["pbx_id"]

    def tenant(self):
        return self.pult.session(self.creds["tenant"]["login"], self.creds["tenant"]["password"])

    def operator(self):
        return self.pult.session(self.creds["operator"]["login"], self.creds["operator"]["password"])


@pytest.fixture(scope="session")
def real_stack(tmp_path_factory):
    binary, why = freeswitch_binary()
    if binary is None:
        pytest.skip(why)
    run = tmp_path_factory.mktemp("realfs")
    ports = FsPorts()
    http_port, outbound_port, fs_port = free_port(), free_port(), free_port()
    nodes = [{"name": NODE, "host": "127.0.0.1", "port": ports.esl, "password": ESL_PASSWORD,
              "sip": {"sip_ip": "127.0.0.1", "ext_sip_ip": "127.0.0.1",
                      "internal_port": ports.sip_internal, "external_port": ports.sip_external}}]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULT_") and k != "MONGO_URL"}
    env.update({
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PULT_DATA_DIR": str(run / "data"), "PULT_HTTP_PORT": str(http_port),
        "PULT_OUTBOUND_PORT": str(outbound_port), "PULT_FS_PORT": str(fs_port),
        "FREESWITCH_ESL": json.dumps(nodes),
        "REDIS_URL": f"{TEST_REDIS_BASE}/13", "PULT_XML_CURL_SECRET": XML_CURL_SECRET,
        "PULT_ESL_RECONNECT_MIN": "0.2", "PULT_ESL_RECONNECT_MAX": "1",
        "PULT_SIP_BASE_DOMAIN": "pult.test", "PULT_LOG_LEVEL": "INFO",
        "PULT_GATEWAY_RECONCILE_INTERVAL": "2",
        # the call engine records voice mail / faxes here; switch and Pult share the host
        "PULT_SPOOL_DIR": str(run / "spool"),
        # the generated prompt set (no sound package is installed): made once per machine, reused
        "PULT_SOUNDS_DIR": str(PROMPTS_CACHE),
    })
    (run / "spool").mkdir(parents=True, exist_ok=True)
    pult = Pult(run, env)
    pult.cli("prompts", "generate", timeout=600)  # quick when the set is there
    pult.cli("seed-demo")
    creds = json.loads((run / "data" / "demo-logins.json").read_text())
    pult.start()
    fs = FreeSwitch(binary, run / "fs", ports, node_name=NODE,
                    # the switch asks the FreeSWITCH port, as `pult freeswitch-vars` tells it to
                    xml_curl_url=f"http://127.0.0.1:{fs_port}/fs/xml-curl",
                    outbound=f"127.0.0.1:{outbound_port}")
    try:
        fs.start()
        wait_until(lambda: (pult.node(NODE) or {}).get("state") == "up", 20, 0.2, "Pult's node up")
        yield Stack(fs, pult, creds, run)
    finally:
        fs.stop()
        pult.stop()
        keep = os.environ.get("PULT_TEST_KEEP")
        if keep:
            shutil.copytree(run, Path(keep) / run.name, dirs_exist_ok=True)


@pytest.fixture
def stack(real_stack):
    """The session's stack, with both processes running (a test that killed one restarts it)."""
    s = real_stack
    if s.pult.proc.poll() is not None:
        s.pult.start()
    if s.fs.proc.poll() is not None:
        s.fs.start()
    wait_until(lambda: (s.pult.node(s.node) or {}).get("state") == "up", 20, 0.2, "Pult's node up")
    yield s


def employee_phones(stack, tmp_path, count: int):
    """``count`` employees of the demo PBX, each with a SIP account registered by a SIPp phone;
    deleted afterwards (a generator: the fixtures below yield its phones)."""
    tenant = stack.tenant()
    made, out = [], []
    try:
        for _ in range(count):
            tag = uuidlib.uuid4().hex[:6]
            w = tenant.ok("POST", "/api/v1/telephony/employees/wizard", {
                "name": f"Phone {tag}", "reception": "sip", "sip_login": f"ph{tag}", "send_email": False})
            made.append(w)
            acc = w["sip_account"]
            ph = Phone(acc["login"], acc["domain"], w["sip_password"], w["employee"]["extension"],
                       employee_id=w["employee"]["id"])
            ph.register(tmp_path, stack.fs.ports.sip_internal)
            out.append(ph)
        yield out
    finally:
        for ph in out:
            ph.stop()
        for w in made:
            tenant.request("DELETE", f"/api/v1/telephony/sip/accounts/{w['sip_account']['id']}")
            tenant.request("DELETE", f"/api/v1/telephony/employees/{w['employee']['id']}")


@pytest.fixture
def phones(stack, sipp, tmp_path):
    """Two employees of the demo PBX, each with a SIP account registered by a SIPp phone."""
    yield from employee_phones(stack, tmp_path, 2)


@pytest.fixture
def phone(stack, sipp, tmp_path):
    """One employee of the demo PBX with a SIP account registered by a SIPp phone."""
    yield from employee_phones(stack, tmp_path, 1)


@pytest.fixture
def sipp():
    if SIPP is None:
        pytest.skip("SIPp is not installed (Debian package sip-tester; scripts/setup.sh installs it)")
    return SIPP
