"""Pydantic models of the API's bodies: they validate what comes in, shape what goes out, and
are the schemas of the OpenAPI document (so the document cannot drift from the code)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from pult.passwords import PASSWORD_PATTERN
from web.formats import iso


def _to_datetime(value):
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


UtcDatetime = Annotated[
    datetime, BeforeValidator(_to_datetime), PlainSerializer(iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time",
                    "description": "ISO 8601, UTC, with offset"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")  # patterns may look ahead


# --- users and sessions --------------------------------------------------------------------------
class KeyOut(BaseModel):
    """What a tenant's API key and a platform integration key both show (never the secret)."""

    id: str
    name: str
    whitelist: list[str]
    prefix: str = Field(description="The start of the secret, to recognise the key")
    created_at: UtcDatetime | None
    created_by: str | None
    last_used_at: UtcDatetime | None
    last_ip: str | None
    revoked_at: UtcDatetime | None
    active: bool


class UserOut(BaseModel):
    id: str
    kind: Literal["operator", "tenant"]
    login: str
    pbx_id: int | None
    account_id: int | None
    email: str | None
    display_name: str
    language: Literal["ru", "en"]
    timezone: str
    role: str | None
    created_at: UtcDatetime | None
    updated_at: UtcDatetime | None


class SessionOut(BaseModel):
    id: str = Field(description="Public session id (not the cookie value)")
    created: UtcDatetime
    last_seen: UtcDatetime
    expires: UtcDatetime
    ip: str
    user_agent: str
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]
    total: int


class LoginIn(Strict):
    login: str = Field(min_length=1, max_length=200,
                       description="Operator login, or `<pbx id>/<login>` for a PBX user")
    password: str = Field(min_length=1, max_length=256)


class SessionState(BaseModel):
    authenticated: bool
    user: UserOut | None
    session: SessionOut | None
    xsrf_token: str = Field(description="Send it back in the X-XSRFToken header on POST/PATCH/DELETE")


class MePatch(Strict):
    language: Literal["ru", "en"]


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256, json_schema_extra={"pattern": PASSWORD_PATTERN})


class PasswordChanged(BaseModel):
    revoked_sessions: int = Field(description="How many other sessions were ended")


# --- FreeSWITCH nodes ----------------------------------------------------------------------------
class NodeOut(BaseModel):
    name: str
    host: str | None
    port: int | None
    state: str = Field(description="connecting | up | down | auth_failed")
    state_label: str = Field(description="The state in the user's language")
    error: str | None
    since: UtcDatetime | None
    reconnects: int | None
    calls: int | None


class NodeList(BaseModel):
    configured: bool = Field(description="False when this server runs without ESL control")
    items: list[NodeOut]
    total: int


# --- call history --------------------------------------------------------------------------------
class CallLegOut(BaseModel):
    uuid: str
    target: str | None = Field(description="Who was rung, as the call engine names it "
                                           "(employee:<id>/<method>, external:<number>, trunk:<id>, …)")
    callee: str | None = Field(description="The number or address dialled on this leg")
    start: UtcDatetime | None
    answer: UtcDatetime | None
    end: UtcDatetime | None
    duration: int | None = Field(description="Seconds from ringing to the end of the leg")
    billsec: int | None = Field(description="Seconds of conversation on this leg (0: not answered)")
    result: str | None = Field(description="The leg's hangup cause (NO_ANSWER, USER_BUSY, NORMAL_CLEARING, …)")
    ringing: int | None = Field(None, description="Seconds the leg rang (to its answer, or to its end)")
    outcome: Literal["answered", "no_answer", "busy", "cancelled", "lost", "failed"] | None = Field(
        None, description="What happened to the leg: answered, no_answer, busy, cancelled (another leg answered "
                          "or the caller hung up first), lost (its node went away), failed")


class CallOut(BaseModel):
    uuid: str
    pbx_id: int | None
    start: UtcDatetime | None
    end: UtcDatetime | None
    caller: str | None
    callee: str | None
    direction: str | None
    duration: int | None = Field(description="Seconds from start to end")
    billsec: int | None = Field(description="Seconds of conversation")
    result: str | None = Field(description="answered | missed | failed | busy | …, or the hangup cause")
    node: str | None
    cost: int | None = Field(None, description="Kopecks charged for the call; null until it is rated")
    legs: list[CallLegOut] = Field(default_factory=list,
                                   description="The legs the call rang, in the order they ended (one record per call)")


class CallStagesOut(BaseModel):
    menu: int | None = Field(description="Seconds with the PBX before anything rang (greeting, menu), or the whole "
                                         "answered call when nothing rang (voice mail, fax)")
    ringing: int | None = Field(description="Seconds from the first leg rung to the answer (or to the last leg's end)")
    talk: int | None = Field(description="Seconds of conversation on the leg(s) that answered")


class CallDetailOut(CallOut):
    hangup_cause: str | None = Field(None, description="The hangup cause of the caller's channel")
    ended_by: Literal["caller", "far_end", "pult"] | None = Field(
        None, description="Who ended the call: the caller, the other side (the leg that answered), or the PBX; "
                          "null when the record cannot tell")
    stages: CallStagesOut
    path: list[dict] = Field(default_factory=list,
                             description="The call engine's decision path, step by step (as the dry run's "
                                         "path; each entry's t: seconds since the call reached the PBX)")
