"""The endpoint FreeSWITCH fetches sound files from (``playback http_cache://<sound_url>``).

``GET|HEAD /fs/sounds/<pbx>/<sound id>/<expires>/<signature>/<wav8k|wav16k>.wav`` — the URL made
by :func:`web.media.signing.sound_url`. No cookies and no session: the signature is the
credential (403 when it does not match or has expired). Answers with the converted WAV and
``Cache-Control: max-age`` (the only header mod_http_cache reads to decide how long to keep its
copy), ``ETag``/``Last-Modified`` (304 on ``If-None-Match``/``If-Modified-Since``) and byte ranges.
A sound still being converted is 503 with ``Retry-After``; an unknown one 404.
"""
from __future__ import annotations

import logging

from jobs.builtin_media import PLATFORM_OWNER
from jobs.transcode import VARIANTS
from pult.errors import AppError
from pult.i18n import N_
from storage.media import MediaNotFound
from storage.repos.base import Scope
from storage.repos.telephony import SoundFiles
from web.handlers import BaseHandler
from web.media.serve import builtin_sound, send_media
from web.media.signing import verify
from web.routes import route

log = logging.getLogger("pult.media")

#: how long FreeSWITCH may keep its cached copy (a sound's converted content never changes)
FS_MAX_AGE = 24 * 3600


@route("/fs/sounds/{pbx_id}/{sound_id}/{expires}/{sig}/{fmt}.wav", access="public", kind="system",
       params={"pbx_id": r"[1-9][0-9]{0,9}", "sound_id": r"[A-Za-z0-9_:%\-]{1,64}",
               "expires": r"[0-9]{1,12}", "sig": r"[0-9a-fA-F]{32}", "fmt": r"wav8k|wav16k"})
class FsSoundFetch(BaseHandler):
    """A sound file for FreeSWITCH, authenticated by the signed URL alone."""

    async def get(self, pbx_id: str, sound_id: str, expires: str, sig: str, fmt: str) -> None:
        pbx = int(pbx_id)
        verdict = verify(self.ctx.settings, pbx, sound_id, fmt, int(expires), sig)
        if not verdict.ok:
            log.warning("refused media fetch %s from %s: %s", self.request.path, self.request.remote_ip,
                        verdict.reason)
            if verdict.reason == "expired":
                raise AppError(403, "url_expired", N_("This media link has expired."))
            raise AppError(403, "bad_signature", N_("This media link is not valid."))
        store = self.ctx.store
        if sound_id.startswith("builtin:"):
            doc = await builtin_sound(store, sound_id, headers={"Retry-After": "30"})
            owner = PLATFORM_OWNER
        else:
            doc = await SoundFiles(store.db, Scope.pbx(pbx)).find_one({"_id": sound_id})
            owner = pbx
        if doc is None or doc.get("status") == "failed":
            raise AppError(404, "not_found", N_("Nothing was found at this address."))
        variant = (doc.get("variants") or {}).get(fmt)
        if variant is None:
            raise AppError(503, "not_ready", N_("The sound file is not ready yet."),
                           headers={"Retry-After": "5"})
        try:
            await send_media(self, store, owner, variant["id"], content_type=VARIANTS[fmt].content_type,
                             cache_control=f"private, max-age={FS_MAX_AGE}")
        except MediaNotFound:
            raise AppError(404, "not_found", N_("Nothing was found at this address.")) from None

    head = get
