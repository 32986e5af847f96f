"""Ordered indexes for the embedded store: equality + range + sort without a scan.

mongomock answers ``find(flt).sort(field).skip(n).limit(k)`` by filtering, deep-copying and
sorting every document of the collection. For each declared compound index — ``[("pbx_id", 1), ("start", -1), ("uuid", -1)]`` — the
embedded store keeps an :class:`OrderedIndex`, a sorted list (``sortedcontainers.SortedList``) of
one entry per document: the ``(type rank, value)`` pair of each key, then the ``_id``, like the
keys of a B-tree. A query whose filter has equalities on the leading keys, whose sort is the keys
that follow (all in one direction, optionally then ``_id``), and which may have a ``$gt``/``$gte``/
``$lt``/``$lte`` range on the first of them, walks only the entries inside those bounds, in order, checks each candidate with mongomock's own filter (so any further
condition, such as a reach ``$or``, is exact), and stops once ``skip + limit`` matched: a page
costs what it shows, not what the tenant's history holds. A count whose filter is nothing but the
index's equalities and range is answered by two bisections.

A partial index (``partialFilterExpression``, e.g. the answered calls: ``{"billsec": {"$gt": 0}}``)
holds the entries of the documents its filter matches only, and serves a query only when the
query states each of the filter's conditions as it is written (at the top level or in a top-level
``$and``; MongoDB also accepts a narrower condition: this store does not guess): those conditions
are then decided by the index, so "calls today that were answered" is counted by two bisections.

Values are ordered as MongoDB orders BSON types (null < numbers < strings < objects < binary <
ObjectId < booleans < dates); a range bound is bracketed by its type, as in MongoDB. Ties on the
index's keys are broken by ``_id``. An index meets a value it cannot order (an array or an
object in one of its fields) and marks itself unusable: queries then fall back to mongomock,
slower but exact. Datetimes are kept naive UTC inside the store (see ``storage.embedded``); bounds
are converted the same way.
"""
from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any, Iterable

from bson import ObjectId
from mongomock import helpers
from mongomock.filtering import filter_applies
from sortedcontainers import SortedList

_MISSING = object()
_RANGE_OPS = {"$gt", "$gte", "$lt", "$lte"}
_TOP = 99  # greater than every id rank: (r, v, _TOP) sorts after every entry of value v
_MAX_ALTERNATIVES = 64  # an $in on leading keys is walked as that many ranges, merged


class Unorderable(Exception):
    """A value an ordered index cannot place (array, object, unknown type)."""


def _get(doc: dict, path: str) -> Any:
    if "." not in path:
        cur = doc.get(path, _MISSING)
        if isinstance(cur, (list, dict)):
            raise Unorderable(path)
        return cur
    cur: Any = doc
    for part in path.split("."):
        if isinstance(cur, list):
            raise Unorderable(path)
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    if isinstance(cur, (list, dict)):
        raise Unorderable(path)
    return cur


def rank(v: Any) -> tuple:
    """``(type rank, value)`` ordered as MongoDB orders BSON values of these types."""
    t = type(v)
    if t is datetime and v.tzinfo is None and not v.microsecond % 1000:
        return (9, v)  # the store's own form (naive UTC, milliseconds): the common case
    if t is str:
        return (2, v)
    if t is int:
        return (1, v)
    if v is None or v is _MISSING:
        return (0, 0)
    if isinstance(v, bool):
        return (8, v)
    if isinstance(v, (int, float)):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    if isinstance(v, bytes):
        return (5, v)
    if isinstance(v, ObjectId):
        return (7, v)
    if isinstance(v, datetime):  # naive UTC with millisecond precision, as the store keeps them
        return (9, helpers.patch_datetime_awareness_in_document(v))
    raise Unorderable(type(v).__name__)


def _eq_key(v: Any) -> tuple:
    """The bucket key of one equality value (None and missing share a bucket, like in MongoDB)."""
    return rank(v)


# --- a fast matcher for the filters lists use ---------------------------------------------------
class _Complex(Exception):
    """The document holds an array or object on a filtered path: let mongomock decide."""


_COMPILED_OPS = {"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$exists", "$ne", "$nin"}


