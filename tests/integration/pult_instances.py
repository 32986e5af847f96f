"""Several Pult instances in one test: each a real ESL service (gevent thread, greenswitch, an
outbound server on its own port) over one store and the FreeSWITCH simulator, beating into the
test Redis with :class:`esl_control.instances.OutboundInstances` (an injected clock stands for the
time passing), and answering the xml_curl dialplan as the real provider does.
"""
from __future__ import annotations

import re
import uuid as uuidlib
from contextlib import asynccontextmanager

from esl_control.instances import OutboundInstances
from esl_control.nodes import NodeState
from esl_control.service import EslService
from fs_config.dialplan import SocketDialplan
from fs_config.request import XmlCurlRequest
from pult.settings import load_settings


class Instance:
    """One Pult instance; a subclass gives it a call engine (:meth:`make_flow`)."""

    def __init__(self, name, tmp_path, store, sim, redis, key, clock, number: str):
        self.name, self.tmp_path, self.store, self.sim, self.number = name, tmp_path, store, sim, number
        self.svc: EslService | None = None
        self.port: int | None = None
        self.flow = None
        self.instances = OutboundInstances(redis, self.own, key=key, ttl=10, interval=3, now=lambda: clock[0])
        self.dialplan = SocketDialplan(self.instances.addresses)

    def own(self):
        return ("127.0.0.1", self.svc.outbound.port) if self.svc and self.svc.outbound else None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def make_flow(self):
        """The call engine of the instance's outbound calls (None: the service's default)."""
        return None

    async def start(self):
        settings = load_settings(data_dir=self.tmp_path / self.name, esl_nodes=f"fs1=127.0.0.1:{self.sim.port}:ClueCon",
                                 esl_reconnect_min=0.05, esl_reconnect_max=0.3, outbound_host="127.0.0.1",
                                 outbound_port=0, esl_command_timeout=5)
        self.flow = self.make_flow()
        self.svc = EslService(settings, self.store, flow=self.flow)
        await self.svc.start()
        await self.svc.nodes.wait_for_state("fs1", NodeState.UP)
        self.port = self.svc.outbound.port
        if self.flow is not None:
            self.flow.instance_name = self.address

    async def answer(self) -> str:
        """The ``socket`` data of this instance's dialplan answer for a call to its number."""
        xml = await self.dialplan(XmlCurlRequest.from_fields({
            "Caller-Context": "public", "Caller-Destination-Number": self.number, "Unique-ID": str(uuidlib.uuid4())}))
        return re.search(r'application="socket" data="([^"]+)"', xml).group(1)


@asynccontextmanager
async def instance_pair(instance_cls, tmp_path, store, sim, redis, number: str):
    """Instances ``a`` and ``b`` started over one simulator, beating under one fresh Redis key;
    yields ``(a, b, clock)`` (``clock[0]``: the seconds the beats see) and stops what still runs."""
    key, clock = f"test:outbound:{uuidlib.uuid4().hex}", [1000.0]
    a = instance_cls("a", tmp_path, store, sim, redis, key, clock, number)
    b = instance_cls("b", tmp_path, store, sim, redis, key, clock, number)
    await a.start()
    await b.start()
    yield a, b, clock
    for inst in (a, b):
        if inst.svc is not None:
            await inst.svc.stop()
    await redis.delete(key)
