"""The embedded store's ordered indexes (issue 11 "lists cost what they show").

A query with equalities on an index's leading keys, a range on the next one and a sort along the
index answers exactly what mongomock's full scan answers — through inserts, updates that move a
document, deletes and a restart — and reads only the entries it returns, not the rest of the
collection."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import mongomock.filtering

import storage.embedded as embedded
import storage.ordered_index as ordered
from storage.client import open_store

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
INDEXES = [([("pbx_id", 1), ("start", -1), ("uuid", -1)], "pbx_start_uuid"),
           ([("start", -1)], "start"),
           ([("account_id", 1), ("created_at", 1)], "account_created"),
           ([("pbx_id", 1), ("caller", 1), ("start", -1), ("uuid", -1)], "pbx_caller"),
           ([("pbx_id", 1), ("meta.kind", 1), ("start", -1), ("uuid", -1)], "pbx_kind")]


def _doc(rng: random.Random, i: int) -> dict:
    d = {"uuid": f"u{i:05d}", "pbx_id": rng.choice([1, 2, 3]), "caller": rng.choice(["101", "102", "103"]),
         "account_id": rng.choice([10, 20]), "created_at": T0 + timedelta(minutes=rng.randrange(50))}
    if rng.random() < 0.1:
        d["tags"] = ["x", "y"] if rng.random() < 0.5 else "x"  # arrays: mongomock decides
    if rng.random() < 0.3:
        d["meta"] = {"kind": rng.choice(["a", "b", "c"])} if rng.random() < 0.8 else "flat"
    roll = rng.random()
    if roll < 0.05:
        d["start"] = None
    elif roll > 0.07:  # else: no start at all
        d["start"] = T0 + timedelta(minutes=rng.randrange(40))  # many ties
    return d


def _queries(rng: random.Random):
    ranges = [None, {"$gte": T0 + timedelta(minutes=10)}, {"$lt": T0 + timedelta(minutes=20)},
              {"$gt": T0 + timedelta(minutes=5), "$lte": T0 + timedelta(minutes=30)},
              T0 + timedelta(minutes=12)]
    for pbx in (1, 2, 3, 4):
        for rg in ranges:
            for extra in ({}, {"$or": [{"caller": "101"}, {"caller": "103"}]},
                          {"caller": {"$nin": ["102"]}, "account_id": {"$ne": 20}},
                          {"$or": [{"caller": {"$in": ["101", None]}}, {"start": {"$exists": False}}]},
                          {"tags": "x"}, {"meta.kind": {"$in": ["a", "b"]}},
                          {"$or": [{"caller": {"$in": ["101", "102"]}}, {"meta.kind": "a"}]},
                          {"$or": [{"caller": {"$in": ["101", "nobody"]}}, {"meta.kind": {"$in": ["a", "c"]}}]},
                          {"$or": [{"pbx_id": 2}, {"caller": "103"}]}, {"$or": [{"caller": "101", "meta.kind": "b"}]},
                          {"$or": [{"pbx_id": 2, "caller": "101"}, {"caller": "103"}]},
                          {"$and": [{"account_id": 10}, {"$or": [{"caller": "103"}, {"meta.kind": {"$in": ["b", "c"]}}]}]}):
                flt = {"pbx_id": pbx, **extra}
                if rg is not None:
                    flt["start"] = rg
                for d in (-1, 1):
                    skip, limit = rng.choice([(0, 5), (3, 7), (0, 0), (20, 10)])
                    yield flt, [("start", d), ("uuid", d)], skip, limit
    for d in (-1, 1):
        for rg in ranges[:4]:
            flt = {"pbx_id": {"$in": [1, 3, 3.0]}} if rg is None else {"pbx_id": {"$in": [3, 1]}, "start": rg}
            yield flt, [("start", d), ("uuid", d)], 1, 12
            yield {"pbx_id": 2, "$and": [{"start": rg or {"$ne": None}}, {"$or": [{"caller": "101"}, {"caller": "102"}]}]}, \
                [("start", d), ("uuid", d)], 0, 6
        yield {"start": {"$gte": T0 + timedelta(minutes=15)}}, [("start", d), ("_id", d)], 2, 9
        yield {"account_id": 10, "created_at": {"$lt": T0 + timedelta(minutes=25)}}, \
            [("created_at", d), ("_id", d)], 0, 0
    # keyset pages (storage.paging.after_filter): the index's bounds decide the PBX and the start
    # bound, the records are checked against the rest only
    from storage.paging import after_filter

    for d in (-1, 1):
        order = [("start", d), ("uuid", d)]
        for values in ([T0 + timedelta(minutes=12), "u00300"], [T0 + timedelta(minutes=30), "u00700"],
                       [T0 + timedelta(minutes=12, seconds=1), "u00000"]):
            for base in ({"pbx_id": 1}, {"pbx_id": 2, "caller": "101"}, {"pbx_id": {"$in": [1, 3]}},
                         {"pbx_id": 3, "start": {"$gte": T0 + timedelta(minutes=5), "$lt": T0 + timedelta(minutes=35)}},
                         {"pbx_id": 1, "$or": [{"caller": "101"}, {"meta.kind": "a"}]}, {"pbx_id": 2, "tags": "x"}):
                yield after_filter(base, order, values), order, 0, rng.choice([0, 9])


async def _check_all(db, rng) -> int:
    coll = db.calls
    raw = coll._sync._c  # mongomock's own collection: the full scan, as the oracle
    checked = 0
    for flt, sort, skip, limit in _queries(rng):
        cur = coll.find(flt).sort(sort).skip(skip)
        if limit:
            cur = cur.limit(limit)
        got = [d["uuid"] for d in await cur.to_list(None)]
        scan = raw.find(flt).sort(sort).skip(skip)
        if limit:
            scan = scan.limit(limit)
        want = [d["uuid"] for d in scan]
        assert got == want, (flt, sort, skip, limit)
        assert await coll.count_documents(flt) == raw.count_documents(flt), flt
        checked += 1
    return checked



def count_examined(monkeypatch) -> dict:
    """``{"n": documents the ordered index's matcher looked at}`` from now on (a full scan uses no
    matcher, so a small count shows a query went through the index)."""
    examined = {"n": 0}
    real_matcher = ordered.matcher

    def counting(flt):
        match = real_matcher(flt)

        def m(doc):
            examined["n"] += 1
            return match(doc)
        return m

    monkeypatch.setattr(ordered, "matcher", counting)
    return examined

async def test_indexed_range_and_sort_answer_what_a_scan_answers(settings):
    rng = random.Random(7)
    st = open_store(settings)
    await st.start()
    for keys, name in INDEXES:
        await st.db.calls.create_index(keys, name=name)
    await st.db.calls.insert_many([_doc(rng, i) for i in range(600)])
    assert await _check_all(st.db, rng) > 80
    # updates that move documents between PBXs and times, deletes, new documents
    await st.db.calls.update_many({"pbx_id": 1, "caller": "102"}, {"$set": {"pbx_id": 2}})
    await st.db.calls.update_many({"pbx_id": 3, "caller": "101"},
                                  {"$set": {"start": T0 + timedelta(minutes=33)}})
    await st.db.calls.delete_many({"pbx_id": 2, "caller": "103"})
    await st.db.calls.insert_many([_doc(rng, i) for i in range(600, 800)])
    await _check_all(st.db, rng)
    await st.close()
    st = open_store(settings)  # the indexes are rebuilt at start-up from the restored data
    await st.start()
    await _check_all(st.db, rng)
    await st.close()


async def test_a_page_reads_what_it_shows_not_the_tenants_history(settings, monkeypatch):
    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("pbx_id", 1), ("start", -1), ("uuid", -1)], name="pbx_start_uuid")
    docs = [{"uuid": f"u{i:05d}", "pbx_id": 1 if i % 5 else 2, "start": T0 + timedelta(seconds=i)}
            for i in range(5000)]
    await st.db.calls.insert_many(docs)
    calls = {"n": 0}

    def counting(flt, doc, *a, **kw):
        calls["n"] += 1
        return real(flt, doc, *a, **kw)

    real = mongomock.filtering.filter_applies
    monkeypatch.setattr(ordered, "filter_applies", counting)
    monkeypatch.setattr(embedded, "filter_applies", counting)
    monkeypatch.setattr(mongomock.filtering, "filter_applies", counting)
    since = T0 + timedelta(seconds=1000)
    page = await st.db.calls.find({"pbx_id": 1, "start": {"$gte": since}}) \
        .sort([("start", -1), ("uuid", -1)]).limit(20).to_list(None)
    assert [d["uuid"] for d in page] == [f"u{i:05d}" for i in range(4999, 0, -1) if i % 5][:20]
    assert calls["n"] <= 3 * 20, calls  # the 20 shown (and their fetch by id), not 4 000 records
    calls["n"] = 0
    assert await st.db.calls.count_documents({"pbx_id": 1, "start": {"$gte": since}}) == \
        sum(1 for i in range(1000, 5000) if i % 5)
    assert calls["n"] == 0  # a count of equality + range is two bisections
    await st.close()


async def test_pages_older_and_newer_than_a_cursor_read_what_they_show(settings, monkeypatch):
    """The cabinet's «Older» / «Newer» pages (storage.paging.keyset_page) walk the index from the
    cursor both ways: deep in a 5 000-call history, each reads about a page, not the history."""
    from storage.paging import decode_cursor, keyset_page

    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("pbx_id", 1), ("start", -1), ("uuid", -1)], name="pbx_start_uuid")
    await st.db.calls.insert_many([{"uuid": f"u{i:05d}", "pbx_id": 1, "start": T0 + timedelta(seconds=i // 2)}
                                   for i in range(5000)])
    order = [("start", -1), ("uuid", -1)]

    async def find(flt, sort=None, limit=0):
        return await st.db.calls.find(flt).sort(sort).limit(limit).to_list(None)

    examined = count_examined(monkeypatch)
    middle = [T0 + timedelta(seconds=1250), "u02500"]
    older = await keyset_page(find, {"pbx_id": 1}, order, 20, after=middle)
    assert [d["uuid"] for d in older.docs] == [f"u{i:05d}" for i in range(2499, 2479, -1)]
    assert 20 <= examined["n"] <= 3 * 22, examined  # through the index (a scan uses no matcher)
    examined["n"] = 0
    newer = await keyset_page(find, {"pbx_id": 1}, order, 20, before=decode_cursor(older.newer, order))
    assert [d["uuid"] for d in newer.docs] == [f"u{i:05d}" for i in range(2519, 2499, -1)]
    assert 20 <= examined["n"] <= 3 * 22, examined  # through the index (a scan uses no matcher)
    # a list without a «Newer» link (the API) asks for the page alone: the same records and «Older»
    asked = []

    async def counted(flt, sort=None, limit=0):
        asked.append(limit)
        return await find(flt, sort, limit)

    plain = await keyset_page(counted, {"pbx_id": 1}, order, 20, after=middle, newer=False)
    assert plain.docs == older.docs and plain.older == older.older and plain.newer is None and asked == [21]
    asked.clear()
    again = await keyset_page(counted, {"pbx_id": 1}, order, 20, after=middle)
    assert again.newer == older.newer is not None and asked == [21, 1]
    await st.close()


async def test_a_page_read_through_an_index_is_what_mongomock_hands_out(settings):
    """A page fetched by id after an index walk is the same documents as mongomock's own find
    gives — every value and type (aware UTC datetimes, also inside lists and sub-documents,
    ObjectIds, projections with and without ``_id``) — and a copy: changing it changes nothing
    stored."""
    from bson import ObjectId

    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("pbx_id", 1), ("start", -1), ("uuid", -1)], name="pbx_start_uuid")
    docs = []
    for i in range(40):
        start = T0 + timedelta(seconds=i, microseconds=1234)
        docs.append({"uuid": f"u{i:05d}", "pbx_id": 1 + i % 2, "start": start, "ref": ObjectId(),
                     "billsec": i * 1.5 if i % 3 else None, "flag": bool(i % 2), "raw": b"\x00\x01",
                     "vars": {"pult_employee_id": f"e{i % 4}", "when": start, "deep": {"at": start}},
                     "legs": [{"uuid": f"l{i}", "start": start, "tags": ["a", {"x": start}]}], "empty": {}})
    await st.db.calls.insert_many(docs)
    raw = st.db.calls._sync._c  # mongomock's own collection: the oracle
    order = [("start", -1), ("uuid", -1)]
    for projection in (None, {"uuid": 1, "vars.when": 1, "legs": 1}, {"uuid": 1, "_id": 0},
                       {"vars": 0, "legs": 0}, {"legs": 0, "_id": 0}, ["uuid", "start"],
                       # whole top-level fields only: copied field by field, not by mongomock
                       {"uuid": 1, "start": True, "legs": 1, "vars": 1, "missing": 1},
                       {"_id": 0, "ref": 1, "billsec": 1}, ["_id", "raw", "empty", "flag"], {"_id": 1, "pbx_id": 1}):
        got = await st.db.calls.find({"pbx_id": 1}, projection).sort(order).skip(2).limit(7).to_list(None)
        want = list(raw.find({"pbx_id": 1}, projection).sort(order).skip(2).limit(7))
        assert got == want, projection
        assert len(got) == 7
        for g, w in zip(got, want):
            assert _types(g) == _types(w), projection
    page = await st.db.calls.find({"pbx_id": 2}).sort(order).limit(3).to_list(None)
    assert page[0]["start"].tzinfo is not None and page[0]["legs"][0]["tags"][1]["x"].tzinfo is not None
    page[0]["vars"]["deep"]["at"] = None
    page[0]["legs"][0]["tags"].append("changed")
    again = await st.db.calls.find({"pbx_id": 2}).sort(order).limit(3).to_list(None)
    assert again[0]["vars"]["deep"]["at"] == page[0]["start"] and again[0]["legs"][0]["tags"] == ["a", {"x": page[0]["start"]}]
    await st.close()


def _types(value):
    """The value's shape with every leaf's type (and a datetime's tzinfo), to compare exactly."""
    if isinstance(value, dict):
        return (type(value), {k: _types(v) for k, v in value.items()})
    if isinstance(value, list):
        return (type(value), [_types(v) for v in value])
    if isinstance(value, datetime):
        return (type(value), value.utcoffset())
    return type(value)


async def test_find_one_is_what_mongomock_hands_out(settings):
    """``find_one`` copies the first match alone (mongomock's copies every match): the same
    document, values and types, for an indexed equality, an ``_id``, a datetime given with
    microseconds and aware (the store keeps milliseconds, naive), and no match."""
    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("pbx_id", 1), ("start", -1)], name="pbx_start")
    await st.db.calls.insert_many([{"uuid": f"u{i}", "pbx_id": 1 + i % 3, "start": T0 + timedelta(seconds=i // 2),
                                    "vars": {"at": [T0, {"x": T0}]}} for i in range(30)])
    raw = st.db.calls._sync._c
    some = raw.find_one({"uuid": "u7"})
    for flt in ({"pbx_id": 2}, {"_id": some["_id"]}, {"uuid": "u7"}, {"pbx_id": 3, "uuid": {"$in": ["u5", "u8"]}},
                {"start": T0 + timedelta(seconds=4, microseconds=999)},
                {"start": {"$gte": (T0 + timedelta(seconds=9)).astimezone(timezone(timedelta(hours=3)))}},
                {"pbx_id": 9}, {}):
        got, want = await st.db.calls.find_one(flt), raw.find_one(flt)
        assert got == want and _types(got) == _types(want), flt
        # a projection of None (as every repository passes it) is no projection: the same copy
        for none in (await st.db.calls.find_one(flt, None), await st.db.calls.find_one(flt, projection=None)):
            assert none == want and _types(none) == _types(want), flt
    assert (await st.db.calls.find_one({"start": T0 + timedelta(seconds=4, microseconds=999)}))["uuid"] == "u8"
    # the copy is the caller's: changing it changes nothing stored
    mine = await st.db.calls.find_one({"uuid": "u7"}, None)
    mine["vars"]["at"][1]["x"] = None
    assert (await st.db.calls.find_one({"uuid": "u7"}, None))["vars"]["at"][1]["x"] == T0
    with_fields = await st.db.calls.find_one({"uuid": "u7"}, {"uuid": 1, "_id": 0})
    assert with_fields == raw.find_one({"uuid": "u7"}, {"uuid": 1, "_id": 0}) == {"uuid": "u7"}
    await st.close()


async def test_counting_the_own_calls_reach_reads_no_call(settings, monkeypatch):
    """The "own calls" reach (an ``$or`` of the user's numbers as caller or callee, each branch
    with its own index) is counted from the indexes alone: the union of the branches' entries,
    no record read, the same count as a scan."""
    st = open_store(settings)
    await st.start()
    for f in ("caller", "callee"):
        await st.db.calls.create_index([("pbx_id", 1), (f, 1), ("start", -1), ("uuid", -1)], name=f"pbx_{f}")
    await st.db.calls.insert_many([{"uuid": f"u{i:05d}", "pbx_id": 1 + i % 2, "caller": str(100 + i % 7),
                                    "callee": str(100 + i % 5), "start": T0 + timedelta(seconds=i)}
                                   for i in range(3000)])
    examined = count_examined(monkeypatch)
    raw = st.db.calls._sync._c
    own = {"pbx_id": 1, "$or": [{"caller": {"$in": ["101", "103"]}}, {"callee": {"$in": ["101", "103"]}}]}
    assert await st.db.calls.count_documents(own) == raw.count_documents(own) > 500
    assert examined["n"] == 0
    # a condition no index decides: the documents are read and checked
    other = {"pbx_id": 1, "$or": [{"caller": "101", "uuid": {"$gt": "u01000"}}, {"callee": "103"}]}
    assert await st.db.calls.count_documents(other) == raw.count_documents(other)
    assert examined["n"] > 0
    await st.close()


async def test_a_page_by_number_is_taken_by_its_place_in_the_index(settings):
    """A page by number (``skip``) of a filter the index decides is found by its position between
    the walk's bounds — the same records as mongomock's scan, both directions, every skip up to
    past the end, with and without a limit, after deletes and inserts."""
    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("pbx_id", 1), ("start", -1), ("uuid", -1)], name="pbx_start_uuid")
    await st.db.calls.insert_many([{"uuid": f"u{i:04d}", "pbx_id": 1 + i % 3, "start": T0 + timedelta(seconds=i // 4)}
                                   for i in range(300)])
    await st.db.calls.delete_many({"pbx_id": 2, "start": {"$lt": T0 + timedelta(seconds=10)}})
    await st.db.calls.insert_many([{"uuid": f"v{i:04d}", "pbx_id": 2, "start": T0 + timedelta(seconds=i)} for i in range(7)])
    raw = st.db.calls._sync._c
    for flt in ({"pbx_id": 2}, {"pbx_id": 1, "start": {"$gte": T0 + timedelta(seconds=20), "$lt": T0 + timedelta(seconds=50)}},
                {"pbx_id": 3, "start": {"$lte": T0 + timedelta(seconds=30)}}, {"pbx_id": 9}):
        n = raw.count_documents(flt)
        for d in (-1, 1):
            order = [("start", d), ("uuid", d)]
            for skip in sorted(s for s in {1, 2, 7, n // 2, n - 1, n, n + 5} if s > 0):
                for limit in (0, 1, 10, 1000):
                    cur = st.db.calls.find(flt).sort(order).skip(skip)
                    want = raw.find(flt).sort(order).skip(skip)
                    if limit:
                        cur, want = cur.limit(limit), want.limit(limit)
                    assert [x["uuid"] for x in await cur.to_list(None)] == [x["uuid"] for x in want], (flt, d, skip, limit)
    await st.close()


async def test_a_partial_index_holds_and_counts_what_its_filter_matches(settings, monkeypatch):
    """A partial index (the answered calls: ``billsec > 0``) holds only the documents its filter
    matches, through inserts, updates across the filter, deletes and a restart; a count that
    states the filter's condition as written is answered from it without reading a record; one
    that states none or another (wider, narrower, ``0.0`` for ``0``, inside an ``$or``) is not served
    by it — every answer is mongomock's scan's."""
    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index([("start", -1), ("uuid", -1)], name="start_uuid")
    await st.db.calls.create_index([("start", -1), ("billsec", 1)], name="answered_start",
                                   partialFilterExpression={"billsec": {"$gt": 0}})
    rng = random.Random(3)

    def call(i: int) -> dict:
        d = {"uuid": f"u{i:05d}", "start": T0 + timedelta(minutes=rng.randrange(600)), "flag": rng.random() < 0.5}
        roll = rng.random()
        if roll < 0.5:
            d["billsec"] = rng.randrange(1, 90)
        elif roll < 0.8:
            d["billsec"] = 0
        elif roll < 0.9:
            d["billsec"] = None
        # else: no billsec at all (a stub)
        return d

    await st.db.calls.insert_many([call(i) for i in range(2000)])
    raw = st.db.calls._sync._c
    since = [T0 + timedelta(minutes=m) for m in (0, 120, 599, 600)]

    async def check() -> None:
        examined = count_examined(monkeypatch)
        for s in since:
            answered = {"start": {"$gte": s}, "billsec": {"$gt": 0}}
            examined["n"] = 0
            assert await st.db.calls.count_documents(answered) == raw.count_documents(answered), s
            assert examined["n"] == 0  # from the partial index alone
            for flt in ({"start": {"$gte": s}}, {"start": {"$gte": s}, "billsec": {"$gte": 0}},  # wider
                        {"start": {"$gte": s}, "billsec": {"$gt": 5}},  # narrower: not served by it either
                        {"start": {"$gte": s}, "billsec": {"$gt": 0.0}},
                        {"start": {"$gte": s}, "$and": [{"billsec": {"$gt": 0}}, {"flag": True}]},
                        {"start": {"$gte": s}, "$or": [{"billsec": {"$gt": 0}}, {"flag": True}]},
                        {"start": {"$lt": s}, "billsec": {"$gt": 0}, "flag": True}):
                assert await st.db.calls.count_documents(flt) == raw.count_documents(flt), flt
            for order in ([("start", -1), ("uuid", -1)], [("start", 1), ("billsec", 1)]):
                for flt in (answered, {"start": {"$gte": s}}):
                    got = await st.db.calls.find(flt).sort(order).limit(30).to_list(None)
                    want = list(raw.find(flt).sort(order).limit(30))
                    assert [d["uuid"] for d in got] == [d["uuid"] for d in want], (flt, order)
        ix = next(i for i in raw._store.pult_ordered if i.name == "answered_start")
        assert len(ix.entries_list) == raw.count_documents({"billsec": {"$gt": 0}})

    await check()
    await st.db.calls.update_many({"billsec": 0, "flag": True}, {"$set": {"billsec": 12}})  # answered now
    await st.db.calls.update_many({"billsec": {"$gt": 60}}, {"$set": {"billsec": 0}})  # not any more
    await st.db.calls.update_many({"billsec": None, "flag": False}, {"$unset": {"billsec": ""}})
    await st.db.calls.delete_many({"billsec": {"$gt": 0, "$lt": 20}, "flag": False})
    await st.db.calls.insert_many([call(i) for i in range(2000, 2500)])
    await check()
    await st.close()
    st = open_store(settings)  # rebuilt at start-up from the restored data and the journalled index
    await st.start()
    raw = st.db.calls._sync._c
    await check()
    await st.close()


async def test_an_index_declared_later_is_built_alone(settings):
    """A new index on a collection that has data (an upgrade's new declaration at start-up) is
    built alone: those built before are kept — the same entries, kept up to date by the writes
    since — and every answer is still mongomock's scan's."""
    rng = random.Random(11)
    st = open_store(settings)
    await st.start()
    await st.db.calls.create_index(*INDEXES[0][:1], name=INDEXES[0][1])
    await st.db.calls.insert_many([_doc(rng, i) for i in range(600)])
    raw = st.db.calls._sync._c
    first = raw._store.pult_ordered[0]
    await st.db.calls.update_many({"pbx_id": 1, "caller": "102"}, {"$set": {"pbx_id": 2}})
    await st.db.calls.delete_many({"pbx_id": 3, "caller": "101"})
    for keys, name in INDEXES[1:]:
        await st.db.calls.create_index(keys, name=name)
        assert first in raw._store.pult_ordered
    await st.db.calls.create_index([("start", -1)], name="answered", partialFilterExpression={"account_id": 10})
    assert first in raw._store.pult_ordered and len(raw._store.pult_ordered) == len(INDEXES) + 1
    assert await _check_all(st.db, rng) > 80
    await st.db.calls.drop_index(INDEXES[1][1])
    assert first in raw._store.pult_ordered and len(raw._store.pult_ordered) == len(INDEXES)
    await _check_all(st.db, rng)
    await st.close()
