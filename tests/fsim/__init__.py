"""FreeSWITCH simulator for tests: the Event Socket protocol as the recorded traces show it.

Test-only code: production packages must never import ``tests.fsim``.
See ``tests/fsim/README.md`` for the API.
"""

from .apps import BridgeOutcome
from .channel import Channel, Profile
from .events import Event
from .protocol import Message, read_message
from .json_cdr import JsonCdrPoster
from .server import Call, Connection, FreeSwitchSimulator, ReceivedCommand

__all__ = [
    "BridgeOutcome",
    "Call",
    "Channel",
    "Connection",
    "Event",
    "FreeSwitchSimulator",
    "JsonCdrPoster",
    "Message",
    "Profile",
    "ReceivedCommand",
    "read_message",
]
