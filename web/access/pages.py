"""Cabinet pages of access: roles editor, users' roles, API keys, action log (RU/EN).

Plain server-rendered forms (they work without JavaScript); ``static/access/access.js`` only
adds comfort: the base role's defaults fill the editor when the base changes, the new secret can
be copied with one click, and revoking or deleting asks for confirmation.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from pult.errors import AppError
from pult.i18n import N_
from storage.paging import KeysetPage
from web.access import log as action_log
from web.enforce import request_rights
from web.rights import (ASSIGNABLE, BASE_ROLES, DERIVABLE, FALLBACK_ROLE, LEVEL_TITLES, LEVELS,
                               REACH_TITLES, REACHES, SECTIONS, role_from_doc)
from web.access.service import AccessService
from esl_control.routing.acl import split_text
from web.handlers import PageHandler
from web.routes import route
from web.sections import Section, register_section

ROLE_ID = "[0-9a-f]{24}|[a-z_]{1,32}"
LOG_PER_PAGE = 50

register_section(Section("access_roles", N_("Roles and access"), "/access/roles", order=800,
                         audience="tenant", right="access.view", icon="◎"))
register_section(Section("api_keys", N_("API keys"), "/access/api-keys", order=810, audience="tenant",
                         right="integrations.view", icon="◇"))
register_section(Section("action_log", N_("Action log"), "/access/log", order=820,
                         right="action_log.view", icon="≡"))


def _areas():
    """Sections grouped by the editor's areas, in order: [(area title, [section, ...])]."""
    out: list[tuple[str, list]] = []
    for s in SECTIONS:
        if not out or out[-1][0] != s.area:
            out.append((s.area, []))
        out[-1][1].append(s)
    return out


class AccessPage(PageHandler):
    """Shared helpers of the access pages."""

    async def service(self) -> AccessService:
        user = self.current_user
        return AccessService(self.ctx.store.db, user["pbx_id"], await request_rights(self),
                             self.audit_actor(), user_id=user.get("_id"))

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(areas=_areas(), level_titles=LEVEL_TITLES, reach_titles=REACH_TITLES, levels=LEVELS,
                  reaches=REACHES, base_roles=BASE_ROLES, rights=self.rights)
        return ns

    def field_errors(self, exc: AppError) -> dict[str, str]:
        errors = {f: self._(m) for f, m in exc.fields.items()}
        if not errors:
            errors["form"] = self._(exc.message, **exc.values)
        return errors

    async def role_names(self, svc: AccessService) -> dict[str, str]:
        names = {k: self._(r.title) for k, r in BASE_ROLES.items()}
        for doc in await svc.custom_roles():
            names[doc["_id"]] = doc["name"]
        return names


# --- roles ---------------------------------------------------------------------------------------
@route("/access/roles", access="tenant", section="access", name="access_roles")
class RolesPage(AccessPage):
    """Base roles (read-only, their rights side by side) and the PBX's custom roles."""

    section = "access_roles"

    async def get(self) -> None:
        await self.show()

    async def show(self, error: str | None = None, status: int = 200) -> None:
        """The roles page; ``error`` (translated) above the main-administrator panel."""
        from web.access.adminlink import registration_email

        svc = await self.service()
        counts = await svc.role_users()
        custom = [(role_from_doc(d), d) for d in await svc.custom_roles()]
        admin_email = await registration_email(self.ctx.store.db, self.current_user["pbx_id"])
        notice = {"saved": self._("The role has been saved."), "deleted": self._("The role has been deleted."),
                  "copied": self._("The role has been copied."),
                  "link": self._("A link to set a new password has been sent to %(email)s. It works once, within 24 hours.",
                                 email=admin_email or "—"),
                  }.get(self.get_query_argument("done", ""))
        self.set_status(status)
        self.render("access/roles.html", custom=custom, counts=counts, notice=notice, link_error=error,
                    admin_email=admin_email, can_edit=self.rights.can("access", "edit"))


@route("/access/roles/new", access="tenant", section="access", level="edit", name="access_role_new")
class RoleNewPage(AccessPage):
    section = "access_roles"

    async def get(self) -> None:
        base = self.get_query_argument("base", "employee")
        if base not in DERIVABLE:
            base = "employee"
        self.show_form(None, {"name": "", "description": "", "base": base,
                              "sections": {k: {"level": g.level, "reach": g.reach}
                                           for k, g in BASE_ROLES[base].grants.items()}}, {})

    def show_form(self, role_id, values: dict, errors: dict, status: int = 200) -> None:
        self.set_status(status)
        bases = {k: {s: [g.level, g.reach] for s, g in BASE_ROLES[k].grants.items()} for k in DERIVABLE}
        self.render("access/role_edit.html", role_id=role_id, values=values, errors=errors,
                    derivable=DERIVABLE, bases_json=json.dumps(bases), readonly=False)

    def form_values(self, base: str | None = None) -> dict:
        sections = {}
        for s in SECTIONS:
            sections[s.key] = {"level": self.get_body_argument(f"level.{s.key}", "none"),
                               "reach": self.get_body_argument(f"reach.{s.key}", "") or None}
        return {"name": self.get_body_argument("name", ""), "description": self.get_body_argument("description", ""),
                "base": base or self.get_body_argument("base", ""), "sections": sections}

    async def post(self) -> None:
        values = self.form_values()
        svc = await self.service()
        try:
            await svc.create_role(values["name"], values["description"], values["base"], values["sections"])
        except AppError as exc:
            if exc.status_code != 422:
                raise
            self.show_form(None, values, self.field_errors(exc), 422)
            return
        self.redirect("/access/roles?done=saved")


