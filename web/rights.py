"""The rights model (PRODUCT.md §6, inventory B §0, D §4.6.3.3): cabinet sections × access levels.

A right is a section of the cabinet and a level: ``none`` < ``view`` < ``edit``. Some sections
only have ``view`` (reports, the action log). Sections whose data belongs to people also carry a
*reach* — whose data the level applies to: ``own`` (the user's own calls), ``groups`` (every
employee of the groups the user is a member of), ``supervised`` (the groups the user leads) or
``all``.

Who has what:

- a **base role** (:data:`BASE_ROLES`) has fixed defaults (inventory B §0; Company head: all but
  Security & restrictions and Access settings; Administrator and the account administrator: all);
- a **custom role** is derived from a base role and toggles the level (and reach) per section; it
  is stored per PBX (``storage.repos.roles``) and resolved into a :class:`RoleDef` by
  :func:`role_from_doc`;
- an **operator** (platform staff) has every right.

:func:`rights_for` turns a user into :class:`Rights`; handlers ask ``rights.can("employees",
"edit")``; menu sections carry ``right="calls.view"`` strings checked by :func:`has_right`.
A user whose role is unknown (a deleted custom role) falls back to Employee — what the manual
does when custom roles are removed (D §4.6.3.3).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from pult.i18n import N_

LEVELS = ("none", "view", "edit")
_RANK = {lvl: i for i, lvl in enumerate(LEVELS)}
REACHES = ("own", "groups", "supervised", "all")

LEVEL_TITLES = {"none": N_("No access"), "view": N_("View"), "edit": N_("View and change")}
REACH_TITLES = {"own": N_("Own only"), "groups": N_("Groups the user is a member of"),
                "supervised": N_("Supervised groups"), "all": N_("Everyone")}


@dataclass(frozen=True)
class RightsSection:
    """A section of the cabinet that rights are given for (the left column of the roles editor)."""

    key: str
    title: str                   # English message id
    area: str                    # English message id of the editor's grouping
    max_level: str = "edit"      # "view" for read-only sections (reports, the log)
    reach: bool = False          # whether the level applies to own / groups / supervised / all data
    description: str = ""        # English message id: what the section contains


_TEL = N_("Telephony")
_STAFF = N_("Staff")
_ANALYSIS = N_("History and analysis")
_SETTINGS = N_("PBX settings")
_ACCOUNT = N_("Account")
_SECURITY = N_("Security and restrictions")

#: Every cabinet section, in menu order (pages that come later register under these keys).
SECTIONS: tuple[RightsSection, ...] = (
    RightsSection("dashboard", N_("Home page"), _STAFF, "view",
                  description=N_("The home page with the user's widgets")),
    RightsSection("address_book", N_("Address book"), _STAFF, "view",
                  description=N_("Employees and counterparties, their numbers")),
    RightsSection("employees", N_("Employees"), _STAFF, reach=True,
                  description=N_("Employee cards, contact methods, SIP accounts, logins")),
    RightsSection("groups", N_("Groups"), _STAFF, reach=True,
                  description=N_("Call groups, their members and call distribution")),
    RightsSection("numbers", N_("Numbers"), _TEL, description=N_("Numbers connected to the PBX")),
    RightsSection("call_handling", N_("Call handling"), _TEL,
                  description=N_("Schemes, waiting settings, forwarding by client number, black and white lists")),
    RightsSection("messages", N_("Voice mail and faxes"), _TEL, reach=True,
                  description=N_("Voice messages, faxes, sending a fax")),
    RightsSection("conferences", N_("Conferences"), _TEL, description=N_("Conference rooms and their limits")),
    RightsSection("sounds", N_("Audio files"), _TEL, description=N_("Melodies and voice prompts")),
    RightsSection("calls", N_("Call history"), _ANALYSIS, "view", reach=True,
                  description=N_("All, missed and failed calls")),
    RightsSection("recordings", N_("Call recordings"), _ANALYSIS, reach=True,
                  description=N_("Recorded calls, favourites, recording rules and settings")),
    RightsSection("statistics", N_("Statistics and monitoring"), _ANALYSIS, "view",
                  description=N_("Work efficiency, load by hour, service indicators")),
    RightsSection("analytics", N_("Analytics"), _ANALYSIS, "view",
                  description=N_("Advertising efficiency and the analytics widget")),
    RightsSection("calltracking", N_("Call tracking and site widgets"), _ANALYSIS,
                  description=N_("Call tracking, callback and chat widgets")),
    RightsSection("sip", N_("SIP settings"), _SETTINGS, description=N_("SIP domains and accounts, SIP security")),
    RightsSection("trunks", N_("SIP trunks"), _SETTINGS, description=N_("Trunks to the company's own PBX")),
    RightsSection("pbx_settings", N_("Additional settings"), _SETTINGS,
                  description=N_("Voice mail, fax, cloud storage, SMS sender")),
    RightsSection("integrations", N_("Integrations and API"), _SETTINGS,
                  description=N_("API keys, webhooks, LDAP")),
    RightsSection("services", N_("Service management"), _ACCOUNT,
                  description=N_("Connected services and the PBX edition")),
    RightsSection("finance", N_("Finance"), _ACCOUNT,
                  description=N_("Documents, expenses, payments, balance and top-up, requisites")),
    RightsSection("restrictions", N_("Security settings"), _SECURITY,
                  description=N_("Allowed call directions, tone commands, main administrator password")),
    RightsSection("action_log", N_("Action log"), _SECURITY, "view",
                  description=N_("Who changed what, when and from where")),
    RightsSection("access", N_("Access settings"), _SECURITY,
                  description=N_("Roles, rights and users' roles")),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
SECTIONS_BY_KEY = {s.key: s for s in SECTIONS}
#: sections a Company head does not get (PRODUCT.md §6)
TECHNICAL_SECTIONS = ("restrictions", "action_log", "access")


class RightsError(ValueError):
    """A bad section, level or reach; ``field`` names the input and the message says why."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Grant:
    """The level (and reach, for people's data) a role has in one section."""

    level: str = "none"
    reach: str = "all"


