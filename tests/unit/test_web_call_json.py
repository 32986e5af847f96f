"""The call history API's list items (``web.api.calls.call_json``) are built without the model
when a record's values already have their fields' types; the answer must be exactly what the
model gives — for plain records, records with legs, and every odd value the model converts
(naive datetimes, unix seconds, floats, numbers as text) or refuses."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo

from bson.tz_util import utc as bson_utc
from pydantic import ValidationError

from web.api.calls import call_json, call_out

T0 = datetime(2026, 12, 7, 9, 0, 5, 123000, tzinfo=timezone.utc)
MSK = timezone(timedelta(hours=3))


def _model(rec: dict):
    """The JSON text the model gives (True and 1 are equal in Python, not in JSON), or the error."""
    try:
        return json.dumps(call_out(rec).model_dump(mode="json"))
    except (ValidationError, TypeError, ValueError) as exc:
        return type(exc)


def _fast(rec: dict):
    try:
        return json.dumps(call_json(rec))
    except (ValidationError, TypeError, ValueError) as exc:
        return type(exc)


ODD = [None, "", "2001", 2001, 20.0, 20.5, True, "60", T0, T0.replace(tzinfo=None), T0.astimezone(MSK),
       T0.astimezone(ZoneInfo("Europe/London")), T0.replace(tzinfo=bson_utc),
       1_765_000_000, 1_765_000_000.5, {"x": 1}, ["a"]]


def _leg(rng: random.Random, i: int, odd: bool) -> dict:
    leg = {"uuid": f"leg-{i}", "callee": "2001", "start": T0, "answer": T0 + timedelta(seconds=4) if i % 2 else None,
           "end": T0 + timedelta(seconds=30), "duration": 30, "billsec": 26 if i % 2 else 0,
           "hangup_cause": "NORMAL_CLEARING" if i % 2 else "NO_ANSWER", "vars": {"pult_target": f"employee:e{i}/sip"}}
    if odd:
        leg[rng.choice(["callee", "duration", "hangup_cause", "start", "end"])] = rng.choice(ODD)
    if rng.random() < 0.2:
        leg["vars"] = {}
    return leg


def test_a_list_item_is_what_the_model_dumps_for_plain_and_odd_records():
    rng = random.Random(11)
    plain = {"uuid": "u-1", "pbx_id": 1, "start": T0, "end": T0 + timedelta(seconds=65), "caller": "2001",
             "callee": "79161234567", "direction": "outbound", "duration": 65, "billsec": 60,
             "hangup_cause": "NORMAL_CLEARING", "node": "fs1", "rated": {"cost": 150}}
    assert _fast(plain) == _model(plain)
    assert call_json(plain)["start"] == "2026-12-07T09:00:05+00:00" and call_json(plain)["cost"] == 150
    with_legs = {**plain, "legs": [_leg(rng, i, False) for i in range(3)] + [{"uuid": None}, "junk"]}
    assert _fast(with_legs) == _model(with_legs) and len(call_json(with_legs)["legs"]) == 3
    fields = ["uuid", "pbx_id", "start", "end", "caller", "callee", "direction", "duration", "billsec",
              "result", "hangup_cause", "node", "rated"]
    checked = 0
    for _ in range(3000):
        rec = dict(plain)
        for f in rng.sample(fields, rng.choice([1, 1, 2])):
            rec[f] = rng.choice(ODD) if f != "rated" else rng.choice([None, {}, {"cost": rng.choice(ODD)}, "x"])
        if rng.random() < 0.3:
            rec["legs"] = [_leg(rng, i, rng.random() < 0.3) for i in range(rng.randrange(3))]
        if rng.random() < 0.1:
            del rec["end"]
        assert _fast(rec) == _model(rec), rec
        checked += 1
    assert checked == 3000


def test_a_list_item_reads_only_the_fields_a_page_asks_the_store_for():
    """A page of the list reads only ``CALL_JSON_FIELDS`` of each record: an item made of those
    fields alone is the item made of the whole record (with channel variables, the engine's path,
    odd values anywhere), so nothing the list shows is left in the store."""
    from web.api.calls import CALL_JSON_FIELDS

    rng = random.Random(12)
    base = {"uuid": "u-1", "pbx_id": 1, "start": T0, "end": T0 + timedelta(seconds=65), "answer": T0,
            "caller": "2001", "callee": "79161234567", "direction": "outbound", "duration": 65, "billsec": 60,
            "hangup_cause": "NORMAL_CLEARING", "result": None, "node": "fs1", "rated": {"cost": 150},
            "vars": {"billsec": "61", "duration": "66", "pult_target": "x"}, "path": [{"step": "menu"}],
            "stored_at": T0, "rating_pending": False}
    for _ in range(2000):
        rec = dict(base)
        for f in rng.sample(sorted(rec), 3):
            rec[f] = rng.choice(ODD) if f not in ("uuid", "rated") else rec[f]
        if rng.random() < 0.3:
            del rec[rng.choice(["end", "duration", "billsec", "rated", "vars"])]
        if rng.random() < 0.5:
            rec["legs"] = [_leg(rng, i, rng.random() < 0.3) for i in range(rng.randrange(4))]
        projected = {k: v for k, v in rec.items() if k in CALL_JSON_FIELDS}
        assert _fast(projected) == _fast(rec), rec
        assert _model(projected) == _model(rec), rec


def test_iso_writes_what_isoformat_writes_for_every_utc_zone_the_stores_hand_out():
    """``web.formats.iso`` writes a UTC datetime of the stores' zones (bson's ``utc``, ``timezone.utc``)
    without isoformat: the same text, to the second, for any instant (years below 1000 too);
    other zones, naive datetimes and unix seconds as before."""
    from web.formats import iso

    rng = random.Random(13)
    for _ in range(5000):
        naive = datetime(rng.randrange(1, 10000), rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(24),
                         rng.randrange(60), rng.randrange(60), rng.randrange(1_000_000))
        want = naive.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
        assert want.endswith("+00:00")
        assert iso(naive.replace(tzinfo=bson_utc)) == iso(naive.replace(tzinfo=timezone.utc)) == iso(naive) == want
        if 2 <= naive.year <= 9998:
            assert iso(naive.replace(tzinfo=MSK)) == (naive - timedelta(hours=3)).replace(tzinfo=timezone.utc) \
                .isoformat(timespec="seconds")
    assert iso(T0.astimezone(ZoneInfo("Europe/London"))) == "2026-12-07T09:00:05+00:00"
    assert iso(1_765_000_000) == datetime.fromtimestamp(1_765_000_000, timezone.utc).isoformat(timespec="seconds")
    assert iso(None) is None