@route("/access/roles/{role_id}", access="tenant", section="access", params={"role_id": ROLE_ID},
       name="access_role")
class RoleEditPage(RoleNewPage):
    async def get(self, role_id: str) -> None:
        if role_id in BASE_ROLES:
            role = BASE_ROLES[role_id]
            self.set_status(200)
            self.render("access/role_edit.html", role_id=role_id, readonly=True, errors={},
                        values={"name": self._(role.title), "description": self._(role.description),
                                "base": role_id, "sections": {k: {"level": g.level, "reach": g.reach}
                                                              for k, g in role.grants.items()}},
                        derivable=DERIVABLE, bases_json="{}")
            return
        svc = await self.service()
        doc = await svc.role_doc(role_id)
        role = role_from_doc(doc)
        values = {"name": doc["name"], "description": doc.get("description") or "", "base": doc["base"],
                  "sections": {k: {"level": g.level, "reach": g.reach} for k, g in role.grants.items()}}
        if not self.rights.can("access", "edit"):
            self.render("access/role_edit.html", role_id=role_id, readonly=True, errors={}, values=values,
                        derivable=DERIVABLE, bases_json="{}")
            return
        self.show_form(role_id, values, {})

    async def post(self, role_id: str) -> None:
        svc = await self.service()
        if role_id in BASE_ROLES:
            raise AppError(409, "base_role", N_("Base roles cannot be changed; create a role derived from it."))
        doc = await svc.role_doc(role_id)
        values = self.form_values(base=doc["base"])
        try:
            await svc.update_role(role_id, name=values["name"], description=values["description"],
                                  sections=values["sections"])
        except AppError as exc:
            if exc.status_code != 422:
                raise
            self.show_form(role_id, values, self.field_errors(exc), 422)
            return
        self.redirect("/access/roles?done=saved")


@route("/access/roles/{role_id}/delete", access="tenant", section="access", level="edit",
       params={"role_id": ROLE_ID}, name="access_role_delete")
class RoleDeletePage(AccessPage):
    async def post(self, role_id: str) -> None:
        svc = await self.service()
        await svc.delete_role(role_id)
        self.redirect("/access/roles?done=deleted")


@route("/access/roles/{role_id}/copy", access="tenant", section="access", level="edit",
       params={"role_id": ROLE_ID}, name="access_role_copy")
class RoleCopyPage(AccessPage):
    """The «Copy» action of a custom role: the copy appears in the list as «Копия …»."""

    async def post(self, role_id: str) -> None:
        from web.access.api import COPY_NAME

        svc = await self.service()
        await svc.copy_role(role_id, self._(COPY_NAME))
        self.redirect("/access/roles?done=copied")


@route("/access/admin-password", access="tenant", section="access", level="edit", name="access_admin_password")
class AdminPasswordPage(RolesPage):
    """«Change the main administrator's password»: e-mails the account administrator the 24-hour
    single-use link (see :mod:`web.access.adminlink`); refusals are shown on the roles page."""

    async def post(self) -> None:
        from web.access.adminlink import send_admin_password_link

        try:
            await send_admin_password_link(self, self.current_user["pbx_id"])
        except AppError as exc:
            if exc.status_code not in (409, 429):
                raise
            await self.show(error=self._(exc.message, **exc.values), status=exc.status_code)
            return
        self.redirect("/access/roles?done=link")


# --- users' roles --------------------------------------------------------------------------------
@route("/access/users", access="tenant", section="access", name="access_users")
class UsersPage(AccessPage):
    """Who has which role; an administrator changes it here."""

    section = "access_roles"

    async def get(self) -> None:
        await self.show()

    async def show(self, errors: dict | None = None, notice: str | None = None, status: int = 200) -> None:
        svc = await self.service()
        self.set_status(status)
        names = await self.role_names(svc)
        choices = [(k, names[k]) for k in ASSIGNABLE] + [(d["_id"], d["name"]) for d in await svc.custom_roles()]
        self.render("access/users.html", users=await svc.list_users(), names=names, choices=choices,
                    errors=errors or {}, notice=notice, fallback=FALLBACK_ROLE,
                    can_edit=self.rights.can("access", "edit"))


