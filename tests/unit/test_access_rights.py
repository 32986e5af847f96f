"""The rights model: base roles' defaults (B §0, PRODUCT.md §6), custom roles, no escalation,
IP whitelist entries (D §4.6.1.3), and that every route of the table declares its right."""
from __future__ import annotations

import pytest

from web.enforce import PERSONAL, UNDECLARED, required_right
from web.rights import (BASE_ROLES, SECTION_KEYS, SECTIONS_BY_KEY, TECHNICAL_SECTIONS, RightsError,
                               has_right, normalize_sections, role_from_doc, rights_for)
from esl_control.routing.acl import WhitelistError, allowed, parse_entry, parse_whitelist, split_text
from web.routes import all_routes, load_handlers, route
from web.sections import menu_for


def user(role, **kw):
    return {"_id": "u1", "kind": "tenant", "pbx_id": 101, "login": "anna", "role": role, **kw}


def levels(role):
    r = rights_for(user(role))
    return {k: r.level(k) for k in SECTION_KEYS}


def test_administrators_have_everything_and_company_head_all_but_the_technical_sections():
    for key in ("administrator", "account_admin"):
        r = rights_for(user(key))
        assert r.full and all(r.can(s, SECTIONS_BY_KEY[s].max_level) for s in SECTION_KEYS)
    head = rights_for(user("company_head"))
    assert not head.full
    for s in SECTION_KEYS:
        expected = "none" if s in TECHNICAL_SECTIONS else SECTIONS_BY_KEY[s].max_level
        assert head.level(s) == expected, s
    assert set(TECHNICAL_SECTIONS) == {"restrictions", "action_log", "access"}
    assert rights_for({"kind": "operator", "login": "root"}).full


def test_employee_senior_and_group_leader_see_calls_of_own_groups_or_supervised_groups():
    emp = rights_for(user("employee"))
    assert emp.can("address_book") and emp.can("calls") and not emp.can("calls", "edit")
    assert emp.reach("calls") == "own" and emp.reach("recordings") == "own"
    assert not emp.can("employees") and not emp.can("finance") and not emp.can("access")
    senior = rights_for(user("senior_employee"))
    assert senior.reach("calls") == "groups" and senior.reach("recordings") == "groups"
    assert not senior.can("groups")
    leader = rights_for(user("group_leader"), supervised_groups=["g1", "g2"])
    assert leader.can("groups", "edit") and leader.reach("groups") == "supervised"
    assert leader.can("employees", "edit") and leader.reach("employees") == "supervised"
    assert leader.reach("calls") == "supervised" and leader.supervised_groups == {"g1", "g2"}
    assert leader.role.supervises and not emp.role.supervises


def test_marketer_accountant_and_no_access():
    m = rights_for(user("marketer"))
    assert m.can("calltracking", "edit") and m.can("analytics") and m.can("statistics")
    assert m.reach("recordings") == "all" and not m.can("finance")
    a = rights_for(user("accountant"))
    assert a.can("finance", "edit") and a.can("address_book") and a.reach("calls") == "own"
    assert not a.can("analytics")
    n = rights_for(user("no_access"))
    assert not n.cabinet and not any(n.can(s) for s in SECTION_KEYS)
    assert BASE_ROLES["company_head"].protection and not BASE_ROLES["administrator"].protection


def test_a_custom_role_toggles_sections_of_its_base_and_new_sections_follow_the_base():
    table = normalize_sections({"employees": {"level": "view"}, "calls": {"level": "view", "reach": "all"}},
                               "employee")
    assert set(table) == set(SECTION_KEYS)
    assert table["employees"] == {"level": "view", "reach": "all"}
    assert table["calls"] == {"level": "view", "reach": "all"}
    assert table["address_book"]["level"] == "view" and table["finance"]["level"] == "none"
    doc = {"_id": "r1", "name": "Viewer", "base": "employee", "sections": table}
    r = rights_for(user("r1"), {"r1": doc})
    assert r.role.custom and r.can("employees") and not r.can("employees", "edit")
    # a section stored before it existed in Pult takes the base role's default
    partial = {"_id": "r2", "name": "Old", "base": "accountant", "sections": {"employees": {"level": "edit"}}}
    old = role_from_doc(partial)
    assert old.grant("finance").level == "edit" and old.grant("employees").level == "edit"
    # a deleted custom role: the user works as an Employee
    assert rights_for(user("deadbeef" * 3)).role.key == "employee"


@pytest.mark.parametrize("raw, base, field", [
    ({"nope": {"level": "view"}}, "employee", "sections.nope"),
    ({"calls": {"level": "edit"}}, "employee", "sections.calls.level"),          # calls is view-only
    ({"employees": {"level": "admin"}}, "employee", "sections.employees.level"),
    ({"groups": {"level": "view", "reach": "planet"}}, "employee", "sections.groups.reach"),
    ({}, "no_access", "base"),
    ({}, "account_admin", "base"),
])
def test_bad_custom_role_input_names_the_field(raw, base, field):
    with pytest.raises(RightsError) as exc:
        normalize_sections(raw, base)
    assert exc.value.field == field


def test_nobody_gives_more_than_they_have():
    head = rights_for(user("company_head"))
    admin_like = role_from_doc({"_id": "x", "name": "x", "base": "administrator",
                                "sections": normalize_sections({}, "administrator")})
    assert head.exceeding(admin_like) == ["restrictions", "action_log", "access"]
    assert head.covers(BASE_ROLES["marketer"])
    leader = rights_for(user("group_leader"))
    wide = role_from_doc({"_id": "y", "name": "y", "base": "group_leader",
                          "sections": normalize_sections({"calls": {"level": "view", "reach": "all"}},
                                                         "group_leader")})
    assert leader.exceeding(wide) == ["calls"]
    assert leader.covers(BASE_ROLES["employee"])  # own ⊂ supervised
    assert rights_for(user("administrator")).covers(admin_like)


