"""The access API: my rights, roles, users' roles, personal protection, API keys, the action log."""
from __future__ import annotations

import asyncio

from pult.errors import AppError
from pult.i18n import N_
from web.access import log as action_log
from web.enforce import request_rights
from web.access.models import (AccessSettingsIO, AdminLinkOut, AccessUserList, AccessUserOut, AccessUserPatch,
                               ApiKeyCreated, ApiKeyIn, ApiKeyList, ApiKeyOut, ApiKeyPatch, LogEntryOut,
                               MyRights, ProtectionIO, RoleIn, RoleList, RoleOut, RolePatch, SectionsOut)
from web.rights import (BASE_ROLES, FALLBACK_ROLE, LEVEL_TITLES, REACH_TITLES, SECTIONS, RoleDef,
                               has_right, role_from_doc)
from web.access.service import PROTECTION_KEYS, AccessService
from web.api_base import AFTER_PARAM, PAGE_PARAMS, ApiHandler, Param, operation, page_of, period
from web.api_fields import DATE_PATTERN
from web.routes import route
from web.sections import menu_for

ROLE_ID = "[0-9a-f]{24}|[a-z_]{1,32}"
KEY_ID = "[0-9a-f]{12}"
USER_ID = "[0-9a-f]{24}"
COPY_NAME = N_("Copy of %(name)s")


class AccessApi(ApiHandler):
    """Shared helpers of the access endpoints."""

    async def service(self) -> AccessService:
        user = self.current_user
        return AccessService(self.ctx.store.db, user["pbx_id"], await request_rights(self),
                             self.audit_actor(), user_id=user.get("_id"))

    def role_out(self, role: RoleDef, doc: dict | None = None, users: int | None = None) -> RoleOut:
        return RoleOut(id=role.key, name=role.title if role.custom else self._(role.title),
                       description=role.description if role.custom else self._(role.description),
                       custom=role.custom, base=role.base, cabinet=role.cabinet,
                       sections={k: {"level": g.level, "reach": g.reach} for k, g in role.grants.items()},
                       users=users, created_at=(doc or {}).get("created_at"),
                       updated_at=(doc or {}).get("updated_at"))

    async def role_name(self, svc: AccessService, key: str | None, cache: dict | None = None) -> str:
        key = key or FALLBACK_ROLE
        if key in BASE_ROLES:
            return self._(BASE_ROLES[key].title)
        if cache is not None and key in cache:
            return cache[key]
        doc = await svc.roles.find_one({"_id": key})
        name = doc["name"] if doc else self._(BASE_ROLES[FALLBACK_ROLE].title)
        if cache is not None:
            cache[key] = name
        return name

    def key_out(self, doc: dict, role_name: str) -> dict:
        return {"id": doc["_id"], "name": doc["name"], "role": doc.get("role") or FALLBACK_ROLE,
                "role_name": role_name, "whitelist": list(doc.get("whitelist") or []),
                "prefix": f"pult_{doc['_id']}_…", "created_at": doc.get("created_at"),
                "created_by": doc.get("created_by"), "last_used_at": doc.get("last_used_at"),
                "last_ip": doc.get("last_ip"), "revoked_at": doc.get("revoked_at"),
                "active": doc.get("revoked_at") is None}


# --- my rights -------------------------------------------------------------------------------------
@route("/api/v1/me/rights", access="user", personal=True)
class MyRightsApi(AccessApi):
    @operation(N_("My role, rights and menu"), response=MyRights, tags=["access"])
    async def get(self) -> None:
        rights = await request_rights(self)
        role = rights.role
        self.reply(MyRights(
            role="operator" if rights.operator else role.key,
            role_name=self._(N_("Platform operator")) if rights.operator else
            (role.title if role.custom else self._(role.title)),
            custom=role.custom and not rights.operator, cabinet=rights.cabinet, full=rights.full,
            sections=rights.table(), menu=[s.key for s in menu_for(self.current_user, has_right(rights))],
            supervised_groups=sorted(rights.supervised_groups),
            protection=role.protection and not rights.operator))


