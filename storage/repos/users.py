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

Login kinds (:func:`parse_login`, :func:`find_login_candidates`):

- ``tenant``   — ``<pbx id>/<login>``: one PBX, exact;
- ``account``  — the account number (6–9 digits): the account administrator (``role:
  "account_admin"``, ``realm: "account"``, ``login_norm: "account:<number>"``; a tenant-kind user
  whose ``pbx_id`` is the account's current PBX);
- ``phone``    — a phone number (``+7 916 …``, ``8 916 …``): global lookup of ``phone_norm``;
- ``email``    — an e-mail: an operator whose login is exactly that, else a global lookup of
  ``email_norm``; an address whose domain is a PBX SIP domain is a ``sip`` login instead;
- ``sip``      — ``<sip login>@<sip domain>``: the ``sip_accounts`` record → its employee → the
  user linked to that employee (``employee_id``);
- ``operator`` — anything else: a platform operator's login.

The global lookups (e-mail, phone, SIP) skip users of PBXs that are blocked, archived or deleted,
and of PBXs whose ``login_methods`` switch that way of signing in off (PRODUCT.md §6, inventory
A §1.1). An e-mail or phone found in several employee cards is *ambiguous*: see
:func:`authenticate_login`.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from pult import clock
from pult.passwords import check_password, hash_password, verify_dummy, verify_password

from .base import Scope, ScopedRepo

KINDS = ("operator", "tenant")
LANGUAGES = ("ru", "en")
DEFAULT_TIMEZONE = "Europe/Moscow"

#: a cabinet login: 1-64 Latin letters, digits and . _ @ - starting with a letter or digit
LOGIN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
_LOGIN_RE = re.compile(LOGIN_PATTERN)
_EMAIL_RE = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")
_TENANT_LOGIN_RE = re.compile(r"^\s*(\d{1,12})\s*/\s*(\S+)\s*$")
_ACCOUNT_RE = re.compile(r"^\d{6,9}$")
_PHONE_SEPARATORS = re.compile(r"[\s()\-.]")
MAX_CANDIDATES = 5  # an ambiguous e-mail/phone costs at most this many hash checks


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
        IndexModel([("phone_norm", ASCENDING)], name="phone"),
        IndexModel([("pbx_id", ASCENDING), ("employee_id", ASCENDING)], name="employee"),
        IndexModel([("account_id", ASCENDING), ("role", ASCENDING)], name="account_role"),
    ]


@dataclass(frozen=True)
class LoginName:
    """A parsed login as typed on the login form."""

    kind: str          # operator | tenant | account | email | phone | sip (see the module doc)
    login: str         # the login part, as typed (normalised for phone and e-mail)
    pbx_id: int | None = None

    @property
    def norm(self) -> str:
        """A stable key for rate limiting and lookups (case-insensitive)."""
        if self.kind == "tenant":
            return f"{self.pbx_id}/{self.login.lower()}"
        if self.kind == "operator":
            return self.login.lower()
        return f"{self.kind}:{self.login.lower()}"


def normalize_phone(text: str) -> str | None:
    """``"8 (916) 123-45-67"`` → ``"+79161234567"``; None when it does not look like a phone.

    Russian numbers: ``8``/``7`` + 10 digits and bare 10-digit ``9xx…`` become ``+7…``; other
    international numbers must start with ``+`` (10–15 digits).
    """
    raw = _PHONE_SEPARATORS.sub("", text or "")
    if re.fullmatch(r"\+\d{10,15}", raw):
        return raw
    if re.fullmatch(r"[78]\d{10}", raw):
        return "+7" + raw[1:]
    if re.fullmatch(r"9\d{9}", raw):
        return "+7" + raw
    return None


def parse_login(text: str) -> LoginName:
    """Classify a login as typed (see the module docstring for the kinds).

    ``"101/anna"`` → tenant of PBX 101; ``"100001"`` → account number; ``"+7 916 123-45-67"`` →
    phone; ``"anna@example.com"`` → e-mail (possibly a SIP address, decided on lookup);
    ``"root"`` → operator. Raises :class:`UserError` for an empty value. Unknown shapes are not an
    error here: they simply match nobody, so the login form answers as for a wrong password.
    """
    text = (text or "").strip()
    if not text:
        raise UserError("login", "the login is empty")
    m = _TENANT_LOGIN_RE.match(text)
    if m:
        return LoginName("tenant", m.group(2), int(m.group(1)))
    if _ACCOUNT_RE.match(text):
        return LoginName("account", text)
    phone = normalize_phone(text)
    if phone and not _ACCOUNT_RE.match(text):
        return LoginName("phone", phone)
    if "@" in text and _EMAIL_RE.match(text):
        return LoginName("email", text.lower())
    return LoginName("operator", text)