def test_menu_shows_only_sections_the_role_may_see():
    load_handlers()  # the access pages register their menu sections
    emp, admin = user("employee"), user("administrator")
    emp_menu = [s.key for s in menu_for(emp, has_right(rights_for(emp)))]
    admin_menu = [s.key for s in menu_for(admin, has_right(rights_for(admin)))]
    assert "calls" in emp_menu and "access_roles" not in emp_menu and "api_keys" not in emp_menu
    assert {"calls", "access_roles", "api_keys", "action_log"} <= set(admin_menu)
    head = user("company_head")
    head_menu = [s.key for s in menu_for(head, has_right(rights_for(head)))]
    assert "api_keys" in head_menu and "action_log" not in head_menu and "access_roles" not in head_menu


# --- IP whitelist --------------------------------------------------------------------------------
@pytest.mark.parametrize("entry, first, last", [
    ("192.168.1.5", "192.168.1.5", "192.168.1.5"),
    ("192.168.1.16-32", "192.168.1.16", "192.168.1.32"),
    ("192.168.*", "192.168.0.0", "192.168.255.255"),
    ("192.168.*.*", "192.168.0.0", "192.168.255.255"),
    ("10.1-5", "10.1.0.0", "10.5.255.255"),
    ("*", "0.0.0.0", "255.255.255.255"),
    (" 172.16.0.0-255 ", "172.16.0.0", "172.16.0.255"),
])
def test_whitelist_entries_and_their_ranges(entry, first, last):
    import ipaddress

    e = parse_entry(entry)
    assert (str(ipaddress.IPv4Address(e.low)), str(ipaddress.IPv4Address(e.high))) == (first, last)


@pytest.mark.parametrize("entry, message", [
    ("", "The entry is empty."),
    ("192.168.1", "Enter all four parts of the address, or end it with * or a range."),
    ("192.168.1.256", "Each part must be a number from 0 to 255, a range like 16-32, or *."),
    ("192.168.1-2.3", "Only one range or * is allowed, and only * may follow it."),
    ("192.*.1.3", "Only one range or * is allowed, and only * may follow it."),
    ("192.168.1.32-16", "A range goes from the smaller number to the larger, like 16-32."),
    ("192.168.1.1-2-3", "Only one range or * is allowed, and only * may follow it."),
    ("192.168.1.5.6", "An address has four parts separated by dots."),
    ("19*.1.1.1", "Each part must be a number from 0 to 255, a range like 16-32, or *."),
    ("::1", "Only IPv4 addresses are supported."),
    ("abc.1.1.1", "Each part must be a number from 0 to 255, a range like 16-32, or *."),
])
def test_bad_whitelist_entries_say_what_is_wrong(entry, message):
    with pytest.raises(WhitelistError) as exc:
        parse_entry(entry)
    assert exc.value.message == message


def test_whitelist_lists_and_addresses():
    entries = parse_whitelist(["10.0.0.1", "192.168.1.16-32", "10.0.0.1"])
    assert [e.text for e in entries] == ["10.0.0.1", "192.168.1.16-32"]  # duplicates dropped
    assert allowed("192.168.1.20", entries) and allowed("10.0.0.1", entries)
    assert not allowed("192.168.1.33", entries) and not allowed("10.0.0.2", entries)
    assert allowed("::ffff:192.168.1.16", entries)  # IPv4-mapped IPv6
    assert not allowed("::1", entries) and not allowed("not-an-ip", entries)
    with pytest.raises(WhitelistError) as exc:
        parse_whitelist(["10.0.0.1", "10.0.0.300"])
    assert exc.value.index == 1
    with pytest.raises(WhitelistError):
        parse_whitelist([])
    assert split_text("10.0.0.1, 10.0.0.2;10.0.0.3\n 192.168.*") == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.*"]


# --- declarations ---------------------------------------------------------------------------------
def test_every_route_a_tenant_can_reach_declares_its_right():
    """The gate for new endpoints: a user/tenant route must name its section (``@route(...,
    section=...)``) or be personal; an undeclared one would need full rights (fail closed)."""
    undeclared = [f"{m} {r.path}" for r in all_routes() if r.access in ("user", "tenant")
                  for m in r.methods if required_right(r.handler, m) == UNDECLARED]
    assert not undeclared, f"routes without a rights declaration: {undeclared}"


def test_declarations_resolve_by_method_and_refuse_typos():
    from web.access.api import ApiKeyApi, MyRightsApi, RoleApi
    from web.access.pages import RoleNewPage

    assert required_right(RoleApi, "GET") == ("access", "view")
    assert required_right(RoleApi, "DELETE") == ("access", "edit")
    assert required_right(RoleNewPage, "GET") == ("access", "edit")      # level= on the route
    assert required_right(ApiKeyApi, "PATCH") == ("integrations", "edit")
    assert required_right(MyRightsApi, "GET") == PERSONAL
    with pytest.raises(ValueError, match="unknown rights section 'employes'"):
        route("/api/v1/typo", access="tenant", section="employes")
    with pytest.raises(ValueError, match="has no 'edit' level"):
        route("/api/v1/typo", access="tenant", section="calls", level="edit")