@route("/api/v1/me/protection", access="tenant", personal=True)
class ProtectionApi(AccessApi):
    @operation(N_("My personal protection settings"), response=ProtectionIO, tags=["access"],
               errors=(401, 403))
    async def get(self) -> None:
        rights = await request_rights(self)
        if not rights.role.protection:
            raise AppError(403, "forbidden",
                           N_("Personal protection is for the Company head role and roles derived from it."))
        stored = self.current_user.get("protection") or {}
        self.reply(ProtectionIO(**{k: bool(stored.get(k)) for k in PROTECTION_KEYS}))

    @operation(N_("Change my personal protection settings"), request=ProtectionIO, response=ProtectionIO,
               tags=["access"], errors=(400, 401, 403, 422))
    async def put(self) -> None:
        body = self.body(ProtectionIO)
        svc = await self.service()
        self.reply(ProtectionIO(**await svc.set_protection(self.current_user, body.model_dump())))


# --- roles -----------------------------------------------------------------------------------------
@route("/api/v1/access/sections", access="user", section="access", level="view")
class SectionsApi(AccessApi):
    @operation(N_("Cabinet sections that rights are given for"), response=SectionsOut, tags=["access"],
               errors=(401, 403))
    async def get(self) -> None:
        self.reply(SectionsOut(
            sections=[{"key": s.key, "title": self._(s.title), "area": self._(s.area),
                       "description": self._(s.description) if s.description else "",
                       "max_level": s.max_level, "reach": s.reach} for s in SECTIONS],
            levels={k: self._(v) for k, v in LEVEL_TITLES.items()},
            reaches={k: self._(v) for k, v in REACH_TITLES.items()}))


@route("/api/v1/roles", access="tenant", section="access")
class RolesApi(AccessApi):
    @operation(N_("Base and custom roles of the PBX"), response=RoleList, tags=["access"], errors=(401, 403))
    async def get(self) -> None:
        svc = await self.service()
        counts = await svc.role_users()
        items = [self.role_out(r, users=counts.get(k, 0)) for k, r in BASE_ROLES.items()]
        for doc in await svc.custom_roles():
            items.append(self.role_out(role_from_doc(doc), doc, counts.get(doc["_id"], 0)))
        self.reply(RoleList(items=items, total=len(items)))

    @operation(N_("Create a custom role"), request=RoleIn, response=RoleOut, status=201, tags=["access"],
               errors=(400, 401, 403, 409, 422))
    async def post(self) -> None:
        body = self.body(RoleIn)
        svc = await self.service()
        doc = await svc.create_role(body.name, body.description, body.base, body.sections)
        self.reply(self.role_out(role_from_doc(doc), doc, 0), status=201)


@route("/api/v1/roles/{role_id}", access="tenant", section="access", params={"role_id": ROLE_ID})
class RoleApi(AccessApi):
    @operation(N_("One role with its rights"), response=RoleOut, tags=["access"], errors=(401, 403, 404),
               params=[Param("role_id", "path", description="Base role key or custom role id", required=True)])
    async def get(self, role_id: str) -> None:
        if role_id in BASE_ROLES:
            self.reply(self.role_out(BASE_ROLES[role_id]))
            return
        svc = await self.service()
        doc = await svc.role_doc(role_id)
        self.reply(self.role_out(role_from_doc(doc), doc))

    @operation(N_("Change a custom role"), request=RolePatch, response=RoleOut, tags=["access"],
               errors=(400, 401, 403, 404, 409, 422),
               params=[Param("role_id", "path", description="Custom role id", required=True)])
    async def patch(self, role_id: str) -> None:
        svc = await self.service()
        if role_id not in BASE_ROLES:
            await svc.role_doc(role_id)  # another PBX's id is not found, whatever the body
        body = self.body(RolePatch)
        doc = await svc.update_role(role_id, name=body.name, description=body.description,
                                    sections=body.sections)
        self.reply(self.role_out(role_from_doc(doc), doc))

    @operation(N_("Delete a custom role (its users become Employees)"), status=204, tags=["access"],
               errors=(401, 403, 404, 409),
               params=[Param("role_id", "path", description="Custom role id", required=True)])
    async def delete(self, role_id: str) -> None:
        svc = await self.service()
        await svc.delete_role(role_id)
        self.no_content()


