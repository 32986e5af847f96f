"""A node's SIP settings without a server: the FREESWITCH_ESL ``sip`` defaults (checked at start,
RTP range included), the console's field checks, and the post_load_switch.conf document."""
from __future__ import annotations

import json

import pytest

from esl_control.model.node_sip import clean_node_sip, effective_sip
from fs_config.configuration import build_post_load_switch_conf
from fs_config.xml import XmlBuildError
from pult.errors import AppError
from pult.settings import parse_nodes
from tests.unit.test_fs_config_xml import fs_parse


def test_the_rtp_range_of_freeswitch_esl_is_checked_at_start():
    node, = parse_nodes(json.dumps([{"name": "fs1", "host": "10.0.0.1",
                                     "sip": {"rtp_start_port": 20000, "rtp_end_port": 29999}}]))
    assert node.sip.switch_settings() == {"rtp-start-port": 20000, "rtp-end-port": 29999}
    assert parse_nodes("fs1=10.0.0.1")[0].sip.switch_settings() == {}       # the switch's own range
    for sip, words in (({"rtp_start_port": 20000}, "go together"),
                       ({"rtp_start_port": 30000, "rtp_end_port": 20000}, "must be below"),
                       ({"rtp_start_port": 5000, "rtp_end_port": 6000}, "internal_port 5060 lies in the RTP range")):
        with pytest.raises(ValueError, match=words):
            parse_nodes(json.dumps([{"name": "fs1", "host": "10.0.0.1", "sip": sip}]))


def test_each_console_value_is_checked_and_normalised():
    assert clean_node_sip({"sip_ip": " 2001:DB8::5 ", "ext_sip_ip": "Auto-NAT", "rtp_ip": "",
                           "internal_port": "5070", "rtp_end_port": None}) == {
        "sip_ip": "2001:db8::5", "ext_sip_ip": "auto-nat", "internal_port": 5070}
    with pytest.raises(AppError) as err:
        clean_node_sip({"sip_ip": "auto-nat", "rtp_ip": "::", "internal_port": "５０６０", "external_port": True,
                        "ext_rtp_ip": 5})
    assert set(err.value.fields) == {"sip_ip", "rtp_ip", "internal_port", "external_port", "ext_rtp_ip"}
    assert err.value.status_code == 422


def test_stored_values_that_clash_with_a_changed_configuration_give_way_to_it():
    node, = parse_nodes(json.dumps([{"name": "fs1", "host": "10.0.0.1", "sip": {"internal_port": 5070}}]))
    assert effective_sip(node, {"external_port": 5070}).external_port == 5080
    assert effective_sip(node, {"external_port": 5090, "sip_ip": "10.0.0.9"}).sip_ip == "10.0.0.9"


def test_post_load_switch_conf_carries_only_the_core_settings_pult_serves():
    conf = fs_parse(build_post_load_switch_conf({"rtp-start-port": 20000, "rtp-end-port": 20999}),
                    "configuration").find("configuration")
    assert conf.get("name") == "post_load_switch.conf"
    assert {p.get("name"): p.get("value") for p in conf.findall("settings/param")} == {
        "rtp-start-port": "20000", "rtp-end-port": "20999"}
    with pytest.raises(XmlBuildError, match="max-sessions"):
        build_post_load_switch_conf({"max-sessions": 10})
