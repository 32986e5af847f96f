"""Reading an LDAP directory with ldap3 (blocking: called from a job thread, never on an event loop).

:func:`read_entries` reads EVERY entry under the base DN that matches the filter (paged search,
simple paged results control) before anything is compared or written: a server that goes away in
the middle of the read raises :class:`DirectoryError` and the caller applies nothing.

Values: the first non-empty value of each mapped attribute, as text; a binary value that is not
UTF-8 (Active Directory's ``objectGUID``) becomes its GUID string (16 bytes) or hex.
:func:`authenticate` is the cabinet's "sign in by LDAP bind": find the user's entry with the
service account, then bind as that entry with the password the user typed.
"""
from __future__ import annotations

import ssl
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import ldap3
from ldap3.core.exceptions import (LDAPBindError, LDAPException, LDAPInvalidCredentialsResult,
                                   LDAPNoSuchObjectResult)
from ldap3.utils.conv import escape_filter_chars

PAGED_RESULTS = "1.2.840.113556.1.4.319"
PAGE_SIZE = 100


class DirectoryError(Exception):
    """The directory could not be read: ``code`` is ``ldap.unreachable`` or ``ldap.bind_failed``."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class DirectoryEntry:
    dn: str
    values: dict[str, str] = field(default_factory=dict)  # card field -> text ("" = empty)


def _text(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        try:
            return bytes(raw).decode("utf-8").strip()
        except UnicodeDecodeError:
            return str(uuid.UUID(bytes_le=bytes(raw))) if len(raw) == 16 else bytes(raw).hex()
    return str(raw).strip()


def _server(cfg: Mapping[str, Any]) -> ldap3.Server:
    tls = None
    if cfg["security"] in ("ldaps", "starttls"):
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_data=cfg.get("ca_cert") or None,
                        version=ssl.PROTOCOL_TLS_CLIENT)
    return ldap3.Server(cfg["host"], port=int(cfg["port"]), use_ssl=cfg["security"] == "ldaps", tls=tls,
                        get_info=ldap3.NONE, connect_timeout=cfg.get("timeout", 10))


def _detail(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _unbind_quietly(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - the server may be gone
        pass


def _connect(cfg: Mapping[str, Any], user: str | None, password: str | None) -> ldap3.Connection:
    """An open, bound connection; DirectoryError when the server is away or refuses the bind."""
    conn = ldap3.Connection(_server(cfg), user=user or None, password=password or None,
                            auto_bind=ldap3.AUTO_BIND_NONE, receive_timeout=cfg.get("timeout", 10),
                            raise_exceptions=True, read_only=True)
    try:
        conn.open()
        if cfg["security"] == "starttls":
            conn.start_tls()
        conn.bind()
    except (LDAPBindError, LDAPInvalidCredentialsResult) as exc:
        conn.unbind()
        raise DirectoryError("ldap.bind_failed", _detail(exc)) from exc
    except (LDAPException, OSError) as exc:
        _unbind_quietly(conn)
        raise DirectoryError("ldap.unreachable", _detail(exc)) from exc
    return conn


@contextmanager
def _reading(cfg: Mapping[str, Any], password: str | None) -> Iterator[ldap3.Connection]:
    """A connection bound as the service account: what fails while reading is ``ldap.unreachable``,
    and the connection is closed whatever happens."""
    conn = _connect(cfg, cfg.get("bind_dn"), password)
    try:
        yield conn
    except (LDAPException, OSError) as exc:
        raise DirectoryError("ldap.unreachable", _detail(exc)) from exc
    finally:
        _unbind_quietly(conn)


def _mapping(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Card field -> directory attribute, the mapped ones only."""
    return {k: v for k, v in cfg["mapping"].items() if v}


def _values(raw_attrs: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in raw_attrs.items()}
    out = {}
    for fld, attr in mapping.items():
        vals = lowered.get(attr.lower(), []) if attr else []
        if not isinstance(vals, (list, tuple)):
            vals = [vals]
        out[fld] = next((t for t in (_text(v) for v in vals) if t), "")
    return out


