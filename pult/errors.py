"""The error a user sees, shared by every area (the kernel's one error type).

Raised by the domain services (quotas, edition features, …) and by the HTTP edge alike: an HTTP
status, a stable ``code``, an English message id (+ ``%(name)s`` values, translated by
:mod:`pult.i18n` when shown) and optional per-field messages. It is a Tornado ``HTTPError`` so a
handler needs no extra code to answer with its status (rendered by ``web.handlers.write_error``).
"""
from __future__ import annotations

from tornado.web import HTTPError


class AppError(HTTPError):
    """An error a user sees: HTTP status, stable code, English message id (+ %(name)s values),
    and optional per-field messages (also message ids)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, **values):
        super().__init__(status, f"{code}: {message % values if values else message}")
        self.code = code
        self.message = message
        self.values = values
        self.fields = fields or {}
        self.headers = headers or {}
