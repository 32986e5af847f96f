"""Request and response bodies of the access API (validation and OpenAPI schemas)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from web.api_fields import WHITELIST_ENTRY_PATTERN
from web.api_models import KeyOut, Strict, UtcDatetime
from web.rights import ASSIGNABLE, LEVELS, REACHES, SECTIONS

Level = Literal["none", "view", "edit"]
Reach = Literal["own", "groups", "supervised", "all"]


class GrantIn(Strict):
    level: Level
    reach: Reach | None = Field(None, description="For sections with people's data; default: the base role's")


class GrantOut(BaseModel):
    level: Level
    reach: Reach


class SectionOut(BaseModel):
    key: str
    title: str = Field(description="In the user's language")
    area: str
    description: str
    max_level: Literal["view", "edit"]
    reach: bool = Field(description="Whether the level applies to own / groups / supervised / all data")


class RoleOut(BaseModel):
    id: str = Field(description="Base role key, or the custom role's id")
    name: str = Field(description="In the user's language for base roles")
    description: str
    custom: bool
    base: str
    cabinet: bool = Field(description="False: the role gives no cabinet access")
    sections: dict[str, GrantOut]
    users: int | None = Field(None, description="How many users of the PBX hold the role")
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class RoleList(BaseModel):
    items: list[RoleOut]
    total: int


def SECTION_NAMES(schema: dict) -> None:  # noqa: N802 (a json_schema_extra)
    """A role's ``sections`` as the rights table takes them: the known sections only, each up to
    its highest level (read-only sections: view), with a reach (documented; the service's checks
    answer with their own messages)."""
    schema.pop("additionalProperties", None)
    schema.update(type="object", additionalProperties=False, properties={
        s.key: {"type": "object", "additionalProperties": False, "required": ["level"], "properties": {
            "level": {"enum": list(LEVELS[:LEVELS.index(s.max_level) + 1])},
            "reach": {"anyOf": [{"enum": list(REACHES)}, {"type": "null"}]}}}
        for s in SECTIONS})


class RoleIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)
    base: Literal["employee", "senior_employee", "group_leader", "marketer", "accountant",
                  "company_head", "administrator"]
    sections: dict[str, GrantIn] = Field(default_factory=dict,
                                         description="Per-section toggles; sections left out keep the base role's",
                                         json_schema_extra=SECTION_NAMES)


class RolePatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)
    sections: dict[str, GrantIn] | None = Field(None, json_schema_extra=SECTION_NAMES)


class SectionsOut(BaseModel):
    sections: list[SectionOut]
    levels: dict[str, str] = Field(description="Level key → title in the user's language")
    reaches: dict[str, str] = Field(description="Reach key → title in the user's language")


class MyRights(BaseModel):
    role: str
    role_name: str
    custom: bool
    cabinet: bool
    full: bool = Field(description="Every section at its highest level")
    sections: dict[str, GrantOut]
    menu: list[str] = Field(description="Keys of the menu sections shown to the user")
    supervised_groups: list[str]
    protection: bool = Field(description="Whether personal protection settings are available")


class AccessUserOut(BaseModel):
    id: str
    login: str
    display_name: str
    role: str
    role_name: str
    supervised_groups: list[str]
    protected_role: bool = Field(description="The user forbade others to change their role")


class AccessUserList(BaseModel):
    items: list[AccessUserOut]
    total: int


class AccessUserPatch(Strict):
    role: str | None = Field(None, min_length=1, max_length=64)
    supervised_groups: list[str] | None = Field(None, max_length=500)


class AccessSettingsIO(Strict):
    supervised_mode: Literal["member", "all", "list"] = Field(
        description="Which groups a group leader supervises: the groups they belong to, all, or a list per user")


class ProtectionIO(Strict):
    recordings: bool = Field(False, description="Others may not listen to, download or send my recordings")
    recordings_api: bool = Field(False, description="My recordings are not sent to external systems by the API")
    passwords: bool = Field(False, description="Others may not see or change my SIP and cabinet passwords")
    role: bool = Field(False, description="Others may not change my role")


#: an API key's allow-list as documented (the service's check answers with its own messages)
WHITELIST = {"minItems": 1, "items": {"type": "string", "pattern": WHITELIST_ENTRY_PATTERN}}
#: roles an API key may have: a base role (not "no access") or a custom role's id
KEY_ROLE_PATTERN = f"^({'|'.join(r for r in ASSIGNABLE if r != 'no_access')}|[0-9a-f]{{24}})$"


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    # the patterns are documented only: the service's checks answer with their own messages
    role: str = Field(min_length=1, max_length=64, description="Base role key or custom role id (one that "
                      "names no role of the PBX: 409)", json_schema_extra={"pattern": KEY_ROLE_PATTERN})
    whitelist: list[str] = Field(max_length=100, description="IPv4 entries: `192.168.1.5`, "
                                 "`192.168.1.16-32`, `192.168.*`, `*` (one range or * per entry)",
                                 json_schema_extra=WHITELIST)


class ApiKeyPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    role: str | None = Field(None, min_length=1, max_length=64, json_schema_extra={"pattern": KEY_ROLE_PATTERN})
    whitelist: list[str] | None = Field(None, max_length=100, json_schema_extra=WHITELIST)


class ApiKeyOut(KeyOut):
    role: str
    role_name: str


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="Shown only now: send it as `Authorization: Bearer <secret>`")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    total: int


class LogActor(BaseModel):
    kind: Literal["user", "system", "api"]
    label: str = Field(description='The user\'s name, or "System" / "API" in the user\'s language')
    login: str | None
    ip: str | None


class LogObject(BaseModel):
    type: str | None
    id: str | None
    name: str | None


class LogEntryOut(BaseModel):
    id: str
    at: UtcDatetime
    pbx_id: int | None
    actor: LogActor
    section: str
    section_title: str
    operation: str
    operation_title: str
    object: LogObject
    before: dict | list | str | int | float | bool | None
    after: dict | list | str | int | float | bool | None
    changes: str = Field("", description="The change in words, as the cabinet shows it: field names in the "
                                         "user's language, old → new values, dates in the PBX's time zone")


class AdminLinkOut(BaseModel):
    sent_to: str = Field(description="The registration e-mail the link went to, masked (b***@r***.ru)")