def _db(store_or_db: Any):
    """The async database of a ``Store``, or the database itself (a database object answers any
    attribute with a collection, so ``getattr(db, "db")`` cannot tell them apart)."""
    return store_or_db.db if getattr(type(store_or_db), "is_store", False) else store_or_db


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
    now = clock.now()
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
    :class:`pult.passwords.PasswordPolicyError` (see its ``message(lang)``).
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


async def _usable_pbx(db, pbx_id: int | None, method: str, cache: dict) -> bool:
    """Whether users of ``pbx_id`` may sign in by ``method`` (email | phone | sip) in a global
    lookup: the PBX exists, is not blocked/archived/deleted, and allows the method."""
    if pbx_id is None:
        return False
    key = (pbx_id, method)
    if key not in cache:
        from .tenants import load_pbx_state, get_pbx

        pbx = await get_pbx(db, pbx_id)
        ok = pbx is not None and (pbx.get("login_methods") or {}).get(method, True)
        if ok:
            state = await load_pbx_state(db, pbx_id)
            ok = state is not None and not state.blocked
        cache[key] = bool(ok)
    return cache[key]


async def _sip_domain_pbx(db, domain: str) -> int | None:
    """The PBX that owns SIP domain ``domain`` (its own vpbx domain or an extra one), or None."""
    pbx = await db["pbxes"].find_one({"sip_domain": domain}, {"pbx_id": 1})
    if pbx:
        return pbx["pbx_id"]
    extra = await db["sip_domains"].find_one({"name": domain}, {"pbx_id": 1})
    return extra["pbx_id"] if extra else None


async def find_login_candidates(store, name: LoginName) -> list[dict]:
    """Every active user a parsed login could mean (usually 0 or 1; at most
    :data:`MAX_CANDIDATES` + 1, enough to tell "ambiguous")."""
    db = _db(store)
    platform = Users(db, Scope.platform())
    active = {"active": {"$ne": False}}
    if name.kind in ("tenant", "operator"):
        user = await find_by_login(store, name)
        return [user] if user and user.get("active", True) else []
    if name.kind == "account":
        user = await platform.find_one({"kind": "tenant", "login_norm": f"account:{int(name.login)}",
                                        **active})
        return [user] if user else []
    cache: dict = {}
    if name.kind == "email":
        op = await platform.find_one({"kind": "operator", "login_norm": name.login, **active})
        if op:
            return [op]
        local, _, domain = name.login.rpartition("@")
        sip_pbx = await _sip_domain_pbx(db, domain)
        if sip_pbx is not None:
            return await _sip_candidates(db, sip_pbx, local, domain, cache)
        found = await platform.find({"kind": "tenant", "email_norm": name.login, **active},
                                    limit=MAX_CANDIDATES + 1)
        method = "email"
    elif name.kind == "phone":
        found = await platform.find({"kind": "tenant", "phone_norm": name.login, **active},
                                    limit=MAX_CANDIDATES + 1)
        method = "phone"
    else:
        return []
    return [u for u in found if u.get("realm") != "account"
            and await _usable_pbx(db, u.get("pbx_id"), method, cache)]


async def _sip_candidates(db, pbx_id: int, login: str, domain: str, cache: dict) -> list[dict]:
    if not await _usable_pbx(db, pbx_id, "sip", cache):
        return []
    acc = await db["sip_accounts"].find_one({"pbx_id": pbx_id, "login": login,
                                             "login_allowed": {"$ne": False}})
    if not acc or not acc.get("employee_id"):
        return []
    user = await Users(db, Scope.pbx(pbx_id)).find_one({"kind": "tenant", "employee_id": acc["employee_id"],
                                                        "active": {"$ne": False}})
    return [user] if user else []


@dataclass
class LoginResult:
    """What :func:`authenticate_login` found: the user (or None), whether the identifier was
    ambiguous (several users share it and the password fits more than one — only then is this
    said, so an unknown identifier and a wrong password stay indistinguishable), and the parsed
    login (None for an empty one)."""

    user: dict | None
    ambiguous: bool = False
    name: LoginName | None = None


