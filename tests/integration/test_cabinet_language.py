"""Text in the cabinet's language: the built-in sound files' names, the tariffs' and editions'
names and descriptions (operator data in two languages; the built-ins are seeded in both) are
English in the English cabinet and Russian in the Russian one."""
from __future__ import annotations

import pytest

from jobs.billing.tariffs import DEFAULT_DESCRIPTION, DEFAULT_ID, seed_default_tariff
from storage.repos.telephony import seed_builtin_sounds
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient

TARIFF = {
    "code": "office", "name": "Офисный", "name_en": "Office",
    "description": "Посекундно, мобильные 1,90 ₽/мин", "description_en": "Per second, mobile 1.90 RUB/min",
    "step": "1/1", "prices": {"local": "0,90", "mobile": "1,90", "long_distance": "2,50"},
    "destinations": [{"prefix": "7495", "zone": "local"}, {"prefix": "79", "zone": "mobile"},
                     {"prefix": "7", "zone": "long_distance"}],
}


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as stack:
        yield stack


async def tenant(op, ctx) -> int:
    r = await op.api("POST", "/api/v1/operator/accounts", json={"name": "ООО Ромашка", "email": "boss@romashka.ru",
                                                                "send_link": False})
    acc = r.json()["account_id"]
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": acc, "name": "Офис", "edition": "basic"})
    pbx = r.json()["pbx_id"]
    for login, lang in (("boss", "en"), ("boss-ru", "ru")):
        await create_tenant_user(ctx.store, pbx, login, "tenant-pass-1", role="administrator", language=lang,
                                 account_id=acc)
    return pbx


async def test_built_in_sound_names_are_in_the_cabinets_language(web):
    ctx, url, op = web
    await seed_builtin_sounds(ctx.store.db)
    pbx = await tenant(op, ctx)
    names, pages = {}, {}
    for login in ("boss", "boss-ru"):
        async with WebClient(url) as c:
            await c.login(f"{pbx}/{login}", "tenant-pass-1")
            items = (await c.get("/api/v1/telephony/sounds")).json()["items"]
            names[login] = {s["id"]: s["name"] for s in items if s["builtin"]}
            pages[login] = (await c.get("/telephony/sounds")).text, (await c.get("/telephony/settings/voicemail")).text
    assert names["boss"]["builtin:sirtaki"] == "Sirtaki"
    assert names["boss"]["builtin:all_busy"] == "Sorry, all operators are busy"
    assert names["boss"]["builtin:enter_password"] == "Enter the password"
    assert not any(any("а" <= ch <= "я" for ch in n.lower()) for n in names["boss"].values()), names["boss"]
    assert names["boss-ru"]["builtin:sirtaki"] == "Сиртаки"
    assert names["boss-ru"]["builtin:all_busy"] == "К сожалению, все операторы заняты"
    assert "Сиртаки" in pages["boss-ru"][0] and "Сиртаки" in pages["boss-ru"][1]  # Russian pages: Russian
    for page in pages["boss"]:  # the English list and pickers: English
        assert "Sirtaki" in page and "Сиртаки" not in page and "Бетховен" not in page


async def test_tariff_and_edition_names_and_descriptions_follow_the_language(web):
    ctx, url, op = web
    db = ctx.store.db
    # a store seeded before the English texts existed: the seed adds them (the operator had not edited it)
    await db["tariffs"].delete_many({})
    await seed_default_tariff(db)
    await db["tariffs"].update_one({"_id": DEFAULT_ID}, {"$unset": {"name_en": "", "description_en": ""}})
    await seed_default_tariff(db)
    assert (await db["tariffs"].find_one({"_id": DEFAULT_ID}))["name_en"] == "Basic"
    r = await op.api("POST", "/api/v1/operator/tariffs", json=TARIFF)
    assert r.status_code == 201, r.text
    only_ru = {**TARIFF, "code": "plain", "name": "Простой", "name_en": "", "description": "Только по-русски",
               "description_en": ""}
    assert (await op.api("POST", "/api/v1/operator/tariffs", json=only_ru)).status_code == 201
    pbx = await tenant(op, ctx)

    async with WebClient(url) as en, WebClient(url) as ru:
        await en.login(f"{pbx}/boss", "tenant-pass-1")
        await ru.login(f"{pbx}/boss-ru", "tenant-pass-1")
        t_en = {t["id"]: t for t in (await en.get("/api/v1/finance/tariff")).json()["tariffs"]}
        t_ru = {t["id"]: t for t in (await ru.get("/api/v1/finance/tariff")).json()["tariffs"]}
        assert (t_en["default"]["name"], t_ru["default"]["name"]) == ("Basic", "Базовый")
        assert t_en["default"]["description"].startswith("Per-minute billing; Moscow 1 RUB/min")
        assert t_ru["default"]["description"] == DEFAULT_DESCRIPTION
        assert (t_en["office"]["name"], t_en["office"]["description"]) == ("Office", "Per second, mobile 1.90 RUB/min")
        assert (t_ru["office"]["name"], t_ru["office"]["description"]) == ("Офисный", "Посекундно, мобильные 1,90 ₽/мин")
        # the operator gave only Russian: both cabinets show it rather than nothing
        assert t_en["plain"]["name"] == t_ru["plain"]["name"] == "Простой"
        assert t_en["plain"]["description"] == "Только по-русски"

        e_en = (await en.get("/api/v1/finance/edition")).json()
        e_ru = (await ru.get("/api/v1/finance/edition")).json()
        assert e_en["current"]["name"] == "Basic" and e_ru["current"]["name"] == "Базовая"
        assert {e["name"] for e in e_en["editions"]} >= {"Basic", "Business", "Corporate"}
        page = (await en.get("/finance")).text
        assert "Basic" in page and "Базов" not in page and "Бизнес" not in page
        assert "Базовый" in (await ru.get("/finance")).text

    # the operator renames an edition in both languages in the console's form; the cabinet follows
    r = await op.api("PATCH", "/api/v1/operator/editions/basic", json={"name": "Старт", "name_en": "Start"})
    assert r.status_code == 200, r.text
    async with WebClient(url) as en:
        await en.login(f"{pbx}/boss", "tenant-pass-1")
        assert (await en.get("/api/v1/finance/edition")).json()["current"]["name"] == "Start"


