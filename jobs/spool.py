"""Voice mail and faxes from the spool into the media store (queue ``media``).

The call engine records voice mail with FreeSWITCH ``record`` into ``{spool_dir}/vm-<call
uuid>-<n>.wav`` and receives faxes with ``rxfax`` into ``{spool_dir}/fax-<call uuid>-<n>.tif``
(``PULT_SPOOL_DIR``; the node and Pult see the same directory, see deploy/README.md). This module
moves each finished file into the media store, owned by the call's PBX, and links it to the call
record; the spool file is deleted only after the store confirmed it (length and SHA-256 read back
equal the file's). Nothing is ever deleted otherwise.

- **Finished**: a file is imported once its call record is stored (the record is written at
  CHANNEL_HANGUP_COMPLETE; FreeSWITCH closes a ``record``/``rxfax`` file when the application
  returns, before the channel's hang-up completes). Until then it waits.
- **Triggered and swept**: :func:`on_call_record` (the CDR writer's hook) queues
  :func:`import_call` for a record that names a spool file; the beat runs :func:`sweep` every
  :data:`SWEEP_EVERY` seconds for everything else (a missed trigger, Redis down at the time).
- **Idempotent**: every stored file carries ``metadata.spool`` (the spool file name) and a
  ``variant``; a run first looks for what an earlier run already stored (a worker killed between
  storing and linking, or between linking and deleting) and reuses it after checking its SHA-256,
  so nothing is stored twice. Linking is conditional (one entry per spool file name), so of two
  concurrent runs one links and the other removes what it stored.
- **Orphans**: a file whose call is still unknown after ``PULT_SPOOL_ORPHAN_GRACE`` seconds (or
  whose call has no PBX) is moved to ``{spool_dir}/quarantine/`` and logged as an error; it is
  never deleted, the count is in ``/readyz`` (``checks.spool``) and ``/metrics``
  (``pult_spool_files{state="quarantined"}``), and a quarantined file whose call record turns up
  later (a record that waited in the CDR writer's disk spool) is imported by the next sweep.
- **Media**: a voice mail keeps its duration (``soxi``); a fax keeps its page count (Pillow
  reads the TIFF directories) and gets a PDF for download made with libtiff's ``tiff2pdf``
  (lossless: the fax's CCITT data is embedded as is). A file the tools cannot read is still stored
  (duration/pages unknown): recordings are never dropped for a bad header.

The call record gains ``media: [{kind, id, spool, content_type, size, sha256, duration | pages,
received (spandsp's fax_success, when known), pdf_id, stored_at}]`` and ``voicemail_ids`` /
``fax_ids`` (the inboxes come later and read these).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import uuid as uuidlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from jobs import context, schedules
from jobs.app import TransientError, app, key_prefix, redis_client
from pult import clock
from pult.observability import SPOOL_FILES
from pult.settings import Settings
from storage.media import file_chunks
from storage.repos.calls import find_call, link_media

log = logging.getLogger("pult.jobs.spool")

#: seconds between sweeps of the spool directory (beat)
SWEEP_EVERY = 30
QUARANTINE = "quarantine"
#: the spool file names the call engine writes: ``vm-<uuid>-<n>.wav``, ``fax-<uuid>-<n>.tif``
SPOOL_NAME = re.compile(r"(?P<prefix>vm|fax)-(?P<uuid>[A-Za-z0-9][A-Za-z0-9_-]*)-(?P<n>\d+)(?:\.q[0-9a-f]{8})?\.(?P<ext>wav|tiff?)")
_KINDS = {("vm", "wav"): "voicemail", ("fax", "tif"): "fax", ("fax", "tiff"): "fax"}
CONTENT_TYPES = {"voicemail": "audio/wav", "fax": "image/tiff"}
#: the channel variables the engine sets to a spool file it wrote (kept in the record's ``vars``)
RECORD_VARIABLES = ("pult_voicemail", "pult_fax")
#: a lock on one spool file while a run imports it (longer than the task's hard time limit)
FILE_LOCK_TTL = 15 * 60
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    kind: str  # "voicemail" | "fax"
    uuid: str  # the call's channel uuid

    @property
    def name(self) -> str:
        return self.path.name


def parse(path: Path) -> SpoolFile | None:
    """The spool file ``path`` names, or None for a name the engine does not write."""
    m = SPOOL_NAME.fullmatch(path.name)
    if not m:
        return None
    kind = _KINDS.get((m["prefix"], m["ext"]))
    return SpoolFile(path, kind, m["uuid"]) if kind else None


# --- the tools ----------------------------------------------------------------------------------
def wav_seconds(path: Path) -> float | None:
    """The recording's length in seconds (``soxi -D``), None when sox cannot read it."""
    try:
        out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, timeout=30)
        return round(float(out.stdout.strip()), 2) if out.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def tiff_pages(path: Path) -> int | None:
    """How many pages the fax has (TIFF directories), None when the file cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return int(getattr(img, "n_frames", 1))
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def tiff_to_pdf(path: Path, out: Path) -> bool:
    """A PDF of the fax for download (``tiff2pdf``); False when the TIFF cannot be converted."""
    try:
        done = subprocess.run(["tiff2pdf", "-o", str(out), str(path)], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("tiff2pdf failed for %s: %s", path, exc)
        return False
    if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        log.warning("tiff2pdf could not convert %s: %s", path, done.stderr.decode(errors="replace").strip())
        return False
    return True


def _digest(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _store_call(fn, timeout: float = 300.0) -> Any:
    """:func:`jobs.context.call_store`; an unreachable store is transient (the file stays, the
    job is retried and the sweep tries again)."""
    from pymongo.errors import ConnectionFailure

    try:
        return context.call_store(fn, timeout)
    except (ConnectionError, TimeoutError, OSError, ConnectionFailure) as exc:
        raise TransientError(f"the store is unavailable: {exc}") from exc


# --- one file -------------------------------------------------------------------------------------
@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    """Whether this run may import the spool file ``name`` now (another run holds it: False)."""
    from redis.exceptions import RedisError

    client = redis_client()
    key = f"{key_prefix()}pult:spool:lock:{name}"
    token = uuidlib.uuid4().hex
    try:
        got = bool(client.set(key, token, nx=True, ex=FILE_LOCK_TTL))
    except RedisError as exc:
        raise TransientError(f"Redis is unavailable: {exc}") from exc
    try:
        yield got
    finally:
        if got:
            client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
                        "return 0", 1, key, token)


def quarantine_dir(settings: Settings) -> Path:
    return settings.spool_dir / QUARANTINE


def _quarantine(settings: Settings, f: SpoolFile, reason: str) -> dict:
    qdir = quarantine_dir(settings)
    qdir.mkdir(parents=True, exist_ok=True)
    dest = qdir / f.name
    if dest.exists():  # never overwrite one kept before
        dest = qdir / f"{f.path.stem}.q{uuidlib.uuid4().hex[:8]}{f.path.suffix}"
    os.replace(f.path, dest)
    log.error("spool file quarantined (%s): %s -> %s; it is kept for an operator", reason, f.path, dest)
    return {"status": "quarantined", "file": f.name, "reason": reason, "to": str(dest)}


def _earlier_copy(pbx_id: int, f: SpoolFile, variant: str, source_sha: str) -> dict | None:
    """What an earlier run stored of ``variant`` of this spool file's content (``source_sha``:
    the spool file's SHA-256), or None. A PDF is made anew each run (its bytes differ by the
    creation date), so copies are matched by the source they were made from."""
    async def run(store):
        for info in await store.media.find(pbx_id, {"spool": f.name, "variant": variant,
                                                    "source_sha256": source_sha}):
            return {"id": info.file_id, "size": info.length, "sha256": info.sha256, "new": False}
        return None
    return _store_call(run, 60)


def _put_variant(pbx_id: int, f: SpoolFile, variant: str, path: Path, content_type: str,
                 metadata: dict, source_sha: str) -> dict:
    """Store ``path`` as ``variant`` of this spool file and read it back (length and SHA-256
    must be what was sent). Returns ``{"id", "size", "sha256", "new": True}``."""
    sha, size = _digest(path)
    name = f.name if variant == "original" else f"{Path(f.name).stem}.pdf"

    async def run(store):
        fid = await store.media.put(pbx_id, name, file_chunks(path, _CHUNK), content_type,
                                    {**metadata, "spool": f.name, "variant": variant, "source_sha256": source_sha})
        info = await store.media.info(pbx_id, fid)
        if info.sha256 != sha or info.length != size:  # the store did not keep what we sent
            await store.media.delete(pbx_id, fid)
            raise TransientError(f"{f.name}: the stored copy differs from the file "
                                 f"({info.length} B, expected {size} B)")
        return {"id": fid, "size": size, "sha256": sha, "new": True}
    return _store_call(run)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:  # make the removal durable too (the store already has the file)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def import_file(settings: Settings, f: SpoolFile, *, quarantined: bool = False,
                now: float | None = None) -> dict:
    """Import one spool file if it is finished (see the module docstring); returns what happened:
    ``{"status": "imported"|"waiting"|"quarantined"|"kept"|"gone"|"busy", ...}`` (``kept``: a
    quarantined file whose call is still unknown). Raises
    :class:`~jobs.app.TransientError` when the store fails (the file stays)."""
    with _file_lock(f.name) as got:
        if not got:
            return {"status": "busy", "file": f.name}
        try:
            mtime = f.path.stat().st_mtime
        except FileNotFoundError:
            return {"status": "gone", "file": f.name}
        record = _store_call(lambda store: find_call(store.db, f.uuid), 60)
        if record is None:
            age = (now if now is not None else clock.timestamp()) - mtime
            if quarantined:
                return {"status": "kept", "file": f.name}
            if age >= settings.spool_orphan_grace:
                return _quarantine(settings, f, f"no call {f.uuid} after {age / 3600:.1f} h")
            return {"status": "waiting", "file": f.name}
        pbx_id = record.get("pbx_id")
        if not isinstance(pbx_id, int) or pbx_id <= 0:
            if quarantined:
                return {"status": "kept", "file": f.name}
            return _quarantine(settings, f, f"call {f.uuid} has no PBX")
        linked = next((m for m in record.get("media") or [] if m.get("spool") == f.name), None)
        if linked is not None:  # stored and linked by an earlier run that did not get to delete
            _remove(f.path)
            log.info("spool file %s was already stored as %s; removed", f.name, linked.get("id"))
            return {"status": "imported", "file": f.name, "id": linked.get("id"), "duplicate": True}
        return _store_and_link(settings, f, record, pbx_id)


def _store_and_link(settings: Settings, f: SpoolFile, record: dict, pbx_id: int) -> dict:
    meta: dict[str, Any] = {"kind": f.kind, "call_uuid": f.uuid}
    entry: dict[str, Any] = {"kind": f.kind, "spool": f.name, "content_type": CONTENT_TYPES[f.kind]}
    if f.kind == "voicemail":
        entry["duration"] = meta["duration"] = wav_seconds(f.path)
    else:
        entry["pages"] = meta["pages"] = tiff_pages(f.path)
        success = (record.get("vars") or {}).get("fax_success")  # spandsp's verdict, when known
        if success in ("0", "1"):
            entry["received"] = meta["received"] = success == "1"
    new_ids: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="pult-spool-"))
    try:
        source_sha, _ = _digest(f.path)
        original = _earlier_copy(pbx_id, f, "original", source_sha) or \
            _put_variant(pbx_id, f, "original", f.path, CONTENT_TYPES[f.kind], meta, source_sha)
        if original["new"]:
            new_ids.append(original["id"])
        entry.update(id=original["id"], size=original["size"], sha256=original["sha256"])
        if f.kind == "fax":
            pdf = _earlier_copy(pbx_id, f, "pdf", source_sha)
            if pdf is None and tiff_to_pdf(f.path, workdir / "fax.pdf"):
                pdf = _put_variant(pbx_id, f, "pdf", workdir / "fax.pdf", "application/pdf", meta, source_sha)
                new_ids.append(pdf["id"])
            if pdf is not None:
                entry["pdf_id"] = pdf["id"]
        entry["stored_at"] = clock.now()

        async def link(store):
            if await link_media(store.db, f.uuid, entry):
                return None
            current = await find_call(store.db, f.uuid)
            other = next((m for m in (current or {}).get("media") or [] if m.get("spool") == f.name), None)
            for fid in new_ids:  # another run linked its copy first: ours is not needed
                if other is None or fid not in (other.get("id"), other.get("pdf_id")):
                    await store.media.delete(pbx_id, fid)
            return other if other is not None else False
        other = _store_call(link, 60)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if other is False:  # the record went away meanwhile: keep the file, try again later
        raise TransientError(f"{f.name}: the call record {f.uuid} could not be updated")
    _remove(f.path)  # only now: the store has the file, read back, and the record names it
    if other is not None:
        return {"status": "imported", "file": f.name, "id": other.get("id"), "duplicate": True}
    log.info("spool file %s stored as %s for PBX %s (call %s)", f.name, entry["id"], pbx_id, f.uuid)
    from jobs.webhooks import media_received

    media_received(pbx_id, f.kind, f.uuid, entry["id"],
                   {k: entry[k] for k in ("duration", "pages", "received", "pdf_id") if k in entry})
    return {"status": "imported", "file": f.name, "id": entry["id"], "pbx_id": pbx_id,
            "kind": f.kind, "duplicate": False,
            **({"pdf_id": entry["pdf_id"]} if "pdf_id" in entry else {})}


# --- the directory ---------------------------------------------------------------------------------
def _listed(directory: Path) -> list[SpoolFile]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    files = []
    for e in entries:
        if e.is_file(follow_symlinks=False):
            f = parse(Path(e.path))
            if f is not None:
                files.append(f)
    return sorted(files, key=lambda f: f.name)


def spool_counts(settings: Settings) -> dict:
    """Files waiting in the spool and kept in quarantine (for ``/readyz`` and ``/metrics``)."""
    waiting = len(_listed(settings.spool_dir))
    quarantined = len(_listed(quarantine_dir(settings)))
    SPOOL_FILES.labels(state="waiting").set(waiting)
    SPOOL_FILES.labels(state="quarantined").set(quarantined)
    return {"dir": str(settings.spool_dir), "waiting": waiting, "quarantined": quarantined}


def sweep_now(settings: Settings, *, now: float | None = None) -> dict:
    """Import every finished file of the spool (and quarantined files whose call turned up).
    A file that fails is logged and left for the next sweep; the others go on."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    listed = [(f, False) for f in _listed(settings.spool_dir)] + \
        [(f, True) for f in _listed(quarantine_dir(settings))]  # listed first: a file moved now waits
    for f, quarantined in listed:
        try:
            status = import_file(settings, f, quarantined=quarantined, now=now)["status"]
        except Exception as exc:  # noqa: BLE001 — one file must not stop the others
            log.warning("spool file %s not imported yet: %s", f.name, exc)
            failed.append(f.name)
            status = "failed"
        counts[status] = counts.get(status, 0) + 1
    result = {"counts": counts, "failed": failed, **spool_counts(settings)}
    if result["quarantined"]:
        log.error("%d spool file(s) in quarantine at %s need an operator",
                  result["quarantined"], quarantine_dir(settings))
    return result


