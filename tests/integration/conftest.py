"""Fixtures shared by the integration tests.

- ``sink``: a local SMTP server (:class:`jobs.testing.SmtpSink`, aiosmtpd on a free loopback
  port) recording what it receives; one per test module, so a module's worker can be configured
  with its port once. Tests call ``sink.reset()`` where they need an empty mailbox.
"""
from __future__ import annotations

import pytest

from jobs.testing import SmtpSink


@pytest.fixture(scope="module")
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()
