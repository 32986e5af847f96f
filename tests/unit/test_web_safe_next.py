"""Where login sends the user back to: only a same-site path, never another host, never a value
that would break the redirect."""
import pytest

from web.handlers import BaseHandler


@pytest.mark.parametrize("value, expected", [
    ("/calls?page=2", "/calls?page=2"),
    ("/telephony/groups", "/telephony/groups"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("/a\x0bb", "/"),
    ("/a\x00b", "/"),
    ("/a\x7fb", "/"),
    ("", "/"),
    (None, "/"),
    ("calls", "/"),
])
def test_safe_next_keeps_only_same_site_paths(value, expected):
    assert BaseHandler.safe_next(None, value) == expected
