"""The deployment files agree with the code: every setting documented, snippets well-formed and
pointing where Pult listens."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pult.settings import Settings, _env_name

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
FS = DEPLOY / "freeswitch"


def _params(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.get("name"): p.get("value") for p in root.iter("param")}


def test_env_example_lists_every_setting():
    text = (DEPLOY / "pult.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M))
    expected = {_env_name(name) for name in Settings.model_fields}
    assert expected - listed == set(), "settings missing from deploy/pult.env.example"
    assert listed - expected == set(), "unknown names in deploy/pult.env.example"


def test_freeswitch_snippets_are_well_formed_and_use_defined_variables():
    defined = set(re.findall(r'cmd="set" data="([a-z_]+)=', (FS / "vars_pult.xml").read_text()))
    for path in FS.rglob("*.xml"):
        ET.parse(path)  # well-formed
        used = set(re.findall(r"\$\$\{(pult_[a-z_]+)\}", path.read_text()))
        assert used <= defined, f"{path.name} uses undefined {used - defined}"


def test_event_socket_is_password_and_acl_protected():
    params = _params(FS / "autoload_configs" / "event_socket.conf.xml")
    assert params["password"] == "$${pult_esl_password}"
    assert params["apply-inbound-acl"] == "pult_esl"
    acl = ET.parse(FS / "autoload_configs" / "acl.conf.xml").getroot()
    (lst,) = [x for x in acl.iter("list") if x.get("name") == "pult_esl"]
    assert lst.get("default") == "deny"


def test_xml_curl_binding_points_at_pult_with_basic_auth():
    from fs_config.http import PATH

    root = ET.parse(FS / "autoload_configs" / "xml_curl.conf.xml").getroot()
    url = next(p for p in root.iter("param") if p.get("name") == "gateway-url")
    assert set(url.get("bindings").split("|")) == {"directory", "dialplan", "configuration"}
    params = _params(FS / "autoload_configs" / "xml_curl.conf.xml")
    assert params["gateway-credentials"].endswith(":$${pult_xml_curl_secret}")
    assert params["auth-scheme"] == "basic" and int(params["timeout"]) <= 10
    assert "enable-post-var" not in params
    vars_text = (FS / "vars_pult.xml").read_text()
    assert re.search(rf'pult_xml_curl_url=http://[^"]+{re.escape(PATH)}"', vars_text)


def test_dialplan_hands_calls_to_the_outbound_socket_with_pbx_variables():
    settings = Settings()
    vars_text = (FS / "vars_pult.xml").read_text()
    assert f"pult_outbound_socket={settings.outbound_host}:{settings.outbound_port}" in vars_text
    root = ET.parse(FS / "dialplan" / "pult.xml").getroot()
    actions = [(a.get("application"), a.get("data")) for a in root.iter("action")]
    assert ("socket", "$${pult_outbound_socket} async full") in actions
    set_vars = {data.split("=", 1)[0] for app, data in actions if app == "set"}
    assert {"pult_pbx_id", "pult_context", "pult_destination_number", "pult_domain",
            "pult_user"} <= set_vars


def test_systemd_units_run_the_cli_with_the_env_file_and_hardening():
    for unit, command in [("pult-server", "serve"), ("pult-worker", "worker"),
                          ("pult-beat", "beat")]:
        text = (DEPLOY / "systemd" / f"{unit}.service").read_text()
        assert re.search(rf"^ExecStart=\S+/pult {command}$", text, re.M), unit
        assert "EnvironmentFile=/etc/pult/pult.env" in text
        for option in ("NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true",
                       "CapabilityBoundingSet=", "User=pult"):
            assert option in text, f"{unit}: {option}"


def test_nginx_upgrades_websockets_and_keeps_xml_curl_private():
    text = (DEPLOY / "nginx" / "pult.conf").read_text()
    fs_block = re.search(r"location /fs/ \{(.*?)\}", text, re.S).group(1)
    assert re.search(r"^\s*deny all;", fs_block, re.M)
    assert not re.search(r"^\s*allow all;", fs_block, re.M)
    ws_block = re.search(r"location /ws/ \{(.*?)\}", text, re.S).group(1)
    assert "proxy_set_header Upgrade    $http_upgrade;" in ws_block
    assert "X-Forwarded-For   $proxy_add_x_forwarded_for" in text
    assert "X-Forwarded-Proto $scheme" in text


def test_compose_runs_the_three_pult_services_and_a_replica_set():
    text = (DEPLOY / "compose.yaml").read_text()
    for service, command in [("pult-server", "serve"), ("pult-worker", "worker"),
                             ("pult-beat", "beat")]:
        assert re.search(rf"^  {service}:\n(    .*\n)*?    command: \[\"pult\", \"{command}\"\]",
                         text, re.M), service
    assert '"--replSet", "rs0"' in text and "rs.initiate" in text
    assert "replicaSet=rs0" in text
    for snippet in ("event_socket.conf.xml", "xml_curl.conf.xml", "dialplan/pult.xml"):
        assert f"./freeswitch/{snippet}" in text or snippet in text
