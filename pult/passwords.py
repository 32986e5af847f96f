"""Cabinet passwords: the policy (PRODUCT.md §6) and slow hashing (argon2id).

Pure functions, no I/O: the CLI, the web forms and the API all check a new password with
:func:`password_problems` and show :func:`describe_problems` in the user's language.

Hashing uses argon2-cffi's defaults (argon2id, 64 MiB, t=3). ``verify_password`` never raises
for a wrong password or a malformed hash: it returns False, so callers cannot leak which case
it was. :func:`verify_dummy` burns the same time for an unknown login, so the answer and its
timing look the same whether the login exists or not.
"""
from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pult.i18n import N_, translate

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 accepts more, but nobody types it and it is a cheap DoS guard

_HASHER = PasswordHasher()

# code -> English message id (the Russian in pult/locale/ru_RU.csv). Codes are stable (the API
# returns messages, tests use codes).
MESSAGES: dict[str, str] = {
    "too_short": N_("The password must be at least %(min)s characters long."),
    "too_long": N_("The password must be at most %(max)s characters long."),
    "no_digit": N_("The password must contain at least one digit."),
    "no_latin": N_("The password must contain at least one Latin letter."),
    "cyrillic": N_("The password must not contain Cyrillic letters."),
    "whitespace_edges": N_("The password must not start or end with a space."),
}

#: the policy as a pattern of printable ASCII (the OpenAPI document's statement of it; the
#: policy itself takes other non-Cyrillic characters too)
PASSWORD_PATTERN = rf"^(?=.*[0-9])(?=.*[A-Za-z])[!-~][ -~]{{{MIN_LENGTH - 2},{MAX_LENGTH - 2}}}[!-~]$"

_CYRILLIC = re.compile(r"[\u0400-\u052F\u2DE0-\u2DFF\uA640-\uA69F\u1C80-\u1C8F]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"[0-9]")


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; ``problems`` holds the codes of :data:`MESSAGES`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(describe_problems(problems, "en"))

    def message(self, language: str) -> str:
        return describe_problems(self.problems, language)


def password_problems(password: str) -> list[str]:
    """Every way ``password`` breaks the policy, as codes (empty list: it is acceptable)."""
    if not isinstance(password, str):
        return ["too_short"]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append("too_short")
    if len(password) > MAX_LENGTH:
        problems.append("too_long")
    if not _DIGIT.search(password):
        problems.append("no_digit")
    if not _LATIN.search(password):
        problems.append("no_latin")
    if _CYRILLIC.search(password):
        problems.append("cyrillic")
    if password and password != password.strip():
        problems.append("whitespace_edges")
    return problems


def describe_problems(problems: list[str], language: str = "en") -> str:
    """The problems as one sentence list in ``language`` ('ru' or 'en'; others fall back to en)."""
    lang = language if language in ("ru", "en") else "en"
    return " ".join(translate(lang, MESSAGES[p], min=MIN_LENGTH, max=MAX_LENGTH) for p in problems)


def check_password(password: str) -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` meets the policy."""
    problems = password_problems(password)
    if problems:
        raise PasswordPolicyError(problems)


def hash_password(password: str) -> str:
    """An argon2id hash (salted, self-describing). CPU-heavy: call it off the event loop."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch, an empty or a malformed hash."""
    if not password_hash or not isinstance(password, str) or len(password) > MAX_LENGTH:
        verify_dummy(password if isinstance(password, str) else "")
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


_dummy_hash: str | None = None


def set_hash_profile(profile: str = "default") -> None:
    """Choose argon2 parameters: ``"default"`` (argon2-cffi's RFC 9106 low-memory profile) or
    ``"cheapest"`` — only for test suites, where hundreds of hashes must not take minutes.
    Verification reads the parameters from each hash, so old hashes keep working either way.
    """
    global _HASHER, _dummy_hash
    from argon2 import profiles

    if profile == "default":
        _HASHER = PasswordHasher()
    elif profile == "cheapest":
        _HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
    else:
        raise ValueError(f"unknown hash profile {profile!r}: expected 'default' or 'cheapest'")
    _dummy_hash = None


def verify_dummy(password: str) -> None:
    """Spend the time of one real verification (for unknown logins); always 'fails'."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _HASHER.hash(secrets.token_urlsafe(24))
    try:
        _HASHER.verify(_dummy_hash, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def generate_password(length: int = 16) -> str:
    """A random password that meets the policy (for 'generate' buttons and the demo seed)."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(max(length, MIN_LENGTH)))
        if not password_problems(pw):
            return pw
