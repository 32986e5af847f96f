"""Schemathesis hooks of the property-based API run (``SCHEMATHESIS_HOOKS``, see
test_api_property.py): the few rules the OpenAPI document states outside JSON Schema, applied to
the generated requests so that "valid by the document" means valid.

- Hypothesis' lambda descriptions are made one at a time (a CPython 3.11 race between workers).
- A page cursor (format ``pult-cursor``) is an opaque token the server made; the run sends real
  cursors — the encoding of plausible sort values, as a list's ``next`` carries them — or none.
- ``x-pult-period`` on an operation (web.api_base.period): two query parameters bound a period —
  the first no later than the second, at most ``max_days`` days, both or neither. On an object
  schema (a finance document's body): the same of two of its fields, when both are dates.
- ``x-pult-from-today`` (``{field: [first, last]}``, web.api_base.from_today): the field is a date
  from today + first to today + last days, today in the account's time zone; a generated date
  outside the window is moved into it. The run does not know the account's zone, so its window is
  the part valid in every zone (from today at UTC+14 to today at UTC-12).
- The server's clock: the run's stack sets its own (a fixed start on a day that is not the 1st),
  ``PULT_FUZZ_CLOCK_SHIFT`` seconds from the machine's; "now" here is the server's.
- ``x-pult-requires`` on an operation (web.api_base.requires): a query parameter is sent only
  with another one's value.
- ``x-pult-order`` on an object schema (web.api_fields.ORDER_EXTENSION): ``[a, b]`` pairs of its
  fields where a < b (an interval's start and end).
- ``x-pult-unique`` (``{list: [fields]}``): the list's items repeat no value of those fields;
  ``x-pult-distinct`` (``{object: {key: default}}``): the object's values, defaults included,
  differ (a group's members, its tone commands). A repeating item or key is left out (texts
  compared ignoring case and surrounding space).
- ``x-pult-last`` (``{list: {field: [values]}}``, web.api_base.LAST_EXTENSION): the list's item
  whose field has one of the values (the document's ``contains`` says there is one) is moved to
  the end: a scheme's final step, its block without a schedule.
- ``x-pult-inn`` (``[fields]``): those fields are INNs; a generated one of 10 or 12 digits gets its
  check digits computed (jobs.billing.requisites), so it names an INN that can exist.
- ``x-pult-local-url`` (``[fields]``): addresses Pult connects to (webhook targets); the run sends
  its own receiver (``PULT_FUZZ_LOCAL_URL``, on a stack that allows private targets) instead of a
  generated public one, as it must not connect to the internet.
- ``x-pult-local-host`` (``[fields]``): hosts Pult connects to (an LDAP server): the run sends
  127.0.0.1 and, when a port is given, port 1 (nothing listens: a check answers at once).
- ``x-pult-future`` on an operation (web.api_base.future): those top-level body fields are moments
  later than the server's now; a generated one that is not (or that the server's parser may read otherwise:
  not plain RFC 3339 with at most microseconds, or past 2100) becomes a day from now.
- ``x-pult-raw-body-query`` on an operation (web.api_base.raw_body_query): an upload sent as the
  raw body (not a form) needs these query parameters; a raw request without them is left out.
- The media types ``audio/wav`` and ``audio/mpeg`` (a sound upload, raw or as a form's file part):
  real files of those formats — PCM WAV of a few rates, channel counts and sample sizes with
  random samples, MPEG-1 Layer III frames — as the document says the content decides.

The hooks read these from the document itself, so they follow it; they never make up a rule.
"""
from __future__ import annotations

import os
import re
import struct
import threading
from datetime import date, datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import lambda_sources

from storage.paging import encode_cursor
from web.api_base import (CURSOR_FORMAT, FROM_TODAY_EXTENSION, FUTURE_EXTENSION, LAST_EXTENSION,
                          PERIOD_EXTENSION, RAW_BODY_QUERY_EXTENSION, REQUIRES_EXTENSION)
from jobs.billing.requisites import _W10, _W11, _W12, _check_digit
from web.api_fields import (DISTINCT_EXTENSION, INN_EXTENSION, LOCAL_HOST_EXTENSION, LOCAL_URL_EXTENSION,
                            ORDER_EXTENSION, UNIQUE_EXTENSION)

# Hypothesis describes a strategy's lambdas by parsing their module with ``ast``; two run workers
# doing so at once can trip CPython 3.11's "AST constructor recursion depth mismatch" (a tooling
# race, not a finding). One description at a time.
_describing = threading.Lock()
_describe = lambda_sources._lambda_description


def _one_at_a_time(*args, **kwargs):
    with _describing:
        return _describe(*args, **kwargs)


lambda_sources._lambda_description = _one_at_a_time