def _entries(conn: ldap3.Connection, mapping: Mapping[str, str]) -> list[DirectoryEntry]:
    """The entries of the last search's answer (referrals left out), as the mapping reads them."""
    return [DirectoryEntry(item["dn"], _values(item.get("raw_attributes") or {}, mapping))
            for item in conn.response or () if item.get("type") == "searchResEntry"]


def read_entries(cfg: Mapping[str, Any], password: str | None, *, page_size: int = PAGE_SIZE,
                 on_page: Callable[[int], None] | None = None) -> list[DirectoryEntry]:
    """Every matching entry under ``cfg["base_dn"]`` (all pages), or :class:`DirectoryError`.
    ``on_page(n)`` is called after each page is received (progress; tests use it)."""
    mapping = _mapping(cfg)
    attributes = sorted(set(mapping.values()))
    entries: list[DirectoryEntry] = []
    with _reading(cfg, password) as conn:
        cookie: bytes | None = None
        pages = 0
        while True:
            conn.search(cfg["base_dn"], cfg["filter"], search_scope=ldap3.SUBTREE, attributes=attributes,
                        paged_size=page_size, paged_cookie=cookie, time_limit=int(cfg.get("timeout", 10)) * 6)
            entries.extend(_entries(conn, mapping))
            pages += 1
            if on_page is not None:
                on_page(pages)
            cookie = (((conn.result or {}).get("controls") or {}).get(PAGED_RESULTS) or {}).get("value", {}).get("cookie")
            if not cookie:
                break
    return entries


def read_entry(cfg: Mapping[str, Any], password: str | None, dn: str) -> DirectoryEntry | None:
    """The entry at ``dn`` if it exists and matches the filter (a manual match), else None;
    :class:`DirectoryError` when the server cannot be used."""
    mapping = _mapping(cfg)
    with _reading(cfg, password) as conn:
        try:
            conn.search(dn, cfg["filter"], search_scope=ldap3.BASE, attributes=sorted(set(mapping.values())))
        except LDAPNoSuchObjectResult:
            return None
        found = _entries(conn, mapping)
    return found[0] if found else None


def read_sample(cfg: Mapping[str, Any], password: str | None, limit: int = 5) -> list[DirectoryEntry]:
    """The first ``limit`` matching entries (the "Show example" button; one page, no more)."""
    mapping = _mapping(cfg)
    with _reading(cfg, password) as conn:
        conn.search(cfg["base_dn"], cfg["filter"], search_scope=ldap3.SUBTREE, attributes=sorted(set(mapping.values())),
                    paged_size=limit, time_limit=int(cfg.get("timeout", 10)) * 6)
        return _entries(conn, mapping)[:limit]


def check_connection(cfg: Mapping[str, Any], password: str | None) -> None:
    """Open and bind with the service account ("Check connection"); DirectoryError if not."""
    _connect(cfg, cfg.get("bind_dn"), password).unbind()


def authenticate(cfg: Mapping[str, Any], password: str | None, login: str, user_password: str) -> DirectoryEntry | None:
    """The entry of ``login`` if the directory accepts ``user_password`` for it; None if it does
    not (unknown login, wrong or empty password). DirectoryError: the server cannot be used."""
    attr = cfg["mapping"].get("login")
    if not attr or not login or not user_password:
        return None
    mapping = _mapping(cfg)
    with _reading(cfg, password) as conn:
        flt = f"(&{cfg['filter']}({attr}={escape_filter_chars(login)}))"
        conn.search(cfg["base_dn"], flt, search_scope=ldap3.SUBTREE, attributes=sorted(set(mapping.values())),
                    size_limit=2)
        found = _entries(conn, mapping)
    if len(found) != 1:
        return None
    entry = found[0]
    try:
        _connect(cfg, entry.dn, user_password).unbind()
    except DirectoryError as exc:
        if exc.code == "ldap.bind_failed":
            return None
        raise
    return entry
