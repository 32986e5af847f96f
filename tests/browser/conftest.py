"""Fixtures of the browser tests: ``browser``, a headless Chromium started for the test and
closed after it, and ``shots``, where screenshots go ($PULT_SCREENSHOT_DIR, default: the test's
tmp dir). A module that needs other Chromium flags defines its own ``browser``."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .cdp import Browser


@pytest.fixture
def shots(tmp_path) -> Path:
    d = Path(os.environ.get("PULT_SCREENSHOT_DIR") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
async def browser():
    b = await Browser().start()
    yield b
    await b.close()