_SORT = [("a", -1), ("b", -1)]
_moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                        timezones=st.just(timezone.utc))
_keys = st.one_of(st.text("0123456789abcdef", min_size=24, max_size=24), st.integers(0, 2 ** 31))
schemathesis.openapi.format(CURSOR_FORMAT, st.one_of(
    st.just(""), st.builds(lambda m, k: encode_cursor({"a": m, "b": k}, _SORT), _moments, _keys)))




def _wav(rate: int, channels: int, bits: int, samples: bytes) -> bytes:
    """A RIFF/WAVE PCM file of ``samples`` (cut to whole frames, at least one)."""
    align = channels * bits // 8
    data = samples[:len(samples) - len(samples) % align] or bytes(align)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body + (b"\0" if len(data) & 1 else b"")


#: an MPEG-1 Layer III frame header: 128 kbit/s, 44.1 kHz, mono (417 bytes a frame)
_MP3_HEADER = bytes.fromhex("fffb90c0")
schemathesis.openapi.media_type("audio/wav", st.builds(
    _wav, st.sampled_from([8000, 16000, 44100, 48000]), st.integers(1, 2), st.sampled_from([8, 16, 24]),
    st.binary(min_size=0, max_size=2000)), aliases=("audio/x-wav",))
schemathesis.openapi.media_type("audio/mpeg", st.builds(
    lambda n, tag: (b"ID3\x04\x00\x00\x00\x00\x00\x00" if tag else b"")
    + (_MP3_HEADER + bytes(413)) * n, st.integers(1, 4), st.booleans()))


def _raw(context) -> dict:
    op = getattr(context, "operation", None)
    return getattr(getattr(op, "definition", None), "raw", None) or {}


