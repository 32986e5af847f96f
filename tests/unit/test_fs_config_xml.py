"""Serialisation rules shared by every answer, and parsing of the lookup form."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs_config.request import MAX_FIELDS, XmlCurlRequest
from fs_config.xml import (_FORBIDDEN_CHARS, MAX_VALUE_LENGTH, NOT_FOUND_XML, XmlBuildError, add_params, child,
                           clean, document, render)

TRACE = Path("/work/shared/freeswitch/traces/xml_curl_requests.jsonl")


def fs_parse(text: str, section: str) -> ET.Element:
    """Check ``text`` the way FreeSWITCH reads an xml_curl answer and return the section element.

    FreeSWITCH's pre-processor runs first: it expands ``$${var}`` and obeys ``<X-PRE-PROCESS>`` /
    ``<!--#...-->`` anywhere on a line, and reads lines into a fixed buffer. None of that may be
    triggered by data. Then the document must be ``<document type="freeswitch/xml">`` with the
    one section asked for.
    """
    assert "$${" not in text and "<X-PRE-PROCESS" not in text and "<!--#" not in text
    assert max(len(line) for line in text.splitlines()) < 8192
    root = ET.fromstring(text)
    assert root.tag == "document" and root.attrib == {"type": "freeswitch/xml"}
    sections = root.findall("section")
    assert len(sections) == 1 and sections[0].get("name") == section
    return sections[0]


def test_not_found_is_exactly_freeswitchs_document():
    assert NOT_FOUND_XML == ('<document type="freeswitch/xml"><section name="result">'
                             '<result status="not found"/></section></document>')
    root = ET.fromstring(NOT_FOUND_XML)
    assert root.find("section[@name='result']/result").get("status") == "not found"


def test_values_are_escaped_and_dollar_is_hidden_from_the_preprocessor():
    doc, section = document("directory")
    nasty = 'a<b & "c" \'d\' > $${default_password} ${x} <X-PRE-PROCESS cmd="exec"/> <!--#include "x"-->'
    add_params(child(section, "params"), [("dial-string", nasty)])
    text = render(doc)
    assert "&lt;b &amp; &quot;c&quot;" in text
    assert "&#36;&#36;{default_password}" in text
    param = fs_parse(text, "directory").find("params/param")
    assert param.get("value") == nasty  # the XML parser gives the exact value back


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60).filter(lambda s: not _FORBIDDEN_CHARS.search(s)))
def test_any_text_value_comes_back_exactly_from_an_xml_parser(value):
    doc, section = document("directory")
    add_params(section, [("v", value)], tag="variable")
    text = render(doc)
    assert "$" not in text
    assert fs_parse(text, "directory").find("variable").get("value") == value


def test_document_is_one_element_per_line():
    doc, section = document("configuration")
    conf = child(section, "configuration", {"name": "x.conf"})
    add_params(child(conf, "settings"), [(f"p{i}", "v") for i in range(50)])
    text = render(doc)
    assert len(text.splitlines()) > 50


@pytest.mark.parametrize("value, message", [
    ("bell\x07", "control character"),
    ("nul\x00", "control character"),
    ("x" * (MAX_VALUE_LENGTH + 1), "longer than"),
    (3.5, "expected text"),
    (b"bytes", "expected text"),
])
def test_values_xml_cannot_carry_are_refused_with_the_field_named(value, message):
    with pytest.raises(XmlBuildError, match=f"user 7.name: .*{message}"):
        clean(value, "user 7.name")


def test_clean_spells_booleans_and_numbers_like_freeswitch():
    assert clean(True, "f") == "true" and clean(False, "f") == "false" and clean(42, "f") == "42"
    assert clean("tab\tand\nnewline", "f") == "tab\tand\nnewline"


def test_unknown_section_is_refused():
    with pytest.raises(XmlBuildError, match="unknown section 'result'"):
        document("result")


def test_none_params_are_left_out():
    doc, section = document("directory")
    add_params(section, [("a", None), ("b", "1")])
    assert [p.get("name") for p in fs_parse(render(doc), "directory")] == ["b"]


# --- request parsing -------------------------------------------------------------------------
def test_recorded_lookups_parse_to_their_fields():
    for line in TRACE.read_text().splitlines():
        form = json.loads(line)["form"]
        body = "&".join(f"{k}={v}" for k, v in form.items()).replace(" ", "%20").encode()
        req = XmlCurlRequest.parse(body, "127.0.0.1")
        assert req.section == form["section"] and req.hostname == "vm"
        assert req.key_value == form["key_value"]
        if req.section == "dialplan":
            assert (req.context, req.destination_number) == ("default", "no_such_ext")
            assert req.unique_id == form["Unique-ID"]
            assert req.get("Event-Date-Local") == "2026-11-22 03:08:19"
        if req.section == "directory":
            assert (req.action, req.user, req.domain) == ("sip_auth", "1000", "127.0.0.1")
        assert req.remote_ip == "127.0.0.1"


def test_hunt_fields_win_over_caller_fields_after_a_transfer():
    req = XmlCurlRequest.from_fields({"Caller-Context": "public", "Hunt-Context": "vpbx3",
                                      "Caller-Destination-Number": "74951234567",
                                      "Hunt-Destination-Number": "101"})
    assert (req.context, req.destination_number) == ("vpbx3", "101")


@pytest.mark.parametrize("body, fields", [
    (b"", {}),
    (b"&&&", {}),
    (b"=", {"": ""}),
    (b"%", {"%": ""}),
    (b"a=%ZZ", {"a": "%ZZ"}),
    (b"\xff\xfe=\x80", {"\ufffd\ufffd": "\ufffd"}),
    (b"section", {"section": ""}),
    (b"section=%C0%AF", {"section": "\ufffd\ufffd"}),  # overlong UTF-8 is not decoded as "/"
])
def test_garbage_parses_without_raising(body, fields):
    req = XmlCurlRequest.parse(body)
    assert dict(req.fields) == fields
    assert req.get("missing") == "" and req.get("missing", "d") == "d"


def test_plus_is_a_space_percent_is_utf8_first_value_wins():
    req = XmlCurlRequest.parse(b"n=%D0%96+x&n=second&e=caf\xc3\xa9")
    assert req.get("n") == "\u0416 x" and req.get("e") == "caf\u00e9"


def test_field_count_is_capped():
    body = b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 500))
    req = XmlCurlRequest.parse(body)
    assert len(req.fields) == MAX_FIELDS and req.get("f0") == "1" and req.get(f"f{MAX_FIELDS}") == ""


def test_request_fields_are_read_only():
    req = XmlCurlRequest.parse(b"section=directory")
    with pytest.raises(TypeError):
        req.fields["section"] = "dialplan"  # type: ignore[index]


def test_directory_domain_falls_back_to_key_value():
    req = XmlCurlRequest.from_fields({"section": "directory", "tag_name": "domain",
                                      "key_name": "name", "key_value": "vpbx1.pult.local"})
    assert req.domain == "vpbx1.pult.local"
    assert XmlCurlRequest.from_fields({"tag_name": "configuration", "key_value": "acl.conf"}).domain == ""


def test_fs_parse_helper_rejects_what_freeswitch_would_misread():
    with pytest.raises(AssertionError):
        fs_parse('<document type="freeswitch/xml"><section name="x" a="$${p}"/></document>', "x")
