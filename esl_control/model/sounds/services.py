"""Sound files of one PBX: upload checked by content, rename/describe, delete unless in use.

Upload order: the content goes to the media store first, then the metadata document; if the
metadata insert fails the stored content is deleted again. Delete order: the metadata first
(nothing can refer to the file any more), then the content; a crash in between leaves an
unreferenced blob, never a file entry without content. Built-in files (``builtin: true``, no PBX)
are listed with the tenant's own and can be referenced, never changed or deleted.

After an upload the document has ``status: uploaded``; the job ``jobs.media.convert_sound``
moves it to ``converting`` and then ``ready`` (with ``variants``: the FreeSWITCH WAVs and the
browser MP3, each a media-store file) or ``failed`` (with ``error``). Deleting a file removes its
variants too. HTTP: ``web/telephony/sounds/http.py``; FreeSWITCH URLs: ``web.media.signing``.
"""
from __future__ import annotations

from typing import Any, Mapping

from esl_control.model.common import new_id, now, public
from esl_control.model.quotas import check_creation, storage_after
from esl_control.model.service import TenantService
from esl_control.model.sounds.schemas import clean_sound_meta, head_needed, probe_audio
from esl_control.routing.errors import RuleError
from storage.media import file_chunks
from storage.repos.base import Scope
from storage.repos.telephony import SoundFiles

_CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
#: conversion states (``status``): stored and waiting for the job → being converted → playable
#: by FreeSWITCH and the browser, or failed (``error``: {code, params}, a message code)
STATUSES = ("uploaded", "converting", "ready", "failed")


class SoundService(TenantService):
    repo_cls = SoundFiles
    object_type = "sound"
    section = "telephony.sounds"

    def __init__(self, db, pbx_id: int, actor=None, *, media=None):
        super().__init__(db, pbx_id, actor)
        self.media = media

    async def list(self) -> list[dict]:
        own = await self.repo.find({}, sort=[("name_norm", 1)])
        builtin = await SoundFiles(self.db, Scope.platform()).find({"builtin": True}, sort=[("name_norm", 1)])
        return [public(d) for d in own] + [public(d) for d in builtin]

    async def get(self, id: str) -> dict:
        doc = await SoundFiles(self.db, Scope.platform()).find_one({"_id": id, "builtin": True}) if \
            isinstance(id, str) and id.startswith("builtin:") else None
        return public(doc) if doc else await super().get(id)

    async def upload(self, data: bytes, meta: Mapping[str, Any], filename: str = "") -> dict:
        """Store an upload (≤ 32 MB, WAV PCM or MP3 by content) with its name and description."""
        clean = clean_sound_meta(meta)
        info = probe_audio(data)
        if self.media is None:
            raise RuntimeError("SoundService.upload needs the media store (store.media)")
        await check_creation(self.db, self.pbx_id, "storage_mb", value=await storage_after(self.db, self.pbx_id, len(data)))
        media_id = await self.media.put(self.pbx_id, filename or f"{clean['name']}.{info.format}", data,
                                        _CONTENT_TYPES[info.format], {"kind": "sound"})
        return await self._store_upload(clean, info, len(data), filename, media_id)

    async def upload_file(self, path, size: int, meta: Mapping[str, Any], filename: str = "") -> dict:
        """:meth:`upload` for a file already on disk (a streamed upload): only its head is read
        into memory for the content check; the content is copied to the media store in chunks."""
        clean = clean_sound_meta(meta)
        with open(path, "rb") as f:
            head = f.read(HEAD_READ)
            want = head_needed(head)
            if want > len(head):
                head += f.read(want - len(head))
        info = probe_audio(head, size)
        if self.media is None:
            raise RuntimeError("SoundService.upload_file needs the media store (store.media)")
        await check_creation(self.db, self.pbx_id, "storage_mb", value=await storage_after(self.db, self.pbx_id, size))
        media_id = await self.media.put(self.pbx_id, filename or f"{clean['name']}.{info.format}",
                                        file_chunks(path), _CONTENT_TYPES[info.format], {"kind": "sound"})
        stored = await self.media.info(self.pbx_id, media_id)
        if stored.length != size:  # the file changed under us: never keep a half copy
            await self.media.delete(self.pbx_id, media_id)
            raise RuntimeError(f"upload {path} changed while it was stored ({stored.length} != {size})")
        return await self._store_upload(clean, info, size, filename, media_id)

    async def _store_upload(self, clean: dict, info, size: int, filename: str, media_id: str) -> dict:
        """The sound document of content already in the media store; the content is removed again
        when the document cannot be written (no orphan file)."""
        doc = {**clean, "_id": new_id(), "builtin": False, "format": info.format, "sample_rate": info.sample_rate,
               "channels": info.channels, "bits": info.bits, "bitrate": info.bitrate, "duration": info.duration,
               "size": size, "filename": filename, "media_id": media_id, "status": "uploaded",
               "created_at": now()}
        try:
            await self.repo.insert_one(doc)
        except BaseException:
            await self.media.delete(self.pbx_id, media_id)
            raise
        await self._audit("upload", None, doc)
        return public(doc)

    async def update(self, id: str, meta: Mapping[str, Any]) -> dict:
        if isinstance(id, str) and id.startswith("builtin:"):
            raise RuleError("sound.builtin")
        before = await self._doc(id)
        doc = {**before, **clean_sound_meta(meta), "updated_at": now()}
        await self.repo.replace_one({"_id": id}, dict(doc))
        await self._audit("update", before, doc)
        return public(doc)

    async def delete(self, id: str) -> None:
        if isinstance(id, str) and id.startswith("builtin:"):
            raise RuleError("sound.builtin")
        doc = await self._doc(id)
        await self._refuse_if_referenced(doc)
        await self.repo.delete_one({"_id": id})
        if self.media is not None:
            blobs = [doc.get("media_id")] + [v.get("id") for v in (doc.get("variants") or {}).values()]
            for blob in filter(None, blobs):
                await self.media.delete(self.pbx_id, blob)
        await self._audit("delete", doc, None)


HEAD_READ = 256 * 1024
