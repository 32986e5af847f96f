"""Cabinet users: the minimal identity the web foundation needs, shaped for roles and rights.

One ``users`` collection holds both kinds:

- ``operator`` — platform staff; ``pbx_id`` is None, they work in the platform scope;
- ``tenant``   — a user of one PBX (``pbx_id``, and the PBX's ``account_id`` when known); every
  read and write of a tenant user goes through a PBX-scoped :class:`Users` repository.

A document::

    {_id: str, kind, pbx_id, account_id, login, login_norm, email, email_norm, display_name,
     language: "ru"|"en", timezone, role, active: bool, password_hash (argon2id),
     session_version: int, password_changed_at, created_at, updated_at}

``session_version`` is bumped on every password change; sessions remember the version they were
made with and die when it no longer matches ("log out everywhere").

Passwords are never stored or logged in clear; hashing runs in a worker thread so the event loop
does not stall (argon2 is deliberately slow). Login names: operators log in with their login,
tenant users with ``<pbx id>/<login>`` (see :func:`parse_login`; e-mail, account number, phone and
SIP logins come with the access issue and extend that function).
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from web.auth.passwords import check_password, hash_password, verify_dummy, verify_password

from .base import Scope, ScopedRepo

KINDS = ("operator", "tenant")
LANGUAGES = ("ru", "en")
DEFAULT_TIMEZONE = "Europe/Moscow"

_LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")
_TENANT_LOGIN_RE = re.compile(r"^\s*(\d{1,12})\s*/\s*(\S+)\s*$")


class UserError(ValueError):
    """Bad input for a user (login, e-mail, language, kind); the message says which and why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class UserExists(UserError):
    """A user with this login already exists in the same scope."""


class Users(ScopedRepo):
    """Users of one PBX (``Scope.pbx``) or of the whole platform (``Scope.platform``)."""

    collection = "users"
    indexes = [
        IndexModel([("kind", ASCENDING), ("pbx_id", ASCENDING), ("login_norm", ASCENDING)],
                   unique=True, name="login_unique"),
        IndexModel([("email_norm", ASCENDING)], name="email"),
    ]


@dataclass(frozen=True)
class LoginName:
    """A parsed login as typed on the login form."""

    kind: str          # "operator" | "tenant"
    login: str         # the login part, as typed
    pbx_id: int | None = None

    @property
    def norm(self) -> str:
        """A stable key for rate limiting and lookups (case-insensitive)."""
        return f"{self.pbx_id}/{self.login.lower()}" if self.kind == "tenant" else self.login.lower()


def parse_login(text: str) -> LoginName:
    """``"101/anna"`` → a tenant login of PBX 101; ``"root"`` → an operator login.

    Raises :class:`UserError` for an empty value. Unknown shapes are not an error here: they
    simply match nobody, so the login form answers the same as for a wrong password.
    """
    text = (text or "").strip()
    if not text:
        raise UserError("login", "the login is empty")
    m = _TENANT_LOGIN_RE.match(text)
    if m:
        return LoginName("tenant", m.group(2), int(m.group(1)))
    return LoginName("operator", text)


def _db(store_or_db: Any):
    return getattr(store_or_db, "db", store_or_db)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_login(login: str) -> str:
    if not isinstance(login, str) or not _LOGIN_RE.match(login):
        raise UserError("login", f"invalid login {login!r}: use 1-64 Latin letters, digits and . _ @ - "
                                 "(starting with a letter or digit)")
    return login


def _check_email(email: str | None, required: bool) -> str | None:
    if email is None or email == "":
        if required:
            raise UserError("email", "an e-mail address is required")
        return None
    email = email.strip()
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise UserError("email", f"invalid e-mail address {email!r}")
    return email


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise UserError("language", f"unsupported language {language!r}: expected 'ru' or 'en'")
    return language


async def _create(store, scope: Scope, kind: str, login: str, password: str, email: str | None,
                  display_name: str | None, language: str, extra: dict) -> dict:
    _check_login(login)
    email = _check_email(email, required=(kind == "operator"))
    _check_language(language)
    check_password(password)  # PasswordPolicyError with RU/EN messages
    now = _now()
    doc = {
        "_id": str(ObjectId()), "kind": kind, "pbx_id": scope.value if kind == "tenant" else None,
        "login": login, "login_norm": login.lower(), "email": email,
        "email_norm": email.lower() if email else None,
        "display_name": (display_name or "").strip() or login, "language": language,
        "timezone": DEFAULT_TIMEZONE, "active": True,
        "password_hash": await asyncio.to_thread(hash_password, password),
        "session_version": 1, "password_changed_at": now, "created_at": now, "updated_at": now,
        **extra,
    }
    try:
        await Users(_db(store), scope).insert_one(doc)
    except DuplicateKeyError:
        where = f"PBX {scope.value}" if kind == "tenant" else "the platform"
        raise UserExists("login", f"a user with login {login!r} already exists in {where}") from None
    return doc


