"""Which store operations go first when the embedded store is busy.

The embedded store runs its operations one at a time in its store thread (see
``storage.embedded``). Work that a caller or a phone is waiting on — an xml_curl lookup
(registration, dialplan), a call flow loading its PBX — is *urgent*: it is taken before every
queued ordinary operation (a cabinet list, a report), so it waits at most for the one operation
already running, never for a queue of them. Mark it with :func:`urgent` around the awaited work::

    with urgent():
        xml = await asyncio.wait_for(provider(req), timeout)

The mark lives in a context variable, so tasks created inside the block inherit it. With MongoDB
it changes nothing (the driver has no such queue).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_URGENT: ContextVar[bool] = ContextVar("pult_store_urgent", default=False)


def is_urgent() -> bool:
    return _URGENT.get()


@contextmanager
def urgent() -> Iterator[None]:
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def mark_urgent() -> None:
    """Mark the rest of the current task (and the tasks it creates) as urgent."""
    _URGENT.set(True)


def mark_ordinary() -> None:
    """Mark the rest of the current task as ordinary: a task that urgent work starts but nobody
    waits on (a webhook event a call emits) must not go ahead of the next caller's reads."""
    _URGENT.set(False)