@dataclass(frozen=True)
class RoleDef:
    """A role resolved to its grants: a base role, or a custom role over its base."""

    key: str                         # base role key, or the custom role's id
    title: str                       # message id (base) or the custom role's name
    base: str                        # base role key (itself for base roles)
    grants: Mapping[str, Grant]
    cabinet: bool = True             # False: no cabinet access at all (No access)
    custom: bool = False
    description: str = ""

    def grant(self, section: str) -> Grant:
        return self.grants.get(section, Grant())

    @property
    def protection(self) -> bool:
        """Whether holders get the personal protection settings (Company head and derived)."""
        return self.base == "company_head"

    @property
    def supervises(self) -> bool:
        """Whether the role works with supervised groups (a reach of ``supervised`` somewhere)."""
        return any(g.reach == "supervised" and g.level != "none" for g in self.grants.values())


def _grants(levels: Mapping[str, str | tuple[str, str]]) -> dict[str, Grant]:
    out = {}
    for key in SECTION_KEYS:
        value = levels.get(key, "none")
        level, reach = value if isinstance(value, tuple) else (value, "all")
        out[key] = Grant(level, reach if SECTIONS_BY_KEY[key].reach else "all")
    return out


def _all(level: str = "edit", exclude: Iterable[str] = ()) -> dict[str, str]:
    return {s.key: min(level, s.max_level, key=_RANK.__getitem__) for s in SECTIONS if s.key not in exclude}


_EMPLOYEE = {"dashboard": "view", "address_book": "view", "calls": ("view", "own"),
             "recordings": ("view", "own"), "messages": ("edit", "own")}

#: key → (title, description, levels, cabinet)
_BASE_SPECS: dict[str, tuple[str, str, dict, bool]] = {
    "no_access": (N_("No access"), N_("The cabinet is closed; the login and password are kept but do nothing."),
                  {}, False),
    "employee": (N_("Employee"), N_("Address book, own call history and own recordings."), _EMPLOYEE, True),
    "senior_employee": (N_("Senior employee"),
                        N_("Employee rights, plus the calls and recordings of every group the user is a member of."),
                        {**_EMPLOYEE, "calls": ("view", "groups"), "recordings": ("view", "groups")}, True),
    "group_leader": (N_("Group leader"),
                     N_("Calls and recordings of the supervised groups; changes their members, call distribution and the phones of their employees."),
                     {"dashboard": "view", "address_book": "view", "calls": ("view", "supervised"),
                      "recordings": ("view", "supervised"), "groups": ("edit", "supervised"),
                      "employees": ("edit", "supervised"), "messages": ("edit", "own")}, True),
    "marketer": (N_("Marketer"),
                 N_("Employee rights, plus call tracking and site widgets, analytics, statistics and all recordings."),
                 {**_EMPLOYEE, "calltracking": "edit", "analytics": "view", "statistics": "view",
                  "calls": ("view", "all"), "recordings": ("view", "all")}, True),
    "accountant": (N_("Accountant"), N_("Employee rights, plus finance: documents, balance, top-up."),
                   {**_EMPLOYEE, "finance": "edit"}, True),
    "company_head": (N_("Company head"),
                     N_("Everything except security settings, the action log and access settings."),
                     _all("edit", exclude=TECHNICAL_SECTIONS), True),
    "administrator": (N_("Administrator"), N_("Full access to everything."), _all("edit"), True),
    "account_admin": (N_("Account administrator"),
                      N_("The owner of the account: full access to everything."), _all("edit"), True),
}