async def create_operator_admin(store, login: str, password: str, email: str, *,
                                display_name: str | None = None, language: str = "ru") -> dict:
    """Create a platform operator (role ``admin``); returns the stored document.

    Raises :class:`UserError` (bad login/e-mail/language), :class:`UserExists`, or
    :class:`web.auth.passwords.PasswordPolicyError` (see its ``message(lang)``).
    """
    return await _create(store, Scope.platform(), "operator", login, password, email, display_name,
                         language, {"role": "admin", "account_id": None})


async def create_tenant_user(store, pbx_id: int, login: str, password: str, email: str | None = None,
                             *, display_name: str | None = None, language: str = "ru",
                             account_id: int | None = None, role: str = "administrator") -> dict:
    """Create a user of PBX ``pbx_id`` who logs in as ``<pbx_id>/<login>``; returns the document.

    ``role`` is one of the base roles of PRODUCT.md §1 (the access issue enforces it); the
    default is the PBX administrator. Raises like :func:`create_operator_admin`, plus
    :class:`storage.repos.base.ScopeError` for a bad ``pbx_id``.
    """
    if account_id is not None and (isinstance(account_id, bool) or not isinstance(account_id, int)
                                   or account_id <= 0):
        raise UserError("account_id", f"invalid account id {account_id!r}")
    return await _create(store, Scope.pbx(pbx_id), "tenant", login, password, email, display_name,
                         language, {"role": role, "account_id": account_id})


async def find_by_login(store, name: LoginName) -> dict | None:
    """The user a parsed login names, or None."""
    if name.kind == "tenant":
        repo = Users(_db(store), Scope.pbx(name.pbx_id))
        return await repo.find_one({"kind": "tenant", "login_norm": name.login.lower()})
    repo = Users(_db(store), Scope.platform())
    return await repo.find_one({"kind": "operator", "login_norm": name.login.lower()})


async def get_user(store, user_id: str) -> dict | None:
    """A user by id in the platform scope (sessions are resolved this way)."""
    if not isinstance(user_id, str) or not user_id:
        return None
    return await Users(_db(store), Scope.platform()).find_one({"_id": user_id})


async def authenticate(store, login_text: str, password: str) -> dict | None:
    """The active user whose login and password match, else None.

    Takes the time of one argon2 verification in every case (unknown login, inactive user,
    malformed login, wrong or right password), so neither the answer nor its timing tells
    whether a login exists.
    """
    try:
        name = parse_login(login_text)
        user = await find_by_login(store, name)
    except (UserError, ValueError):
        user = None
    if user is None or not user.get("active", True):
        await asyncio.to_thread(verify_dummy, password or "")
        return None
    ok = await asyncio.to_thread(verify_password, user.get("password_hash"), password or "")
    return user if ok else None


async def set_password(store, user_id: str, new_password: str) -> dict:
    """Set a new password (policy-checked) and bump ``session_version``; returns the new document.

    Every session made before this call stops working (the caller also deletes them from Redis).
    """
    check_password(new_password)
    pw_hash = await asyncio.to_thread(hash_password, new_password)
    now = _now()
    doc = await Users(_db(store), Scope.platform()).find_one_and_update(
        {"_id": user_id},
        {"$set": {"password_hash": pw_hash, "password_changed_at": now, "updated_at": now},
         "$inc": {"session_version": 1}},
        return_document=ReturnDocument.AFTER)
    if doc is None:
        raise UserError("user", f"no user with id {user_id!r}")
    return doc


async def set_language(store, user_id: str, language: str) -> None:
    """Remember the user's cabinet language."""
    _check_language(language)
    await Users(_db(store), Scope.platform()).update_one(
        {"_id": user_id}, {"$set": {"language": language, "updated_at": _now()}})


def public_user(doc: dict) -> dict:
    """The user as shown to the user (never the hash)."""
    return {
        "id": doc["_id"], "kind": doc["kind"], "login": doc["login"], "pbx_id": doc.get("pbx_id"),
        "account_id": doc.get("account_id"), "email": doc.get("email"),
        "display_name": doc.get("display_name") or doc["login"], "language": doc.get("language", "ru"),
        "timezone": doc.get("timezone", DEFAULT_TIMEZONE), "role": doc.get("role"),
        "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
    }
