"""Security headers on every response the server sends (pages, API, static files, and the
routes other packages mount), added by an output transform so no handler can forget them.

The Content-Security-Policy allows scripts, styles, images and fonts from this origin only — no
inline scripts or styles, no other hosts (the cabinet ships all its assets in web/static/).
"""
from __future__ import annotations

from tornado.web import OutputTransform

from pult.networks import address_in, parse_address

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders(OutputTransform):
    """Adds :data:`SECURITY_HEADERS` (and HSTS when cookies are Secure, i.e. behind HTTPS)."""

    hsts = False  # set by make_app from settings.cookie_secure

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
        if self.hsts and "Strict-Transport-Security" not in headers:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return status_code, headers, chunk


def address_allowed(address: str, networks) -> bool:
    """Whether a peer's address is in ``networks`` (:mod:`pult.networks`, the settings' syntax)."""
    return address_in(parse_address(address), networks)
