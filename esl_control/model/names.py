"""The names of the objects Pult itself creates, in the reader's language.

Seeded objects keep a stable key and the name they were stored with (seed 000's default group is
``default: true`` named «По умолчанию»); the cabinet shows them through an English message id
translated by :mod:`pult.i18n` (``pult/locale/ru_RU.csv``) as long as the stored name is still the
seeded one (a conference room created without a name is «Комната конференции N»,
:data:`esl_control.model.conferences.schemas.DEFAULT_NAME`). A tenant who renamed the object sees its name as typed, in every language.
(Built-in sound files: :func:`jobs.builtin_media.sound_name`.)
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from pult.i18n import N_

#: the name seed 000's default group is stored with, and its message id
DEFAULT_GROUP_NAME = "По умолчанию"
DEFAULT_GROUP_TITLE = N_("Default")


def _seeded_group(doc: Mapping[str, Any]) -> bool:
    return bool(doc.get("default")) and doc.get("name") == DEFAULT_GROUP_NAME


def group_name(doc: Mapping[str, Any] | None, translate: Callable[[str], str]) -> str:
    """A group's name for a reader whose language ``translate`` speaks."""
    if not doc:
        return ""
    if _seeded_group(doc):
        return translate(DEFAULT_GROUP_TITLE)
    return str(doc.get("name") or "")


def typed_group_name(doc: Mapping[str, Any] | None, typed: str, translate: Callable[[str], str]) -> str:
    """The name to store when a form that showed :func:`group_name` comes back with ``typed``: the
    seeded name unchanged (so the form saved in English does not rename the group to English),
    anything else as typed."""
    if doc and _seeded_group(doc) and typed.strip() in (translate(DEFAULT_GROUP_TITLE), DEFAULT_GROUP_TITLE):
        return DEFAULT_GROUP_NAME
    return typed



#: a conference room's default name, as stored and as shown
ROOM_TITLE = N_("Conference room %(n)s")
_ROOM_DEFAULT = re.compile(r"Комната конференции (\d+)")


def room_name(doc: Mapping[str, Any] | None, translate: Callable[..., str]) -> str:
    """A conference room's name for a reader: the default «Комната конференции N» as the reader's
    "Conference room N", a name the tenant gave as typed."""
    name = str((doc or {}).get("name") or "")
    m = _ROOM_DEFAULT.fullmatch(name)
    return translate(ROOM_TITLE) % {"n": m.group(1)} if m else name


def typed_room_name(doc: Mapping[str, Any] | None, typed: str, translate: Callable[..., str]) -> str:
    """The name to store when a room's form that showed :func:`room_name` comes back with ``typed``."""
    if doc and typed.strip() and typed.strip() == room_name(doc, translate):
        return str(doc.get("name"))
    return typed


def logged_name(kind: str | None, name: Any, translate: Callable[..., str]) -> Any:
    """A name the action log recorded for an object of ``kind`` (``group``, ``room``), as the
    reader's cabinet names it now: the seeded names in the reader's language, others as logged."""
    if not isinstance(name, str):
        return name
    if kind == "group" and name == DEFAULT_GROUP_NAME:
        return translate(DEFAULT_GROUP_TITLE)
    if kind == "room":
        return room_name({"name": name}, translate)
    return name