@route("/api/v1/roles/{role_id}/copy", access="tenant", section="access", level="edit",
       params={"role_id": ROLE_ID})
class RoleCopyApi(AccessApi):
    @operation(N_("Copy a custom role (same base role and toggles, a new unique name)"), response=RoleOut,
               status=201, tags=["access"], errors=(401, 403, 404, 409, 422),
               params=[Param("role_id", "path", description="Custom role id", required=True)])
    async def post(self, role_id: str) -> None:
        svc = await self.service()
        doc = await svc.copy_role(role_id, self._(COPY_NAME))
        self.reply(self.role_out(role_from_doc(doc), doc, 0), status=201)


@route("/api/v1/access/admin-password-link", access="tenant", section="access", level="edit")
class AdminPasswordLinkApi(AccessApi):
    @operation(N_("E-mail the main (account) administrator a link to set a new password"),
               response=AdminLinkOut, status=202, tags=["access"], errors=(401, 403, 409, 429),
               description="The single-use 24-hour link goes to the account's registration e-mail; "
                           "at most once per 10 minutes per account.")
    async def post(self) -> None:
        from web.access.adminlink import send_admin_password_link

        masked = await send_admin_password_link(self, self.current_user["pbx_id"])
        self.reply(AdminLinkOut(sent_to=masked), status=202)


@route("/api/v1/access/settings", access="tenant", section="access")
class AccessSettingsApi(AccessApi):
    @operation(N_("Access settings of the PBX"), response=AccessSettingsIO, tags=["access"], errors=(401, 403))
    async def get(self) -> None:
        from storage.repos.roles import supervised_mode

        svc = await self.service()
        self.reply(AccessSettingsIO(supervised_mode=await supervised_mode(svc.db, svc.scope)))

    @operation(N_("Change the access settings of the PBX"), request=AccessSettingsIO, response=AccessSettingsIO,
               tags=["access"], errors=(400, 401, 403, 422))
    async def put(self) -> None:
        from storage.repos.audit import audit
        from storage.repos.roles import set_supervised_mode

        body = self.body(AccessSettingsIO)
        svc = await self.service()
        before, after = await set_supervised_mode(svc.db, svc.scope, body.supervised_mode)
        if before != after:
            await audit(svc.db, svc.scope, actor=svc.actor, section="access", operation="update",
                        object={"type": "access_settings", "id": svc.pbx_id, "name": None},
                        before={"supervised_mode": before}, after={"supervised_mode": after})
        self.reply(AccessSettingsIO(supervised_mode=after))


# --- users' roles ------------------------------------------------------------------------------------
@route("/api/v1/access/users", access="tenant", section="access")
class AccessUsersApi(AccessApi):
    @operation(N_("Users of the PBX with their roles"), response=AccessUserList, tags=["access"],
               errors=(401, 403))
    async def get(self) -> None:
        svc = await self.service()
        cache: dict = {}
        items = [await self.user_out(svc, u, cache) for u in await svc.list_users()]
        self.reply(AccessUserList(items=items, total=len(items)))

    async def user_out(self, svc: AccessService, u: dict, cache: dict | None = None) -> AccessUserOut:
        return AccessUserOut(id=u["_id"], login=u["login"], display_name=u.get("display_name") or u["login"],
                             role=u.get("role") or FALLBACK_ROLE,
                             role_name=await self.role_name(svc, u.get("role"), cache),
                             supervised_groups=[str(g) for g in u.get("supervised_groups") or []],
                             protected_role=bool((u.get("protection") or {}).get("role")))


