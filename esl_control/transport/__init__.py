"""The ESL transport: greenswitch in one gevent thread, bridged to asyncio.

- :mod:`.protocol` — framing and parsing (pure).
- :mod:`.hub` — :class:`GeventThread`, the thread with its own hub, and the two-way bridge.
- :mod:`.greenswitch_ext` — greenswitch connections with a fast, safe read path (hub side).
- :mod:`.connection` — :class:`EslConnection`, an inbound connection used from asyncio.
- :mod:`.errors` — what asyncio code catches.
"""
from .connection import BackgroundJob, EslConnection
from .errors import (CallGone, EslAuthError, EslCommandError, EslConnectError, EslError,
                     EslNotConnected, EslTimeout)
from .hub import GeventThread, HubStopped
from .protocol import EslEvent, EslMessage, FrameParser, parse_headers

__all__ = ["BackgroundJob", "CallGone", "EslAuthError", "EslCommandError", "EslConnectError",
           "EslConnection", "EslError", "EslEvent", "EslMessage", "EslNotConnected", "EslTimeout",
           "FrameParser", "GeventThread", "HubStopped", "parse_headers"]
