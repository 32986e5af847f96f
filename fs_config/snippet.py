"""The FreeSWITCH side of the settings, filled in: ``deploy/freeswitch/vars_pult.xml`` with this
installation's mod_xml_curl secret (configured or generated at first start), the URLs of the
FreeSWITCH port (``PULT_FS_PORT``: ``/fs/xml-curl`` and ``/fs/cdr``) and the outbound socket.
``pult freeswitch-vars`` prints it for the operator to install on each node."""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from fs_config.http import CDR_PATH, PATH


def freeswitch_vars(settings, node: str | None = None) -> str:
    """The ``vars_pult.xml`` of one FreeSWITCH node for these settings: the node of
    ``FREESWITCH_ESL`` named ``node`` (default: the first; ``fs1`` on 127.0.0.1:8021 when none is
    configured)."""
    nodes = settings.nodes
    chosen = next((n for n in nodes if node is None or n.name == node), None)
    if node is not None and chosen is None:
        raise ValueError(f"FREESWITCH_ESL has no node named {node!r}")
    name = chosen.name if chosen else (node or "fs1")
    values = [
        ("pult_node_name", name),
        ("pult_esl_listen_ip", chosen.host if chosen else "127.0.0.1"),
        ("pult_esl_port", str(chosen.port if chosen else 8021)),
        ("pult_esl_password", chosen.password if chosen else "change-me-esl"),
        # the FreeSWITCH port (PULT_FS_PORT): its own event loop, never waiting for the cabinet
        ("pult_xml_curl_url", f"{settings.fs_base_url}{PATH}"),
        ("pult_xml_curl_secret", settings.xml_curl_password()),
        ("pult_outbound_socket", f"{settings.outbound_host}:{settings.outbound_port}"),
        ("pult_cdr_url", f"{settings.fs_base_url}{CDR_PATH}"),
    ]
    for var, value in values:  # FreeSWITCH's pre-processor splits set="a=b" at the first "="
        if any(c in value for c in '"<>&\n'):
            raise ValueError(f"{var}: {value!r} cannot be written into vars_pult.xml")
    lines = "\n".join(f"  <X-PRE-PROCESS cmd=\"set\" data={quoteattr(f'{n}={v}')}/>" for n, v in values)
    return ("<!-- vars_pult.xml for FreeSWITCH node " + name + ", written by `pult freeswitch-vars`:\n"
            "     include it from conf/vars.xml: <X-PRE-PROCESS cmd=\"include\" data=\"vars_pult.xml\"/>\n"
            "     It holds the mod_xml_curl secret: keep it readable by FreeSWITCH only. -->\n"
            f"<include>\n{lines}\n</include>\n")
