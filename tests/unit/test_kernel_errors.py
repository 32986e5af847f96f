"""The kernel's error type is plain Python: the domain raises it without knowing the web edge,
and the edge (web.handlers.BaseHandler) turns it into an HTTP answer."""
from __future__ import annotations

import os
import subprocess
import sys

from pult.errors import AppError


def test_app_error_does_not_load_tornado():
    code = "import sys, pult.errors; sys.exit(1 if any(m.split('.')[0] == 'tornado' for m in sys.modules) else 0)"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_app_error_carries_what_the_edge_answers():
    exc = AppError(409, "quota_exceeded", "At most %(max)s employees.", fields={"name": "Taken."}, max=5)
    assert (exc.status_code, exc.code, exc.message, exc.values, exc.fields) == \
        (409, "quota_exceeded", "At most %(max)s employees.", {"max": 5}, {"name": "Taken."})
    assert str(exc) == "HTTP 409: quota_exceeded: At most 5 employees."
    assert not isinstance(exc, __import__("tornado.web").web.HTTPError)
