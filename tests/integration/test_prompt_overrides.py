"""A tenant replaces phrases of the prompt set with its own sound files: the PBX setting
``prompts`` (phrase id → sound file id) over the REST API — validation with RU/EN field errors,
nothing saved on a refusal, another PBX's file refused, a file in use cannot be deleted, ``null``
gives the phrase back to the platform — and what the engine then plays for the phrase."""
from __future__ import annotations

import pytest

from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.sounds.services import SoundService
from esl_control.prompts import PromptSet, tenant_phrase
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.integration.test_tel_pages_forms import field_error
from tests.unit.test_tel_schemas import wav_bytes

pytestmark = pytest.mark.asyncio(loop_scope="module")
S = "/api/v1/telephony/settings/prompts"
ADMIN = {"kind": "system", "login": "test", "ip": None}


async def _upload(st, pbx_id: int, name: str) -> str:
    doc = await SoundService(st.db, pbx_id, ADMIN, media=st.store.media).upload(wav_bytes(), {"name": name})
    return doc["id"]


async def test_a_pbx_replaces_phrases_with_its_own_files_and_gets_them_back(st):
    ours = await _upload(st, 101, "Our no-answer message")
    theirs = await _upload(st, 202, "Another PBX's file")
    async with st.client("101/admin") as c:
        assert (await c.get(S)).json() == {}                        # nothing replaced: the platform's set
        r = await c.api("PUT", S, json={"no_answer": ours, "goodbye": "builtin:abba"})
        assert r.status_code == 200, r.text
        assert r.json() == {"goodbye": "builtin:abba", "no_answer": ours}

        r = await c.api("PATCH", S, json={"no_such_phrase": ours})
        assert r.status_code == 422
        # the document lists every phrase (no other field is accepted): the field named is refused
        assert r.json()["error"]["fields"] == {"no_such_phrase": "Unknown field."}
        r = await c.api("PATCH", S, json={"unavailable": theirs})   # PBX 202's file does not exist for 101
        assert r.status_code == 409 and "prompts.unavailable" in r.json()["error"]["fields"]
        r = await c.api("PATCH", S, json={"unavailable": 5})
        assert r.status_code == 422 and "prompts.unavailable" in r.json()["error"]["fields"]
        assert (await c.get(S)).json() == {"goodbye": "builtin:abba", "no_answer": ours}   # nothing changed

        r = await c.api("DELETE", f"/api/v1/telephony/sounds/{ours}")
        assert r.status_code == 409, r.text                         # it speaks a phrase: not deleted

        r = await c.api("PATCH", S, json={"goodbye": None})
        assert r.status_code == 200 and r.json() == {"no_answer": ours}
    async with st.client("101/adminru", lang="ru") as c:
        r = await c.api("PATCH", S, json={"bogus": ours})
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"bogus": "Неизвестное поле."}
    async with st.client("202/admin") as c:                         # PBX 202 sees only its own
        assert (await c.get(S)).json() == {}
    async with st.client("101/emp") as c:                           # no right to the PBX settings
        assert (await c.api("PATCH", S, json={"goodbye": None})).status_code == 403


async def test_the_engine_plays_the_tenants_file_else_the_prompt_set(st, tmp_path):
    ours = await _upload(st, 101, "Our voice mail greeting")
    svc = PbxSettingsService(st.db, 101, ADMIN)
    await svc.update_section("prompts", {"voicemail_greeting": ours})
    overrides = (await svc.get())["prompts"]
    voice = tmp_path / "ru" / "RU" / "pult"
    for rel in ("pult/voicemail_greeting.wav", "pult/no_answer.wav"):
        category, _, name = rel.rpartition("/")
        (voice / category / "8000").mkdir(parents=True, exist_ok=True)
        (voice / category / "8000" / name).write_bytes(wav_bytes())
    prompts = PromptSet(tmp_path)
    urls = {ours: f"http_cache://http://pult/fs/sounds/101/{ours}/x/y/wav8k.wav"}
    assert tenant_phrase(prompts, "voicemail_greeting", "ru", overrides, urls.get) == urls[ours]
    assert tenant_phrase(prompts, "no_answer", "ru", overrides, urls.get) == str(voice / "pult/no_answer.wav")
    # the tenant's file cannot be fetched (deleted meanwhile, not converted): the platform's phrase
    assert tenant_phrase(prompts, "voicemail_greeting", "ru", overrides, lambda _sid: None) == \
        str(voice / "pult/voicemail_greeting.wav")


async def test_the_phrases_page_lists_every_phrase_in_the_users_language_and_saves_a_choice(st):
    ours = await _upload(st, 101, "Our goodbye")
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        page = (await en.get("/telephony/settings/prompts")).text
        assert "Phrases callers hear" in page and 'href="/telephony/settings/prompts" class="active"' in page
        assert "The subscriber does not answer. Please call later." in page and "Our goodbye" in page
        assert "The platform&#x27;s prompt" in page
        page = (await ru.get("/telephony/settings/prompts")).text
        assert "Фразы, которые слышат звонящие" in page and "Абонент не отвечает. Пожалуйста, перезвоните позже." in page
        r = await en.post_form("/telephony/settings/prompts", {"goodbye": ours, "no_answer": ""})
        assert r.status_code == 302, r.text[:2000]
        assert (await en.get(S)).json().get("goodbye") == ours
        r = await ru.post_form("/telephony/settings/prompts", {"goodbye": "no-such-file"})
        assert r.status_code == 422
        assert field_error(r.text, "goodbye").startswith("Выбранный объект не существует")
        assert (await en.get(S)).json().get("goodbye") == ours        # the refused form changed nothing
        r = await en.post_form("/telephony/settings/prompts", {"goodbye": ""})
        assert r.status_code == 302 and "goodbye" not in (await en.get(S)).json()
    async with st.client("101/viewer") as c:
        assert "<fieldset disabled>" in (await c.get("/telephony/settings/prompts")).text
        assert (await c.post_form("/telephony/settings/prompts", {"goodbye": ours})).status_code == 403
