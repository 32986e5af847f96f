"""The settings' network allow-lists (PULT_XML_CURL_ALLOW, PULT_XML_CURL_TRUSTED_PROXIES,
PULT_METRICS_ALLOW, PULT_ESL_ACL): one syntax and one address check for all of them."""
from __future__ import annotations

import pytest

from fs_config.http import AccessPolicy
from fs_config.tenant_providers import LOOPBACK_ESL_CLIENTS, esl_clients_from
from pult.networks import address_in, parse_address, parse_networks
from pult.settings import load_settings
from web.app import make_app
from web.context import AppContext


def test_addresses_and_networks_of_a_comma_separated_list():
    nets = parse_networks(" 10.0.0.0/8, ,192.168.1.20,::1/128", "PULT_METRICS_ALLOW")
    assert [str(n) for n in nets] == ["10.0.0.0/8", "192.168.1.20/32", "::1/128"]
    assert parse_networks("", "PULT_ESL_ACL") == () and parse_networks(None, "PULT_ESL_ACL") == ()
    assert parse_networks(["127.0.0.1", "fd00::/8"], "X") == parse_networks("127.0.0.1,fd00::/8", "X")


@pytest.mark.parametrize("setting", ["PULT_XML_CURL_ALLOW", "PULT_METRICS_ALLOW", "PULT_ESL_ACL"])
def test_host_bits_and_nonsense_are_refused_naming_the_setting(setting):
    for bad in ("10.0.0.1/8", "nonsense", "300.1.1.1"):
        with pytest.raises(ValueError, match=f"{setting}: '{bad}' is not an address or CIDR"):
            parse_networks(f"127.0.0.0/8,{bad}", setting)


def test_every_allow_list_setting_takes_the_same_syntax(tmp_path):
    good = load_settings(data_dir=tmp_path, xml_curl_allow="10.0.0.0/8", esl_acl="192.168.5.7, 10.0.0.0/8")
    assert [str(n) for n in AccessPolicy.from_settings(good).allow] == ["10.0.0.0/8"]
    assert esl_clients_from(good) == LOOPBACK_ESL_CLIENTS + ("192.168.5.7/32", "10.0.0.0/8")
    bad = load_settings(data_dir=tmp_path, xml_curl_allow="10.0.0.1/8", metrics_allow="10.0.0.1/8",
                        esl_acl="10.0.0.1/8")
    with pytest.raises(ValueError, match="PULT_XML_CURL_ALLOW: '10.0.0.1/8'"):
        AccessPolicy.from_settings(bad)
    with pytest.raises(ValueError, match="PULT_ESL_ACL: '10.0.0.1/8'"):
        esl_clients_from(bad)
    with pytest.raises(ValueError, match="PULT_METRICS_ALLOW: '10.0.0.1/8'"):  # accepted before: one syntax now
        make_app(AppContext(settings=bad, store=None, redis=None))


def test_a_peer_address_as_sockets_and_proxies_report_it():
    nets = parse_networks("10.0.0.0/8,::1/128", "X")
    assert parse_address("::ffff:10.1.2.3") == parse_address("10.1.2.3") and address_in(parse_address("::ffff:10.1.2.3"), nets)
    assert address_in(parse_address("fe80::1%eth0"), parse_networks("fe80::/10", "X"))
    assert address_in(parse_address("::1"), nets) and not address_in(parse_address("11.0.0.1"), nets)
    assert parse_address("not an ip") is None and not address_in(None, nets)
