"""Encryption of stored secrets: SIP account passwords and active-SIP gateway passwords.

PRODUCT.md §6: SIP passwords are stored encrypted (shown only to users with the right). FreeSWITCH
never needs them in clear for our own accounts (the directory answers with ``a1-hash``), but the
cabinet must be able to show them to an authorised user, and a registering gateway (active SIP)
must send its password to the other operator, so this is reversible encryption, not hashing.

AES-256-GCM (``cryptography``) under a key derived with HKDF-SHA256 from the installation secret
(``settings.cookie_secret()``: ``PULT_SECRET_KEY`` in production — the same on every Pult
instance — or the key file generated in the data directory in embedded mode). Each value is bound
to its owner with associated data (``"sip_account:<id>"``), so a ciphertext copied onto another
record does not decrypt. Stored form: ``"v1:" + urlsafe-base64(nonce ‖ ciphertext+tag)``.
Changing the secret makes stored passwords unreadable (accounts then need a new password): the
``v1`` prefix leaves room for a rotation scheme.
"""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
_INFO = b"pult telephony secrets v1"


class SecretError(ValueError):
    """A stored secret cannot be decrypted (wrong key, tampered value or another record's value)."""


def derive_key(secret: str | bytes) -> bytes:
    """A 256-bit key from the installation secret (HKDF-SHA256, fixed context string)."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise SecretError("the installation secret is empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


class SecretBox:
    """Encrypt and decrypt short secrets bound to an owner string."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise SecretError("SecretBox needs a 32-byte key")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings=None) -> "SecretBox":
        if settings is None:
            from pult.settings import get_settings
            settings = get_settings()
        return cls(derive_key(settings.cookie_secret()))

    def encrypt(self, plaintext: str, owner: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), owner.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + ct).decode("ascii")

    def decrypt(self, stored: str, owner: str) -> str:
        if not isinstance(stored, str) or not stored.startswith(PREFIX):
            raise SecretError("not an encrypted value")
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode("ascii"))
            return self._aead.decrypt(raw[:12], raw[12:], owner.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise SecretError(f"cannot decrypt the secret of {owner}") from exc


def a1_hash(user: str, realm: str, password: str) -> str:
    """The SIP digest HA1: ``md5("user:realm:password")`` as lower-case hex (RFC 2617 / 7616).

    FreeSWITCH compares it with the digest the phone sends; the realm is the SIP domain. Stored
    on the SIP account by the services; ``fs_config.directory.a1_hash`` is the same value checked
    for the XML answer.
    """
    if not user or not realm:
        raise ValueError("a1-hash: user and realm must not be empty")
    if not password:
        raise ValueError(f"a1-hash: empty password for {user}@{realm}")
    data = f"{user}:{realm}:{password}".encode("utf-8")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