@route("/api/v1/access/users/{user_id}", access="tenant", section="access", params={"user_id": USER_ID})
class AccessUserApi(AccessUsersApi):
    @operation(N_("One user's role"), response=AccessUserOut, tags=["access"], errors=(401, 403, 404),
               params=[Param("user_id", "path", description="User id", required=True)])
    async def get(self, user_id: str) -> None:
        svc = await self.service()
        self.reply(await self.user_out(svc, await svc.user_doc(user_id)))

    @operation(N_("Change a user's role or supervised groups"), request=AccessUserPatch, response=AccessUserOut,
               tags=["access"], errors=(400, 401, 403, 404, 422),
               params=[Param("user_id", "path", description="User id", required=True)])
    async def patch(self, user_id: str) -> None:
        svc = await self.service()
        await svc.user_doc(user_id)
        body = self.body(AccessUserPatch)
        doc = await svc.assign(user_id, role=body.role, supervised_groups=body.supervised_groups)
        self.reply(await self.user_out(svc, doc))


# --- API keys --------------------------------------------------------------------------------------
@route("/api/v1/api-keys", access="tenant", section="integrations")
class ApiKeysApi(AccessApi):
    @operation(N_("API keys of the PBX"), response=ApiKeyList, tags=["access"], errors=(401, 403))
    async def get(self) -> None:
        svc = await self.service()
        cache: dict = {}
        items = [self.key_out(d, await self.role_name(svc, d.get("role"), cache)) for d in await svc.list_keys()]
        self.reply({"items": items, "total": len(items)})

    @operation(N_("Create an API key (the secret is shown only in this answer)"), request=ApiKeyIn,
               response=ApiKeyCreated, status=201, tags=["access"], errors=(400, 401, 403, 409, 422))
    async def post(self) -> None:
        body = self.body(ApiKeyIn)
        svc = await self.service()
        doc, secret = await svc.create_key(body.name, body.role, body.whitelist)
        self.reply({**self.key_out(doc, await self.role_name(svc, doc["role"])), "secret": secret}, status=201)


@route("/api/v1/api-keys/{key_id}", access="tenant", section="integrations", params={"key_id": KEY_ID})
class ApiKeyApi(AccessApi):
    @operation(N_("One API key"), response=ApiKeyOut, tags=["access"], errors=(401, 403, 404),
               params=[Param("key_id", "path", description="Key id", required=True)])
    async def get(self, key_id: str) -> None:
        svc = await self.service()
        doc = await svc.key_doc(key_id)
        self.reply(self.key_out(doc, await self.role_name(svc, doc.get("role"))))

    @operation(N_("Change an API key's name, role or IP whitelist"), request=ApiKeyPatch, response=ApiKeyOut,
               tags=["access"], errors=(400, 401, 403, 404, 409, 422),
               params=[Param("key_id", "path", description="Key id", required=True)])
    async def patch(self, key_id: str) -> None:
        svc = await self.service()
        await svc.key_doc(key_id)
        body = self.body(ApiKeyPatch)
        doc = await svc.update_key(key_id, name=body.name, role=body.role, whitelist=body.whitelist)
        self.reply(self.key_out(doc, await self.role_name(svc, doc.get("role"))))

    @operation(N_("Revoke an API key"), status=204, tags=["access"], errors=(401, 403, 404),
               params=[Param("key_id", "path", description="Key id", required=True)])
    async def delete(self, key_id: str) -> None:
        svc = await self.service()
        await svc.revoke_key(key_id)
        self.no_content()


