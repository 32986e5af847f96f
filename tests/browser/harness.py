"""Set-up shared by the browser tests (``test_*_browser.py``, ``test_scheme_editor.py``).

The fixtures ``browser`` (a headless Chromium, closed afterwards) and ``shots`` (the screenshot
directory) live in this folder's ``conftest.py``; this module holds what a test calls:

- :data:`BROWSER_TEST`: the module marks (``pytestmark = BROWSER_TEST``): marked ``browser`` and
  skipped, with the reason, where Chromium is not installed.
- :func:`jobs_settings`: the body of a module's ``settings`` fixture for tests that run a real
  Celery worker (the test Redis, a unique key prefix cleaned up afterwards).
- :func:`cheap_hashing`: cheapest password hashing while test users are created.
- :func:`sign_in`: open ``/login`` and sign in through the form, as a user does.
- :func:`wait_js`: wait for a JS expression, patient with the page reloading under it.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from jobs.testing import TEST_REDIS_URL as JOBS_REDIS_URL
from jobs.testing import cleanup, configure_for_tests
from pult.passwords import set_hash_profile
from pult.settings import Settings, load_settings, set_settings

from .cdp import CHROMIUM, Browser

BROWSER_TEST = [pytest.mark.browser,
                pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")]


def jobs_settings(tmp_path, monkeypatch) -> Iterator[Settings]:
    """Settings on a fresh data directory and the test Redis, configured for a real worker;
    ``yield from`` it in a ``settings`` fixture. Restores the global settings and removes the
    run's Redis keys afterwards."""
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0, redis_url=JOBS_REDIS_URL,
                      log_level="WARNING")
    set_settings(s)
    prefix = configure_for_tests(s)
    yield s
    set_settings(None)
    cleanup(prefix, JOBS_REDIS_URL)


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """The cheapest password hashing inside the block (creating users costs milliseconds), the
    default profile restored after it, whatever happens."""
    set_hash_profile("cheapest")
    try:
        yield
    finally:
        set_hash_profile("default")


def login_form_js(login: str, password: str) -> str:
    """JS that fills the login form with ``login``/``password`` and submits it."""
    return (f"document.getElementById('login').value={json.dumps(login)};"
            f"document.getElementById('password').value={json.dumps(password)};"
            "document.querySelector('form.form').submit(); true")


async def sign_in(b: Browser, url: str, login: str, password: str = "tenant-pass-1") -> None:
    """Open ``url``/login and sign in through the form; returns once the next page has loaded."""
    await b.goto(f"{url}/login")
    await b.submit_and_wait(login_form_js(login, password))


async def audio_duration(b: Browser, selector: str) -> float:
    """The duration the browser's player reads from the metadata of the audio in ``selector``
    (it really loads the file, over a Range request); -1 when the player cannot load it."""
    return await b.eval(f"""new Promise(function (resolve) {{
        var a = document.querySelector('{selector} audio');
        a.preload = 'metadata';
        a.addEventListener('loadedmetadata', function () {{ resolve(a.duration); }});
        a.addEventListener('error', function () {{ resolve(-1); }});
        a.load();
    }})""")


async def wait_js(b: Browser, expression: str, timeout: float = 30) -> None:
    """Like :meth:`Browser.wait_for`, but patient with the page reloading under it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await b.eval(expression):
                return
        except RuntimeError:  # the execution context went away with a reload
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression} stayed false for {timeout} s")
        await asyncio.sleep(0.1)