BASE_ROLES: dict[str, RoleDef] = {
    key: RoleDef(key, title, key, _grants(levels), cabinet, description=desc)
    for key, (title, desc, levels, cabinet) in _BASE_SPECS.items()
}
#: base roles a custom role may start from (not "No access" — nothing to toggle — nor the owner)
DERIVABLE = ("employee", "senior_employee", "group_leader", "marketer", "accountant", "company_head",
             "administrator")
#: base roles an administrator may give to a user (the account administrator is the owner's own)
ASSIGNABLE = ("no_access", *DERIVABLE)
FALLBACK_ROLE = "employee"


def check_level(section: str, level: str, field: str | None = None) -> None:
    """Raise :class:`RightsError` unless ``level`` is valid for ``section``."""
    field = field or f"sections.{section}.level"
    if section not in SECTIONS_BY_KEY:
        raise RightsError(field, N_("Unknown section."))
    if level not in LEVELS:
        raise RightsError(field, N_("The level must be none, view or edit."))
    if _RANK[level] > _RANK[SECTIONS_BY_KEY[section].max_level]:
        raise RightsError(field, N_("This section can only be viewed."))


def normalize_sections(raw: Mapping[str, Mapping], base: str) -> dict[str, dict]:
    """Validate a custom role's per-section toggles and fill the sections not given from the base.

    ``raw``: ``{section: {"level": ..., "reach": ...}}``; returns the full table, every section
    present. Raises :class:`RightsError` naming the first bad entry.
    """
    if base not in DERIVABLE:
        raise RightsError("base", N_("Choose one of the base roles."))
    base_role = BASE_ROLES[base]
    out: dict[str, dict] = {}
    for key, entry in (raw or {}).items():
        if key not in SECTIONS_BY_KEY:
            raise RightsError(f"sections.{key}", N_("Unknown section."))
        if not isinstance(entry, Mapping):
            raise RightsError(f"sections.{key}", N_("This value is not valid."))
        level = entry.get("level", "none")
        check_level(key, level)
        sect = SECTIONS_BY_KEY[key]
        reach = entry.get("reach") or base_role.grant(key).reach
        if reach not in REACHES:
            raise RightsError(f"sections.{key}.reach", N_("The reach must be own, groups, supervised or all."))
        out[key] = {"level": level, "reach": reach if sect.reach else "all"}
    for key in SECTION_KEYS:
        if key not in out:
            g = base_role.grant(key)
            out[key] = {"level": g.level, "reach": g.reach}
    return out


def role_from_doc(doc: Mapping) -> RoleDef:
    """A stored custom role (``storage.repos.roles``) as a :class:`RoleDef`.

    Sections missing from the document (added to Pult after the role was saved) take the base
    role's default, so a new section is never silently opened or closed to a custom role.
    """
    base = BASE_ROLES.get(doc.get("base"), BASE_ROLES[FALLBACK_ROLE])
    stored = doc.get("sections") or {}
    grants = {}
    for key in SECTION_KEYS:
        entry = stored.get(key)
        if isinstance(entry, Mapping) and entry.get("level") in LEVELS:
            level = min(entry["level"], SECTIONS_BY_KEY[key].max_level, key=_RANK.__getitem__)
            reach = entry.get("reach") if entry.get("reach") in REACHES else base.grant(key).reach
            grants[key] = Grant(level, reach if SECTIONS_BY_KEY[key].reach else "all")
        else:
            grants[key] = base.grant(key)
    return RoleDef(str(doc["_id"]), doc.get("name") or "", base.key, grants, base.cabinet, custom=True,
                   description=doc.get("description") or "")


