"""The cabinet password policy (PRODUCT.md §6) and argon2 hashing."""
from __future__ import annotations

import time

from hypothesis import given, settings as hsettings, strategies as st

from pult import passwords
from pult.passwords import (PasswordPolicyError, check_password, describe_problems,
                            generate_password, hash_password, password_problems,
                            verify_password)


def test_policy_accepts_a_good_password_and_names_each_problem():
    assert password_problems("correct-horse-7") == []
    assert password_problems("Ab3456789") == ["too_short"]
    assert password_problems("abcdefghijk") == ["no_digit"]
    assert password_problems("1234567890!") == ["no_latin"]
    assert password_problems("пароль-123-abc") == ["cyrillic"]
    assert password_problems("ёжик") == ["too_short", "no_digit", "no_latin", "cyrillic"]
    assert password_problems(" spaced-pass-1") == ["whitespace_edges"]
    assert "too_long" in password_problems("a1" * 200)


def test_problems_read_in_russian_and_english():
    problems = password_problems("пароль")
    en = describe_problems(problems, "en")
    ru = describe_problems(problems, "ru")
    assert "at least 10 characters" in en and "digit" in en and "Cyrillic" in en
    assert "не короче 10 символов" in ru and "цифру" in ru and "кириллических" in ru
    try:
        check_password("short1")
    except PasswordPolicyError as exc:
        assert exc.problems == ["too_short"]
        assert "не короче" in exc.message("ru")
    else:
        raise AssertionError("a short password passed the policy")


@hsettings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_policy_matches_its_definition(pw):
    ok = (10 <= len(pw) <= 256 and any(c.isascii() and c.isdigit() for c in pw)
          and any(c.isascii() and c.isalpha() for c in pw)
          and not any("\u0400" <= c <= "\u052f" for c in pw) and pw == pw.strip())
    assert (password_problems(pw) == []) == ok


def test_generated_passwords_meet_the_policy():
    for _ in range(50):
        assert password_problems(generate_password()) == []


def test_hash_is_argon2id_salted_and_verifies():
    h1, h2 = hash_password("correct-horse-7"), hash_password("correct-horse-7")
    assert h1.startswith("$argon2id$") and "m=65536" in h1 and h1 != h2
    assert "correct-horse-7" not in h1
    assert verify_password(h1, "correct-horse-7")
    assert not verify_password(h1, "correct-horse-8")
    assert not verify_password("not-a-hash", "correct-horse-7")
    assert not verify_password(None, "correct-horse-7")


def test_unknown_logins_cost_as_much_as_known_ones():
    """verify_dummy takes the time of a real verification (same parameters)."""
    h = hash_password("correct-horse-7")
    passwords.verify_dummy("warm-up")
    t0 = time.perf_counter()
    for _ in range(3):
        verify_password(h, "wrong-horse-7")
    real = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(3):
        passwords.verify_dummy("wrong-horse-7")
    dummy = time.perf_counter() - t0
    assert 0.25 < dummy / real < 4  # an instant "no such user" would be ~0.001


def test_cheapest_profile_is_only_a_switch():
    passwords.set_hash_profile("cheapest")
    try:
        cheap = hash_password("correct-horse-7")
    finally:
        passwords.set_hash_profile("default")
    assert "m=65536" not in cheap and verify_password(cheap, "correct-horse-7")
    assert passwords.needs_rehash(cheap)