def _plain(doc: dict, path: str) -> Any:
    cur: Any = doc
    for part in path.split(".") if "." in path else (path,):
        if type(cur) is not dict:
            raise _Complex(path)
        cur = cur.get(part, _MISSING)
        if cur is _MISSING:
            return _MISSING
    if isinstance(cur, (list, dict)):
        raise _Complex(path)
    return cur


def _field_matcher(path: str, cond: Any):
    """A predicate for ``{path: cond}`` over scalar values, or None (not compiled)."""
    if isinstance(cond, dict):
        if not cond or not set(cond) <= _COMPILED_OPS:
            return None
        checks = []
        for op, arg in cond.items():
            if op in ("$in", "$nin"):
                if not isinstance(arg, (list, tuple)) or any(isinstance(x, (list, dict)) for x in arg):
                    return None
                try:
                    wanted = {rank(x) for x in arg}
                except (Unorderable, TypeError):
                    return None
                if op == "$in":
                    checks.append(lambda r, w=wanted: r in w)
                else:
                    checks.append(lambda r, w=wanted: r not in w)
            elif op in ("$eq", "$ne"):
                if isinstance(arg, (list, dict)):
                    return None
                try:
                    want = rank(arg)
                except Unorderable:
                    return None
                checks.append((lambda r, w=want: r == w) if op == "$eq" else (lambda r, w=want: r != w))
            elif op == "$exists":  # presence is read from the raw value, the rest as compiled
                return _exists_matcher(path, bool(arg), {k: v for k, v in cond.items() if k != "$exists"})
            else:
                try:
                    br, bv = rank(arg)
                except Unorderable:
                    return None
                if br == 0:
                    return None
                cmp = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
                       "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}[op]
                checks.append(lambda r, br=br, bv=bv, cmp=cmp: r[0] == br and cmp(r[1], bv))

        def match(doc, checks=checks):
            v = _plain(doc, path)
            r = (0, 0) if v is _MISSING else rank(v)
            return all(c(r) for c in checks)
        return match
    if isinstance(cond, (list,)) or hasattr(cond, "pattern"):
        return None  # array equality, regular expressions: mongomock
    try:
        want = rank(cond)
    except Unorderable:
        return None

    def eq(doc, want=want):
        v = _plain(doc, path)
        return (want == (0, 0)) if v is _MISSING else rank(v) == want
    return eq


def _exists_matcher(path: str, flag: bool, rest: dict):
    other = _field_matcher(path, rest) if rest else None
    if rest and other is None:
        return None

    def match(doc):
        present = _plain(doc, path) is not _MISSING
        return present == flag and (other is None or other(doc))
    return match


def compile_filter(flt: dict):
    """A fast predicate equivalent to mongomock's ``filter_applies(flt, doc)`` for documents whose
    filtered paths hold scalars (it raises :class:`_Complex` otherwise), or None when the filter
    uses something it does not compile."""
    preds = []
    for k, cond in flt.items():
        if k in ("$and", "$or"):
            if not isinstance(cond, (list, tuple)) or not cond:
                return None
            subs = [compile_filter(c) if isinstance(c, dict) else None for c in cond]
            if any(p is None for p in subs):
                return None
            preds.append((lambda d, s=subs: all(p(d) for p in s)) if k == "$and"
                         else (lambda d, s=subs: any(p(d) for p in s)))
        elif k.startswith("$"):
            return None
        else:
            p = _field_matcher(k, cond)
            if p is None:
                return None
            preds.append(p)
    return lambda d: all(p(d) for p in preds)


def matcher(flt: dict):
    """``doc -> bool``: the compiled predicate, falling back to mongomock per document."""
    fast = compile_filter(flt)
    if fast is None:
        return lambda doc: filter_applies(flt, doc)

    def match(doc):
        try:
            return fast(doc)
        except (_Complex, Unorderable, TypeError):
            return filter_applies(flt, doc)
    return match


