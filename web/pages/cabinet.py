"""The cabinet's own pages: dashboard, call history, FreeSWITCH nodes, security (password and
sessions)."""
from __future__ import annotations

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.users import Users
from web.access.selfaudit import audit_self
from web.api.calls import NEWEST_FIRST, call_detail_out, call_history, call_out, call_stats
from web.api.me import change_password
from web.api.nodes import node_list
from web.handlers import PageHandler
from web.routes import route

CALLS_PER_PAGE = 25


def sip_domain(pbx_id: int, settings) -> str:
    """The PBX's own SIP domain (PRODUCT.md §2)."""
    return f"vpbx{pbx_id}.{settings.sip_base_domain}"


@route("/", access="user", name="dashboard", section="dashboard")
class DashboardPage(PageHandler):
    """What matters right now: today's calls in the user's scope (their PBX, within the reach of
    their role in «Call history»), the latest calls, and for operators the FreeSWITCH nodes and
    workers."""

    section = "dashboard"

    async def get(self) -> None:
        stats = await call_stats(self)  # the use case of GET /api/v1/dashboard too
        recent = stats.pop("recent")
        nodes = workers = usage = None
        pbx_count = None
        if self.is_operator:
            nodes = await node_list(self)
            pbxs = await Users(self.ctx.store.db, Scope.platform()).find({"kind": "tenant"},
                                                                          projection={"pbx_id": 1})
            pbx_count = len({u["pbx_id"] for u in pbxs})
            workers = await self._workers()
            usage = self.ctx.store.usage() if hasattr(self.ctx.store, "usage") else None
        user = self.current_user
        self.render("dashboard.html", stats=stats, recent=recent, nodes=nodes, workers=workers, store_usage=usage,
                    pbx_count=pbx_count,
                    domain=sip_domain(user["pbx_id"], self.ctx.settings) if user.get("pbx_id") else None)

    async def _workers(self) -> dict | None:
        if self.ctx.jobs_health is None:
            return None
        try:
            return dict(await self.ctx.jobs_health())
        except Exception as exc:  # shown on the dashboard, never breaks it
            return {"ok": False, "error": str(exc)}


@route("/calls", access="user", name="calls", section="calls")
class CallsPage(PageHandler):
    """Call history of the user's scope, newest first; «Older» / «Newer» page by keyset from the
    records shown (the API's use case, :class:`esl_control.model.call_history.CallHistory`)."""

    section = "calls"

    async def get(self) -> None:
        after, before = self.page_cursors(NEWEST_FIRST)
        res, total = await (await call_history(self)).page(1, CALLS_PER_PAGE, after=after, before=before)
        self.render("calls.html", calls=[call_out(d) for d in res.docs], total=total, pager=res,
                    pager_first="/calls", pager_base="/calls?")


#: what happened to a leg (esl_control.model.call_history.LEG_RESULTS), in words
LEG_OUTCOMES = {"answered": N_("answered"), "no_answer": N_("no answer"), "busy": N_("busy"),
                "cancelled": N_("stopped ringing"), "lost": N_("lost with its node"), "failed": N_("failed")}
#: the stages of a call (esl_control.model.call_history.stages)
STAGES = (("menu", N_("Greeting and menu")), ("ringing", N_("Ringing")), ("talk", N_("Conversation")))


@route("/calls/{uuid}", access="user", name="call", section="calls", params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallPage(PageHandler):
    """One call in detail: the path it took through the scheme, the legs it rang (who, how long,
    with what result), its stage timings, who hung up, its cost — the record of
    ``GET /api/v1/calls/{uuid}`` (the same use case, :meth:`CallHistory.get`, within the reach of
    the role in «Call history»; another PBX's call or one outside the reach is 404)."""

    section = "calls"

    async def get(self, uuid: str) -> None:
        from esl_control.model.effective import load_snapshot
        from web.operator.pages import money
        from web.telephony.dryrun.describe import ENDED_BY, describe, target_name

        rec = await (await call_history(self)).get(uuid)
        call = call_detail_out(rec)
        snapshot = None
        if call.pbx_id:  # the names of the groups, employees and trunks the path and the legs name
            try:
                snapshot = await load_snapshot(self.ctx.store.db, int(call.pbx_id))
            except Exception:  # noqa: BLE001 — the page still shows the ids
                snapshot = None
        lines = describe({"path": call.path}, snapshot, self._)
        for line, entry in zip(lines, call.path):
            line["t"] = entry.get("t")
        legs = [{"leg": leg, "who": target_name(snapshot, leg.target, self._) if leg.target else (leg.callee or "—")}
                for leg in call.legs]
        self.render("call.html", call=call, lines=lines, legs=legs, stages=STAGES, outcomes=LEG_OUTCOMES,
                    ended_by=ENDED_BY, cost=money(call.cost) if call.cost is not None else None)


@route("/nodes", access="operator", name="nodes")
class NodesPage(PageHandler):
    """The FreeSWITCH nodes with their live state (static/js/nodes.js refreshes the table)."""

    section = "nodes"
    refresh_ms = 5000  # how often the page polls /api/v1/nodes

    async def get(self) -> None:
        self.render("nodes.html", nodes=await node_list(self), refresh_ms=self.refresh_ms)


@route("/account/security", access="user", name="security", personal=True)
class SecurityPage(PageHandler):
    """Change the password; see and end sessions."""

    section = "security"

    async def get(self) -> None:
        await self.show()

    async def show(self, errors: dict | None = None, notice: str | None = None) -> None:
        sessions = await self.sessions.list_for_user(self.current_user["_id"])
        self.render("security.html", sessions=sessions, current_id=self.session.id,
                    errors=errors or {}, notice=notice)


@route("/account/password", access="user", name="password", personal=True)
class PasswordPage(SecurityPage):
    async def get(self) -> None:
        self.redirect("/account/security")

    async def post(self) -> None:
        current = self.get_body_argument("current_password", "")
        new = self.get_body_argument("new_password", "")
        repeat = self.get_body_argument("new_password_repeat", "")
        if new != repeat:
            self.set_status(422)
            await self.show(errors={"new_password_repeat": self._("The passwords do not match.")})
            return
        try:
            revoked = await change_password(self, current, new)
        except AppError as exc:
            if exc.status_code not in (422, 429):
                raise
            self.set_status(exc.status_code)
            errors = {f: self._(m) for f, m in exc.fields.items()} or \
                {"current_password": self._(exc.message, **exc.values)}
            await self.show(errors=errors)
            return
        await self.show(notice=self._("The password has been changed. Other sessions ended: %(n)s.",
                                      n=revoked))


@route("/account/sessions/{session_id}/end", access="user", personal=True, params={"session_id": "[0-9a-f]{1,64}"},
       name="end_session")
class EndSessionPage(PageHandler):
    async def post(self, session_id: str) -> None:
        mine = {s.id for s in await self.sessions.list_for_user(self.current_user["_id"])}
        if session_id not in mine:
            raise AppError(404, "not_found", N_("No such session."))
        await self.sessions.delete(session_id, self.current_user["_id"])
        await audit_self(self, "revoke", object={"type": "session", "id": session_id, "name": None})
        if session_id == self.session.id:
            self.clear_session_cookie()
            self.redirect("/login")
            return
        self.redirect("/account/security")