def _day(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
        return None


def _now() -> datetime:
    """The server's now: the machine's clock shifted as the run's stack shifted its own."""
    return datetime.now(timezone.utc) + timedelta(seconds=float(os.environ.get("PULT_FUZZ_CLOCK_SHIFT") or 0))


def _documented_day(day: date) -> date:
    """``day`` or the nearest earlier one the documents' date pattern takes (days 01-28)."""
    return day.replace(day=min(day.day, 28))


def _bounded(first: date | None, last: date | None, max_days: int | None) -> tuple[date, date] | None:
    """A period rule applied: both or neither, in order, at most ``max_days`` days."""
    if first is None and last is None:
        return None
    first, last = first or last, last or first          # both or neither
    first, last = min(first, last), max(first, last)    # in order
    if max_days and (last - first).days + 1 > max_days:
        last = max(first, _documented_day(first + timedelta(days=max_days - 1)))
    return first, last


def _in_window(value, first: int, last: int):
    """``value`` when it is a date in the days ``first``..``last`` from today in every time zone,
    else a date in that window (one of the days 01-28, as the documents' pattern says)."""
    now = _now()
    lo = (now + timedelta(hours=14)).date() + timedelta(days=first)   # today where it is latest
    hi = (now - timedelta(hours=12)).date() + timedelta(days=last)    # today where it is earliest
    day = _day(value)
    if day is not None and lo <= day <= hi:
        return value
    span = max(0, (hi - lo).days)
    day = lo + timedelta(days=(day.toordinal() if day else 0) % (span + 1))
    if day.day > 28:   # the 1st of the next month, or back to the 28th when that leaves the window
        nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        day = nxt if nxt <= hi else day.replace(day=28)
    return day.isoformat()


@schemathesis.hook
def map_query(context, query):
    if not isinstance(query, dict):
        return query
    for param, (other, value) in (_raw(context).get(REQUIRES_EXTENSION) or {}).items():
        if query.get(param) not in (None, ""):
            query = {**query, other: value}
    rule = _raw(context).get(PERIOD_EXTENSION)
    if not rule:
        return query
    a, b = rule["since"], rule["until"]
    bounded = _bounded(_day(query.get(a)), _day(query.get(b)), rule.get("max_days"))
    if bounded is None:
        return query
    return {**query, a: bounded[0].isoformat(), b: bounded[1].isoformat()}


_RULES: dict | None = None


def _rules(context) -> dict:
    """The document's object rules (read once): order pairs, unique lists, distinct objects."""
    global _RULES
    if _RULES is None:
        op = getattr(context, "operation", None)
        doc = getattr(getattr(op, "schema", None), "raw_schema", None) or {}
        order, unique, distinct, inn, local, hosts, last = [], {}, {}, set(), set(), set(), {}
        periods, today = {}, {}
        for s in (doc.get("components", {}).get("schemas") or {}).values():
            if s.get(PERIOD_EXTENSION):
                rule = s[PERIOD_EXTENSION]
                key = (rule["since"], rule["until"])
                known = periods.get(key)   # the same two fields in two schemas: the stricter length
                periods[key] = rule.get("max_days") if known is None else min(
                    (d for d in (known, rule.get("max_days")) if d), default=None)
            today.update(s.get(FROM_TODAY_EXTENSION, {}))
            last.update(s.get(LAST_EXTENSION, {}))
            order += [tuple(p) for p in s.get(ORDER_EXTENSION, ())]
            unique.update(s.get(UNIQUE_EXTENSION, {}))
            distinct.update(s.get(DISTINCT_EXTENSION, {}))
            inn.update(s.get(INN_EXTENSION, ()))
            local.update(s.get(LOCAL_URL_EXTENSION, ()))
            hosts.update(s.get(LOCAL_HOST_EXTENSION, ()))
        _RULES = {"order": list(dict.fromkeys(order)), "unique": unique, "distinct": distinct, "inn": inn,
                  "local": local, "hosts": hosts, "last": last, "periods": periods, "today": today}
    return _RULES


def _inn(value):
    """``value`` with its check digits made right (10 or 12 ASCII digits; anything else as is)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        return value
    if len(value) == 10:
        return value[:9] + str(_check_digit(value, _W10))
    if len(value) == 12:
        value = value[:10] + str(_check_digit(value, _W11)) + value[11]
        return value[:11] + str(_check_digit(value, _W12))
    return value


def _same(value) -> str:
    """What a uniqueness rule compares: texts ignoring case and surrounding space (a name taken
    in another case is taken: stricter than some rules, never looser), anything else as is."""
    return value.strip().casefold() if isinstance(value, str) else repr(value)


def _apply(node, rules):
    if isinstance(node, list):
        return [_apply(v, rules) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _apply(v, rules) for k, v in node.items()}
    for key in rules["inn"] & node.keys():
        node[key] = _inn(node[key])
    receiver = os.environ.get("PULT_FUZZ_LOCAL_URL")
    for key in rules["local"] & node.keys():
        if receiver and isinstance(node[key], str):
            node[key] = receiver
    for key in rules["hosts"] & node.keys():
        if isinstance(node[key], str):
            node[key] = "127.0.0.1"
            if isinstance(node.get("port"), int):
                node["port"] = 1
    for key, spec in rules["last"].items():
        items = node.get(key)
        if isinstance(items, list) and items:
            for field, values in spec.items():
                found = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get(field) in values]
                if found:
                    items = [*items[:found[-1]], *items[found[-1] + 1:], items[found[-1]]]
            node[key] = items
    for (a, b), max_days in rules["periods"].items():
        first, last = _day(node.get(a)), _day(node.get(b))
        if first is not None and last is not None:   # both dates (a period's fields elsewhere: as they are)
            first, last = _bounded(first, last, max_days)
            node[a], node[b] = first.isoformat(), last.isoformat()
    for key, (first, last) in rules["today"].items():
        if isinstance(node.get(key), str):
            node[key] = _in_window(node[key], first, last)
    for a, b in rules["order"]:
        x, y = node.get(a), node.get(b)
        if isinstance(x, str) and isinstance(y, str):
            if x > y:
                node[a], node[b] = y, x
            elif x == y:  # equal times of day (HH:MM): from midnight, or until 23:59
                node[a], node[b] = ("00:00", x) if x != "00:00" else (x, "23:59")
    for key, fields in rules["unique"].items():
        if isinstance(node.get(key), list):
            seen, kept = set(), []
            for item in node[key]:
                values = {(f, _same(item.get(f))) for f in fields if isinstance(item, dict) and item.get(f) is not None}
                if not values & seen:
                    kept.append(item)
                    seen |= values
            node[key] = kept
    for key, defaults in rules["distinct"].items():
        given = node.get(key)
        if isinstance(given, dict):
            given = dict(given)
            while True:
                merged = {**defaults, **given}
                clash = [k for k in given if list(merged.values()).count(merged[k]) > 1]
                if not clash:
                    break
                del given[clash[-1]]
            node[key] = given
    return node


_RFC3339 = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$")


def _later(value):
    """``value`` when it is a plain RFC 3339 moment after the server's now (and before 2100), else a
    day from then."""
    now = _now()
    if isinstance(value, str) and _RFC3339.match(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if now + timedelta(minutes=1) < moment < datetime(2100, 1, 1, tzinfo=timezone.utc):
                return value
        except ValueError:
            pass
    return (now + timedelta(days=1)).isoformat()


@schemathesis.hook
def map_body(context, body):
    body = _apply(body, _rules(context))
    fields = _raw(context).get(FUTURE_EXTENSION)
    if fields and isinstance(body, dict):
        body = {**body, **{f: _later(body[f]) for f in fields if body.get(f) is not None}}
    return body


@schemathesis.hook
def filter_case(context, case):
    needed = _raw(context).get(RAW_BODY_QUERY_EXTENSION)
    if not needed or (case.media_type or "").startswith("multipart/"):
        return True
    query = case.query if isinstance(case.query, dict) else {}
    return all(query.get(name) not in (None, "") for name in needed)
