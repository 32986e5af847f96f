"""Run a side effect once, even when its job is retried or delivered twice.

Celery on Redis delivers a message *at least* once: a worker that dies before acknowledging, a
visibility timeout that expires, or a caller that submits the same request twice all lead to a
second run. Jobs that send something (an e-mail, an SMS, a webhook) wrap the sending in
:func:`once`, keyed by an idempotency key (the caller's, or the Celery task id which survives
retries and redeliveries).

The key lives in Redis with a state:

- ``claimed`` — ``SET NX EX claim_ttl``: one run owns it and is sending now. Another run that
  finds it raises :class:`AlreadyRunning` (a :class:`~jobs.app.TransientError`, so the job is
  retried later). If the owner died, the claim expires after ``claim_ttl`` and a later retry
  proceeds: at-least-once, with the duplicate window reduced to the instant between the
  provider's "accepted" and the ``done`` write.
- ``done`` — written right after the side effect succeeded, with its JSON result and a long TTL;
  every later run returns that stored result (with ``duplicate: True``) and sends nothing.
- failure — the owner deletes its claim (only if still its own) and re-raises, so the retry of a
  failed send can go ahead.
"""
from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from jobs.app import TransientError, key_prefix, redis_client
from pult import clock

#: Default lifetime of a claim: longer than a job's hard time limit, so a live owner never loses it.
CLAIM_TTL = 15 * 60
#: How long a finished key remembers its result (covers every redelivery and retry window).
DONE_TTL = 7 * 24 * 3600

# delete the key only if this run still owns the claim (a compare-and-delete must be atomic)
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['owner'] == ARGV[1] and cjson.decode(v)['state'] == 'claimed' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class AlreadyRunning(TransientError):
    """Another run holds the claim for this key right now; retry later.

    A live owner finishes soon (the retry then finds ``done``); an owner that died leaves a claim
    that only its expiry removes. Either way the obstacle ends within ``claim_ttl``, so these
    retries do not count against the job's retry budget: a redelivered message of a worker killed
    mid-send keeps retrying (with the usual backoff) until the claim expires, and then sends.
    """

    bounded = False


@dataclass(frozen=True)
class Outcome:
    """What :func:`once` did: ``duplicate`` is True when the stored result of an earlier run
    was returned and ``fn`` did not run."""

    result: Any
    duplicate: bool


def redis_key(namespace: str, key: str) -> str:
    """The Redis key of an idempotency key (prefixed for this installation)."""
    if not key or not isinstance(key, str):
        raise ValueError(f"idempotency key must be a non-empty string, got {key!r}")
    if len(key) > 200:
        raise ValueError("idempotency key is longer than 200 characters")
    return f"{key_prefix()}pult:once:{namespace}:{key}"


def once(namespace: str, key: str, fn: Callable[[], Any], *, claim_ttl: int = CLAIM_TTL,
         done_ttl: int = DONE_TTL, client=None) -> Outcome:
    """Run ``fn()`` unless a run with this key already finished; return its (stored) result.

    ``fn``'s result must be JSON-serialisable: it is what duplicates get back.
    Raises :class:`AlreadyRunning` while another run holds the claim, and whatever ``fn``
    raises (after releasing the claim).
    """
    client = client or redis_client()
    rkey = redis_key(namespace, key)
    token = uuid.uuid4().hex
    claim = json.dumps({"state": "claimed", "owner": token, "at": clock.timestamp()})
    for _ in range(3):
        if client.set(rkey, claim, nx=True, ex=claim_ttl):
            break
        raw = client.get(rkey)
        if raw is None:  # released between our SET and GET: try to claim again
            continue
        state = json.loads(raw)
        if state.get("state") == "done":
            return Outcome(state.get("result"), True)
        age = clock.timestamp() - float(state.get("at", 0))
        raise AlreadyRunning(f"{namespace} {key!r} is being processed by another run "
                             f"(claimed {age:.0f}s ago)")
    else:
        raise AlreadyRunning(f"{namespace} {key!r}: claim contended, try again")
    try:
        result = fn()
    except BaseException:
        client.eval(_RELEASE, 1, rkey, token)
        raise
    # the side effect happened: record it first, before anything else can fail
    client.set(rkey, json.dumps({"state": "done", "result": result, "at": clock.timestamp()}),
               ex=done_ttl)
    return Outcome(result, False)


def state(namespace: str, key: str, client=None) -> dict | None:
    """The stored state of a key (``{"state": "claimed"|"done", ...}``) or None (diagnostics)."""
    raw = (client or redis_client()).get(redis_key(namespace, key))
    return json.loads(raw) if raw else None


def idempotent(namespace: str) -> Callable:
    """Decorator for a bound task whose body must run once per idempotency key.

    The key is the task's ``idempotency_key`` keyword argument, or the Celery task id (which
    survives retries and redeliveries of the same message). A dict result gets
    ``duplicate: True|False`` so the caller can tell::

        @app.task(bind=True)
        @idempotent("sms")
        def send(self, to, text, idempotency_key=None): ...
    """
    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(task, *args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
            key = idempotency_key or task.request.id
            if not key:  # called directly, outside a worker and without a key: nothing to guard
                return fn(task, *args, **kwargs)
            # the claim outlives the job's hard time limit; tests shorten it (``pult_claim_ttl``)
            claim_ttl = int(getattr(task.app.conf, "pult_claim_ttl", None) or CLAIM_TTL)
            outcome = once(namespace, key, lambda: fn(task, *args, **kwargs), claim_ttl=claim_ttl)
            if isinstance(outcome.result, dict):
                return {**outcome.result, "duplicate": outcome.duplicate}
            return outcome.result
        return wrapper
    return deco
