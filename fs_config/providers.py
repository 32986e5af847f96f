"""Who answers which lookup: one async callable per mod_xml_curl section.

A *provider* is ``async def provider(req: XmlCurlRequest) -> str | None``: the XML document to
send back, or ``None`` for "not found" (FreeSWITCH then uses its next binding or static files).
A provider may raise; the handler logs it and answers "not found".

:class:`Providers` groups them. :meth:`Providers.default` serves nothing but the dialplan (every
call in Pult's contexts goes to the outbound socket); tenant directory and configuration data
plug in later by replacing fields::

    providers = Providers.default(settings)
    providers = dataclasses.replace(providers, directory=my_directory,
                                    configuration=by_conf_name({"sofia.conf": sofia, "acl.conf": acl}))
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from fs_config.dialplan import DEFAULT_CONTEXTS, SocketDialplan
from fs_config.request import XmlCurlRequest
from fs_config.xml import SECTIONS

log = logging.getLogger(__name__)

Provider = Callable[[XmlCurlRequest], Awaitable["str | None"]]


async def not_served(req: XmlCurlRequest) -> None:
    """The provider of a section Pult does not serve: always "not found"."""
    return None


def by_conf_name(providers: Mapping[str, Provider]) -> Provider:
    """A ``configuration`` provider dispatching on the .conf asked for (``key_value``).

    ``by_conf_name({"sofia.conf": sofia, "acl.conf": acl, "conference.conf": conference})``;
    any other .conf is "not found" (FreeSWITCH keeps its own file).
    """
    table = dict(providers)

    async def configuration(req: XmlCurlRequest) -> str | None:
        provider = table.get(req.key_value)
        return None if provider is None else await provider(req)

    configuration.served = frozenset(table)  # type: ignore[attr-defined]
    return configuration


@dataclass(frozen=True)
class Providers:
    """The provider of each mod_xml_curl section (see the module docstring)."""

    directory: Provider = not_served
    dialplan: Provider = not_served
    configuration: Provider = not_served
    phrases: Provider = not_served
    languages: Provider = not_served
    chatplan: Provider = not_served

    def for_section(self, section: str) -> Provider | None:
        """The provider for ``section``, or None for a section mod_xml_curl does not have."""
        return getattr(self, section) if section in SECTIONS else None

    @classmethod
    def default(cls, settings, *,
                socket_address: tuple[str, int] | Callable[[], tuple[str, int] | None] | None = None,
                contexts: Iterable[str] = DEFAULT_CONTEXTS) -> "Providers":
        """Pult's providers before tenant data is wired: only the dialplan is served.

        Calls go to ``socket_address`` (a pair, or a callable returning the address of the running
        outbound server, e.g. one bound to a free port), else to ``settings.outbound_host:
        settings.outbound_port``. With ``PULT_OUTBOUND_PORT=0`` and no ``socket_address`` the
        address is unknown: dialplan lookups get "not found" (logged) until it is given.
        Raises ValueError for a wildcard ``PULT_OUTBOUND_HOST`` (0.0.0.0 / ::), which FreeSWITCH
        cannot connect to.
        """
        if socket_address is None:
            if settings.outbound_host in ("", "0.0.0.0", "::"):
                raise ValueError(f"PULT_OUTBOUND_HOST={settings.outbound_host!r} is a wildcard bind "
                                 "address; FreeSWITCH needs an address it can connect to "
                                 "(pass socket_address=)")
            if settings.outbound_port:
                socket_address = (settings.outbound_host, settings.outbound_port)
            else:
                log.warning("xml_curl: PULT_OUTBOUND_PORT is 0 and no socket_address was given; "
                            "dialplan lookups will be answered 'not found'")
        return cls(dialplan=SocketDialplan(socket_address, contexts))
