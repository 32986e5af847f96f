"""The platform's integration keys (PRODUCT.md §10: "a platform integration's key").

Made by an operator in the operator console for a system of the platform's own (a bank statement
importer, the operator's billing), not for a tenant: such a key belongs to no PBX and no account,
and may do only what its named capabilities allow (``payments``: record a payment to any
account). A document::

    {_id: str (key id, the secret's visible part), name, capabilities: [str], whitelist: [str],
     secret_hash: sha256 hex of the whole secret, created_at, created_by, last_used_at, last_ip,
     revoked_at, revoked_by}

The secret (``pult_int_<id>_<43 random characters>``) is shown once and never stored; see
:mod:`storage.repos.api_keys` for why a plain SHA-256 is enough for a random 256-bit secret.
"""
from __future__ import annotations

from pymongo import DESCENDING, IndexModel

from .api_keys import RevocableKeys
from .base import Scope


class IntegrationKeys(RevocableKeys):
    collection = "integration_keys"
    scopes = (None,)  # the platform's own: never a tenant's
    indexes = [IndexModel([("created_at", DESCENDING)], name="integration_keys_created")]


async def integration_key_by_id(db, key_id: str) -> dict | None:
    """A key by id (authentication: the id comes from the presented secret)."""
    if not isinstance(key_id, str) or not key_id:
        return None
    return await IntegrationKeys(db, Scope.platform()).find_one({"_id": key_id})
