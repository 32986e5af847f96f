"""Sound files over HTTP: the JSON API, the streaming upload, the player endpoint and the
cabinet page «Аудиофайлы» (PRODUCT.md §3, inventory D §4.6.2).

API (rights section ``sounds``: view to list and listen, edit to change):

- ``GET    /api/v1/telephony/sounds``                 — the PBX's own files, then the built-in ones;
- ``POST   /api/v1/telephony/sounds`` — upload, in one of two forms: ``multipart/form-data`` with
  the fields ``name``, ``description``, ``filename`` and then ``file`` (what the cabinet sends:
  a long description travels in the body and gets its own limit message), or the raw file as
  the body with ``?name=&description=&filename=`` (other ``Content-Type``: the content decides,
  never the type or the name). Either way the file is streamed to a temporary file, never
  held in memory; refused with 413 before a byte of the body is read when ``Content-Length``
  says more than 32 MB, and as soon as the limit is crossed otherwise. Then checked by content,
  stored, and the conversion job is queued → 201 with the file (``status: uploaded``);
- ``GET    /api/v1/telephony/sounds/{id}``            — one file;
- ``PATCH  /api/v1/telephony/sounds/{id}``            — name and/or description;
- ``DELETE /api/v1/telephony/sounds/{id}``            — 204, or 409 ``in_use`` listing ``references``;
- ``POST   /api/v1/telephony/sounds/{id}/convert``    — queue the conversion again (after a failure);
- ``GET    /api/v1/telephony/sounds/{id}/audio?format=auto|mp3|wav8k|wav16k|original[&download=1]`` —
  the audio, with byte ranges (``<audio>`` seeks) and validators. ``auto`` is the browser MP3
  once converted, the original before. Built-ins can be played, not downloaded.

Page: ``GET /sounds`` (list, upload with progress, players, description edit, delete showing
the references when refused); plain form posts ``/sounds/{id}`` and ``/sounds/{id}/delete``
work without JavaScript, the upload needs it (it reports progress).
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from tornado.web import stream_request_body

from esl_control.model.common import NAME_MAX, InUse, NotFound
from esl_control.model.messages import type_name
from esl_control.model.sounds.schemas import MAX_BYTES, clean_sound_meta
from esl_control.model.sounds.services import SoundService
from esl_control.routing.errors import RuleError
from jobs.app import JobsUnavailable
from jobs.builtin_media import PLATFORM_OWNER, sound_name
from jobs.transcode import VARIANTS
from pult.errors import AppError
from pult.i18n import N_
from storage.media import MediaNotFound
from web.api_base import ApiHandler, Param, operation, raw_body_query
from web.api_fields import VISIBLE_PATTERN
from web.api_models import Strict, UtcDatetime
from web.handlers import PageHandler
from web.media.serve import builtin_sound, send_media
from web.routes import route
from web.sections import Section, register_section
from web.security import CSP, SECURITY_HEADERS

log = logging.getLogger("pult.web.sounds")

SOUND_ID = r"[0-9a-f]{24}|builtin:[a-z_]{1,32}"
MAX_MB = MAX_BYTES // (1024 * 1024)
RECORD_MAX_SECONDS = 120  # D §4.6.2: a take recorded in the browser lasts at most 2 minutes
# The page records from the microphone: it alone may ask for it (the site-wide policy denies it),
# and its preview plays the take from a blob: URL made in the browser.
PAGE_PERMISSIONS = SECURITY_HEADERS["Permissions-Policy"].replace("microphone=()", "microphone=(self)")
PAGE_CSP = CSP + "; media-src 'self' blob:"
AUDIO_FORMATS = ("auto", "mp3", "wav8k", "wav16k", "original")
_ORIGINAL_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
ID_PARAM = Param("sound_id", where="path", required=True, schema={"type": "string", "pattern": f"^({SOUND_ID})$"},
                 description="A sound file id, or a built-in id such as builtin:abba")

STATUS_TITLES = {"uploaded": N_("Waiting for conversion"), "converting": N_("Converting"),
                 "ready": N_("Ready"), "failed": N_("Conversion failed")}

#: the built-ins' descriptions (seeded in English by storage.repos.telephony), for translation
BUILTIN_DESCRIPTIONS = (
    N_("Ringback melody when a call comes from a menu (default)"),
    N_("Queue hold music (default, looped)"),
    N_("Melody on transfer by an employee (default)"),
    N_("Queue entry message (default)"),
    N_("Employee-unavailable message (default)"),
    N_("Password prompt of protected menu items"),
    N_("Played before a voice mail is recorded"),
)

register_section(Section("sounds", N_("Audio files"), "/telephony/sounds", order=300, audience="tenant",
                         right="sounds.view", icon="♫"))


# --- models ----------------------------------------------------------------------------------------
class SoundOut(BaseModel):
    id: str
    name: str
    description: str = ""
    builtin: bool
    kind: str | None = Field(None, description="melody | prompt for built-ins")
    format: str | None = Field(None, description="What the content is: wav | mp3")
    sample_rate: int | None = None
    channels: int | None = None
    duration: float | None = Field(None, description="Seconds")
    size: int | None = Field(None, description="Bytes of the uploaded file")
    filename: str | None = None
    status: Literal["uploaded", "converting", "ready", "failed"]
    status_title: str = Field(description="In the user's language")
    error: str | None = Field(None, description="Why the conversion failed, in the user's language")
    variants: list[str] = Field(description="Converted forms available: wav8k, wav16k, mp3")
    audio_url: str = Field(description="Where the browser plays it from")
    download_url: str | None = Field(None, description="The original file (own files only)")
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


#: the upload's fields as clean_sound_meta takes them (a name with a visible character, at most
#: NAME_MAX after spaces are collapsed; a description of at most 500 characters)
NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": VISIBLE_PATTERN}
DESCRIPTION_SCHEMA = {"type": "string", "maxLength": 500}
FILENAME_SCHEMA = {"type": "string", "maxLength": 200}
#: the file: WAV (PCM) or MP3, decided by its content (esl_control.model.sounds.schemas.probe_audio)
AUDIO_TYPES = ("audio/wav", "audio/mpeg")
_FILE = {"type": "string", "format": "binary",
         "description": "A WAV (PCM) or MP3 file, up to 32 MB; its content decides, not its type or name"}
UPLOAD_CONTENT = {
    "multipart/form-data": {
        "schema": {"type": "object", "required": ["name", "file"],
                   "properties": {"name": NAME_SCHEMA, "description": DESCRIPTION_SCHEMA,
                                  "filename": FILENAME_SCHEMA, "file": _FILE}},
        "encoding": {"file": {"contentType": ", ".join(AUDIO_TYPES)}}},
    **{t: {"schema": _FILE} for t in AUDIO_TYPES},
}


class SoundList(BaseModel):
    items: list[SoundOut]
    own_count: int
    own_bytes: int = Field(description="Space the PBX's own uploads take")


class SoundPatch(Strict):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)


class ConvertOut(BaseModel):
    id: str
    status: str
    job_id: str | None


# --- shared helpers --------------------------------------------------------------------------------
def sound_status(doc: dict) -> str:
    """Built-ins are always playable (their audio is generated on first use)."""
    if doc.get("builtin"):
        return "ready"
    return doc.get("status") if doc.get("status") in STATUS_TITLES else "uploaded"


class SoundsMixin:
    """What the API and the page share: the service, error translation, the output shape."""

    def service(self) -> SoundService:
        return SoundService(self.ctx.store.db, self.current_user["pbx_id"], self.audit_actor(),
                            media=self.ctx.store.media)

    def rule_error(self, exc: RuleError) -> AppError:
        """A service rule violation as the API's error (text already in the user's language)."""
        text = exc.message(self.lang)
        if isinstance(exc, InUse):
            return AppError(409, "in_use", text)
        if exc.code == "sound.builtin":
            return AppError(409, "builtin", text)
        if exc.code == "sound.too_large":
            return AppError(413, "too_large", text, fields={"file": text})
        return AppError(422, exc.code, text, fields={exc.field or "body": text})

    def error_text(self, doc: dict) -> str | None:
        err = doc.get("error")
        if not err or sound_status(doc) != "failed":
            return None
        return RuleError(err.get("code", "media.decode_failed"), **(err.get("params") or {})).message(self.lang)

    def sound_out(self, doc: dict) -> dict:
        sid = doc.get("id") or doc.get("_id")
        status = sound_status(doc)
        return {
            "id": sid, "name": sound_name(doc, self._),
            # a built-in's description is stored as its English message id (BUILTIN_DESCRIPTIONS)
            "description": (self._(doc["description"]) if doc.get("builtin") and doc.get("description")
                            else doc.get("description") or ""),
            "builtin": bool(doc.get("builtin")), "kind": doc.get("kind"), "format": doc.get("format"),
            "sample_rate": doc.get("sample_rate"), "channels": doc.get("channels"),
            "duration": doc.get("duration"), "size": doc.get("size"), "filename": doc.get("filename"),
            "status": status, "status_title": self._(STATUS_TITLES[status]), "error": self.error_text(doc),
            "variants": sorted((doc.get("variants") or {}).keys()) if not doc.get("builtin") else sorted(VARIANTS),
            "audio_url": f"/api/v1/telephony/sounds/{sid}/audio",
            "download_url": None if doc.get("builtin") else f"/api/v1/telephony/sounds/{sid}/audio?format=original&download=1",
            "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
        }

    async def queue(self, sound_id: str) -> str | None:
        """Queue the conversion; None (and a log line) when the job queue is unreachable."""
        from jobs.media import queue_conversion

        try:
            return await queue_conversion(self.current_user["pbx_id"], sound_id)
        except JobsUnavailable as exc:
            log.error("conversion of sound %s not queued: %s", sound_id, exc)
            return None


def _form_boundary(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` body (None for any other body)."""
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise AppError(400, "bad_request", N_("The request is not valid."))
    return boundary