@route("/access/users/{user_id}", access="tenant", section="access", level="edit",
       params={"user_id": "[0-9a-f]{24}"}, name="access_user")
class UserRolePage(UsersPage):
    async def get(self, user_id: str) -> None:
        await (await self.service()).user_doc(user_id)  # another PBX's user: 404
        self.redirect("/access/users")

    async def post(self, user_id: str) -> None:
        svc = await self.service()
        await svc.user_doc(user_id)
        try:
            await svc.assign(user_id, role=self.get_body_argument("role", ""))
        except AppError as exc:
            if exc.status_code not in (403, 422):
                raise
            msg = next(iter(exc.fields.values()), exc.message)
            await self.show(errors={user_id: self._(msg)}, status=exc.status_code)
            return
        await self.show(notice=self._("The role has been changed."))


# --- API keys ------------------------------------------------------------------------------------
@route("/access/api-keys", access="tenant", section="integrations", name="api_keys")
class ApiKeysPage(AccessPage):
    """Keys of the PBX; a new key's secret is shown once, right after creation."""

    section = "api_keys"

    async def get(self) -> None:
        notice = self._("The key has been revoked.") if self.get_query_argument("done", "") == "revoked" else None
        await self.show(notice=notice)

    async def show(self, values: dict | None = None, errors: dict | None = None, created: tuple | None = None,
                   notice: str | None = None, status: int = 200) -> None:
        svc = await self.service()
        self.set_status(status)
        names = await self.role_names(svc)
        choices = [(k, names[k]) for k in ASSIGNABLE if k != "no_access"] + \
                  [(d["_id"], d["name"]) for d in await svc.custom_roles()]
        self.render("access/api_keys.html", keys=await svc.list_keys(), names=names, choices=choices,
                    values=values or {"name": "", "role": "employee", "whitelist": ""},
                    errors=errors or {}, created=created, notice=notice,
                    can_edit=self.rights.can("integrations", "edit"), remote_ip=self.request.remote_ip)

    async def post(self) -> None:
        values = {"name": self.get_body_argument("name", ""), "role": self.get_body_argument("role", ""),
                  "whitelist": self.get_body_argument("whitelist", "")}
        svc = await self.service()
        entries = split_text(values["whitelist"])
        try:
            doc, secret = await svc.create_key(values["name"], values["role"], entries)
        except AppError as exc:
            if exc.status_code != 422:
                raise
            errors = {}
            for field, msg in exc.fields.items():
                if field.startswith("whitelist."):
                    idx = int(field.split(".", 1)[1])
                    errors["whitelist"] = f"{entries[idx]}: {self._(msg)}"
                else:
                    errors[field] = self._(msg)
            await self.show(values, errors, status=422)
            return
        await self.show(created=(doc, secret), status=201)


@route("/access/api-keys/{key_id}/revoke", access="tenant", section="integrations", level="edit",
       params={"key_id": "[0-9a-f]{12}"}, name="api_key_revoke")
class ApiKeyRevokePage(AccessPage):
    async def post(self, key_id: str) -> None:
        svc = await self.service()
        await svc.revoke_key(key_id)
        self.redirect("/access/api-keys?done=revoked")


# --- action log ----------------------------------------------------------------------------------
@route("/access/log", access="user", section="action_log", name="action_log")
class ActionLogPage(AccessPage):
    """Filters (period, phrase, kind of actor), the table, export buttons."""

    section = "action_log"

    async def get(self) -> None:
        args = {k: self.get_query_argument(k, "") for k in ("from", "to", "q", "actor", "login", "ip",
                                                              "section", "operation")}
        after, before = self.page_cursors(action_log.NEWEST_FIRST)
        errors, entries, total, pager = {}, [], 0, KeysetPage([], None, None)
        try:
            query = action_log.build_query(args, self.tz())
        except action_log.LogQueryError as exc:
            errors[exc.field] = self._(str(exc))
            self.set_status(400)
        else:
            pager, total = await action_log.find_entries(self.ctx.store.db, self.scope(), query, 1, LOG_PER_PAGE,
                                                         after, before)
            entries = [action_log.entry_out(d, self._) for d in pager.docs]
        filters = urlencode({k: v for k, v in args.items() if v})
        first = "/access/log" + (f"?{filters}" if filters else "")
        self.render("access/log.html", args=args, entries=entries, total=total, pager=pager, pager_first=first,
                    pager_base=first + ("&" if filters else "?"), errors=errors, query_string=filters,
                    changes_text=lambda before, after, kind=None: action_log.changes_text(
                        before, after, self._, self.tz(), self.lang, kind))
