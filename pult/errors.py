"""The error a user sees, shared by every area (the kernel's one error type).

Raised by the domain services (quotas, edition features, …) and by the HTTP edge alike: an HTTP
status, a stable ``code``, an English message id (+ ``%(name)s`` values, translated by
:mod:`pult.i18n` when shown) and optional per-field messages. It knows nothing of Tornado: the
web edge (``web.handlers.BaseHandler``) answers it with its status and renders it
(``write_error``), and logs it as an expected refusal, not a server fault.
"""
from __future__ import annotations


class AppError(Exception):
    """An error a user sees: HTTP status, stable code, English message id (+ %(name)s values),
    and optional per-field messages (also message ids)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, **values):
        self.status_code = status
        self.code = code
        self.message = message
        self.values = values
        self.fields = fields or {}
        self.headers = headers or {}
        self.log_message = f"{code}: {message % values if values else message}"
        super().__init__(status, self.log_message)

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.log_message}"
