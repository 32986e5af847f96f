"""Renaming a SIP domain (inventory D §4.6.1.1.1): the accounts' ``domain`` and digest
``a1_hash`` and the passive numbers' SIP addresses follow the new name, the FreeSWITCH directory
answers under the new name only, the default domain is never renamed, names stay unique
platform-wide, and an interrupted rename is finished by calling it again — through the service,
the API and the cabinet page."""
from __future__ import annotations

import pytest

from esl_control.routing.errors import RuleError
from fs_config.directory import a1_hash
from fs_config.request import XmlCurlRequest
from fs_config.tenant_providers import TenantDirectory
from storage.repos.base import Scope
from storage.repos.telephony import Numbers, SipAccounts, SipDomains
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.integration.test_provisioning_xml_curl import directory_form, fs_parse
from tests.integration.test_tel_pages_forms import field_error
from esl_control.model.crypto import SecretBox
from esl_control.model.numbers.services import NumberService
from esl_control.model.sip.services import SipAccountService, SipDomainService

pytestmark = pytest.mark.asyncio(loop_scope="module")
ACTOR = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}
BASE = "pult.test"


def services(st, pbx_id: int = 101):
    box = SecretBox.from_settings(st.ctx.settings)
    return (SipDomainService(st.db, pbx_id, ACTOR, base_domain=BASE, box=box),
            SipAccountService(st.db, pbx_id, ACTOR, box=box), NumberService(st.db, pbx_id, ACTOR, box=box))


async def directory_user(st, login: str, domain: str) -> dict | None:
    """What the tenant directory answers for a REGISTER of ``login@domain`` (None = not found)."""
    text = await TenantDirectory(st.db)(XmlCurlRequest.from_fields(directory_form(login, domain)))
    if text is None or "result" in text and 'status="not found"' in text:
        return None
    users = fs_parse(text, "directory").find("domain").findall("users/user")
    if not users:
        return None
    return {p.get("name"): p.get("value") for p in users[0].findall("params/param")}


async def test_rename_moves_accounts_hashes_and_passive_numbers_and_the_directory_follows(st):
    domains, accounts, numbers = services(st)
    office = await domains.create({"name": "office"})
    acc = await accounts.create({"login": "reception", "password": "Secret-pass-1", "domain_id": office["id"]})
    line = await numbers.connect_passive({"number": "74951112233", "sip_user": "front", "sip_domain_id": office["id"]})
    assert line["sip_address"] == f"front@office.{BASE}"
    assert (await directory_user(st, "reception", f"office.{BASE}"))["a1-hash"] == \
        a1_hash("reception", f"office.{BASE}", "Secret-pass-1")

    renamed = await domains.rename(office["id"], "Head-Office")            # upper case is lowered
    assert renamed["name"] == f"head-office.{BASE}" and "renaming_from" not in renamed
    stored = await SipAccounts(st.db, Scope.pbx(101)).find_one({"_id": acc["id"]})
    assert stored["domain"] == f"head-office.{BASE}"
    assert stored["a1_hash"] == a1_hash("reception", f"head-office.{BASE}", "Secret-pass-1")
    assert (await accounts.get(acc["id"]))["address"] == f"reception@head-office.{BASE}"
    assert await accounts.reveal_password(acc["id"]) == "Secret-pass-1"   # the password itself is kept
    assert (await numbers.get(line["id"]))["sip_address"] == f"front@head-office.{BASE}"
    # the next directory lookup answers under the new name, and no longer under the old one
    user = await directory_user(st, "reception", f"head-office.{BASE}")
    assert user is not None and user["a1-hash"] == stored["a1_hash"]
    assert await directory_user(st, "reception", f"office.{BASE}") is None
    # the old name is free again
    assert (await services(st, 202)[0].create({"name": "office"}))["name"] == f"office.{BASE}"