def import_call_now(settings: Settings, uuid: str) -> dict:
    """Import the spool files of one call (its record was just stored)."""
    results = [import_file(settings, f) for f in _listed(settings.spool_dir) if f.uuid == uuid]
    return {"uuid": uuid, "files": results}


# --- tasks and the hook -----------------------------------------------------------------------------
@app.task(name="jobs.spool.sweep", bind=True, soft_time_limit=600, time_limit=660)
def sweep(self) -> dict:
    """Import every finished spool file (beat, every :data:`SWEEP_EVERY` s)."""
    with _file_lock("sweep") as got:  # one sweep at a time (the beat does not wait for the last)
        if not got:
            return {"skipped": "another sweep is running"}
        return sweep_now(context.settings())


@app.task(name="jobs.spool.import_call", bind=True)
def import_call(self, uuid: str) -> dict:
    """Import the spool files of one call (queued when its record is stored)."""
    return import_call_now(context.settings(), str(uuid))


# a sweep not started within one period is dropped (the next one does the same work)
schedules.register("spool.import", "jobs.spool.sweep", SWEEP_EVERY, options={"expires": SWEEP_EVERY})


def spool_paths(record: dict) -> list[str]:
    """The spool files a call record says the engine left (voice mail, fax)."""
    variables = record.get("vars") or {}
    paths = [variables[name] for name in RECORD_VARIABLES if variables.get(name)]
    paths += [step["path"] for step in record.get("path") or []
              if isinstance(step, dict) and step.get("step") in ("voicemail", "fax") and step.get("path")]
    return list(dict.fromkeys(paths))


def names_spool_file(record: dict) -> bool:
    """Whether a call record says the engine left a voice mail or fax in the spool."""
    return bool(spool_paths(record))


def _enqueue(uuid: str) -> None:
    from jobs.client import submit

    try:
        submit(import_call, args=(uuid,), what="the import of a voice mail or fax")
    except Exception as exc:  # Redis down: the sweep imports it later
        log.warning("could not queue the spool import of call %s (the sweep will): %s", uuid, exc)


def on_call_record(record: dict) -> None:
    """The CDR writer's hook: queue the import of the call's spool files; never blocks or raises."""
    try:
        uuid = record.get("uuid")
        paths = spool_paths(record)
        if not uuid or not paths:
            return
        spool_dir = context.settings().spool_dir
        for path in paths:
            if Path(path).parent != spool_dir:  # a configuration error: say so where it shows
                log.error("call %s left %s outside PULT_SPOOL_DIR=%s: it will not be imported until "
                          "the call engine and the workers use the same spool directory", uuid, path, spool_dir)
        from jobs.client import publish_soon

        publish_soon(_enqueue, uuid)
    except Exception as exc:  # noqa: BLE001 — the call side must never fail because of the import
        log.warning("spool hook failed for a call record: %s", exc)
