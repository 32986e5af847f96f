"""The ``dialplan`` section: every Pult call goes to Pult's outbound socket.

Pult does not keep its call logic in FreeSWITCH's dialplan. The answer to a dialplan lookup is
one extension in the context FreeSWITCH is searching that marks the call and hands the channel to
the outbound Event Socket server (``socket host:port async full``), where the call flow runs::

    <document type="freeswitch/xml">
     <section name="dialplan">
      <context name="vpbx7">
       <extension name="pult">
        <condition field="destination_number" expression="^.*$">
         <action application="set" data="pult_context=vpbx7"/>
         <action application="set" data="pult_destination_number=104"/>
         <action application="set" data="pult_pbx_id=7"/>
         <action application="socket" data="127.0.0.1:8084 async full"/>
        </condition>
       </extension>
      </context>
     </section>
    </document>

The context element must carry the name FreeSWITCH asked for (``Hunt-Context``), or
mod_dialplan_xml will not find it. Values copied from the request into ``set`` data are checked
against a strict pattern first: FreeSWITCH expands ``${...}`` in application data when it runs
the action, so a destination number such as ``${user_data(...)}`` must never get there.

Contexts served by default: ``public`` (calls from numbers and trunks), ``default`` and the tenant
contexts ``vpbx<pbx id>`` (the ``user_context`` of a tenant's SIP users). Other contexts get "not
found", so FreeSWITCH falls back to its own XML for them.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from esl_control.model import vocabulary as vocab
from fs_config.request import XmlCurlRequest
from fs_config.xml import XmlBuildError, child, document, render

log = logging.getLogger(__name__)

PUBLIC_CONTEXT = "public"
#: Contexts the default dialplan provider hands to the outbound socket, besides tenant contexts.
DEFAULT_CONTEXTS = (PUBLIC_CONTEXT, "default")
#: A tenant's own context: ``vpbx<pbx id>``, the same label as its SIP domain ``vpbx<id>.<platform>``.
TENANT_CONTEXT_RE = re.compile(r"^vpbx([0-9]{1,12})$")

#: Channel variable names and values Pult writes into ``set`` actions.
_VAR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: No ``$``, braces, spaces, quotes or commas: nothing FreeSWITCH would expand or split.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.@+*#:/-]{1,128}$")
_CONTEXT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def tenant_context(pbx_id: int) -> str:
    """The dialplan context of a tenant PBX (its SIP users' ``user_context``)."""
    return f"vpbx{int(pbx_id)}"


@dataclass(frozen=True)
class SocketTarget:
    """Where FreeSWITCH connects for an outbound-socket call (Pult's outbound ESL server);
    ``more``: other live Pult instances, tried in order when this one refuses the connection."""

    host: str
    port: int
    more: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, address: "tuple[str, int] | Iterable[tuple[str, int]] | None") -> "SocketTarget | None":
        """From one ``(host, port)`` or a list of them (the first is tried first)."""
        if address is None:
            return None
        if isinstance(address, tuple) and len(address) == 2 and not isinstance(address[0], tuple):
            return cls(*address)
        pairs = [tuple(a) for a in address]
        if not pairs:
            return None
        return cls(pairs[0][0], pairs[0][1], tuple(pairs[1:]))

    @staticmethod
    def _one(host: str, port: int) -> str:
        if not host or any(c in host for c in " \t/|"):
            raise XmlBuildError(f"socket host {host!r}: expected a host name or address")
        if not 1 <= int(port) <= 65535:
            raise XmlBuildError(f"socket port {port!r}: expected 1..65535")
        return f"{host}:{int(port)}"

    def app_data(self) -> str:
        """``socket`` application data. FreeSWITCH splits host and port at the last ``:``, so an
        IPv6 host is written bare (``::1:8084``); several instances are ``|``-separated, tried in
        order until one accepts (mod_event_socket ``socket_function``)."""
        hosts = [self._one(self.host, self.port)] + [self._one(h, p) for h, p in self.more]
        return f"{'|'.join(dict.fromkeys(hosts))} async full"


