"""Who may open Finance (issue 5): the account administrator, accountants and administrators
only — over real HTTP, for every base role and for custom roles derived from Accountant,
Administrator and Company head with the Finance toggle on or off. Checked on the page, the
balance API and a document-creating POST, with the refusal's message."""
from __future__ import annotations

from datetime import datetime, timezone

from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_account_admin, create_tenant_user, set_password
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.finance.access import REFUSED
from web.testing import WebClient, web_stack

#: role → may it use Finance (written from the issue text, not computed)
EXPECTED = {
    "account_admin": True, "accountant": True, "administrator": True,
    "company_head": False, "employee": False, "senior_employee": False, "group_leader": False,
    "marketer": False,  # (No access cannot even sign in)
    "custom_accountant": True,            # derived from Accountant, Finance on (its default)
    "custom_admin_no_finance": False,     # derived from Administrator, Finance switched off
    "custom_head_finance": False,         # derived from Company head, Finance switched on
    "custom_employee_finance": False,     # derived from Employee, Finance switched on
}
CUSTOM = {"custom_accountant": ("accountant", {}),
          "custom_admin_no_finance": ("administrator", {"finance": {"level": "none"}}),
          "custom_head_finance": ("company_head", {"finance": {"level": "edit"}}),
          "custom_employee_finance": ("employee", {"finance": {"level": "edit"}})}


async def test_finance_is_for_the_account_admin_accountants_and_administrators(settings, store):
    db = store.db
    acc = await create_account(db, "ООО Ромашка", "boss@romashka.example",  # the offer accepted: it may sign in
                               offer={"version": "1", "accepted_at": datetime.now(timezone.utc)})
    pbx = (await create_pbx(db, acc["account_id"], "Офис", "pult.local"))["pbx_id"]
    admin = await create_account_admin(store, acc["account_id"], "boss@romashka.example", pbx_id=pbx, language="en")
    await set_password(store, admin["_id"], "account-pass-1")
    logins = {"account_admin": (str(acc["account_id"]), "account-pass-1")}
    for role in EXPECTED:
        if role != "account_admin" and role not in CUSTOM:
            await create_tenant_user(store, pbx, role.replace("_", "-"), "tenant-pass-1", role=role, language="en",
                                     account_id=acc["account_id"])
            logins[role] = (f"{pbx}/{role.replace('_', '-')}", "tenant-pass-1")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url) as boss:
            await boss.login(f"{pbx}/administrator", "tenant-pass-1")
            for name, (base, sections) in CUSTOM.items():
                r = await boss.api("POST", "/api/v1/roles", json={"name": name, "base": base, "sections": sections})
                assert r.status_code == 201, r.text
                await create_tenant_user(store, pbx, name.replace("_", "-"), "tenant-pass-1", role=r.json()["id"],
                                         language="en", account_id=acc["account_id"])
                logins[name] = (f"{pbx}/{name.replace('_', '-')}", "tenant-pass-1")
        for role, allowed in EXPECTED.items():
            async with WebClient(url) as c:
                await c.login(*logins[role])
                page = await c.get("/finance")
                balance = await c.get("/api/v1/finance/balance")
                create = await c.api("POST", "/api/v1/finance/documents", json={"kind": "invoice", "amount": "x"})
                if allowed:
                    assert page.status_code == 200 and "Issue an invoice" in page.text, role
                    assert balance.status_code == 200 and balance.json()["account_id"] == acc["account_id"], role
                    assert create.status_code == 422, (role, create.text)  # past the rights, stopped by the amount
                else:
                    assert (page.status_code, balance.status_code, create.status_code) == (403, 403, 403), role
                    message = balance.json()["error"]["message"]
                    if role in ("company_head", "custom_head_finance", "custom_employee_finance"):
                        # the section is open to these roles: the Finance rule itself refuses
                        assert message == REFUSED, (role, message)
                    assert "Finance" in message or "cabinet" in message, (role, message)
