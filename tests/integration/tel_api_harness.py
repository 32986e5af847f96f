"""One running Pult for the telephony API tests (``test_tel_api_*.py``), shared per module.

:func:`tel_stack` opens an embedded store in a temporary directory, seeds two PBXs of one account
(101 and 202, so numbers can move between them) plus PBX 303 of another account, their default
SIP domains, settings and default groups, and these users (password :data:`PASSWORD`):

- ``101/admin`` (Administrator, English), ``101/adminru`` (Administrator, Russian),
- ``101/emp`` (Employee), ``101/viewer`` (a custom role with *view* in every telephony section),
  ``101/leader`` (Group leader; the test gives it supervised groups),
- ``202/admin`` (Administrator of the other PBX).

It serves the real application on a free loopback port with the test Redis, and yields a
:class:`TelStack` whose :meth:`TelStack.client` signs a user in. Module-scoped fixtures keep a
test module to one server (a few hundred milliseconds of set-up instead of one per test).
:func:`tel_stack_with_mail` is the same stack with a real Celery worker delivering mail to a
local SMTP sink (:class:`jobs.testing.SmtpSink`).
"""
from __future__ import annotations

import contextlib
import html as html_lib
import re
import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import pytest_asyncio
from bson import ObjectId

from pult.passwords import set_hash_profile
from pult.settings import load_settings, set_settings
from storage.repos.base import Scope
from storage.repos.roles import Roles
from storage.repos.tenants import Pbxes, create_account
from storage.repos.users import create_tenant_user
from web.rights import BASE_ROLES, rights_for
from web.access.service import AccessService
from web.testing import WebClient, web_stack

PASSWORD = "tenant-pass-1"
TEL_SECTIONS = ("employees", "groups", "numbers", "call_handling", "conferences", "sip", "trunks",
                "pbx_settings", "restrictions")

#: the operator's carrier (a platform gateway): external numbers are dialled through it (none: skipped)
CARRIER = {"id": "main", "name": "Carrier", "proxy": "sip.carrier.test:5060", "enabled": True}


@dataclass
class TelStack:
    ctx: object
    url: str
    store: object
    keys: dict = field(default_factory=dict)

    @property
    def db(self):
        return self.store.db

    @asynccontextmanager
    async def client(self, login: str | None = "101/admin", lang: str = "en",
                     api_key: str | None = None) -> AsyncIterator[WebClient]:
        """A client signed in as ``login`` (or using ``api_key``; or anonymous with both None)."""
        headers = {"Accept-Language": lang}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        async with WebClient(self.url, headers=headers) as c:
            if login and not api_key:
                await c.login(login, PASSWORD)
            yield c

    async def api_key(self, pbx_id: int = 101, role: str = "administrator",
                      whitelist: tuple[str, ...] = ("127.0.0.1",)) -> str:
        """A new API key of ``pbx_id`` (its secret)."""
        svc = AccessService(self.db, pbx_id, rights_for({"kind": "tenant", "role": "administrator"}),
                            {"kind": "system", "login": None, "ip": None})
        _doc, secret = await svc.create_key(f"key {len(self.keys) + 1}", role, list(whitelist))
        self.keys[secret] = pbx_id
        return secret


async def seed(db, store) -> dict:
    """Accounts, PBXs, telephony defaults and users (see the module docstring)."""
    from esl_control.model.bootstrap import ensure_pbx_defaults

    acc = await create_account(db, "Acme", "acme@example.com")
    other = await create_account(db, "Other", "other@example.com")
    for pbx_id, account in ((101, acc), (202, acc), (303, other)):
        await Pbxes(db, Scope.platform()).insert_one({
            "pbx_id": pbx_id, "account_id": account["account_id"], "name": f"PBX {pbx_id}",
            "status": "active", "sip_domain": f"vpbx{pbx_id}.pult.test"})
        await ensure_pbx_defaults(db, pbx_id, base_domain="pult.test")
    # the PBX counter past the seeded ids, so a PBX the operator creates gets the next free id (304 on)
    await db["counters"].update_one({"_id": "pbx_id"}, {"$set": {"value": 303}}, upsert=True)
    viewer_role = str(ObjectId())
    await Roles(db, Scope.pbx(101)).insert_one({
        "_id": viewer_role, "name": "Telephony viewer", "name_norm": "telephony viewer", "base": "employee",
        "description": "", "sections": {s: {"level": "view", "reach": "all"} for s in TEL_SECTIONS}})
    users = {}
    for pbx_id, login, role, lang in ((101, "admin", "administrator", "en"), (101, "adminru", "administrator", "ru"),
                                      (101, "emp", "employee", "en"), (101, "viewer", viewer_role, "en"),
                                      (101, "leader", "group_leader", "en"),
                                      (202, "admin", "administrator", "en")):
        users[f"{pbx_id}/{login}"] = await create_tenant_user(
            store, pbx_id, login, PASSWORD, f"{login}{pbx_id}@example.com", language=lang,
            account_id=acc["account_id"] if pbx_id != 303 else other["account_id"], role=role)
    assert viewer_role not in BASE_ROLES
    return {"account": acc, "other_account": other, "users": users, "viewer_role": viewer_role}


@asynccontextmanager
async def tel_stack(**settings_overrides) -> AsyncIterator[TelStack]:
    """A seeded store and a running server (see the module docstring); ``settings_overrides``
    go to :func:`pult.settings.load_settings` (e.g. SMTP and Redis for the mail jobs)."""
    from storage.client import open_store
    import web.telephony.api_common  # noqa: F401  (registers the telephony migration before start)
    import storage.repos.telephony  # noqa: F401

    set_hash_profile("cheapest")
    with tempfile.TemporaryDirectory(prefix="pult-tel-api-") as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data", http_port=8080, outbound_port=0,
                                 **{"sip_base_domain": "pult.test", **settings_overrides})
        set_settings(settings)
        store = open_store(settings)
        await store.start()
        try:
            info = await seed(store.db, store)
            async with web_stack(settings, store) as (ctx, url):
                stack = TelStack(ctx, url, store)
                stack.info = info
                yield stack
        finally:
            with contextlib.suppress(Exception):
                await store.close()
            set_settings(None)
            set_hash_profile("default")


@asynccontextmanager
async def tel_stack_with_mail(sink) -> AsyncIterator[TelStack]:
    """:func:`tel_stack` on the test Redis with mail going to ``sink`` (an
    :class:`jobs.testing.SmtpSink`, from ``Pult <noreply@pult.example>``) and a real Celery
    worker running for the stack's lifetime; the run's Redis keys are removed afterwards."""
    from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker

    async with tel_stack(redis_url=TEST_REDIS_URL, smtp_port=sink.port, mail_from="Pult <noreply@pult.example>",
                         log_level="WARNING") as stack:
        prefix = configure_for_tests(stack.ctx.settings)
        with running_worker(stack.ctx.settings):
            yield stack
        cleanup(prefix)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    """One :func:`tel_stack` per test module (import it into the module to use it)."""
    async with tel_stack() as stack:
        yield stack


def field_error(html: str, field: str) -> str | None:
    """The text of the error a cabinet page shows under ``field`` (None when the field is fine)."""
    fid = "err-" + "".join(c if c.isalnum() else "-" for c in field)
    m = re.search(rf'<p class="field-error" id="{re.escape(fid)}">([^<]*)</p>', html)
    return html_lib.unescape(m.group(1)) if m else None
