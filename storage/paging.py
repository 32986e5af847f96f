"""Keyset pagination: "the page after this record" instead of "skip N records".

A list ordered by ``[(field, d), (tie_breaker, d)]`` (the tie-breaker unique, e.g. ``uuid`` or
``_id``) pages with a cursor that names the last record shown. The next page is the records
strictly after it in that order, so a page costs what it shows at any depth (the store walks its
index from the cursor, see ``storage.ordered_index``; MongoDB does the same with the matching
compound index), and records added while someone pages never make a record appear twice or be
skipped.

Cursors are opaque to clients: URL-safe base64 of the BSON of the two values. A cursor that does
not decode to two values of the allowed types is refused with :class:`BadCursor`.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

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
    values = [_value(doc, f) for f, _ in sort]
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