async def test_default_domain_unique_names_and_bad_labels_are_refused(st):
    domains, _accounts, _numbers = services(st)
    default = await domains.ensure_default()
    with pytest.raises(RuleError) as err:
        await domains.rename(default["_id"], "mainoffice")
    assert err.value.code == "sip_domain.default_rename" and "переименовать нельзя" in err.value.message("ru")
    sales = await domains.create({"name": "sales"})
    await services(st, 202)[0].create({"name": "support"})
    with pytest.raises(RuleError) as err:                      # another PBX's domain: taken platform-wide
        await domains.rename(sales["id"], "support")
    assert err.value.code == "sip_domain.taken" and err.value.field == "name"
    with pytest.raises(RuleError) as err:
        await domains.rename(sales["id"], "1x")
    assert err.value.code == "sip_domain.name"
    assert (await SipDomains(st.db, Scope.pbx(101)).find_one({"_id": sales["id"]}))["name"] == f"sales.{BASE}"
    await domains.delete(sales["id"])                          # (a PBX has at most 3 domains)


async def test_an_interrupted_rename_is_finished_by_calling_it_again_and_keeps_the_old_name_reserved(st):
    domains, accounts, _numbers = services(st, 303)
    crash = await domains.create({"name": "branch"})
    a = await accounts.create({"login": "alpha", "password": "Secret-pass-2", "domain_id": crash["id"]})
    b = await accounts.create({"login": "bravo", "password": "Secret-pass-3", "domain_id": crash["id"]})
    # the state a crash after step 2's first account leaves: domain renamed, one account moved
    await SipDomains(st.db, Scope.pbx(303)).update_one(
        {"_id": crash["id"]}, {"$set": {"name": f"filial.{BASE}", "renaming_from": f"branch.{BASE}"}})
    await SipAccounts(st.db, Scope.pbx(303)).update_one({"_id": a["id"]}, {"$set": {
        "domain": f"filial.{BASE}", "a1_hash": a1_hash("alpha", f"filial.{BASE}", "Secret-pass-2")}})
    with pytest.raises(RuleError) as err:                     # the old name stays reserved meanwhile
        await services(st, 101)[0].create({"name": "branch"})
    assert err.value.code == "sip_domain.taken"
    await domains.rename(crash["id"], "filial")               # the retry finishes the job
    stored = await SipAccounts(st.db, Scope.pbx(303)).find_one({"_id": b["id"]})
    assert stored["domain"] == f"filial.{BASE}" and stored["a1_hash"] == a1_hash("bravo", f"filial.{BASE}", "Secret-pass-3")
    assert "renaming_from" not in await SipDomains(st.db, Scope.pbx(303)).find_one({"_id": crash["id"]})
    assert await directory_user(st, "bravo", f"filial.{BASE}") is not None


async def test_rename_through_the_api_and_the_page(st):
    domains, _accounts, _numbers = services(st)
    web = await domains.create({"name": "webteam"})
    default = await domains.ensure_default()
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        r = await en.api("PATCH", f"/api/v1/telephony/sip/domains/{web['id']}", json={"name": "webgroup"})
        assert r.status_code == 200 and r.json()["name"] == f"webgroup.{BASE}", r.text
        r = await ru.api("PATCH", f"/api/v1/telephony/sip/domains/{default['_id']}", json={"name": "another"})
        assert r.status_code == 409 and "переименовать нельзя" in r.text, r.text
        listing = (await en.get("/telephony/sip/domains")).text
        assert f'/telephony/sip/domains/{web["id"]}/rename' in listing
        assert f'/telephony/sip/domains/{default["_id"]}/rename' not in listing
        page = await en.get(f"/telephony/sip/domains/{web['id']}/rename")
        assert page.status_code == 200 and 'value="webgroup"' in page.text
        r = await ru.post_form(f"/telephony/sip/domains/{web['id']}/rename", {"name": "x"})
        assert r.status_code == 422 and field_error(r.text, "name").startswith("Имя SIP-домена")
        r = await en.post_form(f"/telephony/sip/domains/{web['id']}/rename", {"name": "webdesk"})
        assert r.status_code == 302
        assert f"webdesk.{BASE}" in (await en.get("/telephony/sip/domains")).text
    async with st.client("101/viewer") as viewer:
        assert (await viewer.post_form(f"/telephony/sip/domains/{web['id']}/rename", {"name": "hijack"})).status_code == 403
        assert (await viewer.api("PATCH", f"/api/v1/telephony/sip/domains/{web['id']}", json={"name": "hijack"})).status_code == 403
    async with st.client("202/admin") as other:                # another PBX's domain is not there
        assert (await other.api("PATCH", f"/api/v1/telephony/sip/domains/{web['id']}", json={"name": "hijack"})).status_code == 404
