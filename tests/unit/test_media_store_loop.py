"""The embedded (directory) media store keeps the event loop free while it writes and reads, and
names files only by the ids it made itself."""
from __future__ import annotations

import asyncio
import os

import pytest

from storage.client import open_store
from storage.media import MediaNotFound


@pytest.fixture
async def embedded(settings):
    st = open_store(settings)
    await st.start()
    yield st
    await st.close()


async def _ticks_during(coro) -> tuple[object, int]:
    """Run ``coro`` while another task counts how often the loop gets to run it."""
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        result = await coro
    finally:
        done.set()
        await task
    return result, ticks


async def test_a_large_put_and_read_leave_the_loop_serving(embedded):
    """Storing a multi-megabyte document (write, hash, fsync) and reading it back happen in
    threads: other coroutines keep running meanwhile (before, the loop was held for the
    whole put: not one tick)."""
    data = os.urandom(8 * 1024 * 1024)
    fid, ticks = await _ticks_during(embedded.media.put(5, "calls.xlsx", data, "application/zip"))
    assert ticks > 1
    info = await embedded.media.info(5, fid)
    assert info.length == len(data)
    back, ticks = await _ticks_during(embedded.media.read(5, fid))
    assert back == data and ticks > 1


async def test_a_stream_given_up_half_way_closes_its_file(embedded):
    fid = await embedded.media.put(5, "rec.wav", os.urandom(1024 * 1024), "audio/wav")
    stream = embedded.media.stream(5, fid)
    first = await stream.__anext__()
    assert len(first) > 0
    await stream.aclose()
    assert await embedded.media.delete(5, fid) is True


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "..", "5/../6/abc", "", "0" * 23, "A" * 24])
async def test_ids_the_store_did_not_make_are_not_found(embedded, bad_id):
    """A file id is a path component only when it is the store's own ObjectId form."""
    with pytest.raises(MediaNotFound):
        embedded.media._path(5, bad_id)
    with pytest.raises(MediaNotFound):
        await embedded.media.read(5, bad_id)
    assert await embedded.media.delete(5, bad_id) is False
