"""Media jobs (queue ``media``): converting uploaded sound files, generating the built-ins.

``jobs.media.convert_sound(pbx_id, sound_id)`` turns a stored upload into the forms of
:data:`jobs.transcode.VARIANTS` (FreeSWITCH WAV 8 kHz and 16 kHz, browser MP3) with
sox/lame, stores them in the media store (owner: the PBX) and records them on the sound's
document, with the status the cabinet shows:

    uploaded ──job starts──▶ converting ──▶ ready   (variants: {wav8k, wav16k, mp3})
                                      └───▶ failed  (error: {code, params} — a message code)

Idempotent by construction, not by a Redis claim: a sound that is already ``ready`` is left
alone; the variants are recorded with a conditional update (only if none are recorded yet), so
of two concurrent runs one wins and the other removes the files it stored; a sound deleted while
it was being converted gets its new files removed again. Temporary files live in a private
directory that is removed on every path out. A bad source is a permanent failure (no retry); a
store that is down is :class:`~jobs.app.TransientError` (retried with backoff).
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jobs import context
from jobs.app import TransientError, app
from jobs.transcode import ConversionError, convert, delete_variants, put_variants
from pult import clock
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.telephony import SoundFiles

SYSTEM = {"kind": "system", "login": None, "ip": None}  # the action log's "System" actor

log = logging.getLogger("pult.jobs.media")

#: a sound stuck in "converting" longer than this (a worker died) may be converted again
STALE_CONVERTING = 15 * 60


class SoundGone(Exception):
    """The sound was deleted before or during its conversion (nothing to do)."""


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


def _store_call(fn, timeout: float = 300.0) -> Any:
    """:func:`jobs.context.call_store`, with an unreachable store as a transient failure."""
    try:
        return context.call_store(fn, timeout)
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise TransientError(f"the store is unavailable: {exc}") from exc


def _claim(pbx_id: int, sound_id: str) -> dict | None:
    """Mark the sound ``converting`` unless it is ready (or being converted by a live run);
    returns the document to convert, or None when there is nothing to do."""
    async def run(store):
        repo = SoundFiles(store.db, Scope.pbx(pbx_id))
        doc = await repo.find_one({"_id": sound_id})
        if doc is None:
            raise SoundGone(sound_id)
        if doc.get("status") == "ready" and doc.get("variants"):
            return None
        started = _aware(doc.get("converting_since"))
        if doc.get("status") == "converting" and started is not None and \
                (clock.now() - started).total_seconds() < STALE_CONVERTING:
            return None
        await repo.update_one({"_id": sound_id}, {"$set": {"status": "converting", "converting_since": clock.now()},
                                                  "$unset": {"error": ""}})
        return doc
    return _store_call(run)


def _fetch_original(pbx_id: int, media_id: str, dest: Path) -> int:
    # ``run`` executes on the store's loop — in embedded mode the web server's own loop — so the
    # file writes go to a thread (a 32 MB upload must not hold the cabinet for its whole copy)
    async def run(store):
        size = 0
        f = await asyncio.to_thread(open, dest, "wb")
        try:
            async for chunk in store.media.stream(pbx_id, media_id):
                await asyncio.to_thread(f.write, chunk)
                size += len(chunk)
        finally:
            await asyncio.to_thread(f.close)
        return size
    return _store_call(run)


def _store_variants(pbx_id: int, sound_id: str, name: str, files: dict[str, Path]) -> dict:
    """Put the converted files in the media store and record them (conditionally)."""
    async def run(store):
        stored = await put_variants(store.media, pbx_id, sound_id, files, lambda key, v: f"{name}.{key}.{v.ext}")
        repo = SoundFiles(store.db, Scope.pbx(pbx_id))
        recorded = await repo.update_one({"_id": sound_id, "variants": {"$exists": False}},
                                         {"$set": {"status": "ready", "variants": stored, "converted_at": clock.now()},
                                          "$unset": {"error": "", "converting_since": ""}})
        if recorded:
            doc = await repo.find_one({"_id": sound_id}, {"name": 1})
            await audit(store.db, Scope.pbx(pbx_id), actor=SYSTEM, section="sounds", operation="convert",
                        object={"type": "sound", "id": sound_id, "name": (doc or {}).get("name")},
                        before={"status": "converting"},
                        after={"status": "ready", "variants": sorted(stored)})
            return {"stored": True, "variants": stored}
        # deleted meanwhile, or another run recorded its files first
        await delete_variants(store.media, pbx_id, stored)
        if await repo.find_one({"_id": sound_id}) is None:
            raise SoundGone(sound_id)
        return {"stored": False}
    return _store_call(run)


def _fail(pbx_id: int, sound_id: str, error: ConversionError) -> None:
    async def run(store):
        repo = SoundFiles(store.db, Scope.pbx(pbx_id))
        changed = await repo.update_one(
            {"_id": sound_id, "variants": {"$exists": False}},
            {"$set": {"status": "failed", "error": {"code": error.code, "params": dict(error.params)},
                      "failed_at": clock.now()},
             "$unset": {"converting_since": ""}})
        if changed:
            doc = await repo.find_one({"_id": sound_id}, {"name": 1})
            await audit(store.db, Scope.pbx(pbx_id), actor=SYSTEM, section="sounds", operation="convert",
                        object={"type": "sound", "id": sound_id, "name": (doc or {}).get("name")},
                        before={"status": "converting"}, after={"status": "failed", "error": error.code})
    _store_call(run)


def _release(pbx_id: int, sound_id: str) -> None:
    """Back to ``uploaded`` after a transient failure, so a retry (or the button) can claim it."""
    async def run(store):
        await SoundFiles(store.db, Scope.pbx(pbx_id)).update_one(
            {"_id": sound_id, "status": "converting"},
            {"$set": {"status": "uploaded"}, "$unset": {"converting_since": ""}})
    try:
        _store_call(run, 30)
    except Exception:  # the store is what failed: the stale-claim timeout covers it
        log.warning("could not release the conversion claim of sound %s/%s", pbx_id, sound_id)


def convert_now(pbx_id: int, sound_id: str, *, tmp_root: str | None = None) -> dict:
    """The body of :func:`convert_sound`, callable without Celery (tests, the CLI).

    Returns ``{"status": "ready"|"failed"|"skipped"|"gone", ...}``.
    """
    try:
        doc = _claim(pbx_id, sound_id)
    except SoundGone:
        return {"status": "gone", "sound_id": sound_id}
    if doc is None:
        return {"status": "skipped", "sound_id": sound_id}
    workdir = Path(tempfile.mkdtemp(prefix="pult-sound-", dir=tmp_root))
    try:
        src = workdir / f"original.{doc['format']}"
        _fetch_original(pbx_id, doc["media_id"], src)
        out = workdir / "out"
        out.mkdir()
        files = convert(src, doc["format"], out, expected=doc.get("duration"))
        result = _store_variants(pbx_id, sound_id, sound_id, files)
        log.info("sound %s/%s converted (%s)", pbx_id, sound_id,
                 ", ".join(f"{k} {v['size']} B" for k, v in result.get("variants", {}).items()))
        return {"status": "ready", "sound_id": sound_id,
                "variants": sorted(result.get("variants", {}))}
    except ConversionError as exc:
        log.warning("sound %s/%s cannot be converted: %s", pbx_id, sound_id, exc)
        _fail(pbx_id, sound_id, exc)
        return {"status": "failed", "sound_id": sound_id, "code": exc.code, "error": str(exc)}
    except SoundGone:
        return {"status": "gone", "sound_id": sound_id}
    except BaseException:
        _release(pbx_id, sound_id)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@app.task(name="jobs.media.convert_sound", bind=True, soft_time_limit=600, time_limit=660)
def convert_sound(self, pbx_id: int, sound_id: str) -> dict:
    """Convert one uploaded sound file for FreeSWITCH and the browser (see the module doc)."""
    return convert_now(int(pbx_id), str(sound_id))


@app.task(name="jobs.media.seed_builtins", bind=True)
def seed_builtins(self) -> dict:
    """Generate the audio of the built-in sound files that lack it (idempotent)."""
    from jobs.builtin_media import seed_builtin_media

    return {"generated": _store_call(seed_builtin_media)}


async def queue_conversion(pbx_id: int, sound_id: str) -> str:
    """Queue :func:`convert_sound` from the web server's loop; returns the job id.

    Raises :class:`jobs.app.JobsUnavailable` when Redis cannot be reached (the sound then stays
    ``uploaded`` and the cabinet offers to convert it again).
    """
    from jobs.client import submit_async

    return await submit_async(convert_sound, args=(int(pbx_id), str(sound_id)),
                              what="the sound file conversion")
