"""What every telephony area shares: errors, field cleaners, the service base, extension claims.

Conventions of every service (``esl_control/model/<area>/services.py``):

- built with ``(db, pbx_id, actor)``; every repository it uses is ``Scope.pbx(pbx_id)``, so an id
  of another PBX is simply :class:`NotFound`;
- input is a plain dict (the JSON body / form); ``schemas.py`` turns it into a clean document or
  raises :class:`RuleError` with ``field`` set (RU/EN text from the message tables);
- everything is validated (shape, then existence of what it refers to) BEFORE the first write;
- one document per write; where two documents change, the order is chosen so a crash in between
  leaves a consistent state (each service says how);
- deleting something that is referenced raises :class:`InUse` listing the referrers;
- each change writes an action-log entry with before/after (``storage.repos.audit``);
- create / update / delete are one lifecycle in :class:`esl_control.model.service.TenantService`
  (clean → check against the PBX → write → audit → after); an area states only what differs, in
  the hooks ``_clean``, ``_check``, ``_write``, ``_check_delete``, ``_remove`` and ``_after``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, ClassVar, Iterable, Mapping

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from esl_control.model import messages as _messages  # noqa: F401  (registers the message codes)
from esl_control.model.messages import type_name
from esl_control.model.names import logged_name
from esl_control.routing.directions import check_extension_not_emergency
from esl_control.routing.errors import RuleError
from pult.clock import now  # noqa: F401  (the services' clock: one process clock, pult/clock.py)
from pult.i18n import translate
from storage.repos.audit import audit, normalize_actor
from storage.repos.base import Scope
from storage.repos.telephony import (ConferenceRooms, Employees, Extensions, RingGroups)

SYSTEM_ACTOR = {"kind": "system", "login": None, "ip": None}
NAME_MAX = 100
TEXT_MAX = 255
# The extension bounds (PRODUCT.md §3), the one statement of them: an extension has 1 to 5 digits;
# a menu that lets callers dial an extension waits for at least EXTENSION_MIN_DIGITS..EXTENSION_MAX_DIGITS
# digits and at most DIAL_LONGEST_MIN..EXTENSION_MAX_DIGITS.
EXTENSION_MIN_DIGITS = 1
EXTENSION_MAX_DIGITS = 5
DIAL_LONGEST_MIN = 3
LAST_EXTENSION = 10 ** EXTENSION_MAX_DIGITS - 1
_EXTENSION = re.compile(rf"\d{{{EXTENSION_MIN_DIGITS},{EXTENSION_MAX_DIGITS}}}", re.ASCII)
EMAIL_PATTERN = r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+"
_EMAIL = re.compile(EMAIL_PATTERN)
ID_MAX = 64


# --- errors -------------------------------------------------------------------------------------
class NotFound(LookupError):
    """No such object in this PBX (another tenant's object is not found either)."""

    code = "not_found"

    def __init__(self, type: str, id: Any):
        self.type = type
        self.id = id
        super().__init__(f"{type} {id!r} not found")


@dataclass(frozen=True)
class Reference:
    """One referrer: ``type``/``id``/``name`` of the object that refers, and where (``field``)."""

    type: str
    id: str
    name: str
    field: str = ""

    def as_dict(self) -> dict:
        return {"type": self.type, "id": self.id, "name": self.name, "field": self.field}


_LISTING_CODES = ("ref.in_use", "extension.in_use")


class InUse(RuleError):
    """Deleting (or releasing) an object that others refer to; ``references`` lists them.

    The default code ``ref.in_use`` (and any code in :data:`_LISTING_CODES`) renders the referrers
    in the message language ("group 'Sales', scheme 'Day'"); a rule with its own message
    (``daygroup.in_use``) passes its code and params.
    ``to_dict`` adds ``references`` as data for the API.
    """

    def __init__(self, name: str, references: Iterable[Reference], *, code: str = "ref.in_use",
                 **params: Any):
        self.references = list(references)
        if code in _LISTING_CODES:
            params["references"] = self._text("en")
        super().__init__(code, name=name, **params)

    def _text(self, lang: str) -> str:
        parts = []
        for r in self.references:
            label = type_name(r.type, lang)
            name = logged_name(r.type, r.name, partial(translate, lang))  # a seeded name in ``lang``
            parts.append(f"{label} «{name}»" if lang == "ru" else f"{label} '{name}'")
        return ", ".join(dict.fromkeys(parts))

    def message(self, lang: str = "en") -> str:
        if self.code in _LISTING_CODES:
            self.params["references"] = self._text(lang)
        return super().message(lang)

    def to_dict(self, lang: str = "en") -> dict:
        out = super().to_dict(lang)
        out["references"] = [r.as_dict() for r in self.references]
        return out


# --- small helpers ------------------------------------------------------------------------------
def new_id() -> str:
    return str(ObjectId())


def norm_name(name: str) -> str:
    """Case- and space-insensitive key for name uniqueness."""
    return " ".join(name.split()).casefold()


def field_error(fn: Callable, value: Any, field: str, *args, **kw):
    """Run a rule function, attributing its RuleError to ``field``."""
    try:
        return fn(value, *args, **kw)
    except RuleError as exc:
        raise exc.for_field(field)


def clean_name(value: Any, field: str = "name", max_len: int = NAME_MAX) -> str:
    text = " ".join(str(value or "").split()) if isinstance(value, (str, int)) else ""
    if not text:
        raise RuleError("name.required", field=field)
    if len(text) > max_len:
        raise RuleError("value.too_long", field=field, max=max_len)
    return text


def clean_text(value: Any, field: str, max_len: int = TEXT_MAX) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleError("value.required", field=field)
    text = value.strip()
    if len(text) > max_len:
        raise RuleError("value.too_long", field=field, max=max_len)
    return text


def clean_bool(value: Any, field: str, default: bool | None = None) -> bool:
    if value is None and default is not None:
        return default
    if isinstance(value, bool):
        return value
    raise RuleError("value.bool", field=field)


def clean_int(value: Any, field: str, lo: int, hi: int, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool):
        raise RuleError("value.range", field=field, min=lo, max=hi)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():  # JSON's 765.0 is the integer 765
        value = int(value)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise RuleError("value.range", field=field, min=lo, max=hi)
    return value


def clean_choice(value: Any, field: str, choices: Iterable[str], default: str | None = None) -> str:
    choices = tuple(choices)
    if value is None and default is not None:
        return default
    if value not in choices:
        raise RuleError("value.choice", field=field, value=value, allowed=", ".join(choices))
    return value


def clean_id(value: Any, field: str, *, optional: bool = False) -> str | None:
    if value in (None, "") and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > ID_MAX:
        raise RuleError("value.required", field=field)
    return value.strip()


def clean_list(value: Any, field: str, *, optional: bool = True) -> list:
    if value is None and optional:
        return []
    if not isinstance(value, (list, tuple)):
        raise RuleError("value.list", field=field)
    return list(value)


def clean_mapping(value: Any, field: str, *, optional: bool = True) -> Mapping:
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise RuleError("value.object", field=field)
    return value


def clean_emails(value: Any, field: str) -> list[str]:
    """A list of e-mails, or one string separated by ``;`` or ``,`` (seed 000 uses ``;``)."""
    if value is None:
        return []
    items = re.split(r"[;,]", value) if isinstance(value, str) else clean_list(value, field)
    out = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not _EMAIL.fullmatch(text) or len(text) > 254:
            raise RuleError("value.email", field=field, value=text)
        if text.lower() not in (o.lower() for o in out):
            out.append(text)
    return out


def clean_sound(value: Any, field: str) -> str | None:
    """An optional sound file id (a built-in or one of the PBX's uploads; existence is checked
    with the other references)."""
    return clean_id(value, field, optional=True)


def dial_lengths_ok(shortest: int, longest: int) -> bool:
    """Whether a menu's "dial an extension" lengths are within the extension bounds."""
    return (EXTENSION_MIN_DIGITS <= shortest <= EXTENSION_MAX_DIGITS
            and DIAL_LONGEST_MIN <= longest <= EXTENSION_MAX_DIGITS and shortest <= longest)


def extension_format_error(field: str | None = "extension") -> RuleError:
    """"Extension must be 1 to 5 digits", the bounds named by the constants above."""
    return RuleError("extension.format", field=field, min=EXTENSION_MIN_DIGITS, max=EXTENSION_MAX_DIGITS)


def clean_extension(value: Any, field: str = "extension") -> str:
    """PRODUCT.md §3: EXTENSION_MIN_DIGITS to EXTENSION_MAX_DIGITS digits; an emergency number
    (112, 01 …) is refused."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not _EXTENSION.fullmatch(text):
        raise extension_format_error(field)
    check_extension_not_emergency(text)
    return text


def public(doc: Mapping | None) -> dict | None:
    """A stored document as services return it: ``id`` instead of ``_id``, no internal keys."""
    if doc is None:
        return None
    out = {k: v for k, v in doc.items() if k not in ("_id", "name_norm") and not k.endswith("_enc")}
    out["id"] = doc["_id"]
    return out


# --- the extension namespace --------------------------------------------------------------------
OWNER_REPOS = {"employee": Employees, "group": RingGroups, "room": ConferenceRooms}


async def _claim_is_live(db, scope: Scope, claim: Mapping) -> dict | None:
    repo_cls = OWNER_REPOS.get(claim.get("owner_type"))
    if repo_cls is None:
        return None
    owner = await repo_cls(db, scope).find_one({"_id": claim.get("owner_id")})
    if owner is None or owner.get("extension") != claim.get("extension"):
        return None
    return owner


async def claim_extension(db, scope: Scope, extension: str, owner_type: str, owner_id: str) -> None:
    """Take ``extension`` for an owner, atomically (unique index on pbx_id + extension).

    Two concurrent creates with the same extension cannot both win: the second insert fails on
    the index. A claim left behind by a crash (its owner was never written, was deleted, or has
    another extension by now) is stale: it is removed and the claim retried once, so a crash
    never locks a number for good. A claim already held by this owner is kept.
    """
    repo = Extensions(db, scope)
    for _attempt in range(2):
        try:
            await repo.insert_one({"_id": new_id(), "extension": extension, "owner_type": owner_type,
                                   "owner_id": owner_id, "at": now()})
            return
        except DuplicateKeyError:
            claim = await repo.find_one({"extension": extension})
            if claim is None:
                continue
            if claim["owner_id"] == owner_id:
                return
            owner = await _claim_is_live(db, scope, claim)
            if owner is not None:
                raise RuleError("extension.taken", field="extension", extension=extension,
                                owner=owner.get("name") or extension) from None
            await repo.delete_one({"_id": claim["_id"], "owner_id": claim["owner_id"]})
    raise RuleError("extension.taken", field="extension", extension=extension, owner=extension)


async def release_extension(db, scope: Scope, extension: str | None, owner_id: str) -> None:
    if extension:
        await Extensions(db, scope).delete_one({"extension": extension, "owner_id": owner_id})


async def check_extension_free(db, scope: Scope, extension: str, owner_id: str | None = None) -> None:
    """Early, friendly check before other writes (the claim itself is the race-proof one)."""
    claim = await Extensions(db, scope).find_one({"extension": extension})
    if claim and claim["owner_id"] != owner_id:
        owner = await _claim_is_live(db, scope, claim)
        if owner is not None:
            raise RuleError("extension.taken", field="extension", extension=extension,
                            owner=owner.get("name") or extension)


async def next_free_extension(db, scope: Scope, start: int, stop: int = LAST_EXTENSION) -> str:
    """The lowest free extension in ``start..stop`` that is not an emergency number (101 …)."""
    taken = {c["extension"] for c in await Extensions(db, scope).find({}, projection={"extension": 1})}
    for n in range(start, stop + 1):
        if str(n) not in taken:
            try:
                check_extension_not_emergency(str(n))
            except RuleError:
                continue
            return str(n)
    raise RuleError("extension.none_free", field="extension", start=start)
