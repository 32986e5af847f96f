"""The cabinet menu: a registry of sections that pages add themselves to.

    register_section(Section("calls", N_("Call history"), "/calls", order=40, audience="user",
                             right="calls.view"))

The menu a user sees is :func:`menu_for(user)`: sections whose ``audience`` matches the user's
kind and, once rights exist, whose ``right`` the user holds (``rights`` callback). ``title`` is an
English message id translated when the menu is rendered, so the registry is language-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pult.i18n import N_

AUDIENCES = ("user", "operator", "tenant")


@dataclass(frozen=True)
class Section:
    key: str
    title: str                 # English message id
    url: str
    order: int = 100
    audience: str = "user"     # user (everyone signed in) | operator | tenant
    right: str | None = None   # the right needed to see it (enforced by the access issue)
    icon: str = ""             # a short symbol shown before the title (decorative)

    def __post_init__(self):
        if self.audience not in AUDIENCES:
            raise ValueError(f"section {self.key}: audience must be one of {AUDIENCES}")


_SECTIONS: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    """Add (or replace, by key) a menu section."""
    _SECTIONS[section.key] = section
    return section


def all_sections() -> list[Section]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def menu_for(user: dict | None, has_right: Callable[[dict, str], bool] | None = None) -> list[Section]:
    """Sections visible to ``user`` (none for anonymous visitors)."""
    if not user:
        return []
    out = []
    for s in all_sections():
        if s.audience != "user" and s.audience != user.get("kind"):
            continue
        if s.right and has_right is not None and not has_right(user, s.right):
            continue
        out.append(s)
    return out


# the foundation's own sections; later issues register theirs from their page modules
register_section(Section("dashboard", N_("Dashboard"), "/", order=0, icon="◧"))
register_section(Section("calls", N_("Call history"), "/calls", order=40, right="calls.view", icon="☎"))
register_section(Section("nodes", N_("FreeSWITCH nodes"), "/nodes", order=900, audience="operator",
                         icon="⚙"))
register_section(Section("security", N_("Security"), "/account/security", order=1000, icon="◆"))