async def test_the_operator_console_names_editions_and_tariffs_in_the_operators_language(web):
    """The console's lists and pickers (editions, tariffs, a PBX's edition and tariff, the platform
    default tariff, a new PBX's edition) show the English names to an English operator and the
    Russian ones to a Russian operator; the edit forms keep both fields."""
    from storage.repos.users import create_operator_admin

    ctx, url, op = web
    await seed_default_tariff(ctx.store.db)
    pbx = await tenant(op, ctx)
    await create_operator_admin(ctx.store, "rootru", "operator-pass-ru-1", "rootru@pult.test", language="ru")
    pages = ("/operator/editions", "/operator/tariffs", f"/operator/pbxes/{pbx}", "/operator/pbxes/new",
             "/operator/settings")
    async with WebClient(url) as ru:
        await ru.login("rootru", "operator-pass-ru-1")
        for path in pages:
            en_text, ru_text = (await op.get(path)).text, (await ru.get(path)).text
            if path != "/operator/settings":  # the settings page names tariffs only
                assert "Basic" in en_text and "Базов" not in en_text, path
                assert "Базов" in ru_text, path
            else:
                assert ">Basic (default)<" in en_text and ">Базовый (default)<" in ru_text
        assert "Business" in (await op.get("/operator/editions")).text
        assert "Бизнес" in (await ru.get("/operator/editions")).text
        # the edit forms are headed in the operator's language and show both names to edit
        form = (await op.get("/operator/editions/basic")).text
        assert "Edition «Basic»</h1>" in form and 'value="Базовая"' in form and 'value="Basic"' in form
        assert "Версия «Базовая»</h1>" in (await ru.get("/operator/editions/basic")).text
        assert "Tariff «Basic»</h1>" in (await op.get("/operator/tariffs/default")).text
        assert "Тариф «Базовый»</h1>" in (await ru.get("/operator/tariffs/default")).text


async def test_edition_limits_name_the_edition_in_the_readers_language(web):
    """A creation the edition's quota refuses, and a downgrade the usage does not fit, name the
    edition as the cabinet does: "Basic" in English, «Базовая» in Russian."""
    ctx, url, op = web
    pbx = await tenant(op, ctx)  # edition "basic": at most 3 groups (the default group is one)
    async with WebClient(url) as en, WebClient(url) as ru:
        await en.login(f"{pbx}/boss", "tenant-pass-1")
        await ru.login(f"{pbx}/boss-ru", "tenant-pass-1")
        for n in (1, 2, 3):
            r = await en.api("POST", "/api/v1/telephony/groups", json={"name": f"Team {n}", "extension": f"30{n}"})
            if r.status_code == 409:
                break
            assert r.status_code == 201, r.text
        assert r.status_code == 409 and r.json()["error"]["message"] == "Edition «Basic» allows at most 3 groups.", r.text
        r = await ru.api("POST", "/api/v1/telephony/groups", json={"name": "Команда", "extension": "309"})
        assert r.status_code == 409 and r.json()["error"]["message"] == "Версия «Базовая» позволяет не больше 3 групп."
        # on a bigger edition with more groups than Basic allows, Basic is offered with the reason
        assert (await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"edition": "business"})).status_code == 200
        assert (await en.api("POST", "/api/v1/telephony/groups", json={"name": "Team 9", "extension": "319"})).status_code == 201
        basic_en = {e["id"]: e for e in (await en.get("/api/v1/finance/edition")).json()["editions"]}["basic"]
        basic_ru = {e["id"]: e for e in (await ru.get("/api/v1/finance/edition")).json()["editions"]}["basic"]
        assert any(p.startswith("Edition «Basic» allows at most 3 groups") for p in basic_en["problems"]), basic_en
        assert any(p.startswith("В версии «Базовая»") for p in basic_ru["problems"]), basic_ru
        assert "Базов" not in " ".join(basic_en["problems"])
