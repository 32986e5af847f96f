"""Binary files (recordings, voice mail, faxes, sound files, documents) with streaming reads.

Two implementations of one interface, chosen by :func:`storage.client.open_store`:
- :class:`GridFSMediaStore` — MongoDB GridFS (``AsyncGridFSBucket``) in production;
- :class:`DirectoryMediaStore` — files under ``<data_dir>/media`` in embedded mode, metadata
  in the ``media_files`` collection.

Every file belongs to an owner (a PBX or account id); reads check the owner, so a file id
leaked across tenants reads as "not found". Writes are atomic: a file is visible only once it is
completely stored (temp file + rename / GridFS's own chunk-then-file-document order).

The directory store runs on the server's event loop (the cabinet, and in embedded mode the jobs'
store calls too), so its disk work — writing, hashing and fsyncing a 37 MB document, reading a
recording — runs in worker threads, one chunk at a time: the loop keeps serving meanwhile.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Protocol

from bson import ObjectId

from pult import clock

CHUNK = 256 * 1024
_FILE_ID = re.compile(r"[0-9a-f]{24}")  # what the directory store names its files (ObjectId hex)


class MediaNotFound(LookupError):
    """No such file for this owner."""


@dataclass
class MediaInfo:
    file_id: str
    owner_id: int
    filename: str
    content_type: str
    length: int
    sha256: str
    uploaded_at: datetime
    metadata: dict


async def _chunks(data: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for i in range(0, len(view), CHUNK):
            yield bytes(view[i:i + CHUNK])
    else:
        async for chunk in data:
            yield chunk


class MediaStore(Protocol):
    async def put(self, owner_id: int, filename: str, data: bytes | AsyncIterator[bytes],
                  content_type: str = "application/octet-stream",
                  metadata: dict | None = None) -> str: ...

    async def info(self, owner_id: int, file_id: str) -> MediaInfo: ...

    def stream(self, owner_id: int, file_id: str) -> AsyncIterator[bytes]: ...

    async def read(self, owner_id: int, file_id: str) -> bytes: ...

    async def delete(self, owner_id: int, file_id: str) -> bool: ...

    async def find(self, owner_id: int, metadata: dict) -> list[MediaInfo]:
        """The owner's complete files whose metadata has these values (e.g. a spool file's
        name, so an import interrupted after storing finds what it stored)."""
        ...


class _Base:
    async def read(self, owner_id: int, file_id: str) -> bytes:
        return b"".join([c async for c in self.stream(owner_id, file_id)])


class DirectoryMediaStore(_Base):
    """Embedded mode: content under ``root/<owner>/<id>``, metadata in ``media_files``."""

    def __init__(self, root: Path, db):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.coll = db["media_files"]

    def _path(self, owner_id: int, file_id: str) -> Path:
        """Where a file lives; an id that is not one this store made (``../x``) is not found."""
        if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id):
            raise MediaNotFound(file_id)
        return self.root / str(int(owner_id)) / file_id

    async def put(self, owner_id, filename, data, content_type="application/octet-stream",
                  metadata=None) -> str:
        file_id = str(ObjectId())
        path = self._path(owner_id, file_id)
        tmp = path.with_name(f".{file_id}.{uuid.uuid4().hex}.tmp")
        digest, length = hashlib.sha256(), 0
        f = await asyncio.to_thread(_open_new, tmp)
        try:
            try:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    length = await asyncio.to_thread(_write_all, f, digest, data)
                else:
                    async for chunk in data:
                        length += await asyncio.to_thread(_write_chunk, f, digest, chunk)
                await asyncio.to_thread(_commit, f, tmp, path)
            finally:
                f.close()
        finally:
            tmp.unlink(missing_ok=True)
        await self.coll.insert_one({
            "_id": file_id, "owner_id": int(owner_id), "filename": filename,
            "content_type": content_type, "length": length, "sha256": digest.hexdigest(),
            "uploaded_at": clock.now(), "metadata": metadata or {}})
        return file_id

    async def info(self, owner_id, file_id) -> MediaInfo:
        doc = await self.coll.find_one({"_id": str(file_id), "owner_id": int(owner_id)})
        if not doc:
            raise MediaNotFound(file_id)
        return MediaInfo(file_id=doc["_id"], owner_id=doc["owner_id"], filename=doc["filename"],
                         content_type=doc["content_type"], length=doc["length"],
                         sha256=doc["sha256"], uploaded_at=doc["uploaded_at"],
                         metadata=doc.get("metadata", {}))

    async def stream(self, owner_id, file_id) -> AsyncIterator[bytes]:
        await self.info(owner_id, file_id)
        f = await asyncio.to_thread(open, self._path(owner_id, file_id), "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
        finally:
            f.close()

    async def find(self, owner_id, metadata) -> list[MediaInfo]:
        flt = {"owner_id": int(owner_id), **{f"metadata.{k}": v for k, v in metadata.items()}}
        return [await self.info(owner_id, doc["_id"]) async for doc in self.coll.find(flt, {"_id": 1})]

    async def delete(self, owner_id, file_id) -> bool:
        res = await self.coll.delete_one({"_id": str(file_id), "owner_id": int(owner_id)})
        if res.deleted_count:
            self._path(owner_id, file_id).unlink(missing_ok=True)
            return True
        return False


# --- the directory store's disk work, run in worker threads (see the module docstring) ---------
def _open_new(tmp: Path):
    tmp.parent.mkdir(parents=True, exist_ok=True)
    return open(tmp, "wb")


def _write_chunk(f, digest, chunk: bytes) -> int:
    f.write(chunk)
    digest.update(chunk)
    return len(chunk)


def _write_all(f, digest, data) -> int:
    view = memoryview(data)
    for i in range(0, len(view), CHUNK):
        _write_chunk(f, digest, view[i:i + CHUNK])
    return len(view)


def _commit(f, tmp: Path, path: Path) -> None:
    """Make the file durable, then visible under its name (atomic rename)."""
    f.flush()
    os.fsync(f.fileno())
    f.close()
    os.replace(tmp, path)


class GridFSMediaStore(_Base):
    """Production: GridFS in the same MongoDB database."""

    def __init__(self, db):
        from gridfs import AsyncGridFSBucket

        self.bucket = AsyncGridFSBucket(db, bucket_name="media")
        self.files = db["media.files"]

    async def put(self, owner_id, filename, data, content_type="application/octet-stream",
                  metadata=None) -> str:
        digest = hashlib.sha256()
        grid_in = self.bucket.open_upload_stream(filename, metadata={
            "owner_id": int(owner_id), "content_type": content_type, **(metadata or {})})
        try:
            async for chunk in _chunks(data):
                digest.update(chunk)
                await grid_in.write(chunk)
        except BaseException:
            await grid_in.abort()
            raise
        await grid_in.close()
        await self.files.update_one({"_id": grid_in._id},
                                    {"$set": {"metadata.sha256": digest.hexdigest()}})
        return str(grid_in._id)

    async def _doc(self, owner_id, file_id) -> dict:
        try:
            oid = ObjectId(file_id)
        except Exception:
            raise MediaNotFound(file_id) from None
        doc = await self.files.find_one({"_id": oid, "metadata.owner_id": int(owner_id)})
        if not doc:
            raise MediaNotFound(file_id)
        return doc

    async def info(self, owner_id, file_id) -> MediaInfo:
        doc = await self._doc(owner_id, file_id)
        meta = dict(doc.get("metadata", {}))
        return MediaInfo(file_id=str(doc["_id"]), owner_id=meta.pop("owner_id"),
                         filename=doc["filename"], content_type=meta.pop("content_type", ""),
                         length=doc["length"], sha256=meta.pop("sha256", ""),
                         uploaded_at=doc["uploadDate"], metadata=meta)

    async def find(self, owner_id, metadata) -> list[MediaInfo]:
        flt = {"metadata.owner_id": int(owner_id), **{f"metadata.{k}": v for k, v in metadata.items()}}
        return [await self.info(owner_id, str(doc["_id"])) async for doc in self.files.find(flt, {"_id": 1})]

    async def stream(self, owner_id, file_id) -> AsyncIterator[bytes]:
        doc = await self._doc(owner_id, file_id)
        grid_out = await self.bucket.open_download_stream(doc["_id"])
        while chunk := await grid_out.readchunk():
            yield chunk

    async def delete(self, owner_id, file_id) -> bool:
        try:
            doc = await self._doc(owner_id, file_id)
        except MediaNotFound:
            return False
        await self.bucket.delete(doc["_id"])
        return True


async def file_chunks(path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """A file's content for :meth:`put`, in chunks read in a thread (the event loop never waits
    for the disk) — for uploads and generated files alike."""
    f = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, size):
            yield chunk
    finally:
        f.close()
