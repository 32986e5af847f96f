"""Idempotency claims on real Redis: once, duplicates, release on failure, concurrent claims."""
from __future__ import annotations

import threading
import uuid

import pytest

from jobs.idempotency import AlreadyRunning, once, redis_key, state
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.settings import load_settings


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    prefix = configure_for_tests(load_settings(redis_url=TEST_REDIS_URL,
                                               data_dir=tmp_path_factory.mktemp("idem")))
    yield prefix
    cleanup(prefix)


def test_second_run_returns_stored_result_without_running(isolated):
    key = uuid.uuid4().hex
    calls = []
    first = once("t", key, lambda: calls.append(1) or {"sent": len(calls)})
    second = once("t", key, lambda: calls.append(1) or {"sent": len(calls)})
    assert calls == [1]
    assert (first.result, first.duplicate) == ({"sent": 1}, False)
    assert (second.result, second.duplicate) == ({"sent": 1}, True)
    assert redis_key("t", key).startswith(isolated)


def test_failure_releases_the_claim_so_a_retry_runs(isolated):
    key = uuid.uuid4().hex

    def boom():
        raise ConnectionError("smtp down")

    with pytest.raises(ConnectionError):
        once("t", key, boom)
    assert state("t", key) is None
    assert once("t", key, lambda: "ok").result == "ok"


def test_concurrent_run_is_told_to_retry_later(isolated):
    key = uuid.uuid4().hex
    inside, release = threading.Event(), threading.Event()
    results = []

    def slow():
        inside.set()
        release.wait(5)
        return "done"

    t = threading.Thread(target=lambda: results.append(once("t", key, slow)))
    t.start()
    assert inside.wait(5)
    with pytest.raises(AlreadyRunning, match="being processed by another run"):
        once("t", key, lambda: "second")
    assert state("t", key)["state"] == "claimed"
    release.set()
    t.join(5)
    assert results[0].result == "done" and state("t", key)["state"] == "done"


def test_expired_claim_of_a_dead_run_lets_a_retry_proceed(isolated):
    import time

    from jobs.app import redis_client

    key = uuid.uuid4().hex
    # a run that died holding its claim: the claim expires with its TTL
    redis_client().set(redis_key("t", key), '{"state": "claimed", "owner": "dead", "at": 0}',
                       px=150)
    with pytest.raises(AlreadyRunning):
        once("t", key, lambda: "x")
    time.sleep(0.3)
    assert once("t", key, lambda: "x").result == "x"


def test_bad_keys_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        once("t", "", lambda: None)
    with pytest.raises(ValueError, match="longer than 200"):
        once("t", "k" * 201, lambda: None)


def test_a_run_blocked_by_a_claim_keeps_retrying_until_the_claim_expires(isolated):
    """A worker killed mid-send leaves its claim for ``claim_ttl``. Its redelivered message must
    not use up its retries (a few seconds of backoff in all) while the claim is certain to block
    it: those retries are not counted, so the e-mail goes out once the claim has expired."""
    from celery.exceptions import Retry

    from jobs.app import PultTask, app, redis_client

    key = uuid.uuid4().hex
    redis_client().set(redis_key("t", key), '{"state": "claimed", "owner": "dead", "at": 0}', ex=40)

    class Blocked(PultTask):
        name = "tests.blocked"

        def run(self):
            return once("t", key, lambda: "x").result

    task = Blocked()
    task.bind(app)
    scheduled = []

    def retry(exc=None, countdown=None, max_retries=None, **_):
        scheduled.append((type(exc), max_retries))
        if max_retries is not None and task.request.retries >= max_retries:
            return exc  # what Celery does when the budget is spent: the job fails for good
        return Retry(exc=exc, when=countdown)
    task.retry = retry
    for attempt in (0, 5, 50):  # far beyond the budget of a bounded failure (10 here, 5 in tests)
        task.push_request(id="t-1", retries=attempt, called_directly=False)
        try:
            with pytest.raises(Retry):
                task()
        finally:
            task.pop_request()
    assert [t for t, _ in scheduled] == [AlreadyRunning] * 3
    redis_client().delete(redis_key("t", key))  # the claim expired
    task.push_request(id="t-1", retries=51, called_directly=False)
    try:
        assert task() == "x"
    finally:
        task.pop_request()