async def authenticate_login(store, login_text: str, password: str) -> LoginResult:
    """Check a login of any kind and a password.

    One argon2 verification for an unknown, malformed or single login (a dummy one when nobody
    matches). For an e-mail or phone found in several cards, each candidate's hash is checked (at
    most :data:`MAX_CANDIDATES`): exactly one match signs that user in; several matches are
    ``ambiguous`` (the person must sign in by phone / ``<pbx>/<login>`` instead).
    """
    password = password or ""
    try:
        name = parse_login(login_text)
        candidates = await find_login_candidates(store, name)
    except (UserError, ValueError):
        name, candidates = None, []
    candidates = [u for u in candidates if u.get("password_hash")]
    if not candidates:
        await asyncio.to_thread(verify_dummy, password)
        return LoginResult(None, False, name)
    matched = []
    for user in candidates[:MAX_CANDIDATES]:
        if await asyncio.to_thread(verify_password, user.get("password_hash"), password):
            matched.append(user)
    if len(matched) == 1:
        return LoginResult(matched[0], False, name)
    return LoginResult(None, len(matched) > 1, name)


async def create_account_admin(store, account_id: int, email: str | None, *, pbx_id: int | None = None,
                               display_name: str | None = None, language: str = "ru") -> dict:
    """The account administrator of ``account_id``: signs in with the account number, has no
    password until one is set through the single-use link (``web.auth.recovery``)."""
    _check_language(language)
    email = _check_email(email, required=False)
    now = clock.now()
    doc = {
        "_id": str(ObjectId()), "kind": "tenant", "realm": "account", "role": "account_admin",
        "pbx_id": pbx_id, "account_id": account_id, "login": str(account_id),
        "login_norm": f"account:{account_id}", "email": email,
        "email_norm": email.lower() if email else None,
        "display_name": (display_name or "").strip() or str(account_id), "language": language,
        "timezone": DEFAULT_TIMEZONE, "active": True, "password_hash": None, "session_version": 1,
        "password_changed_at": None, "created_at": now, "updated_at": now,
    }
    try:
        await Users(_db(store), Scope.platform()).insert_one(doc)
    except DuplicateKeyError:
        raise UserExists("account_id", f"account {account_id} already has an administrator") from None
    return doc


async def get_account_admin(store, account_id: int) -> dict | None:
    return await Users(_db(store), Scope.platform()).find_one(
        {"kind": "tenant", "login_norm": f"account:{account_id}"})


async def set_current_pbx(store, user_id: str, pbx_id: int | None) -> None:
    """Point an account administrator at one of the account's PBXs (the cabinet's scope)."""
    await Users(_db(store), Scope.platform()).update_one(
        {"_id": user_id, "realm": "account"}, {"$set": {"pbx_id": pbx_id, "updated_at": clock.now()}})


async def set_contacts(store, user_id: str, *, email: str | None = None, phone: str | None = None) -> dict:
    """Set the e-mail and phone a user may sign in with (the employee card's values; the
    employees service calls this when a card changes). Empty values clear them."""
    email = _check_email(email, required=False)
    phone_norm = None
    if phone:
        phone_norm = normalize_phone(phone)
        if phone_norm is None:
            raise UserError("phone", f"invalid phone number {phone!r}: expected e.g. +7 916 123-45-67")
    doc = await Users(_db(store), Scope.platform()).find_one_and_update(
        {"_id": user_id},
        {"$set": {"email": email, "email_norm": email.lower() if email else None,
                  "phone": phone or None, "phone_norm": phone_norm, "updated_at": clock.now()}},
        return_document=ReturnDocument.AFTER)
    if doc is None:
        raise UserError("user", f"no user with id {user_id!r}")
    return doc


async def link_employee(store, user_id: str, employee_id: str | None) -> None:
    """Link a cabinet user to its employee card (SIP-account logins find the user this way)."""
    await Users(_db(store), Scope.platform()).update_one(
        {"_id": user_id}, {"$set": {"employee_id": employee_id, "updated_at": clock.now()}})


