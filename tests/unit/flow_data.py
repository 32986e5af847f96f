"""Stored documents of one PBX for the call-engine tests: the worked example of inventory A
§4.4.2.1 (working days 09:00-18:59: greeting; 1 → «Клиентский отдел»; 2 → «Отдел продаж» then an
employee by one contact method; fax detection; no input → the client department; any other
input → greeting → voice mail; any other time: greeting → fax) plus the seed 000 dial list.

The documents have the shapes the cabinet's services store (see the areas' ``schemas``)."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

from esl_control.model.effective import snapshot_from_documents
from storage.repos.tenants import pbx_state, store_platform_gateways

PBX_ID = 101
DOMAIN = "vpbx101.example.ru"
NUMBER = "74951234567"
# Monday 7 December 2026, 12:00 and 20:00 in Moscow (UTC+3); Sunday 6 December 12:00
WORK_TIME = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
EVENING = datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)
SUNDAY = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)

CLIENT_MEMBER = "79160000001"
SALES_MEMBER = "79160000002"
PETROV_PHONE = "79161111111"


def hangup() -> dict:
    return {"kind": "hangup"}


def documents() -> dict[str, list[dict]]:
    scheme = {
        "_id": "s1", "name": "Main", "name_norm": "main", "pbx_id": PBX_ID,
        "blocks": [
            {"schedule_id": "sch_work", "steps": [
                {"id": "g1", "kind": "greeting", "sound_id": "snd_greet", "wait_end": True},
                {"id": "m1", "kind": "menu",
                 "children": {
                     "1": {"password": None, "steps": [
                         {"kind": "forward", "target": {"type": "group", "id": "grp_client"}, "ring_time": 20,
                          "queue": {"enabled": True, "max_wait": 20}},
                         {"kind": "voicemail", "emails": ["office@host.ru"]}, hangup()]},
                     "2": {"password": None, "steps": [
                         {"kind": "forward", "target": {"type": "group", "id": "grp_sales"}, "ring_time": 20,
                          "queue": None},
                         {"kind": "forward", "target": {"type": "employee", "id": "emp_petrov", "method": "cm_phone"},
                          "ring_time": 60, "queue": None},
                         {"kind": "voicemail", "emails": []}, hangup()]}},
                 "rules": {
                     "fax_detect": {"emails": ["petrov@host.ru"], "schedule_id": None},
                     "no_input": {"timeout": 5, "schedule_id": None, "steps": [
                         {"kind": "forward", "target": {"type": "group", "id": "grp_client"}, "ring_time": None,
                          "queue": None},
                         {"kind": "voicemail", "emails": []}, hangup()]},
                     "other_input": {"schedule_id": None, "steps": [
                         {"kind": "greeting", "sound_id": "snd_sorry", "wait_end": True},
                         {"kind": "voicemail", "emails": []}, hangup()]}}},
                hangup()]},
            {"schedule_id": None, "steps": [
                {"kind": "greeting", "sound_id": "snd_closed", "wait_end": True},
                {"kind": "fax", "emails": []}, hangup()]},
        ]}
    return {
        "numbers": [{"_id": "n1", "pbx_id": PBX_ID, "number": NUMBER, "kind": "did", "scheme_id": "s1"},
                    {"_id": "n2", "pbx_id": PBX_ID, "number": "74957654321", "kind": "did", "scheme_id": None}],
        "schemes": [scheme],
        "ring_groups": [
            {"_id": "grp_client", "pbx_id": PBX_ID, "name": "Клиентский отдел", "extension": "10",
             "strategy": "sequential", "members": [{"id": "m1", "kind": "external", "value": CLIENT_MEMBER,
                                                    "lines": 1, "schedule_id": None, "priority": 1}],
             "ring_time": None, "attempts": 1, "attempt_pause": 0, "pause_melody": None, "ringback": None,
             "announce_caller": False, "caller_id": "caller"},
            {"_id": "grp_sales", "pbx_id": PBX_ID, "name": "Отдел продаж", "extension": "11",
             "strategy": "sequential", "members": [{"id": "m2", "kind": "external", "value": SALES_MEMBER,
                                                    "lines": 1, "schedule_id": None, "priority": 1}],
             "ring_time": None, "attempts": 1, "attempt_pause": 0, "pause_melody": None, "ringback": None,
             "announce_caller": False, "caller_id": "caller"},
            # seed 000 §3.4 «Список дозвона»: three external numbers in turn, two attempts, a pause
            {"_id": "grp_dial", "pbx_id": PBX_ID, "name": "Список дозвона", "extension": "6",
             "strategy": "sequential",
             "members": [{"id": f"d{i}", "kind": "external", "value": f"7916000010{i}", "lines": 1,
                          "schedule_id": None, "priority": 1} for i in (1, 2, 3)],
             "ring_time": 15, "attempts": 2, "attempt_pause": 10, "pause_melody": "builtin:sirtaki",
             "ringback": None, "announce_caller": False, "caller_id": "caller"},
        ],
        "employees": [
            {"_id": "emp_petrov", "pbx_id": PBX_ID, "name": "Петров", "extension": "101", "reception_mode": "main",
             "contact_methods": [
                 {"id": "cm_sip", "kind": "sip_account", "account_id": "acc101", "active": True, "ring_time": None,
                  "schedule_id": None},
                 {"id": "cm_phone", "kind": "phone", "value": PETROV_PHONE, "active": True, "ring_time": 30,
                  "schedule_id": None}]},
            {"_id": "emp_ivanov", "pbx_id": PBX_ID, "name": "Иванов", "extension": "102", "reception_mode": "main",
             "contact_methods": [
                 {"id": "cm_sip2", "kind": "sip_account", "account_id": "acc102", "active": True, "ring_time": 25,
                  "schedule_id": None}]},
        ],
        "sip_accounts": [{"_id": "acc101", "pbx_id": PBX_ID, "login": "101", "domain": DOMAIN, "employee_id": "emp_petrov"},
                         {"_id": "acc102", "pbx_id": PBX_ID, "login": "102", "domain": DOMAIN, "employee_id": "emp_ivanov"}],
        "extensions": [{"pbx_id": PBX_ID, "extension": "10", "owner_type": "group", "owner_id": "grp_client"},
                       {"pbx_id": PBX_ID, "extension": "11", "owner_type": "group", "owner_id": "grp_sales"},
                       {"pbx_id": PBX_ID, "extension": "6", "owner_type": "group", "owner_id": "grp_dial"},
                       {"pbx_id": PBX_ID, "extension": "101", "owner_type": "employee", "owner_id": "emp_petrov"},
                       {"pbx_id": PBX_ID, "extension": "102", "owner_type": "employee", "owner_id": "emp_ivanov"}],
        "day_groups": [{"_id": "dg_work", "pbx_id": PBX_ID, "name": "Рабочие дни", "weekdays": [1, 2, 3, 4, 5],
                        "special_dates": []}],
        "schedules": [{"_id": "sch_work", "pbx_id": PBX_ID, "name": "Рабочее время",
                       "intervals": [{"day_group": "dg_work", "start": "09:00", "end": "18:59"}]}],
        "sound_files": [
            {"_id": "snd_greet", "pbx_id": PBX_ID, "name": "Приветствие", "path": "/media/101/greet.wav"},
            {"_id": "snd_sorry", "pbx_id": PBX_ID, "name": "Неверный выбор", "path": "/media/101/sorry.wav"},
            {"_id": "snd_closed", "pbx_id": PBX_ID, "name": "Мы не работаем", "path": "/media/101/closed.wav"},
            {"_id": "builtin:sirtaki", "builtin": True, "name": "Сиртаки", "path": "builtin/sirtaki.wav"},
            {"_id": "builtin:abba", "builtin": True, "name": "abba", "path": "builtin/abba.wav"},
            {"_id": "builtin:unavailable", "builtin": True, "name": "Абонент не отвечает", "path": "builtin/unavailable.wav"},
            {"_id": "builtin:voicemail_warning", "builtin": True, "name": "Оставьте сообщение",
             "path": "builtin/voicemail_warning.wav"},
            {"_id": "builtin:enter_password", "builtin": True, "name": "Введите пароль",
             "path": "builtin/enter_password.wav"},
        ],
        "tel_settings": [{"_id": PBX_ID, "pbx_id": PBX_ID, "call_handling": {"default_ring_time": 120},
                          "lists": {"mode": None, "unknown_allowed": True}}],
        "list_entries": [], "client_rules": [], "trunks": [],
        # the operator's platform gateways (platform data, not the PBX's): external numbers go out there
        "platform_gateways": [{"id": "main", "name": "Carrier", "proxy": "sip.carrier.test:5060", "enabled": True}],
    }


def pbx(**fields) -> dict:
    return {"pbx_id": PBX_ID, "account_id": 1, "name": "Test", "status": "active", "time_zone": "Europe/Moscow",
            "sip_domain": DOMAIN, "operator_block": None, **fields}


async def seed(db) -> None:
    """Store the PBX and :func:`documents` as the cabinet's services would (names normalised for
    the unique index; the built-in sounds the store's migrations seeded are overwritten)."""
    await db["pbxes"].insert_one(pbx())
    for collection, docs in documents().items():
        if collection == "platform_gateways":  # platform data: one document of platform_settings
            await store_platform_gateways(db, docs)
            continue
        for d in docs:
            if "name" in d:
                d.setdefault("name_norm", d["name"].casefold())
            if d.get("builtin"):
                await db[collection].update_one({"_id": d["_id"]}, {"$set": d}, upsert=True)
            else:
                await db[collection].insert_one(d)


def snapshot(docs: dict | None = None, *, balance: int = 0, **pbx_fields):
    docs = copy.deepcopy(docs or documents())
    p = pbx(**pbx_fields)
    return snapshot_from_documents(p, pbx_state(p, {"balance": balance}, WORK_TIME), docs)
