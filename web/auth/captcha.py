"""A self-hosted image captcha for the login form (PRODUCT.md §6): no third-party service.

A challenge is 5 random digits kept in Redis for :data:`TTL` seconds under a random id; the
picture (``GET /captcha/<id>.png``) is drawn by the ``captcha`` package (Pillow) with noise and
distortion. An answer is checked once: the challenge is deleted by the first check, right or
wrong, so one picture cannot be tried twice.

When it is asked (:func:`captcha_needed`): the platform setting ``captcha_mode`` — ``always``,
``off``, or ``failures`` (default: after ``captcha_after`` = 3 failed logins for that login, or
4 times as many from that address) — and, whatever the platform says (unless ``off``), always for ``<pbx>/<login>``
logins of a PBX with ``captcha_always`` (the seed-000 behaviour).
"""
from __future__ import annotations

import hmac
import secrets

TTL = 300
LENGTH = 5
IP_FACTOR = 4  # one address (an office behind NAT) gets the captcha after 4x the per-login count


def _key(prefix: str, cid: str) -> str:
    return f"{prefix}captcha:{cid}"


async def new_challenge(redis, prefix: str) -> str:
    """Create a challenge; returns its id (the picture is at ``/captcha/<id>.png``)."""
    cid = secrets.token_urlsafe(16)
    text = "".join(secrets.choice("23456789") for _ in range(LENGTH))
    await redis.set(_key(prefix, cid), text, ex=TTL)
    return cid


async def challenge_text(redis, prefix: str, cid: str) -> str | None:
    if not cid or len(cid) > 40:
        return None
    return await redis.get(_key(prefix, cid))


async def check_answer(redis, prefix: str, cid: str | None, answer: str | None) -> bool:
    """True when ``answer`` matches; the challenge is spent either way."""
    if not cid or not answer or len(cid) > 40:
        return False
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(_key(prefix, cid))
        pipe.delete(_key(prefix, cid))
        text, _ = await pipe.execute()
    answer = "".join(ch for ch in str(answer) if not ch.isspace())[:20]
    return bool(text) and hmac.compare_digest(text.encode(), answer.encode())


def render_png(text: str) -> bytes:
    """The distorted picture of ``text`` (PNG)."""
    from captcha.image import ImageCaptcha

    return ImageCaptcha(width=180, height=64).generate(text, format="png").getvalue()


async def captcha_needed(ctx, limiter, name, ip: str, platform: dict) -> bool:
    """Whether this login attempt must solve a captcha (see the module docstring)."""
    mode = platform.get("captcha_mode") or "failures"
    if mode == "off":
        return False
    if mode == "always":
        return True
    if name is not None and name.kind == "tenant":
        from storage.repos.tenants import get_pbx

        pbx = await get_pbx(ctx.store.db, name.pbx_id)
        if pbx is not None and pbx.get("captcha_always"):
            return True
    after = int(platform.get("captcha_after") or 3)
    after_ip = max(after, IP_FACTOR * after)
    login_failures, ip_failures = await limiter.failures(name.norm if name else "", ip)
    return login_failures >= after or ip_failures >= after_ip
