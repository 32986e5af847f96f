"""Sending a media-store file over HTTP: streaming, byte ranges, validators.

Used by the cabinet's player endpoint and by the FreeSWITCH fetch endpoint.

- ``Range: bytes=a-b`` / ``a-`` / ``-n`` → 206 with ``Content-Range`` (what ``<audio>`` sends to
  seek); an unsatisfiable range → 416 with ``Content-Range: bytes */size``; several ranges or a
  stale ``If-Range`` → the whole file (a server may always ignore Range).
- ``ETag`` (the file's SHA-256) and ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since``
  → 304 without a body.
- The body is streamed chunk by chunk with a flush after each, so a 32 MB file never sits in
  memory; a client that goes away stops the loop.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from tornado.iostream import StreamClosedError

from jobs.builtin_media import ensure_builtin
from jobs.transcode import ConversionError
from pult.errors import AppError
from pult.i18n import N_
from storage.media import MediaInfo

log = logging.getLogger("pult.media")

NOT_FOUND = N_("Nothing was found at this address.")


async def builtin_sound(store, sound_id: str, headers: dict[str, str] | None = None) -> dict:
    """The document of the built-in sound ``sound_id`` (made on first use): 404 for a name that
    is none, 503 (with ``headers``) while its file cannot be made."""
    try:
        return await ensure_builtin(store, sound_id)
    except KeyError:
        raise AppError(404, "not_found", NOT_FOUND) from None
    except ConversionError as exc:
        log.error("built-in sound %s could not be generated: %s", sound_id, exc)
        raise AppError(503, "unavailable", N_("The sound file is not ready yet."), headers=headers) from None


def etag_of(info: MediaInfo) -> str:
    return f'"{info.sha256[:40]}"' if info.sha256 else f'"{info.file_id}-{info.length}"'


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` inclusive for one satisfiable range, ``"unsatisfiable"``, or None
    (no header, a malformed one or several ranges: send everything)."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1) if size else "unsatisfiable"
        start = int(first)
        end = int(last) if last.strip() else size - 1
    except ValueError:
        return None
    if start < 0:
        return None
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


def _not_modified(handler, etag: str, modified: datetime) -> bool:
    inm = handler.request.headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = handler.request.headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        return modified.replace(microsecond=0) <= since
    return False


async def send_media(handler, store, owner_id: int, file_id: str, *, content_type: str,
                     cache_control: str, download_name: str | None = None,
                     info: MediaInfo | None = None) -> None:
    """Answer the request with the file (raises ``storage.media.MediaNotFound``)."""
    info = info or await store.media.info(owner_id, file_id)
    size = info.length
    etag = etag_of(info)
    modified = info.uploaded_at if info.uploaded_at.tzinfo else info.uploaded_at.replace(tzinfo=timezone.utc)
    handler.set_header("Content-Type", content_type)
    handler.set_header("Accept-Ranges", "bytes")
    handler.set_header("ETag", etag)
    handler.set_header("Last-Modified", format_datetime(modified.astimezone(timezone.utc), usegmt=True))
    handler.set_header("Cache-Control", cache_control)
    if download_name:
        handler.set_header("Content-Disposition",
                           f"attachment; filename*=UTF-8''{quote(download_name, safe='')}")
    if _not_modified(handler, etag, modified):
        handler.set_status(304)
        handler.clear_header("Content-Type")
        handler.finish()
        return
    rng = parse_range(handler.request.headers.get("Range"), size)
    if_range = handler.request.headers.get("If-Range")
    if rng is not None and if_range and if_range.strip() != etag:
        rng = None
    if rng == "unsatisfiable":
        handler.set_status(416)
        handler.set_header("Content-Range", f"bytes */{size}")
        handler.clear_header("Content-Type")
        handler.finish()
        return
    start, end = (0, size - 1) if rng is None else rng
    if rng is not None:
        handler.set_status(206)
        handler.set_header("Content-Range", f"bytes {start}-{end}/{size}")
    length = max(0, end - start + 1)
    handler.set_header("Content-Length", str(length))
    if handler.request.method == "HEAD" or length == 0:
        handler.finish()
        return
    pos, sent = 0, 0
    stream = store.media.stream(owner_id, file_id)
    try:
        async for chunk in stream:
            lo, hi = pos, pos + len(chunk)
            pos = hi
            if hi <= start:
                continue
            piece = chunk[max(0, start - lo):min(len(chunk), end + 1 - lo)]
            if piece:
                handler.write(piece)
                sent += len(piece)
                await handler.flush()
            if pos > end:
                break
    except StreamClosedError:  # the listener went away (a seek or a closed tab)
        return
    finally:
        await stream.aclose()
    handler.finish()