# --- action log ------------------------------------------------------------------------------------
LOG_PARAMS = (
    # documented as days (ISO, DATE_PATTERN); the server also takes ISO date-times, years 1970-9998
    Param("from", schema={"type": "string", "pattern": DATE_PATTERN},
          description="First day (YYYY-MM-DD, your time zone) or an ISO date-time"),
    Param("to", schema={"type": "string", "pattern": DATE_PATTERN},
          description="Last day, inclusive, or an ISO date-time (exclusive); not before from"),
    Param("q", description="Phrase to find in the name, login, IP, section, operation or object"),
    Param("login", description="Exactly this login (`101/anna`, `api:<key id>`)"),
    Param("ip", description="Exactly this IP address"),
    Param("section", description="Section key"),
    Param("operation", description="Operation key (create, update, delete, …)"),
    Param("actor", schema={"type": "string", "enum": ["user", "system", "api"]}, description="Kind of actor"),
    Param("pbx_id", schema={"type": "integer", "minimum": 1}, description="Operators: only this PBX"),
)


class LogApiBase(ApiHandler):
    def log_query(self) -> action_log.LogQuery:
        args = {k: self.get_query_argument(k, "") for k in ("from", "to", "q", "login", "ip", "section",
                                                              "operation", "actor")}
        try:
            query = action_log.build_query(args, self.tz())
        except action_log.LogQueryError as exc:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={exc.field: str(exc)}) from None
        if self.is_operator:
            query.pbx_id = self.int_arg("pbx_id", 0, minimum=0) or None
        return query


@route("/api/v1/action-log", access="user", section="action_log")
class ActionLogApi(LogApiBase):
    @operation(N_("The action log, newest first"), response=page_of(LogEntryOut), tags=["access"],
               params=[*PAGE_PARAMS, AFTER_PARAM, *LOG_PARAMS], extensions=period("from", "to"), errors=(400, 401, 403))
    async def get(self) -> None:
        query = self.log_query()
        page, per_page = self.pagination()
        after = self.after_arg(action_log.NEWEST_FIRST)
        res, total = await action_log.find_entries(self.ctx.store.db, self.scope(), query, page, per_page, after)
        tz = self.tz()
        entries = [action_log.entry_out(d, self._) for d in res.docs]
        items = [LogEntryOut(**e, changes=action_log.changes_text(e["before"], e["after"], self._, tz, self.lang,
                                                                  e["object"]["type"])
                             ).model_dump(mode="json") for e in entries]
        self.reply_page(items, page, per_page, total, res.older)


@route("/api/v1/action-log/export", access="user", section="action_log")
class ActionLogExportApi(LogApiBase):
    @operation(N_("Export the action log (CSV or XLSX)"), tags=["access"], errors=(400, 401, 403),
               media_types=("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
               params=[Param("format", schema={"type": "string", "enum": ["csv", "xlsx"], "default": "csv"},
                             description="File format"), *LOG_PARAMS], extensions=period("from", "to"),
               description="Every entry the filters select (at most 100 000), as a file download.")
    async def get(self) -> None:
        fmt = self.get_query_argument("format", "csv")
        if fmt not in ("csv", "xlsx"):
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={"format": N_("This value is not supported.")})
        query = self.log_query()
        try:
            docs = await action_log.export_entries(self.ctx.store.db, self.scope(), query)
        except action_log.LogQueryError as exc:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={exc.field: str(exc)}) from None
        tz = self.tz()
        # up to 100 000 rows: format them off the event loop
        rows = await asyncio.to_thread(action_log.export_rows, docs, self._, tz, self.lang)
        headers = [self._(h) for h in action_log.EXPORT_COLUMNS]
        if fmt == "csv":
            data = await asyncio.to_thread(action_log.to_csv, rows, headers)
            ctype = "text/csv; charset=UTF-8"
        else:
            data = await asyncio.to_thread(action_log.to_xlsx, rows, headers, self._("Action log"))
            ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        self.set_header("Content-Type", ctype)
        self.set_header("Content-Disposition", f'attachment; filename="action-log.{fmt}"')
        self.finish(data)
