"""Errors the ESL layer raises to asyncio code (greenswitch's own exceptions never leak out)."""
from __future__ import annotations


class EslError(Exception):
    """Base class of ESL failures."""


class EslConnectError(EslError):
    """The node could not be reached (refused, timed out, closed before greeting us)."""


class EslAuthError(EslError):
    """The node rejected the event-socket password."""


class EslNotConnected(EslError):
    """The connection is closed (or closed while the command was waiting for its reply)."""


class EslTimeout(EslError):
    """No reply within the command timeout."""


class EslCommandError(EslError):
    """FreeSWITCH answered ``-ERR …``; the message is its reply text."""


class CallGone(EslError):
    """The caller hung up / the outbound socket closed: no more commands for this call."""