def employee_contacts(employee: dict) -> tuple[str | None, str | None]:
    """The e-mail and phone an employee card gives its cabinet user to sign in with: the card's
    e-mail, and the first phone contact method that is a phone number (short numbers and SIP
    URIs are not). Values the login lookup cannot use are left out (None)."""
    email = (employee.get("email") or "").strip() or None
    if email and (not _EMAIL_RE.match(email) or len(email) > 254):
        email = None
    phone = None
    for method in employee.get("contact_methods") or ():
        if method.get("kind") == "phone" and normalize_phone(str(method.get("value") or "")):
            phone = str(method["value"])
            break
    return email, phone


async def sync_employee_logins(store, pbx_id: int, employee: dict) -> int:
    """Copy an employee card's e-mail and phone (:func:`employee_contacts`) to the cabinet users
    linked to it (``employee_id``), so they sign in by the card's current e-mail and phone; the
    telephony employees service calls this after every create and update. Returns how many users
    were updated."""
    employee_id = employee.get("_id") or employee.get("id")
    if not employee_id:
        return 0
    email, phone = employee_contacts(employee)
    users = await Users(_db(store), Scope.pbx(pbx_id)).find({"kind": "tenant", "employee_id": employee_id},
                                                            projection={"_id": 1})
    for user in users:
        await set_contacts(store, user["_id"], email=email, phone=phone)
    return len(users)


async def unlink_employee(store, pbx_id: int, employee_id: str) -> int:
    """Detach the cabinet users of a deleted employee card (they keep their ``<pbx>/<login>``;
    SIP-account logins stop finding them). Returns how many users were detached."""
    return await Users(_db(store), Scope.pbx(pbx_id)).update_many(
        {"kind": "tenant", "employee_id": employee_id},
        {"$set": {"employee_id": None, "updated_at": clock.now()}})


def check_new_login(login: str) -> str:
    """Validate a cabinet login typed for a new PBX user (raises :class:`UserError`)."""
    return _check_login(login)


async def create_employee_login(store, pbx_id: int, login: str, employee: dict, *, role: str,
                                language: str = "ru", account_id: int | None = None) -> dict:
    """A cabinet user for an employee card, created *without a password*: the person sets one
    through the e-mailed single-use link or a code sent to the card's e-mail/phone
    (``web.auth.recovery``); until then no login of theirs works. Linked to the card
    (``employee_id``) with the card's e-mail and phone as login contacts. Raises
    :class:`UserError` (bad login/language) or :class:`UserExists`."""
    _check_login(login)
    _check_language(language)
    email, phone = employee_contacts(employee)
    now = clock.now()
    doc = {
        "_id": str(ObjectId()), "kind": "tenant", "pbx_id": pbx_id, "account_id": account_id,
        "login": login, "login_norm": login.lower(), "email": email,
        "email_norm": email.lower() if email else None, "phone": phone,
        "phone_norm": normalize_phone(phone) if phone else None,
        "display_name": (employee.get("name") or "").strip() or login, "language": language,
        "timezone": DEFAULT_TIMEZONE, "role": role, "active": True, "password_hash": None,
        "session_version": 1, "password_changed_at": None, "created_at": now, "updated_at": now,
        "employee_id": employee.get("_id") or employee.get("id"),
    }
    try:
        await Users(_db(store), Scope.pbx(pbx_id)).insert_one(doc)
    except DuplicateKeyError:
        raise UserExists("login", f"a user with login {login!r} already exists in PBX {pbx_id}") from None
    return doc


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
    return (await authenticate_login(store, login_text, password)).user


async def set_password(store, user_id: str, new_password: str) -> dict:
    """Set a new password (policy-checked) and bump ``session_version``; returns the new document.

    Every session made before this call stops working (the caller also deletes them from Redis).
    """
    check_password(new_password)
    pw_hash = await asyncio.to_thread(hash_password, new_password)
    now = clock.now()
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
        {"_id": user_id}, {"$set": {"language": language, "updated_at": clock.now()}})


def public_user(doc: dict) -> dict:
    """The user as shown to the user (never the hash)."""
    return {
        "id": doc["_id"], "kind": doc["kind"], "login": doc["login"], "pbx_id": doc.get("pbx_id"),
        "account_id": doc.get("account_id"), "email": doc.get("email"),
        "display_name": doc.get("display_name") or doc["login"], "language": doc.get("language") or "ru",
        "timezone": doc.get("timezone") or DEFAULT_TIMEZONE, "role": doc.get("role"),
        "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
    }
