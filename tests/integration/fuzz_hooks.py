"""Schemathesis hooks of the property-based API run (``SCHEMATHESIS_HOOKS``, see
test_api_property.py): how to make the values whose shape the OpenAPI document cannot spell out.

A page cursor (format ``pult-cursor``) is an opaque token the server made; the run sends real
cursors — the encoding of plausible sort values, as a list's ``next`` carries them — or none.
"""
from __future__ import annotations

from datetime import datetime, timezone

import schemathesis
from hypothesis import strategies as st

from storage.paging import encode_cursor
from web.api_base import CURSOR_FORMAT

_SORT = [("a", -1), ("b", -1)]
_moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                        timezones=st.just(timezone.utc))
_keys = st.one_of(st.text("0123456789abcdef", min_size=24, max_size=24), st.integers(0, 2 ** 31))
schemathesis.openapi.format(CURSOR_FORMAT, st.one_of(
    st.just(""), st.builds(lambda m, k: encode_cursor({"a": m, "b": k}, _SORT), _moments, _keys)))
