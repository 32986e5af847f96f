"""FreeSWITCH nodes as the ESL control sees them (operators only)."""
from __future__ import annotations

from pult.i18n import N_
from web.api_base import ApiHandler, operation
from web.api_models import NodeList, NodeOut
from web.routes import route

STATE_LABELS = {
    "up": N_("Connected"),
    "connecting": N_("Connecting"),
    "down": N_("Unreachable"),
    "auth_failed": N_("Wrong ESL password"),
}


def node_out(node: dict, translate) -> NodeOut:
    state = str(node.get("state") or "unknown")
    return NodeOut(name=str(node.get("name")), host=node.get("host"), port=node.get("port"),
                   state=state, state_label=translate(STATE_LABELS.get(state, N_("Unknown"))),
                   error=node.get("error"), since=node.get("since"),
                   reconnects=node.get("reconnects"), calls=node.get("calls"))


async def node_list(handler) -> NodeList:
    snapshot = await handler.ctx.node_snapshot()
    items = [node_out(n, handler._) for n in (snapshot or [])]
    return NodeList(configured=snapshot is not None, items=items, total=len(items))


@route("/api/v1/nodes", access="operator")
class NodesApi(ApiHandler):
    @operation(N_("FreeSWITCH nodes and their connection state"), response=NodeList,
               tags=["operator"], errors=(401, 403))
    async def get(self) -> None:
        self.reply(await node_list(self))
