"""Building the XML documents mod_xml_curl hands to FreeSWITCH, safely.

Every answer is a ``<document type="freeswitch/xml">`` with one ``<section name="...">``.
Documents are built with :mod:`xml.etree.ElementTree`, never by pasting strings, so ``<``,
``&`` and quotes in tenant data come out escaped.

Two FreeSWITCH details shape the serialisation (:func:`render`):

- mod_xml_curl stores the answer in a file and parses it with ``switch_xml_parse_file``, which
  first runs FreeSWITCH's *pre-processor* over it: ``$${name}`` is replaced by the global
  variable ``name`` (passwords live there). A tenant who names an employee ``$${default_password}``
  must not read that global back as a caller name, so every ``$`` is written as the character
  reference ``&#36;``; the pre-processor does not see it, the XML parser turns it back into ``$``.
- The pre-processor reads the file line by line into a fixed buffer, so documents are indented
  (one element per line) and single values are capped at :data:`MAX_VALUE_LENGTH`.

XML 1.0 cannot carry most control characters at all; a value containing one is refused with
:class:`XmlBuildError` naming the field instead of producing a document FreeSWITCH cannot parse.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

#: FreeSWITCH's "not found" answer: the lookup falls back to the next binding / static XML.
NOT_FOUND_XML = ('<document type="freeswitch/xml"><section name="result">'
                 '<result status="not found"/></section></document>')

#: The sections mod_xml_curl can bind to.
SECTIONS = ("configuration", "directory", "dialplan", "phrases", "languages", "chatplan")

#: Longest single attribute value written (FreeSWITCH's pre-processor reads lines into a buffer).
MAX_VALUE_LENGTH = 4096

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


class XmlBuildError(ValueError):
    """A value cannot be put into a FreeSWITCH XML document; the message names the field."""


def clean(value: object, field: str) -> str:
    """Return ``value`` as text fit for an XML attribute, or raise :class:`XmlBuildError`.

    Accepts str, int and bool (bools become ``true``/``false``, FreeSWITCH's spelling).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise XmlBuildError(f"{field}: expected text, got {type(value).__name__}")
    if _FORBIDDEN_CHARS.search(value):
        raise XmlBuildError(f"{field}: contains a control character that XML cannot carry")
    if len(value) > MAX_VALUE_LENGTH:
        raise XmlBuildError(f"{field}: longer than {MAX_VALUE_LENGTH} characters")
    return value


def document(section: str, **attrs: str) -> tuple[ET.Element, ET.Element]:
    """A new ``<document type="freeswitch/xml"><section name=section>``; returns (document, section)."""
    if section not in SECTIONS:
        raise XmlBuildError(f"section: unknown section {section!r} (expected one of {', '.join(SECTIONS)})")
    doc = ET.Element("document", {"type": "freeswitch/xml"})
    sec = ET.SubElement(doc, "section", {"name": section, **attrs})
    return doc, sec


def configuration_document(name: str, description: str) -> tuple[ET.Element, ET.Element]:
    """A new ``configuration`` section answering for ``name`` (``acl.conf``, …); returns (document,
    its ``<configuration name=… description=…>`` element)."""
    doc, section = document("configuration")
    return doc, child(section, "configuration", {"name": name, "description": description})


def child(parent: ET.Element, tag: str, attrs: Mapping[str, object] | None = None,
          *, where: str = "") -> ET.Element:
    """Append ``<tag attr=.../>`` to ``parent``; attribute values pass through :func:`clean`.

    ``None`` values are left out, so optional settings can be passed straight from dataclasses.
    """
    clean_attrs = {}
    for name, value in (attrs or {}).items():
        if value is None:
            continue
        clean_attrs[name] = clean(value, f"{where or tag}.{name}")
    return ET.SubElement(parent, tag, clean_attrs)


def add_params(parent: ET.Element, params: Iterable[tuple[str, object]], *,
               tag: str = "param", where: str = "") -> None:
    """Append ``<param name= value=/>`` (or ``tag``) for each pair whose value is not None."""
    for name, value in params:
        if value is None:
            continue
        child(parent, tag, {"name": name, "value": value}, where=f"{where}{tag} {name}")


def _escape(value: str) -> str:
    """Escape text for a double-quoted attribute (or element text), ``$`` included (see module doc).

    Newline, carriage return and tab are written as character references so that XML's
    attribute-value normalisation does not turn them into spaces.
    """
    if not _NEEDS_ESCAPE.search(value):
        return value
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;").replace("$", "&#36;"))


_NEEDS_ESCAPE = re.compile(r'[&<>"\n\r\t$]')


def _write(elem: ET.Element, depth: int, out: list[str]) -> None:
    out.append(" " * depth + "<" + elem.tag)
    for name, value in elem.attrib.items():
        out.append(f' {name}="{_escape(value)}"')
    children = list(elem)
    text = elem.text
    if not children and not text:
        out.append(" />\n")
        return
    out.append(">")
    if text:
        out.append(_escape(text))
    if children:
        out.append("\n")
        for sub in children:
            _write(sub, depth + 1, out)
        out.append(" " * depth)
    out.append(f"</{elem.tag}>\n")


def render(doc: ET.Element) -> str:
    """Serialise a document for FreeSWITCH: one element per line, values escaped, ``$`` as ``&#36;``.

    The tree is built with ElementTree (:func:`child`, :func:`add_params`); this writer only
    walks it. It is ElementTree's own serialisation minus namespace handling (Pult's documents
    have none), two to three times faster on the lookup path. Tag and attribute names come from
    this package, never from data; every value goes through :func:`_escape`.
    """
    out: list[str] = []
    _write(doc, 0, out)
    return "".join(out).rstrip("\n")
