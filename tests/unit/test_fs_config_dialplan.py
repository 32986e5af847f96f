"""Dialplan answers: every served call goes to the outbound socket with identifying variables."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fs_config.dialplan import (SocketDialplan, SocketTarget, build_socket_dialplan, call_variables,
                                tenant_context)
from fs_config.request import XmlCurlRequest
from fs_config.xml import XmlBuildError
from tests.unit.test_fs_config_xml import fs_parse

TRACE = Path("/work/shared/freeswitch/traces/xml_curl_requests.jsonl")
#: Dialplan applications Pult's answers may use.
FS_APPS = {"set", "socket"}


def recorded_dialplan_request() -> XmlCurlRequest:
    for line in TRACE.read_text().splitlines():
        form = json.loads(line)["form"]
        if form["section"] == "dialplan":
            return XmlCurlRequest.from_fields(form, "127.0.0.1")
    raise AssertionError("no dialplan lookup in the trace")


def actions(section):
    return [(a.get("application"), a.get("data")) for a in section.iter("action")]


async def test_recorded_lookup_answer():
    provider = SocketDialplan(("127.0.0.1", 8084))
    section = fs_parse(await provider(recorded_dialplan_request()), "dialplan")
    ctx = section.find("context")
    assert ctx.get("name") == "default"
    ext = ctx.find("extension")
    assert ext.get("name") == "pult"
    cond = ext.find("condition")
    assert cond.get("field") == "destination_number" and cond.get("expression") == "^.*$"
    assert actions(section) == [("set", "pult_context=default"),
                                ("set", "pult_destination_number=no_such_ext"),
                                ("socket", "127.0.0.1:8084 async full")]
    assert {app for app, _ in actions(section)} <= FS_APPS


async def test_tenant_context_call_from_an_authenticated_phone():
    req = XmlCurlRequest.from_fields({
        "section": "dialplan", "Caller-Context": "vpbx12", "Caller-Destination-Number": "104",
        "variable_user_name": "ivanov", "variable_domain_name": "vpbx12.pult.local",
        "variable_pult_pbx_id": "999",  # the context wins: it is what FreeSWITCH routes on
    })
    section = fs_parse(await SocketDialplan(("10.0.0.5", 8084))(req), "dialplan")
    assert section.find("context").get("name") == "vpbx12"
    assert actions(section) == [("set", "pult_context=vpbx12"), ("set", "pult_destination_number=104"),
                                ("set", "pult_pbx_id=12"), ("set", "pult_domain=vpbx12.pult.local"),
                                ("set", "pult_user=ivanov"), ("socket", "10.0.0.5:8084 async full")]


async def test_public_call_takes_pbx_id_from_directory_variable_when_present():
    req = XmlCurlRequest.from_fields({"Caller-Context": "public", "Caller-Destination-Number": "74951234567",
                                      "variable_pult_pbx_id": "5"})
    section = fs_parse(await SocketDialplan(("127.0.0.1", 8084))(req), "dialplan")
    assert ("set", "pult_pbx_id=5") in actions(section)
    assert not any(d.startswith("pult_domain") for _, d in actions(section))  # not authenticated


@pytest.mark.parametrize("context", ["features", "nosuch", "", "vpbx", "vpbxABC", "VPBX1"])
async def test_other_contexts_are_not_served(context):
    req = XmlCurlRequest.from_fields({"Caller-Context": context, "Caller-Destination-Number": "1"})
    assert await SocketDialplan(("127.0.0.1", 8084))(req) is None


async def test_configured_contexts_and_tenant_switch():
    provider = SocketDialplan(("127.0.0.1", 8084), contexts=["pult"], tenant_contexts=False)
    assert provider.serves("pult") and not provider.serves("default") and not provider.serves("vpbx1")
    assert await provider(XmlCurlRequest.from_fields({"Caller-Context": "vpbx1"})) is None


async def test_address_callable_is_read_at_each_lookup():
    address = ["127.0.0.1", 1111]
    provider = SocketDialplan(lambda: tuple(address))
    req = XmlCurlRequest.from_fields({"Caller-Context": "default", "Caller-Destination-Number": "1"})
    assert "127.0.0.1:1111 async full" in await provider(req)
    address[1] = 2222
    assert "127.0.0.1:2222 async full" in await provider(req)


@pytest.mark.parametrize("dest", ["${system(id)}", "1 2", "a,b", "x'y", "{a}", "%(x)", "a" * 200])
async def test_unsafe_request_values_are_not_copied(dest, caplog):
    req = XmlCurlRequest.from_fields({"Caller-Context": "public", "Caller-Destination-Number": dest,
                                      "Unique-ID": "u-1"})
    with caplog.at_level(logging.WARNING, logger="fs_config.dialplan"):
        section = fs_parse(await SocketDialplan(("127.0.0.1", 8084))(req), "dialplan")
    assert actions(section) == [("set", "pult_context=public"), ("socket", "127.0.0.1:8084 async full")]
    assert "not copying pult_destination_number" in caplog.text and "u-1" in caplog.text


def test_non_numeric_pbx_id_variable_is_ignored():
    req = XmlCurlRequest.from_fields({"Caller-Context": "public", "variable_pult_pbx_id": "7;drop"})
    assert call_variables(req, "public") == [("pult_context", "public")]


def test_sip_special_characters_in_destinations_survive():
    req = XmlCurlRequest.from_fields({"Caller-Context": "public", "Caller-Destination-Number": "+7495*12#"})
    assert ("pult_destination_number", "+7495*12#") in call_variables(req, "public")


@pytest.mark.parametrize("context, variables, message", [
    ("bad context", {}, "dialplan context"),
    ("ok", {"bad name": "1"}, "variable name"),
    ("ok", {"x": "${danger}"}, "would expand"),
    ("ok", {"x": ""}, "would expand"),
])
def test_builder_refuses_what_freeswitch_would_misread(context, variables, message):
    with pytest.raises(XmlBuildError, match=message):
        build_socket_dialplan(context, SocketTarget("127.0.0.1", 8084), variables)


@pytest.mark.parametrize("target, message", [
    (SocketTarget("", 8084), "socket host"),
    (SocketTarget("a b", 8084), "socket host"),
    (SocketTarget("127.0.0.1", 0), "socket port"),
    (SocketTarget("127.0.0.1", 70000), "socket port"),
])
def test_bad_socket_target_is_refused(target, message):
    with pytest.raises(XmlBuildError, match=message):
        target.app_data()


def test_ipv6_socket_host_is_written_bare():
    """mod_event_socket splits host and port at the last ':'."""
    assert SocketTarget("::1", 8084).app_data() == "::1:8084 async full"


def test_tenant_context_name():
    assert tenant_context(42) == "vpbx42" and tenant_context("7") == "vpbx7"


def test_several_live_instances_are_named_in_order_for_the_socket_application():
    """mod_event_socket's socket_function tries ``host:port|host:port`` in order (up to 50)."""
    target = SocketTarget.of([("10.0.0.1", 8084), ("10.0.0.2", 8084), ("10.0.0.1", 8084)])
    assert target.app_data() == "10.0.0.1:8084|10.0.0.2:8084 async full"
    assert SocketTarget.of(("10.0.0.1", 8084)).app_data() == "10.0.0.1:8084 async full"
    assert SocketTarget.of([]) is None and SocketTarget.of(None) is None
    with pytest.raises(XmlBuildError, match="socket host"):
        SocketTarget.of([("10.0.0.1", 8084), ("a|b", 8084)]).app_data()
    xml = build_socket_dialplan("public", SocketTarget.of([("10.0.0.1", 8084), ("10.0.0.2", 8085)]))
    assert 'data="10.0.0.1:8084|10.0.0.2:8085 async full"' in xml
