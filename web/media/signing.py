"""Signed, expiring URLs of sound files for FreeSWITCH (PRODUCT.md §5: "prompts and sound files
are fetched by FreeSWITCH from Pult over HTTP (cached)").

The call flow plays ``http_cache://`` + :func:`sound_url`::

    url = sound_url(settings, pbx_id, "builtin:sirtaki")        # or a tenant's sound id
    await call.playback(f"http_cache://{url}")

Shape: ``<base>/fs/sounds/<pbx>/<sound id>/<expires>/<signature>/<fmt>.wav`` — everything in the
path, nothing in a query string, because mod_http_cache picks the file format from the URL's
extension and older versions read it from the very end of the URL. FreeSWITCH sends no cookies;
the signature (HMAC-SHA256 over pbx, sound, format and expiry, keyed by a key derived from the
server secret) is the only credential, and it is bound to that one file and PBX.

Caching: mod_http_cache keys its cache by the whole URL, so the URL must not change on every
call. The expiry is rounded up to the next :data:`BUCKET` boundary and then :data:`DEFAULT_TTL`
is added: every URL made within one bucket is the same string (FreeSWITCH reuses its cached
copy), and a URL stays valid between ``DEFAULT_TTL`` and ``DEFAULT_TTL + BUCKET`` after it was
made — long enough for any call, short enough that a leaked URL dies.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from pult import clock

#: URL formats FreeSWITCH may ask for (see jobs.transcode.VARIANTS)
FS_FORMATS = ("wav8k", "wav16k")
BUCKET = 6 * 3600
DEFAULT_TTL = 24 * 3600
SIG_HEX = 32  # 128 bits of HMAC-SHA256
_KEY_LABEL = b"pult:media-url:v1"


def _key(settings) -> bytes:
    """The URL-signing key, derived from the server secret (never the cookie key itself)."""
    return hmac.new(settings.cookie_secret().encode(), _KEY_LABEL, hashlib.sha256).digest()


def signature(settings, pbx_id: int, sound_id: str, fmt: str, expires: int) -> str:
    msg = f"{int(pbx_id)}\n{sound_id}\n{fmt}\n{int(expires)}".encode()
    return hmac.new(_key(settings), msg, hashlib.sha256).hexdigest()[:SIG_HEX]


def expiry(now: float | None = None, ttl: int = DEFAULT_TTL) -> int:
    """The expiry stamped into a URL made at ``now``: the next bucket boundary plus ``ttl``."""
    now = clock.timestamp() if now is None else now
    return (int(now) // BUCKET + 1) * BUCKET + int(ttl)


def base_url(settings) -> str:
    """Where FreeSWITCH reaches Pult: ``media_base_url`` when configured, else the public URL."""
    return (getattr(settings, "media_base_url", None) or settings.public_url).rstrip("/")


def sound_url(settings, pbx_id: int, sound_id: str, fmt: str = "wav8k", *, now: float | None = None,
              ttl: int = DEFAULT_TTL, base: str | None = None) -> str:
    """A URL FreeSWITCH can fetch the sound file ``sound_id`` of PBX ``pbx_id`` from.

    ``fmt``: ``wav8k`` (16-bit mono 8 kHz, default) or ``wav16k``. Built-in ids
    (``builtin:abba``) work for every PBX. Prefix with ``http_cache://`` for ``playback``.
    """
    if fmt not in FS_FORMATS:
        raise ValueError(f"fmt must be one of {FS_FORMATS}, got {fmt!r}")
    if not isinstance(pbx_id, int) or isinstance(pbx_id, bool) or pbx_id <= 0:
        raise ValueError(f"pbx_id must be a positive integer, got {pbx_id!r}")
    if not sound_id or not isinstance(sound_id, str):
        raise ValueError("sound_id is required")
    exp = expiry(now, ttl)
    sig = signature(settings, pbx_id, sound_id, fmt, exp)
    return (f"{(base or base_url(settings)).rstrip('/')}/fs/sounds/{pbx_id}/{quote(sound_id, safe='')}"
            f"/{exp}/{sig}/{fmt}.wav")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""   # "expired" | "signature" | "format"


def verify(settings, pbx_id: int, sound_id: str, fmt: str, expires: int, sig: str,
           now: float | None = None) -> Verdict:
    """Check a URL's parts: the format is known, the signature matches, it has not expired."""
    if fmt not in FS_FORMATS:
        return Verdict(False, "format")
    good = signature(settings, pbx_id, sound_id, fmt, expires)
    if not hmac.compare_digest(good, (sig or "").lower()):
        return Verdict(False, "signature")
    if (clock.timestamp() if now is None else now) > int(expires):
        return Verdict(False, "expired")
    return Verdict(True)
