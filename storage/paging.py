"""Keyset pagination: "the page after this record" instead of "skip N records".

A list ordered by ``[(field, d), (tie_breaker, d)]`` (the tie-breaker unique, e.g. ``uuid`` or
``_id``) pages with a cursor that names the last record shown. The next page is the records
strictly after it in that order, so a page costs what it shows at any depth (the store walks its
index from the cursor, see ``storage.ordered_index``; MongoDB does the same with the matching
compound index), and records added while someone pages never make a record appear twice or be
skipped.

Pages a person clicks through (the cabinet's "older" / "newer" links) use :func:`keyset_page`:
``after`` gives the page after a record, ``before`` the page before one (walked in the reverse
order, then turned round), and each page says whether there is an older and a newer one.

Cursors are opaque to clients: URL-safe base64 of the BSON of the two values. A cursor that does
not decode to two values of the allowed types is refused with :class:`BadCursor`.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable

import bson
from bson import ObjectId
from bson.errors import BSONError

_ALLOWED = (datetime, str, int, float, ObjectId)
_NEXT = {1: "$gt", -1: "$lt"}
_FROM = {1: "$gte", -1: "$lte"}


class BadCursor(ValueError):
    """The ``after`` cursor is not one this server issued."""


def encode_cursor(doc: dict, sort: list[tuple[str, int]]) -> str | None:
    """The cursor naming ``doc`` as the last record shown (None if it lacks a sort value)."""
    return encode_values([_value(doc, f) for f, _ in sort])


def encode_values(values: list[Any]) -> str | None:
    """The cursor of a record whose sort values are ``values``."""
    if any(v is None or not isinstance(v, _ALLOWED) for v in values):
        return None
    raw = bson.encode({"v": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def next_cursor(docs: list[dict], per_page: int, sort: list[tuple[str, int]]) -> str | None:
    """The ``next`` cursor of a full page (None: this was the last page)."""
    return encode_cursor(docs[-1], sort) if docs and len(docs) == per_page else None


def decode_cursor(token: str, sort: list[tuple[str, int]]) -> list[Any]:
    if not isinstance(token, str) or not token or len(token) > 400:
        raise BadCursor("not a cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = bson.decode(raw, codec_options=bson.CodecOptions(tz_aware=True))["v"]
    except (binascii.Error, BSONError, KeyError, ValueError, TypeError, IndexError):
        raise BadCursor("not a cursor") from None
    if not isinstance(values, list) or len(values) != len(sort) or \
            any(isinstance(v, bool) or not isinstance(v, _ALLOWED) for v in values):
        raise BadCursor("not a cursor")
    return values


def after_filter(flt: dict, sort: list[tuple[str, int]], values: list[Any]) -> dict:
    """``flt`` narrowed to the records after the one whose sort values are ``values``.

    The first sort field gets an inclusive bound at the top level (where an index plan reads its
    range); the strict "after" condition, and any condition ``flt`` already had on that field,
    go into ``$and``."""
    (f1, d), (f2, d2) = sort
    if d != d2:
        raise ValueError("keyset pagination needs one direction for both sort fields")
    v1, v2 = values
    out = {k: v for k, v in flt.items() if k not in (f1, "$and")}
    clauses = list(flt.get("$and") or ())
    bound: dict = {_FROM[d]: v1}
    if f1 in flt:
        clauses.append({f1: flt[f1]})
        if isinstance(flt[f1], dict):  # keep the other side of an existing range at the top level
            bound.update({k: v for k, v in flt[f1].items() if k in ("$gt", "$gte") and d < 0
                          or k in ("$lt", "$lte") and d > 0})
    clauses.append({"$or": [{f1: {_NEXT[d]: v1}}, {f1: v1, f2: {_NEXT[d]: v2}}]})
    out[f1] = bound
    out["$and"] = clauses
    return out


def _value(doc: dict, path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


@dataclass
class KeysetPage:
    """One page of a list a person pages through: its records, and the cursors of the older
    (``after=``) and newer (``before=``) pages — None when there is no such page."""

    docs: list[dict]
    older: str | None
    newer: str | None


Find = Callable[..., Awaitable[list[dict]]]


async def list_page(find: Find, flt: dict, sort: list[tuple[str, int]], per_page: int, page: int = 1,
                    after: list | None = None, before: list | None = None, newer: bool = True) -> KeysetPage:
    """:func:`keyset_page`, or with neither cursor and ``page`` > 1 the API's page by number (an
    offset: it costs what it skips; ``older`` is then the cursor that continues by keyset)."""
    if after is None and before is None and page > 1:
        docs = await find(flt, sort=sort, skip=(page - 1) * per_page, limit=per_page)
        return KeysetPage(docs, next_cursor(docs, per_page, sort), None)
    return await keyset_page(find, flt, sort, per_page, after, before, newer)


async def keyset_page(find: Find, flt: dict, sort: list[tuple[str, int]], per_page: int,
                      after: list | None = None, before: list | None = None, newer: bool = True) -> KeysetPage:
    """The page of ``find(flt, sort=sort)`` after the record whose sort values are ``after``,
    or before the one of ``before`` (the first page when neither, or when fewer than a page
    of records come before ``before``: the top of the list is always a full page).
    ``newer=False``: a page after ``after`` leaves its ``newer`` cursor None instead of asking the
    store whether any record precedes it (a second query after the page's: a list that offers
    no «Newer» link, such as the API, does not pay for it).

    ``find(filter, sort=..., limit=...)`` is a repository's ``find``. Each bound walks the index
    from the cursor, so any page costs what it shows (plus one record to know whether more
    follow, and one to know whether any precede)."""
    rev = [(f, -d) for f, d in sort]
    if before is not None:
        docs = await find(after_filter(flt, rev, before), sort=rev, limit=per_page + 1)
        if len(docs) > per_page:
            docs = docs[:per_page][::-1]
            older = await _beyond(find, flt, sort, docs[-1])
            return KeysetPage(docs, older, encode_cursor(docs[0], sort))
        after = None  # the top of the list
    bounded = after_filter(flt, sort, after) if after is not None else flt
    docs = await find(bounded, sort=sort, limit=per_page + 1)
    older = encode_cursor(docs[per_page - 1], sort) if len(docs) > per_page else None
    docs = docs[:per_page]
    wants_newer, newer = newer, None
    if after is not None and wants_newer:
        if docs:
            newer = await _beyond(find, flt, rev, docs[0])
        else:  # past the end (records removed meanwhile): back to what came before the cursor
            newer = encode_values(list(after))
    return KeysetPage(docs, older, newer)


async def _beyond(find: Find, flt: dict, order: list[tuple[str, int]], doc: dict) -> str | None:
    """The cursor of ``doc`` if any record follows it in ``order`` (None: it is the last)."""
    values = [_value(doc, f) for f, _ in order]
    if any(v is None for v in values):
        return None
    more = await find(after_filter(flt, order, values), sort=order, limit=1)
    return encode_cursor(doc, order) if more else None
