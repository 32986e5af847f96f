"""Job-system health for readiness checks and metrics, read from the server without blocking.

- :func:`workers` — the workers whose heartbeat (:class:`jobs.runner.Heartbeat`) is fresh:
  one ``ZRANGEBYSCORE`` + ``HMGET``, no round trip to the workers themselves (``celery inspect
  ping`` would broadcast and wait a full timeout when none answers).
- :func:`queue_lengths` — messages waiting per queue (``LLEN`` of each queue's Redis lists,
  priority sub-lists included); also sets the ``JOB_QUEUE_LENGTH`` gauge.
- :func:`check` — both together with a timeout, as a dict for ``/ready``: never raises.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from jobs.app import QUEUES, app, key_prefix, redact_url
from jobs.client import async_redis
from jobs.runner import HEARTBEAT_TTL, workers_info_key, workers_key
from pult import clock
from pult.observability import JOB_QUEUE_LENGTH

# kombu's Redis transport keeps priorities 3, 6, 9 in lists named "<queue>\x06\x16<priority>"
_PRIORITY_SEP = "\x06\x16"
_PRIORITIES = (3, 6, 9)


def _queue_keys(queue: str) -> list[str]:
    base = f"{key_prefix()}{queue}"
    return [base] + [f"{base}{_PRIORITY_SEP}{p}" for p in _PRIORITIES]


async def workers(client=None) -> list[dict[str, Any]]:
    """Details of the workers seen alive in the last ``HEARTBEAT_TTL`` seconds."""
    client = client or async_redis()
    names = await client.zrangebyscore(workers_key(), clock.timestamp() - HEARTBEAT_TTL, "+inf")
    if not names:
        return []
    infos = await client.hmget(workers_info_key(), names)
    alive = []
    for name, info in zip(names, infos):
        entry = json.loads(info) if info else {"hostname": name.decode()}
        alive.append(entry)
    return alive


async def queue_lengths(client=None) -> dict[str, int]:
    """Messages waiting in each queue of :data:`jobs.app.QUEUES` (and update the gauge)."""
    client = client or async_redis()
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        for key in _queue_keys(queue):
            pipe.llen(key)
    counts = await pipe.execute()
    per = len(_PRIORITIES) + 1
    lengths = {queue: sum(counts[i * per:(i + 1) * per]) for i, queue in enumerate(QUEUES)}
    for queue, length in lengths.items():
        JOB_QUEUE_LENGTH.labels(queue=queue).set(length)
    return lengths


async def check(timeout: float = 1.0) -> dict[str, Any]:
    """Readiness of the job system; never raises.

    Returns ``{"ok", "redis", "workers", "queues", "error"}``: ``ok`` is True when Redis answers
    and at least one worker is alive; ``error`` explains what is wrong otherwise.
    """
    result: dict[str, Any] = {"ok": False, "redis": False, "workers": [], "queues": {},
                              "error": None}
    try:
        async with asyncio.timeout(timeout):
            client = async_redis()
            await client.ping()
            result["redis"] = True
            result["workers"] = await workers(client)
            result["queues"] = await queue_lengths(client)
    except TimeoutError:
        result["error"] = (f"Redis at {redact_url(app.conf.broker_url)} did not answer "
                           f"within {timeout:g}s")
        return result
    except Exception as exc:
        result["error"] = f"Redis at {redact_url(app.conf.broker_url)} is unreachable: {exc}"
        return result
    if not result["workers"]:
        result["error"] = "no job worker is running (start `pult worker` or the embedded one)"
    else:
        result["ok"] = True
    return result