@dataclass(frozen=True)
class Rights:
    """What one user may do: ``can(section, level)``, ``reach(section)``, and the role behind it."""

    role: RoleDef
    operator: bool = False
    supervised_groups: frozenset = field(default_factory=frozenset)

    def level(self, section: str) -> str:
        if self.operator:
            return SECTIONS_BY_KEY[section].max_level if section in SECTIONS_BY_KEY else "edit"
        return self.role.grant(section).level

    def can(self, section: str, level: str = "view") -> bool:
        """Whether the user has at least ``level`` in ``section`` (unknown sections: no)."""
        if level not in _RANK:
            raise ValueError(f"unknown access level {level!r}")
        if self.operator:
            return True
        if not self.role.cabinet or section not in SECTIONS_BY_KEY:
            return False
        return _RANK[self.role.grant(section).level] >= _RANK[level]

    def reach(self, section: str) -> str | None:
        """Whose data the user's level in ``section`` covers (None without access)."""
        if self.operator:
            return "all"
        if not self.can(section, "view"):
            return None
        return self.role.grant(section).reach

    @property
    def cabinet(self) -> bool:
        return self.operator or self.role.cabinet

    @property
    def full(self) -> bool:
        """Every section at its highest level (Administrator, account administrator, operator)."""
        return self.operator or (self.role.cabinet and all(
            self.role.grant(s.key).level == s.max_level for s in SECTIONS))

    def exceeding(self, other: RoleDef) -> list[str]:
        """Sections where ``other`` grants more than this user has (no privilege escalation): a
        higher level, or a wider reach (``all`` covers any reach, ``own`` is covered by any)."""
        if self.full:
            return []
        out = []
        for s in SECTIONS:
            theirs = other.grant(s.key)
            if _RANK[theirs.level] > _RANK[self.level(s.key)]:
                out.append(s.key)
            elif s.reach and theirs.level != "none":
                mine = self.role.grant(s.key).reach
                if not (mine == "all" or theirs.reach in (mine, "own")):
                    out.append(s.key)
        return out

    def covers(self, other: RoleDef) -> bool:
        """Whether every grant of ``other`` is within this user's own."""
        return not self.exceeding(other)

    def table(self) -> dict[str, dict]:
        """``{section: {"level", "reach"}}`` for every section (the API's view of the rights)."""
        return {s.key: {"level": self.level(s.key), "reach": self.reach(s.key) or "all"} for s in SECTIONS}


OPERATOR_RIGHTS = Rights(BASE_ROLES["administrator"], operator=True)


def parse_right(right: str) -> tuple[str, str]:
    """``"calls.view"`` → ``("calls", "view")``; a bare section means ``view``."""
    section, _, level = right.partition(".")
    return section, level or "view"


def rights_for(user: Mapping | None, custom_roles: Mapping[str, Mapping] | None = None,
               supervised_groups: Iterable = ()) -> Rights:
    """The rights of ``user``.

    ``custom_roles``: the PBX's custom role documents by id (only needed when the user's role is
    a custom one; :func:`web.access.service.load_rights` fetches it). An unknown role gives the
    fallback role (Employee); no user gives no rights at all.
    """
    if not user:
        return Rights(BASE_ROLES["no_access"])
    if user.get("kind") == "operator":
        return OPERATOR_RIGHTS
    key = user.get("role") or FALLBACK_ROLE
    if key in BASE_ROLES:
        role = BASE_ROLES[key]
    elif custom_roles and key in custom_roles:
        role = role_from_doc(custom_roles[key])
    else:
        role = BASE_ROLES[FALLBACK_ROLE]
    return Rights(role, supervised_groups=frozenset(supervised_groups))


NO_CABINET = N_("Your role has no access to the cabinet. Ask your administrator.")


def cabinet_closed(user: Mapping | None) -> bool:
    """Whether ``user``'s role shuts the cabinet (the base role "No access").

    Decided from the user document alone, without reading custom roles: a custom role always
    derives from a role that opens the cabinet (:data:`DERIVABLE`), so only the base role itself
    closes it. Login refuses such a user and an existing session of one ends on its next request.
    """
    if not user or user.get("kind") != "tenant":
        return False
    role = BASE_ROLES.get(user.get("role") or "")
    return role is not None and not role.cabinet


def has_right(rights: Rights):
    """A ``has_right(user, "calls.view")`` callback for :func:`web.sections.menu_for`."""
    def check(_user, right: str) -> bool:
        section, level = parse_right(right)
        return rights.can(section, level)
    return check


def role_title(role: RoleDef, translate) -> str:
    """The role's name in the user's language (custom role names are shown as typed)."""
    return role.title if role.custom else translate(role.title)


def check_route_right(where: str, section: str | None, level: str | None) -> None:
    """Fail at import time on a route or method declaring an unknown section or a bad level."""
    if section is not None and section not in SECTIONS_BY_KEY:
        raise ValueError(f"{where}: unknown rights section {section!r}; known: {', '.join(SECTION_KEYS)}")
    if level is not None:
        if level not in ("view", "edit"):
            raise ValueError(f"{where}: level must be 'view' or 'edit', got {level!r}")
        if section is not None and _RANK[level] > _RANK[SECTIONS_BY_KEY[section].max_level]:
            raise ValueError(f"{where}: section {section!r} has no {level!r} level")


def requires(level: str, section: str | None = None):
    """Method decorator: this method needs ``level`` (in ``section``, default: the route's).

        @route("/employees/{id}/export", access="tenant", section="employees")
        class ExportPage(PageHandler):
            @requires("view")
            async def post(self, id): ...   # a POST that changes nothing
    """
    check_route_right("requires()", section, level)

    def mark(fn):
        fn.__right__ = (section, level)
        return fn
    return mark