def build_socket_dialplan(context: str, target: SocketTarget,
                          variables: Mapping[str, str] | Iterable[tuple[str, str]] = (),
                          *, extension_name: str = "pult") -> str:
    """A dialplan answer for ``context``: set ``variables`` on the channel, then ``socket`` to ``target``.

    Raises :class:`~fs_config.xml.XmlBuildError` for a context name or a variable that FreeSWITCH
    would misread (see :data:`SAFE_VALUE`).
    """
    if not _CONTEXT_NAME.match(context or ""):
        raise XmlBuildError(f"dialplan context {context!r}: expected letters, digits, '_', '.', '-'")
    pairs = list(variables.items()) if isinstance(variables, Mapping) else list(variables)
    doc, section = document("dialplan")
    ctx = child(section, "context", {"name": context})
    ext = child(ctx, "extension", {"name": extension_name})
    cond = child(ext, "condition", {"field": "destination_number", "expression": "^.*$"})
    for name, value in pairs:
        if not _VAR_NAME.match(name):
            raise XmlBuildError(f"dialplan variable name {name!r}: expected letters, digits and '_'")
        if not SAFE_VALUE.match(value):
            raise XmlBuildError(f"dialplan variable {name}: value {value!r} has characters "
                                "FreeSWITCH would expand or split")
        child(cond, "action", {"application": "set", "data": f"{name}={value}"})
    child(cond, "action", {"application": "socket", "data": target.app_data()})
    return render(doc)


def call_variables(req: XmlCurlRequest, context: str) -> list[tuple[str, str]]:
    """The identifying variables Pult's call flow reads, taken from a dialplan lookup.

    - ``pult_context``: the context the call was routed in;
    - ``pult_destination_number``: the number dialled, as routed;
    - tenant calls: ``pult_pbx_id`` (from a ``vpbx<id>`` context, or the ``pult_pbx_id`` the
      directory set on the caller), ``pult_domain`` and ``pult_user`` (the SIP domain and account
      the caller authenticated as).

    Values that do not match :data:`SAFE_VALUE` are left out (and logged): the call flow then
    reads the channel's own fields, which FreeSWITCH sends on connect anyway.
    """
    found: list[tuple[str, str]] = [(vocab.CONTEXT, context)]
    dest = req.destination_number
    if dest:
        found.append((vocab.DESTINATION_NUMBER, dest))
    tenant = TENANT_CONTEXT_RE.match(context)
    pbx_id = tenant.group(1) if tenant else req.get(vocab.event_header(vocab.PBX_ID))
    if pbx_id:
        found.append((vocab.PBX_ID, pbx_id))
    # domain_name / user_name are set by mod_sofia only for callers who passed digest auth.
    if req.get("variable_user_name") and req.get("variable_domain_name"):
        found.append((vocab.DOMAIN, req.get("variable_domain_name")))
        found.append((vocab.USER, req.get("variable_user_name")))
    safe = []
    for name, value in found:
        if name == vocab.PBX_ID and not value.isdigit():
            log.warning("xml_curl dialplan: ignoring non-numeric pult_pbx_id %r (call %s)", value, req.unique_id)
        elif SAFE_VALUE.match(value):
            safe.append((name, value))
        else:
            log.warning("xml_curl dialplan: not copying %s=%r into the dialplan (call %s)",
                        name, value[:80], req.unique_id)
    return safe


class SocketDialplan:
    """Default dialplan provider: every call in a served context goes to the outbound socket.

    ``address`` is ``(host, port)`` or a callable returning it at each lookup (for an outbound
    server bound to a free port) — or a list of them, the live Pult instances with this one first
    (:class:`esl_control.instances.OutboundInstances`). While it is None (or the callable returns None) lookups get
    "not found" and an error is logged, so FreeSWITCH falls back to its static dialplan.
    ``contexts`` are served besides the tenant contexts ``vpbx<id>`` (disable those with
    ``tenant_contexts=False``).
    """

    def __init__(self, address: tuple[str, int] | Callable[[], tuple[str, int] | list[tuple[str, int]] | None] | None,
                 contexts: Iterable[str] = DEFAULT_CONTEXTS, *, tenant_contexts: bool = True):
        self._address = address
        self.contexts = frozenset(contexts)
        self.tenant_contexts = tenant_contexts

    def serves(self, context: str) -> bool:
        """Whether lookups in ``context`` are answered."""
        return context in self.contexts or bool(self.tenant_contexts and TENANT_CONTEXT_RE.match(context))

    def target(self) -> SocketTarget | None:
        """Where calls go now; None while the outbound server's address is unknown."""
        address = self._address() if callable(self._address) else self._address
        return SocketTarget.of(address)

    async def __call__(self, req: XmlCurlRequest) -> str | None:
        context = req.context
        if not context or not self.serves(context):
            return None
        target = self.target()
        if target is None:
            log.error("xml_curl dialplan: outbound socket address unknown, answering not found "
                      "(call %s in %s)", req.unique_id, context)
            return None
        return build_socket_dialplan(context, target, call_variables(req, context))
