"""Fixtures shared by the integration tests.

- ``sink``: a local SMTP server (:class:`jobs.testing.SmtpSink`, aiosmtpd on a free loopback
  port) recording what it receives; one per test module, so a module's worker can be configured
  with its port once. Tests call ``sink.reset()`` where they need an empty mailbox.
- ``deliveries_stored_only``: webhook deliveries are stored but no job is queued to send them (for
  the tests of what emits events; ``pytestmark = pytest.mark.usefixtures("deliveries_stored_only")``).
"""
from __future__ import annotations

import pytest

from esl_control.model.webhooks import services as webhook_services
from jobs.testing import SmtpSink


@pytest.fixture(scope="module")
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def deliveries_stored_only():
    previous = webhook_services._dispatcher
    webhook_services.set_dispatcher(None)
    yield
    webhook_services.set_dispatcher(previous)
