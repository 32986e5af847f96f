"""Users repository and service functions, on the embedded store (and MongoDB with MONGO_URL)."""
from __future__ import annotations

import pytest

from pult.passwords import PasswordPolicyError, set_hash_profile
from storage.repos.base import Scope, ScopeError
from storage.repos.users import (LoginName, UserError, UserExists, Users, authenticate,
                                 create_operator_admin, create_tenant_user, get_user,
                                 parse_login, public_user, set_language, set_password)


@pytest.fixture(autouse=True)
def cheap_hashes():
    set_hash_profile("cheapest")
    yield
    set_hash_profile("default")


def test_parse_login_kinds():
    assert parse_login("101/anna") == LoginName("tenant", "anna", 101)
    assert parse_login(" 101 / Anna ") == LoginName("tenant", "Anna", 101)
    assert parse_login("101/Anna").norm == "101/anna"
    assert parse_login("root") == LoginName("operator", "root")
    with pytest.raises(UserError):
        parse_login("  ")


async def test_create_and_authenticate_both_kinds(store):
    op = await create_operator_admin(store, "root", "operator-pass-1", "Root@Example.com",
                                     display_name="Ops", language="en")
    anna = await create_tenant_user(store, 101, "Anna", "tenant-pass-1", "anna@example.com",
                                    account_id=7)
    assert op["kind"] == "operator" and op["pbx_id"] is None and op["role"] == "admin"
    assert anna["kind"] == "tenant" and anna["pbx_id"] == 101 and anna["account_id"] == 7
    assert anna["role"] == "administrator" and anna["language"] == "ru"
    stored = await store.db.users.find_one({"_id": anna["_id"]})
    assert stored["password_hash"].startswith("$argon2id$")
    assert "tenant-pass-1" not in repr(stored)
    assert "password_hash" not in public_user(stored)

    assert (await authenticate(store, "root", "operator-pass-1"))["_id"] == op["_id"]
    assert (await authenticate(store, "ROOT", "operator-pass-1"))["_id"] == op["_id"]
    assert (await authenticate(store, "101/anna", "tenant-pass-1"))["_id"] == anna["_id"]
    for login, pw in (("101/anna", "operator-pass-1"), ("202/anna", "tenant-pass-1"),
                      ("anna", "tenant-pass-1"), ("101/root", "operator-pass-1"), ("", "x")):
        assert await authenticate(store, login, pw) is None, login


async def test_inactive_users_cannot_sign_in(store):
    anna = await create_tenant_user(store, 101, "anna", "tenant-pass-1")
    await Users(store.db, Scope.pbx(101)).update_one({"_id": anna["_id"]}, {"$set": {"active": False}})
    assert await authenticate(store, "101/anna", "tenant-pass-1") is None


async def test_logins_are_unique_per_pbx_and_per_platform(store):
    await create_tenant_user(store, 101, "anna", "tenant-pass-1")
    await create_tenant_user(store, 202, "anna", "tenant-pass-2")  # another PBX: fine
    with pytest.raises(UserExists, match="PBX 101"):
        await create_tenant_user(store, 101, "ANNA", "tenant-pass-3")
    await create_operator_admin(store, "anna", "operator-pass-1", "a@example.com")
    with pytest.raises(UserExists, match="platform"):
        await create_operator_admin(store, "Anna", "operator-pass-1", "b@example.com")


async def test_bad_input_is_refused_with_the_field_named(store):
    with pytest.raises(UserError) as e:
        await create_tenant_user(store, 101, "bad/login", "tenant-pass-1")
    assert e.value.field == "login"
    with pytest.raises(UserError) as e:
        await create_operator_admin(store, "root", "operator-pass-1", "not-an-email")
    assert e.value.field == "email"
    with pytest.raises(UserError) as e:
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", language="de")
    assert e.value.field == "language"
    with pytest.raises(PasswordPolicyError) as e:
        await create_tenant_user(store, 101, "anna", "пароль")
    assert "cyrillic" in e.value.problems
    with pytest.raises(ScopeError):
        await create_tenant_user(store, 0, "anna", "tenant-pass-1")
    assert await store.db.users.count_documents({}) == 0


async def test_users_are_scoped_by_pbx(store):
    anna = await create_tenant_user(store, 101, "anna", "tenant-pass-1")
    await create_tenant_user(store, 202, "boris", "tenant-pass-2")
    assert await Users(store.db, Scope.pbx(202)).find_one({"_id": anna["_id"]}) is None
    assert [u["login"] for u in await Users(store.db, Scope.pbx(101)).find()] == ["anna"]
    assert await Users(store.db, Scope.platform()).count() == 2


async def test_password_change_bumps_the_session_version(store):
    anna = await create_tenant_user(store, 101, "anna", "tenant-pass-1")
    updated = await set_password(store, anna["_id"], "tenant-pass-new-2")
    assert updated["session_version"] == anna["session_version"] + 1
    assert await authenticate(store, "101/anna", "tenant-pass-1") is None
    assert await authenticate(store, "101/anna", "tenant-pass-new-2") is not None
    with pytest.raises(PasswordPolicyError):
        await set_password(store, anna["_id"], "short")
    await set_language(store, anna["_id"], "en")
    assert (await get_user(store, anna["_id"]))["language"] == "en"
    assert await get_user(store, "nope") is None