class _UploadForm:
    """A streaming ``multipart/form-data`` reader (python-multipart's push parser): the ``file``
    part goes straight to ``out`` (a temporary file), the other parts are text fields kept in
    memory up to :data:`FIELD_MAX` characters each (more is cut there: still too long for every
    field's own limit, so the user gets that limit's message)."""

    FIELD_MAX = 16 * 1024

    def __init__(self, boundary: bytes, out) -> None:
        from python_multipart import MultipartParser

        self.out = out
        self.file_size = 0
        self.file_name = ""
        self.fields: dict[str, str] = {}
        self._raw: dict[str, bytearray] = {}
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._part: str | None = None
        self._is_file = False
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._hfield,
            "on_header_value": self._hvalue, "on_header_end": self._hend,
            "on_headers_finished": self._headers_done, "on_part_data": self._data})

    def _begin(self) -> None:
        self._headers, self._header_name, self._header_value = {}, b"", b""
        self._part, self._is_file = None, False

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _hend(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part = name
        self._is_file = name == "file"
        if self._is_file:
            self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
        else:
            self._raw.setdefault(name, bytearray())

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part is None:
            return
        if self._is_file:
            self.out.write(data[start:end])
            self.file_size += end - start
            return
        buf = self._raw[self._part]
        room = 4 * self.FIELD_MAX - len(buf)  # UTF-8: at most 4 bytes a character
        if room > 0:
            buf += data[start:start + min(end - start, room)]

    broken = False

    def write(self, chunk: bytes) -> None:
        if self.broken:
            return
        try:
            self.parser.write(chunk)
        except Exception:  # noqa: BLE001 — python-multipart's parse errors: a malformed form
            self.broken = True

    def finish(self) -> dict[str, str]:
        if not self.broken:
            try:
                self.parser.finalize()
            except Exception:  # noqa: BLE001
                self.broken = True
        if self.broken:
            raise RuleError("sound.form", field="file")
        for name, raw in self._raw.items():
            self.fields[name] = raw.decode("utf-8", "replace")[:self.FIELD_MAX]
        return self.fields


def _listing(docs: list[dict]) -> tuple[int, int]:
    own = [d for d in docs if not d.get("builtin")]
    return len(own), sum(int(d.get("size") or 0) for d in own)


# --- API -------------------------------------------------------------------------------------------
@route("/api/v1/telephony/sounds", access="tenant", section="sounds")
@stream_request_body
class SoundsApi(SoundsMixin, ApiHandler):
    """List and upload. The upload streams its body into a temporary file (see the module doc)."""

    _tmp = None
    _tmp_path: str | None = None
    _received = 0
    _rejected = False
    _meta: dict | None = None
    _form: "_UploadForm | None" = None  # multipart/form-data uploads

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished or self.request.method != "POST":
            return
        self.request.connection.set_max_body_size(MAX_BYTES + 1024 * 1024)  # chunked senders too
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
            raise self.rule_error(RuleError("sound.too_large", field="file", max_mb=MAX_MB))
        boundary = _form_boundary(self.request.headers.get("Content-Type", ""))
        if boundary is None:  # the raw file as the body: the fields are in the query string
            try:
                self._meta = clean_sound_meta({"name": self.get_query_argument("name", ""),
                                               "description": self.get_query_argument("description", "")})
            except RuleError as exc:
                raise self.rule_error(exc) from None
        tmp_dir = Path(self.ctx.settings.data_dir) / "tmp" / "uploads"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, self._tmp_path = tempfile.mkstemp(prefix="sound-", suffix=".upload", dir=tmp_dir)
        self._tmp = os.fdopen(fd, "wb")
        if boundary is not None:
            self._form = _UploadForm(boundary, self._tmp)

    def data_received(self, chunk: bytes) -> None:
        if self._rejected or self._tmp is None:
            return
        self._received += len(chunk)
        if self._received > MAX_BYTES:  # no (or a false) Content-Length: stop at the limit
            self._rejected = True
            self._discard()
            err = self.rule_error(RuleError("sound.too_large", field="file", max_mb=MAX_MB))
            self.send_error(413, exc_info=(type(err), err, None))
            return
        if self._form is not None:
            self._form.write(chunk)  # a malformed form is remembered and refused in post()
        else:
            self._tmp.write(chunk)

    def _discard(self) -> None:
        if self._tmp is not None:
            self._tmp.close()
            self._tmp = None
        if self._tmp_path:
            Path(self._tmp_path).unlink(missing_ok=True)
            self._tmp_path = None

    def on_finish(self) -> None:
        self._discard()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._discard()

    @operation(N_("Sound files of the PBX and the built-in ones"), response=SoundList, tags=["sounds"],
               errors=(401, 403))
    async def get(self) -> None:
        docs = await self.service().list()
        count, size = _listing(docs)
        self.reply({"items": [self.sound_out(d) for d in docs], "own_count": count, "own_bytes": size})

    @operation(N_("Upload a sound file (the body is the file: WAV PCM or MP3, up to 32 MB)"),
               response=SoundOut, status=201, tags=["sounds"], errors=(401, 403, 409, 413, 422),
               params=[Param("name", schema=NAME_SCHEMA,
                             description="Name shown in the cabinet: required with a raw body "
                                         "(x-pult-raw-body-query); a form carries it as a field"),
                       Param("description", schema=DESCRIPTION_SCHEMA,
                             description="Optional description (raw-body uploads)"),
                       Param("filename", schema=FILENAME_SCHEMA,
                             description="The original file name (informative only)")],
               request_content=UPLOAD_CONTENT, extensions=raw_body_query("name"),
               description="Send multipart/form-data with the fields name, description, filename and "
                           "then file, or the file as the raw request body (any Content-Type; "
                           "audio/wav and audio/mpeg are documented) with the fields in the query "
                           "string. The file's content decides whether it is "
                           "WAV (PCM: 8-192 kHz, 1-8 channels, 8/16/24/32 bits, a header that matches "
                           "the file) or MP3 (MPEG Layer III frames); the name and Content-Type are not "
                           "trusted. 409 when the PBX's storage quota is used up. The file is "
                           "converted for FreeSWITCH and the browser by a job: poll the file until its "
                           "status is ready (or failed, with the reason in error).")
    async def post(self) -> None:
        if self._finished:
            return
        size, filename = self._received, self.get_query_argument("filename", "") or ""
        if self._form is not None:
            try:
                fields = self._form.finish()
                self._meta = clean_sound_meta({"name": fields.get("name", ""),
                                               "description": fields.get("description", "")})
            except RuleError as exc:
                self._discard()
                raise self.rule_error(exc) from None
            size, filename = self._form.file_size, fields.get("filename") or self._form.file_name or ""
        self._tmp.close()
        self._tmp = None
        filename = os.path.basename(filename)[:200]
        try:
            doc = await self.service().upload_file(self._tmp_path, size, self._meta, filename)
        except RuleError as exc:
            raise self.rule_error(exc) from None
        finally:
            self._discard()
        job = await self.queue(doc["id"])
        out = self.sound_out(doc)
        if job is None:
            self.set_header("X-Pult-Warning", "conversion-not-queued")
        self.reply(out, status=201)


@route("/api/v1/telephony/sounds/{sound_id}", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundApi(SoundsMixin, ApiHandler):
    async def _doc(self, sound_id: str) -> dict:
        try:
            return await self.service().get(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None

    @operation(N_("One sound file"), params=[ID_PARAM], response=SoundOut, tags=["sounds"], errors=(401, 403, 404))
    async def get(self, sound_id: str) -> None:
        self.reply(self.sound_out(await self._doc(sound_id)))

    @operation(N_("Rename a sound file or change its description"), params=[ID_PARAM], request=SoundPatch, response=SoundOut,
               tags=["sounds"], errors=(400, 401, 403, 404, 409, 422))
    async def patch(self, sound_id: str) -> None:
        body = self.body(SoundPatch)
        before = await self._doc(sound_id)
        meta = {"name": before.get("name"), "description": before.get("description") or ""}
        meta.update(body.model_dump(exclude_none=True))
        try:
            doc = await self.service().update(sound_id, meta)
        except RuleError as exc:
            raise self.rule_error(exc) from None
        self.reply(self.sound_out(doc))

    @operation(N_("Delete a sound file (refused while something uses it)"), params=[ID_PARAM], status=204, tags=["sounds"],
               errors=(401, 403, 404, 409),
               description="409 in_use lists the objects that use the file in error.references.")
    async def delete(self, sound_id: str) -> None:
        try:
            await self.service().delete(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        except InUse as exc:
            self.set_status(409)
            self.finish({"error": {"code": "in_use", "message": exc.message(self.lang), "fields": {},
                                   "references": [r.as_dict() for r in exc.references]}})
            return
        except RuleError as exc:
            raise self.rule_error(exc) from None
        self.no_content()


@route("/api/v1/telephony/sounds/{sound_id}/convert", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundConvertApi(SoundsMixin, ApiHandler):
    @operation(N_("Convert a sound file again (after a failure or a lost job)"), params=[ID_PARAM], response=ConvertOut,
               status=202, tags=["sounds"], errors=(401, 403, 404, 409, 503))
    async def post(self, sound_id: str) -> None:
        if sound_id.startswith("builtin:"):
            raise self.rule_error(RuleError("sound.builtin"))
        try:
            doc = await self.service().get(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        job = await self.queue(sound_id)
        if job is None:
            raise AppError(503, "unavailable", N_("The job queue is unavailable. Please try again in a minute."))
        self.reply({"id": sound_id, "status": sound_status(doc), "job_id": job}, status=202)


@route("/api/v1/telephony/sounds/{sound_id}/audio", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundAudioApi(SoundsMixin, ApiHandler):
    """The audio of a sound file for the cabinet's player (Range, ETag, tenant-scoped)."""

    @operation(N_("Listen to or download a sound file"), tags=["sounds"], errors=(401, 403, 404, 409, 503),
               media_types=("audio/mpeg", "audio/wav"),
               params=[ID_PARAM, Param("format", schema={"type": "string", "enum": list(AUDIO_FORMATS), "default": "auto"},
                             description="auto: the browser MP3 once converted, the original before"),
                       Param("download", schema={"type": "integer", "enum": [0, 1]},
                             description="1: as an attachment (own files only)")],
               description="Answers with the audio bytes (audio/mpeg or audio/wav), honouring Range.")
    async def get(self, sound_id: str) -> None:
        fmt = self.get_query_argument("format", "auto")
        if fmt not in AUDIO_FORMATS:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={"format": N_("This value is not supported.")})
        download = self.get_query_argument("download", "") in ("1", "true")
        store = self.ctx.store
        if sound_id.startswith("builtin:"):
            if download or fmt == "original":
                raise AppError(409, "builtin", N_("Built-in sound files can be played, not downloaded."))
            doc = await builtin_sound(store, sound_id)
            owner = PLATFORM_OWNER
        else:
            try:
                doc = await self.service().get(sound_id)
            except NotFound:
                raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
            owner = self.current_user["pbx_id"]
        variants = doc.get("variants") or {}
        if fmt == "auto":
            fmt = "mp3" if "mp3" in variants else "original"
        if fmt == "original":
            if doc.get("builtin") or not doc.get("media_id"):
                raise AppError(404, "not_found", N_("Nothing was found at this address."))
            file_id, ctype = doc["media_id"], _ORIGINAL_TYPES.get(doc.get("format"), "application/octet-stream")
            ext = doc.get("format") or "bin"
        elif fmt in variants:
            file_id, ctype, ext = variants[fmt]["id"], VARIANTS[fmt].content_type, VARIANTS[fmt].ext
        else:
            raise AppError(409, "not_ready", N_("The sound file is not ready yet."))
        name = None
        if download:
            base = doc.get("filename") or doc.get("name") or "sound"
            stem = base.rsplit(".", 1)[0] if "." in base else base
            name = f"{stem}.{ext}"
        try:
            await send_media(self, store, owner, file_id, content_type=ctype,
                             cache_control="private, max-age=3600", download_name=name)
        except MediaNotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None

    head = get


# --- the cabinet page ------------------------------------------------------------------------------
class SoundsPageBase(SoundsMixin, PageHandler):
    """Renders the list page (with a form error or the references of a refused delete)."""

    section = "sounds"

    async def show(self, errors: dict[str, Any] | None = None, status: int = 200, notice: str | None = None) -> None:
        docs = await self.service().list()
        own = [self.sound_out(d) for d in docs if not d.get("builtin")]
        builtin = [self.sound_out(d) for d in docs if d.get("builtin")]
        count, size = _listing(docs)
        done = {"saved": N_("The sound file has been saved."), "deleted": N_("The sound file has been deleted."),
                "queued": N_("The conversion has been queued.")}.get(self.get_query_argument("done", ""))
        self.set_status(status)
        self.set_header("Permissions-Policy", PAGE_PERMISSIONS)
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.render("sounds/list.html", own=own, builtin=builtin, own_count=count, own_bytes=size,
                    errors=errors or {}, notice=notice or (self._(done) if done else None),
                    can_edit=self.rights.can("sounds", "edit"), max_mb=MAX_MB, fmt_size=fmt_size,
                    fmt_seconds=fmt_seconds, type_name=lambda t: type_name(t, self.lang), record_max_seconds=RECORD_MAX_SECONDS,
                    record_limit=fmt_seconds(RECORD_MAX_SECONDS))


@route("/telephony/sounds", access="tenant", section="sounds", name="sounds")
class SoundsPage(SoundsPageBase):
    """«Аудиофайлы»: own files (upload, listen, describe, delete) and the built-in ones."""

    async def get(self) -> None:
        await self.show()


@route("/telephony/sounds/{sound_id}", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundEditPage(SoundsPageBase):
    """The description form of one file (a plain form post)."""

    async def get(self, sound_id: str) -> None:
        try:
            await self.service().get(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        self.redirect(f"/telephony/sounds#sound-{sound_id.replace(':', '-')}")

    async def post(self, sound_id: str) -> None:
        svc = self.service()
        try:
            before = await svc.get(sound_id)
            await svc.update(sound_id, {"name": self.get_body_argument("name", before.get("name")),
                                        "description": self.get_body_argument("description", "")})
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        except RuleError as exc:
            await self.show({"id": sound_id, "message": exc.message(self.lang)}, 422)
            return
        self.redirect("/telephony/sounds?done=saved")


@route("/telephony/sounds/{sound_id}/delete", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundDeletePage(SoundsPageBase):
    """Delete from the page; a refusal shows what uses the file, next to it."""

    async def post(self, sound_id: str) -> None:
        try:
            await self.service().delete(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        except InUse as exc:
            await self.show({"id": sound_id, "message": exc.message(self.lang),
                             "references": [r.as_dict() for r in exc.references]}, 409)
            return
        except RuleError as exc:
            await self.show({"id": sound_id, "message": exc.message(self.lang)}, 409)
            return
        self.redirect("/telephony/sounds?done=deleted")


@route("/telephony/sounds/{sound_id}/convert", access="tenant", section="sounds", params={"sound_id": SOUND_ID})
class SoundConvertPage(SoundsPageBase):
    async def post(self, sound_id: str) -> None:
        if sound_id.startswith("builtin:"):
            raise AppError(409, "builtin", N_("Built-in sound files cannot be changed or deleted."))
        try:
            await self.service().get(sound_id)
        except NotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None
        if await self.queue(sound_id) is None:
            raise AppError(503, "unavailable", N_("The job queue is unavailable. Please try again in a minute."))
        self.redirect("/telephony/sounds?done=queued")


def fmt_size(n: int | None) -> str:
    """``1536`` → ``1.5 KB`` (the page's sizes)."""
    n = int(n or 0)
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} MB"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"