def _same(a: Any, b: Any) -> bool:
    """``a == b`` with the types equal too, all the way down (``True`` is not ``1`` in a filter)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _member_check(partial: dict):
    """``doc -> bool``: whether a document belongs in a partial index (its filter, as
    :func:`matcher` decides it; built here so that a test counting the matcher's reads does not
    count the writes' membership checks)."""
    fast = compile_filter(partial)

    def member(doc):
        if fast is not None:
            try:
                return fast(doc)
            except (_Complex, Unorderable, TypeError):
                pass
        return filter_applies(partial, doc)
    return member


class OrderedIndex:
    """One declared index over a mongomock store: a sorted list of every document's keys (of the
    documents ``partial`` matches only, when given: a partial index)."""

    def __init__(self, store, name: str, keys: list[str], partial: dict | None = None):
        self.name = name
        self.keys = keys
        self.signature = self.signature_of(name, keys, partial)
        self.partial = helpers.patch_datetime_awareness_in_document(partial) if partial else None
        #: the fields the partial filter names: decided by the index whenever it serves a query
        self.partial_fields = frozenset(self.partial or ())
        self._member = _member_check(self.partial) if self.partial else None
        self.entries_list = SortedList()
        self.entry_of: dict = {}  # _id -> entry
        self.usable = True
        entries = []
        try:
            for _id, doc in store._documents.items():
                if self._member is not None and not self._member(doc):
                    continue
                entry = self._entry(_id, doc)
                entries.append(entry)
                self.entry_of[_id] = entry
        except Unorderable:
            self.usable = False
            self.entry_of.clear()
            return
        self.entries_list = SortedList(entries)  # one sort, not n insertions

    @staticmethod
    def signature_of(name: str, keys, partial: dict | None) -> tuple:
        """What identifies a declared index: an index with the same signature holds the same entries."""
        return name, tuple(keys), repr(partial)

    def _entry(self, _id, doc) -> tuple:
        parts: list = []
        for k in self.keys:
            parts.extend(rank(_get(doc, k)))
        parts.extend(rank(_id))
        return tuple(parts)

    def add(self, _id, doc) -> None:
        if not self.usable or (self._member is not None and not self._member(doc)):
            return
        try:
            entry = self._entry(_id, doc)
        except Unorderable:
            self.usable = False  # never guess: every query of this index goes to mongomock
            self.entries_list.clear()
            self.entry_of.clear()
            return
        self.entries_list.add(entry)
        self.entry_of[_id] = entry

    def remove(self, _id) -> None:
        entry = self.entry_of.pop(_id, None)
        if entry is not None:
            self.entries_list.discard(entry)

    def refresh(self, _id, doc) -> None:
        self.remove(_id)
        if doc is not None:
            self.add(_id, doc)

    # --- planning
    def serves(self, view: dict) -> bool:
        """Whether every document ``view`` (a :func:`planning_view`) may match is in the index:
        always for a full index; for a partial one, when the query states each condition of the
        partial filter exactly as the filter does."""
        if self.partial is None:
            return True
        return all(not k.startswith("$") and k in view and _same(view[k], cond) for k, cond in self.partial.items())

    def decided(self, n_eq: int) -> set:
        """The fields every entry between the bounds of a walk with ``n_eq`` equalities meets
        (given exact bounds on the key after them): those keys and the partial filter's fields."""
        return set(self.keys[:n_eq + 1]) | self.partial_fields

    def equality_prefix(self, flt: dict) -> list[list]:
        """The leading keys the filter fixes with an equality (or a short ``$in``): a list of
        alternatives, each a list of their ``(rank, value)`` parts (``[[]]``: none fixed)."""
        alts: list[list] = [[]]
        for k in self.keys:
            if k not in flt:
                break
            cond = flt[k]
            values = None
            if isinstance(cond, dict):
                if set(cond) == {"$eq"}:
                    values = [cond["$eq"]]
                elif set(cond) == {"$in"} and isinstance(cond["$in"], (list, tuple)) and cond["$in"]:
                    values = list(cond["$in"])
            else:
                values = [cond]
            if values is None or any(v is None or isinstance(v, (list, dict)) for v in values):
                break  # None also matches missing fields; arrays/objects: not ordered here
            try:
                parts = list(dict.fromkeys(rank(v) for v in values))
            except (Unorderable, TypeError):
                break
            if len(alts) * len(parts) > _MAX_ALTERNATIVES:
                break
            alts = [a + [p] for a in alts for p in parts]
        return alts

    def bounds(self, flt: dict, eq: list) -> tuple[tuple, tuple, bool]:
        """``(low, high, exact)``: the entries between ``low`` (inclusive) and ``high``
        (exclusive) are the only ones that may match; ``exact`` when every one of them does
        as far as the key after the equalities is concerned."""
        base = tuple(x for pair in eq for x in pair)
        whole = (base, base + (_TOP,), True)
        if len(eq) == len(self.keys):
            return whole
        field = self.keys[len(eq)]
        cond = flt.get(field, _MISSING)
        if cond is _MISSING:
            return whole
        if not isinstance(cond, dict):
            return base, base + (_TOP,), False
        if not cond or not set(cond) <= _RANGE_OPS:
            return base, base + (_TOP,), False
        low = high = None
        ranks = set()
        for op, v in cond.items():
            try:
                r, val = rank(v)
            except Unorderable:
                return base, base + (_TOP,), False
            if r == 0:
                return base, base + (_TOP,), False
            ranks.add(r)
            if op == "$gte":
                low = base + (r, val)
            elif op == "$gt":
                low = base + (r, val, _TOP)
            elif op == "$lt":
                high = base + (r, val)
            else:
                high = base + (r, val, _TOP)
        if len(ranks) != 1:
            return base, base + (_TOP,), False
        (r,) = ranks
        return low or base + (r,), high or base + (r + 1,), True

    def walk(self, low, high, reverse: bool) -> Iterable[tuple]:
        return self.entries_list.irange(low, high, inclusive=(True, False), reverse=reverse)

    def count_range(self, low, high) -> int:
        return max(0, self.entries_list.bisect_left(high) - self.entries_list.bisect_left(low))


def normalize_sort(sort) -> list[tuple[str, int]] | None:
    if not sort:
        return None
    if isinstance(sort, str):
        return [(sort, 1)]
    if isinstance(sort, dict):
        return [(k, int(v)) for k, v in sort.items()]
    out = []
    for item in sort:
        if isinstance(item, str):
            out.append((item, 1))
        else:
            k, d = item
            out.append((k, int(d)))
    return out


def planning_view(flt: dict) -> dict:
    """The filter's top-level conditions, with those of a top-level ``$and`` of documents merged
    in (for choosing bounds only: every candidate is still checked against the whole filter)."""
    out = {k: v for k, v in flt.items() if k != "$and"}
    for part in flt.get("$and") or ():
        if isinstance(part, dict):
            for k, v in part.items():
                if not k.startswith("$") and k not in out:
                    out[k] = v
    return out


def choose(indexes: list[OrderedIndex], flt: dict, sort: list[tuple[str, int]] | None):
    """The best usable index for ``flt`` + ``sort``: ``(index, equality alternatives, reverse)``
    or None."""
    best = None
    for ix in indexes:
        if not ix.usable or not ix.serves(flt):
            continue
        alts = ix.equality_prefix(flt)
        n_eq = len(alts[0])
        rest = ix.keys[n_eq:]
        reverse = False
        if sort is not None:
            fields = [k for k, _ in sort]
            dirs = {d for _, d in sort}
            if len(dirs) != 1:
                continue
            if fields[-1] == "_id" and "_id" not in ix.keys:
                if fields[:-1] != rest:
                    continue  # _id breaks ties only after every key of the index
            elif fields != rest[:len(fields)]:
                continue
            reverse = dirs == {-1}
        elif rest and rest[0] not in flt and not n_eq:
            continue  # neither an equality nor a range to narrow the walk
        score = (n_eq, ix.partial is not None, not rest, -len(alts))  # a partial index: fewer entries
        if best is None or score > best[3]:
            best = (ix, alts, reverse, score)
    return None if best is None else best[:3]


def _walk_all(ix: OrderedIndex, flt: dict, alts: list[list], reverse: bool) -> Iterable[tuple]:
    walks = []
    for eq in alts:
        low, high, _ = ix.bounds(flt, eq)
        walks.append(ix.walk(low, high, reverse))
    if len(walks) == 1:
        return walks[0]
    skip = 2 * len(alts[0])  # merge the ranges on what follows the fixed keys
    return heapq.merge(*walks, key=lambda e: e[skip:], reverse=reverse)


def _or_branches(flt: dict) -> tuple[list[dict], dict] | None:
    """The one ``$or`` of the filter (top level or inside a top-level ``$and``) as branch
    filters, each with the filter's other plain conditions (the view to plan it with)."""
    ors = [flt["$or"]] if isinstance(flt.get("$or"), list) else []
    for part in flt.get("$and") or ():
        if isinstance(part, dict) and isinstance(part.get("$or"), list):
            ors.append(part["$or"])
    if len(ors) != 1 or not ors[0] or not all(isinstance(b, dict) for b in ors[0]):
        return None
    base = planning_view({k: v for k, v in flt.items() if k != "$or"})
    base.pop("$or", None)
    return [{**base, **b} for b in ors[0]], base


def _or_walk(indexes, flt: dict, sort, base_eq: int):
    """A merged, de-duplicated walk over one index walk per ``$or`` branch (each narrowed by its
    branch's equality), or None when a branch has no index narrower than ``base_eq`` keys."""
    split = _or_branches(flt)
    if split is None:
        return None
    branches, _base = split
    n_sort = len([f for f, _ in sort if f != "_id"]) if sort else 0
    walks = []
    reverse = False
    for view in branches:
        plan = choose(indexes, view, sort)
        if plan is None or len(plan[1][0]) <= base_eq:
            return None
        ix, alts, reverse = plan
        n_eq = len(alts[0])
        if sort:
            lo, hi = 2 * n_eq, 2 * (n_eq + n_sort)
            walks.append(((e[lo:hi] + e[-2:], e) for e in _walk_all(ix, view, alts, reverse)))
        else:
            walks.append(((None, e) for e in _walk_all(ix, view, alts, False)))
    merged = heapq.merge(*walks, key=lambda ke: ke[0], reverse=reverse) if sort else \
        (ke for w in walks for ke in w)
    return _unique(entry for _key, entry in merged)


def _unique(entries):
    seen: set = set()
    for entry in entries:
        _id = entry[-1]
        if _id not in seen:
            seen.add(_id)
            yield entry


def planned_ids(indexes: list[OrderedIndex], documents: dict, flt: dict, sort, skip: int,
                limit: int | None) -> list | None:
    """Ids of the documents ``find(flt).sort(sort).skip(skip).limit(limit)`` returns, in order,
    read through an ordered index; None when no index serves this query."""
    flt = helpers.patch_datetime_awareness_in_document(flt or {})
    sort = normalize_sort(sort)
    if not sort:  # without a sort, results keep mongomock's natural order
        return None
    view = planning_view(flt)
    plan = choose(indexes, view, sort)
    base_eq = len(plan[1][0]) if plan else -1
    walk = _or_walk(indexes, flt, sort, base_eq)
    decided = False
    if walk is None:
        if plan is None:
            return None
        ix, alts, reverse = plan
        walk = _walk_all(ix, view, alts, reverse)
        # the index decides the whole filter (its equalities and a range after them): every
        # entry inside the bounds matches, no document needs checking
        decided = "$and" not in flt and set(flt) <= ix.decided(len(alts[0])) \
            and all(ix.bounds(view, eq)[2] for eq in alts)
        if not decided:  # what the walk's bounds do not decide is checked document by document
            flt = _undecided(flt, ix, view, alts)
        elif skip > 0 and len(alts) == 1:  # a page by number: its place in the index, not a walk to it
            return _positional(ix, view, alts[0], reverse, documents, skip, limit)
    out: list = []
    want = None if limit is None else skip + limit
    seen = 0
    match = (lambda doc: True) if decided else matcher(flt)
    for entry in walk:
        _id = entry[-1]
        doc = documents.get(_id)
        if doc is None or not match(doc):
            continue
        seen += 1
        if seen > skip:
            out.append(_id)
        if want is not None and seen >= want:
            break
    return out


def _positional(ix: OrderedIndex, view: dict, eq: list, reverse: bool, documents: dict, skip: int,
                limit: int | None) -> list:
    """The ids of a decided filter's page ``skip``/``limit`` taken by position between the walk's
    bounds (every entry there matches: the same records a walk skipping ``skip`` of them reaches,
    found by bisection instead of by stepping over each)."""
    low, high, _ = ix.bounds(view, eq)
    entries = ix.entries_list
    first, end = entries.bisect_left(low), entries.bisect_left(high)
    if reverse:
        stop = end - skip
        start = first if limit is None else max(first, stop - limit)
        page = entries[start:stop][::-1] if stop > first else []
    else:
        start = first + skip
        stop = end if limit is None else min(end, start + limit)
        page = entries[start:stop] if start < end else []
    return [e[-1] for e in page if e[-1] in documents]


def _undecided(flt: dict, ix: OrderedIndex, view: dict, alts: list[list]) -> dict:
    """``flt`` without the top-level conditions that every entry of the walk of ``ix`` between its
    bounds already meets: the equalities of the index's leading keys, and the range on the key
    after them when the bounds are exact for every alternative (a keyset page's ``start`` bound:
    only its ``$and`` is left to check on each record), and the conditions of a partial index's
    filter (the query states them as the filter does, or the index would not serve it)."""
    n_eq = len(alts[0])
    decided = set(ix.keys[:n_eq]) | ix.partial_fields
    if n_eq < len(ix.keys) and all(ix.bounds(view, eq)[2] for eq in alts):
        decided.add(ix.keys[n_eq])
    return {k: v for k, v in flt.items() if k not in decided or view.get(k, _MISSING) is not v}


def _exact_ids(ix: OrderedIndex, view: dict, alts: list[list]) -> set | None:
    """The ids of every document ``view`` matches, read from ``ix`` alone, when the index decides
    the whole of ``view`` (its equalities and a range on the key after them, nothing else); else
    None."""
    if not set(view) <= ix.decided(len(alts[0])):
        return None
    ids: set = set()
    for eq in alts:
        low, high, exact = ix.bounds(view, eq)
        if not exact:
            return None
        ids.update(e[-1] for e in ix.walk(low, high, False))
    return ids


def _exact_or_count(indexes: list[OrderedIndex], flt: dict, base_eq: int) -> int | None:
    """A count of a filter with one ``$or`` whose every branch (with the filter's other
    conditions) an index decides alone — the "own calls" reach: the size of the union of the
    branches' ids, with no document read; None otherwise."""
    branches = flt.get("$or")
    if not isinstance(branches, list) or not branches or not all(isinstance(b, dict) for b in branches):
        return None
    base = {k: v for k, v in flt.items() if k != "$or"}
    ids: set = set()
    for branch in branches:
        if set(branch) & set(base):
            return None  # both must hold: a view of the two would keep only one
        view = {**base, **branch}
        plan = choose(indexes, view, None)
        if plan is None or len(plan[1][0]) <= base_eq:
            return None
        found = _exact_ids(plan[0], view, plan[1])
        if found is None:
            return None
        ids |= found
    return len(ids)


def planned_count(indexes: list[OrderedIndex], documents: dict, flt: dict) -> int | None:
    """``count_documents(flt)`` through an ordered index (None: no index serves it)."""
    flt = helpers.patch_datetime_awareness_in_document(flt or {})
    if not flt:
        return len(documents)
    view = planning_view(flt)
    plan = choose(indexes, view, None)
    base_eq = len(plan[1][0]) if plan else -1
    if "$and" not in flt:
        n = _exact_or_count(indexes, flt, base_eq)
        if n is not None:
            return n
    walk = _or_walk(indexes, flt, None, base_eq)
    if walk is not None:  # each $or branch through its own index, de-duplicated
        match = matcher(flt)
        return sum(1 for e in walk if (d := documents.get(e[-1])) is not None and match(d))
    if plan is None:
        return None
    ix, alts, _ = plan
    if "$and" not in flt and set(flt) <= ix.decided(len(alts[0])):
        counts = []
        for eq in alts:
            low, high, exact = ix.bounds(flt, eq)
            if not exact:
                break
            counts.append(ix.count_range(low, high))
        else:
            return sum(counts)
    n = 0
    match = matcher(flt)
    for entry in _walk_all(ix, view, alts, False):
        doc = documents.get(entry[-1])
        if doc is not None and match(doc):
            n += 1
    return n
